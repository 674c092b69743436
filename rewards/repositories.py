"""What the rewards use cases need from storage, as protocols.

The live service implements them on PostgreSQL (`rewards.adapters.postgres`), the simulator and the use-case
tests in memory (`rewards.adapters.memory`); `tests/contracts/` runs one suite against both. Reads of
dispatch's facts (orders, proofs, location samples, a shopper's tier) go through these too: the use cases
never see a connection or a query.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from crowdship.idempotency import IdempotencyStore
from crowdship.pages import Page
from dispatch.evidence import LocationSample
from dispatch.model import Shopper, TrustTier
from dispatch.repositories import Transaction
from rewards.anomalies import DeliveryFact
from rewards.ledger import Account, AccountKind, LedgerTransaction, PromisedPayout
from rewards.payouts import BatchStatus, PayoutBatch
from rewards.policy import EarningsSoFar
from rewards.policy_versions import RewardPolicy
from rewards.reconciliation import ReconciliationData
from rewards.records import (
    AuditEntry,
    LedgerLine,
    OrderForReward,
    PayableBalance,
    PaymentMethodChoice,
    RewardRecord,
    StandingHold,
)
from rewards.referrals import Referral
from rewards.tiers import ShopperRecord


class PolicyRepository(Protocol):
    def next_version(self) -> int: ...
    def add(self, policy: RewardPolicy) -> None: ...
    def decide(self, policy: RewardPolicy) -> None:
        """Records the decision `policy` carries; `PolicyAlreadyDecided` if one was recorded before."""
        ...

    def get_version(self, version: int, *, for_update: bool = False) -> RewardPolicy: ...
    def get(self, policy_id: UUID) -> RewardPolicy: ...
    def latest(self) -> RewardPolicy: ...
    def in_force_at(self, instant: datetime) -> RewardPolicy:
        """The version approved last at or before `instant` (of two approved at one instant, the higher);
        `NoPolicyInForce` when none was."""
        ...

    def newest_approved(self, *, for_update: bool = False) -> RewardPolicy | None:
        """The approved version with the highest number, if any. `for_update` holds off every other decision
        until the transaction ends, so that two approvals cannot both see none newer than their own."""
        ...

    def every_version(self) -> list[RewardPolicy]:
        """Every version, oldest first: for pricing the facts of a period, which may span several."""
        ...

    def page(self, *, newest_first: bool, limit: int, offset: int) -> Page[RewardPolicy]: ...
    def proposed(self, *, limit: int) -> Sequence[RewardPolicy]:
        """Versions not decided yet, oldest first, at most `limit`."""
        ...

    def versions(self) -> list[int]:
        """Every version number, newest first: what a reader may choose from."""
        ...


class LedgerRepository(Protocol):
    def shopper_accounts(self, shopper_id: UUID) -> dict[AccountKind, Account]:
        """The shopper's accounts, opened on first use."""
        ...

    def company_account(self, kind: AccountKind) -> Account: ...
    def get_account(self, account_id: UUID) -> Account: ...
    def lock(self, account_ids: Iterable[UUID]) -> dict[UUID, Account]:
        """Locks the accounts that may not go negative, in id order, and reads every balance."""
        ...

    def post(self, transaction: LedgerTransaction) -> None:
        """Writes a transaction the caller locked and checked; `AlreadyReversed` for a second reversal."""
        ...

    def get_transaction(self, transaction_id: UUID) -> LedgerTransaction: ...
    def reversal_of(self, transaction_id: UUID) -> UUID | None: ...
    def entries_sum(self, account_id: UUID) -> int: ...
    def shopper_entries(
        self, shopper_id: UUID, kind: AccountKind | None, limit: int, offset: int
    ) -> tuple[list[LedgerLine], int]:
        """A page of the shopper's entries, newest first, with balances after each, and how many there are."""
        ...


class RewardRepository(Protocol):
    def order_for_reward(self, order_id: UUID) -> OrderForReward: ...
    def add(self, reward: RewardRecord) -> None:
        """`AlreadyRewarded` when the order has a reward already."""
        ...

    def for_order(self, order_id: UUID) -> RewardRecord | None: ...
    def get(self, reward_id: UUID) -> RewardRecord: ...
    def earnings(
        self, shopper_ids: Collection[UUID], day: tuple[datetime, datetime], week: tuple[datetime, datetime]
    ) -> dict[UUID, EarningsSoFar]:
        """Per shopper asked for, the capped cash value of their standing (not reversed) rewards in the day and
        the week (zero for one who earned nothing), in one read."""
        ...

    def delivery_count(self, shopper_id: UUID) -> int: ...
    def has_delivered(self, shopper_id: UUID) -> bool:
        """Whether the shopper was rewarded for a delivery, or delivered an order (its accepted proof came from
        their trip) that went unrewarded because no policy was in force."""
        ...

    def keep_delivery_tier(self, order_id: UUID, shopper_id: UUID, tier: TrustTier, delivered_at: datetime) -> None:
        """Keeps the trust tier the shopper had when they delivered an order that went without a reward (no
        policy was in force), for the late credit to price it with; a second call for the order changes nothing."""
        ...

    def delivery_tier(self, order_id: UUID) -> TrustTier | None:
        """The tier kept by `keep_delivery_tier` for the order; None for one delivered before tiers were kept."""
        ...

    def add_referral(self, referral: Referral) -> None: ...
    def referral_of(self, referred_shopper_id: UUID) -> Referral | None: ...
    def every(self, limit: int, offset: int) -> tuple[list[tuple[RewardRecord, bool]], int]:
        """A page of every shopper's rewards, newest first, each with whether it was reversed, and the total."""
        ...

    def for_shopper(self, shopper_id: UUID, limit: int, offset: int) -> tuple[list[tuple[RewardRecord, bool]], int]:
        """A page of the shopper's rewards, newest first, each with whether it was reversed since."""
        ...


