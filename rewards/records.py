"""What rewards keeps, as plain records, and the refusals its storage can give, in the business's words.

The repositories (`rewards.repositories`) hand these out whatever stores them: PostgreSQL or memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.errors import DomainError
from crowdship.units import Cents, format_dollars
from rewards.breakdown import RewardComponent
from rewards.ledger import AccountKind, AlreadyReversed, InsufficientBalance, PromisedToPayout, TransactionKind
from rewards.policy import EarningsSoFar, PaymentMethod, RewardInputs


class NoPolicyInForce(DomainError):
    """Nothing can be priced or credited before a reward policy is proposed and approved."""

    kind = "conflict"


class PolicyVersionTaken(DomainError):
    kind = "conflict"


class AlreadyReferred(DomainError):
    kind = "conflict"

    def __init__(self, referred_shopper_id: UUID) -> None:
        super().__init__(f"shopper {referred_shopper_id} already has a referrer")


class ShopperAlreadyInOpenBatch(DomainError):
    kind = "conflict"


class RewardNotDue(DomainError):
    """Rewards are credited on proof of delivery only."""

    kind = "conflict"


class AlreadyRewarded(DomainError):
    kind = "conflict"

    def __init__(self, order_id: UUID) -> None:
        super().__init__(f"order {order_id} was already rewarded")
        self.order_id = order_id


class NothingToPay(DomainError):
    kind = "conflict"


class RewardAlreadyReversed(AlreadyReversed):
    """A delivery's reward is reversed once: a second reversal would take the money back twice."""

    def __init__(self, order_id: UUID, transaction_id: UUID) -> None:
        DomainError.__init__(self, f"the reward of order {order_id} was already reversed")
        self.order_id = order_id
        self.transaction_id = transaction_id


class RewardNoLongerHeld(InsufficientBalance):
    """A reward (or the referral bonus it paid) cannot be taken back: the money is no longer on the account it
    was credited to, because it was paid out (cash) or spent at the till (store credit), or an approved payout
    batch is to pay it."""

    def __init__(self, order_id: UUID, refused: InsufficientBalance, *, from_referrer: bool) -> None:
        account = refused.account
        whose = (
            "the referrer no longer holds the referral bonus it paid"
            if from_referrer
            else "the shopper no longer holds it"
        )
        where = "store credit" if account.kind is AccountKind.STORE_CREDIT else "cash payable"
        gone = "it was spent at the till" if account.kind is AccountKind.STORE_CREDIT else "it was paid out"
        if isinstance(refused, PromisedToPayout):
            # The batch pays whoever's account it is: the referrer's line is not the reward's shopper's.
            paid = "the referrer the referral bonus it paid" if from_referrer else "it"
            whose = f"approved payout batch {refused.promise.batch_id} is to pay {paid}"
            gone = "reject that batch first"
        DomainError.__init__(
            self,
            f"the reward of order {order_id} cannot be reversed: {whose} ({gone}; their {where} holds "
            f"{format_dollars(account.held_cents)}, the reversal would take {format_dollars(refused.requested_cents)})",
        )
        self.order_id = order_id
        self.account = account
        self.account_id = account.id
        self.requested_cents = refused.requested_cents


class NotEnoughStoreCredit(InsufficientBalance):
    """Store credit is spent only up to the balance."""

    def __init__(self, refused: InsufficientBalance) -> None:
        DomainError.__init__(
            self,
            f"the shopper holds {format_dollars(refused.account.held_cents)} of store credit: "
            f"{format_dollars(refused.requested_cents)} cannot be spent",
        )
        self.account = refused.account
        self.account_id = refused.account_id
        self.requested_cents = refused.requested_cents


@dataclass(frozen=True)
class RewardRecord:
    """A credited delivery reward as stored: what it was computed from and where the money went."""

    id: UUID
    order_id: UUID
    shopper_id: UUID
    store_id: UUID
    policy_id: UUID
    policy_version: int
    inputs: RewardInputs
    earned_before: EarningsSoFar
    breakdown: tuple[RewardComponent, ...]
    """How the amount was reached, in whole cents that add up to `amount_cents`."""
    cash_value_cents: Cents
    amount_cents: Cents
    earned_at: datetime
    transaction_id: UUID | None
    referral_transaction_id: UUID | None


@dataclass(frozen=True)
class OrderForReward:
    """What a credit needs to know of the delivered order."""

    order_id: UUID
    store_id: UUID
    status: str


@dataclass(frozen=True)
class StandingHold:
    """A hold finance put on a shopper's line that no one released before its batch closed."""

    batch_id: UUID
    reason: str
    held_by: UUID | None


@dataclass(frozen=True)
class PayableBalance:
    shopper_id: UUID
    account_id: UUID
    balance_cents: Cents


@dataclass(frozen=True)
class AuditEntry:
    actor_id: UUID | None
    action: str
    subject_kind: str
    subject_id: UUID | None
    details: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class PaymentMethodChoice:
    """One choice a shopper made; the newest at or before an instant is in force then."""

    shopper_id: UUID
    method: PaymentMethod
    chosen_at: datetime
    chosen_by: UUID | None


@dataclass(frozen=True)
class LedgerLine:
    """One movement on a shopper account, with that account's balance right after it."""

    entry_id: int
    account: AccountKind
    transaction_id: UUID
    kind: TransactionKind
    description: str
    at: datetime
    amount_cents: Cents
    balance_after_cents: Cents
    order_id: UUID | None
    reverses_id: UUID | None
    payout_line_id: UUID | None


@dataclass(frozen=True)
class EarnedElsewhere:
    """A reward a shopper earned that a replayed day does not replay (another store, an earlier day): the
    daily and weekly caps counted it, so the replay counts it too, from when it was earned until it was reversed
    (a reversal gives the caps their room back), if it ever was."""

    shopper_id: UUID
    earned_at: datetime
    cash_value_cents: Cents
    reversed_at: datetime | None = None