class PayoutRepository(Protocol):
    def payable_balances(self) -> list[PayableBalance]:
        """Positive cash-payable balances of shoppers who are not already in an open batch."""
        ...

    def standing_holds(self, shopper_ids: Sequence[UUID]) -> dict[UUID, StandingHold]: ...
    def promised(self, shopper_ids: Sequence[UUID]) -> dict[UUID, PromisedPayout]:
        """By cash-payable account, what an approved batch not yet paid is to pay these shoppers (lines not held)."""
        ...

    def add(self, batch: PayoutBatch) -> None:
        """`ShopperAlreadyInOpenBatch` when a shopper of the batch is in another open batch."""
        ...

    def get(self, batch_id: UUID, *, for_update: bool = False) -> PayoutBatch: ...
    def save(self, batch: PayoutBatch) -> None: ...
    def periods(self, batch_ids: Collection[UUID]) -> Mapping[UUID, tuple[datetime, datetime]]:
        """The period (start included, end excluded) of each batch found among `batch_ids`, in one read."""
        ...

    def export_numbers(self, export_ids: Collection[UUID]) -> Mapping[UUID, int]:
        """Which download of its batch's bank file each export found among `export_ids` was (1 for the first, by
        time), in one read."""
        ...

    def line_payees(self, line_ids: Collection[UUID]) -> Mapping[UUID, UUID]:
        """The shopper each payout line found among `line_ids` pays, in one read."""
        ...

    def batch_ids(
        self, statuses: Sequence[BatchStatus] | None, *, newest_first: bool, limit: int, offset: int
    ) -> Page[UUID]:
        """A page of batches by when they were prepared; `statuses` narrows them."""
        ...

    def delivery_facts(
        self,
        start: datetime,
        end: datetime,
        policies: Mapping[UUID, RewardPolicy],
        *,
        unpaid_of: Collection[UUID] = (),
    ) -> list[DeliveryFact]:
        """Every reward earned in [start, end), and those credited to `unpaid_of`'s cash accounts since each one's
        last payout (what a line paying their balance pays for); each says whether it lies in the period."""
        ...

    def location_samples(self, shopper_ids: Sequence[UUID], start: datetime, end: datetime) -> Iterator[LocationSample]:
        """Position samples of these shoppers in [start, end), by shopper then time, streamed."""
        ...


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None: ...
    def for_subject(self, subject_kind: str, subject_id: UUID) -> list[AuditEntry]: ...
    def page(
        self, *, subject_kind: str | None, subject_id: UUID | None, limit: int, offset: int
    ) -> tuple[list[tuple[int, AuditEntry]], int]: ...


class RewardsReports(Protocol):
    def reconciliation_data(self) -> ReconciliationData: ...
    def shopper_record(self, shopper_id: UUID, start: datetime, end: datetime) -> ShopperRecord:
        """Deliveries, on-time ones and incidents in [start, end]: a review at `end` counts what happened then."""
        ...


class PaymentChoiceRepository(Protocol):
    def add(self, choice: PaymentMethodChoice) -> None: ...
    def latest(self, shopper_id: UUID) -> PaymentMethodChoice | None: ...
    def in_force_at(self, shopper_ids: Collection[UUID], instant: datetime) -> dict[UUID, PaymentMethodChoice]:
        """Per shopper who had chosen by `instant`, the choice in force then, in one read."""
        ...


class RewardShoppers(Protocol):
    """Dispatch's shoppers, as rewards sees them: their tier moves with their record."""

    def get(self, shopper_id: UUID) -> Shopper: ...
    def save(self, shopper: Shopper) -> None: ...
    def get_many(self, shopper_ids: Collection[UUID]) -> Mapping[UUID, Shopper]:
        """The shoppers found among `shopper_ids`, by id, in one read."""
        ...

    def lock(self, shopper_id: UUID) -> None:
        """Serialises changes about one shopper; `NotFound` for an unknown one."""
        ...


class ActingAccounts(Protocol):
    """The staff accounts behind the actors of money use cases, as rewards sees them."""

    def active_locked(self, user_id: UUID) -> bool | None:
        """Whether the account is active, locked to share until the transaction ends (a deactivation locks it
        for update: it waits for the use case, or the use case waits for it and then sees it deactivated);
        None when the id is no account (the simulator's actors, the system's)."""
        ...


class RewardsRepositories(Protocol):
    """Every rewards repository, inside one transaction (the caller's or a unit of work's)."""

    @property
    def policies(self) -> PolicyRepository: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def rewards(self) -> RewardRepository: ...
    @property
    def payouts(self) -> PayoutRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def reports(self) -> RewardsReports: ...
    @property
    def shoppers(self) -> RewardShoppers: ...
    @property
    def payment_choices(self) -> PaymentChoiceRepository: ...
    @property
    def actors(self) -> ActingAccounts: ...


class RewardsUnitOfWork(Transaction, Protocol):
    @property
    def repos(self) -> RewardsRepositories: ...

    def read_snapshot(self) -> None:
        """Makes the rest of this transaction read one consistent snapshot, and write nothing."""
        ...
