"""Use cases of rewards: one function each, with plain inputs, a result object and domain errors.

Functions taking a `PostgresRewardsUnitOfWork` commit it when they succeed. Functions taking a
`RewardsRepositories` (or a connection) run inside the caller's transaction and never commit: that is how a
reward is credited in the same transaction as the delivery.

Every money-moving call carries an idempotency key. The first request under a key is carried out and its
result kept with a hash of the request; a retry of the same request returns that first result; the same
key with a different request raises `IdempotencyKeyReused` (kind "conflict").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

import psycopg

from crowdship.errors import DomainError, InvalidInput, NotFound
from crowdship.units import Cents
from dispatch.model import TrustTier
from rewards.adapters.postgres import (
    AuditEntry,
    PaymentMethodChoice,
    PostgresRewardsUnitOfWork,
    RewardRecord,
    RewardsRepositories,
    StandingHold,
)
from rewards.ledger import (
    AccountKind,
    AlreadyReversed,
    IdempotencyKeyReused,
    LedgerTransaction,
    TransactionKind,
    check_balances_after,
    request_hash,
    require_idempotency_key,
    transfer,
)
from rewards.payouts import (
    AnomalyRules,
    BatchStatus,
    PayoutBatch,
    PayoutLine,
    batch_csv,
    flag_anomalies,
)
from rewards.policy import (
    EarningsSoFar,
    PaymentMethod,
    PolicyParameters,
    PolicyStatus,
    RewardInputs,
    RewardPolicy,
    RewardQuote,
    compute_reward,
    day_and_week_bounds,
)
from rewards.reconciliation import ReconciliationReport, reconcile
from rewards.referrals import Referral, referral_commission
from rewards.tiers import ShopperRecord, TierRules, next_tier

Result = TypeVar("Result")
Item = TypeVar("Item")


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


def _idempotent(
    repos: RewardsRepositories,
    *,
    key: str,
    operation: str,
    request: Mapping[str, Any],
    run: Callable[[], Result],
    dump: Callable[[Result], dict[str, Any]],
    load: Callable[[Mapping[str, Any]], Result],
) -> Result:
    key = require_idempotency_key(key)
    fingerprint = request_hash(operation, request)
    earlier = repos.idempotency.claim(key, operation, fingerprint)
    if earlier is not None:
        if earlier.request_hash != fingerprint or earlier.result is None:
            raise IdempotencyKeyReused(key)
        return load(earlier.result)
    result = run()
    repos.idempotency.record_result(key, dump(result))
    return result


def _audit(
    repos: RewardsRepositories,
    *,
    actor_id: UUID | None,
    action: str,
    subject_kind: str,
    subject_id: UUID | None,
    at: datetime,
    **details: Any,
) -> None:
    repos.audit.append(AuditEntry(actor_id, action, subject_kind, subject_id, _jsonable(details), at))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, UUID | datetime):
        return str(value)
    return value


def _post(repos: RewardsRepositories, transaction: LedgerTransaction) -> None:
    """Locks the accounts (id order), refuses a negative shopper balance, writes the transaction."""
    accounts = repos.ledger.lock(entry.account_id for entry in transaction.entries)
    check_balances_after(accounts, transaction.entries)
    repos.ledger.post(transaction)


# --------------------------------------------------------------------------------------------------
# Policies


def create_reward_policy(
    uow: PostgresRewardsUnitOfWork,
    *,
    parameters: Mapping[str, Any],
    actor_id: UUID,
    now: datetime,
    note: str = "",
) -> RewardPolicy:
    """Ops propose a new policy version; it prices nothing until someone else approves it
    (`decide_reward_policy`). Earlier versions stay as they were."""
    parsed = PolicyParameters.from_json(parameters)
    repos = uow.repos
    policy = RewardPolicy(
        version=repos.policies.next_version(),
        parameters=parsed,
        created_by=actor_id,
        created_at=now,
        note=note,
    )
    repos.policies.add(policy)
    _audit(
        repos,
        actor_id=actor_id,
        action="policy.proposed",
        subject_kind="reward_policy",
        subject_id=policy.id,
        at=now,
        version=policy.version,
        parameters=parsed.to_json(),
    )
    uow.commit()
    return policy


def decide_reward_policy(
    uow: PostgresRewardsUnitOfWork,
    *,
    version: int,
    status: PolicyStatus,
    actor_id: UUID,
    now: datetime,
    reason: str = "",
) -> RewardPolicy:
    """A second person approves a proposed version (in force from now, until another is approved) or rejects
    it. Refused for its author (403) and for a version already decided (409)."""
    repos = uow.repos
    decided = repos.policies.get_version(version, for_update=True).decide(
        status, actor_id=actor_id, now=now, reason=reason
    )
    repos.policies.decide(decided)
    _audit(
        repos,
        actor_id=actor_id,
        action=f"policy.{status.value}",
        subject_kind="reward_policy",
        subject_id=decided.id,
        at=now,
        version=version,
        reason=reason,
    )
    uow.commit()
    return decided


def quote_delivery_reward(
    repos: RewardsRepositories,
    *,
    shopper_id: UUID,
    inputs: RewardInputs,
    at: datetime,
    policy_version: int | None = None,
) -> RewardQuote:
    """What an offer shows: the same computation, policy and earnings lookup the credit will make.

    Without `policy_version`, the version in force at `at` prices it (as the credit does at delivery).
    """
    policy = repos.policies.in_force_at(at) if policy_version is None else repos.policies.get_version(policy_version)
    return compute_reward(policy, inputs, earnings_so_far(repos, shopper_id, at, policy))


def earnings_so_far(repos: RewardsRepositories, shopper_id: UUID, at: datetime, policy: RewardPolicy) -> EarningsSoFar:
    """What the caps count: the shopper's standing rewards in the day and week of `at` (policy time zone)."""
    day_start, day_end, week_start, week_end = day_and_week_bounds(at, policy.parameters)
    return repos.rewards.earnings(shopper_id, (day_start, day_end), (week_start, week_end))


# --------------------------------------------------------------------------------------------------
# Delivery rewards


@dataclass(frozen=True)
class RewardCredit:
    reward_id: UUID
    order_id: UUID
    shopper_id: UUID
    policy_version: int
    method: PaymentMethod
    cash_value_cents: Cents
    amount_cents: Cents
    transaction_id: UUID | None
    referrer_shopper_id: UUID | None
    referral_commission_cents: Cents
    referral_transaction_id: UUID | None

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RewardCredit:
        def uuid_or_none(value: Any) -> UUID | None:
            return None if value is None else UUID(value)

        return cls(
            reward_id=UUID(data["reward_id"]),
            order_id=UUID(data["order_id"]),
            shopper_id=UUID(data["shopper_id"]),
            policy_version=int(data["policy_version"]),
            method=PaymentMethod(data["method"]),
            cash_value_cents=Cents(int(data["cash_value_cents"])),
            amount_cents=Cents(int(data["amount_cents"])),
            transaction_id=uuid_or_none(data["transaction_id"]),
            referrer_shopper_id=uuid_or_none(data["referrer_shopper_id"]),
            referral_commission_cents=Cents(int(data["referral_commission_cents"])),
            referral_transaction_id=uuid_or_none(data["referral_transaction_id"]),
        )


def credit_delivery_reward(
    connection: psycopg.Connection,
    *,
    order_id: UUID,
    shopper_id: UUID,
    inputs: RewardInputs,
    delivered_at: datetime,
    idempotency_key: str,
    policy_version: int | None = None,
    actor_id: UUID | None = None,
) -> RewardCredit:
    """Credits a delivered order's reward inside the caller's open transaction; never commits.

    Call it after saving the order as delivered on the same connection: both are kept, or neither.
    """
    return credit_delivery_reward_in(
        RewardsRepositories(connection),
        order_id=order_id,
        shopper_id=shopper_id,
        inputs=inputs,
        delivered_at=delivered_at,
        idempotency_key=idempotency_key,
        policy_version=policy_version,
        actor_id=actor_id,
    )


def credit_delivery_reward_in(
    repos: RewardsRepositories,
    *,
    order_id: UUID,
    shopper_id: UUID,
    inputs: RewardInputs,
    delivered_at: datetime,
    idempotency_key: str,
    policy_version: int | None = None,
    actor_id: UUID | None = None,
) -> RewardCredit:
    request = {
        "order_id": str(order_id),
        "shopper_id": str(shopper_id),
        "inputs": inputs.to_json(),
        "delivered_at": delivered_at.isoformat(),
        "policy_version": policy_version,
    }
    return _idempotent(
        repos,
        key=idempotency_key,
        operation="credit_delivery_reward",
        request=request,
        run=lambda: _credit(repos, order_id, shopper_id, inputs, delivered_at, policy_version, actor_id),
        dump=RewardCredit.to_json,
        load=RewardCredit.from_json,
    )


def _credit(
    repos: RewardsRepositories,
    order_id: UUID,
    shopper_id: UUID,
    inputs: RewardInputs,
    delivered_at: datetime,
    policy_version: int | None,
    actor_id: UUID | None,
) -> RewardCredit:
    if delivered_at.tzinfo is None:
        raise InvalidInput("delivered_at", "must be a timezone-aware timestamp")
    order = repos.rewards.order_for_reward(order_id)
    if order.status != "delivered":
        raise RewardNotDue(f"order {order_id} is {order.status}; rewards are credited on delivery")
    policy = (
        repos.policies.in_force_at(delivered_at)
        if policy_version is None
        else repos.policies.get_version(policy_version)
    )

    own = repos.ledger.shopper_accounts(shopper_id)
    referral = repos.rewards.referral_of(shopper_id)
    referrer_cash = None if referral is None else repos.ledger.shopper_accounts(referral.referrer_shopper_id)
    reward_expense = repos.ledger.company_account(AccountKind.REWARD_EXPENSE)
    referral_expense = repos.ledger.company_account(AccountKind.REFERRAL_EXPENSE)
    # Everything this credit may touch, locked up front in one order: concurrent credits of the same shopper
    # queue here, so the caps see every earlier reward.
    to_lock = [account.id for account in own.values()] + [reward_expense.id, referral_expense.id]
    if referrer_cash is not None:
        to_lock.append(referrer_cash[AccountKind.CASH_PAYABLE].id)
    repos.ledger.lock(to_lock)

    if repos.rewards.for_order(order_id) is not None:
        raise AlreadyRewarded(order_id)
    earned = earnings_so_far(repos, shopper_id, delivered_at, policy)
    quote = compute_reward(policy, inputs, earned)

    reward_transaction = None
    if quote.amount_cents > 0:
        target = own[
            AccountKind.STORE_CREDIT if inputs.method is PaymentMethod.STORE_CREDIT else AccountKind.CASH_PAYABLE
        ]
        reward_transaction = transfer(
            kind=TransactionKind.DELIVERY_REWARD,
            description=f"reward for order {order_id} (policy v{policy.version})",
            created_at=delivered_at,
            from_account=reward_expense.id,
            to_account=target.id,
            amount=quote.amount_cents,
            actor_id=actor_id,
            order_id=order_id,
        )
        _post(repos, reward_transaction)

    commission = Cents(0)
    referral_transaction = None
    if referral is not None and referrer_cash is not None:
        delivery_number = repos.rewards.delivery_count(shopper_id) + 1
        commission = referral_commission(policy.parameters, quote.cash_value_cents, delivery_number)
        if commission > 0:
            referral_transaction = transfer(
                kind=TransactionKind.REFERRAL_BONUS,
                description=f"referral bonus: delivery {delivery_number} of shopper {shopper_id}",
                created_at=delivered_at,
                from_account=referral_expense.id,
                to_account=referrer_cash[AccountKind.CASH_PAYABLE].id,
                amount=commission,
                actor_id=actor_id,
                order_id=order_id,
            )
            _post(repos, referral_transaction)

    record = RewardRecord(
        id=uuid4(),
        order_id=order_id,
        shopper_id=shopper_id,
        store_id=order.store_id,
        policy_id=policy.id,
        policy_version=policy.version,
        inputs=inputs,
        earned_before=earned,
        breakdown=quote.breakdown_json(),
        cash_value_cents=quote.cash_value_cents,
        amount_cents=quote.amount_cents,
        earned_at=delivered_at,
        transaction_id=None if reward_transaction is None else reward_transaction.id,
        referral_transaction_id=None if referral_transaction is None else referral_transaction.id,
    )
    try:
        with repos.connection.transaction():
            repos.rewards.add(record)
    except psycopg.errors.UniqueViolation as error:
        raise AlreadyRewarded(order_id) from error
    _audit(
        repos,
        actor_id=actor_id,
        action="reward.credited",
        subject_kind="order",
        subject_id=order_id,
        at=delivered_at,
        amount_cents=quote.amount_cents,
        policy_version=policy.version,
    )
    return RewardCredit(
        reward_id=record.id,
        order_id=order_id,
        shopper_id=shopper_id,
        policy_version=policy.version,
        method=inputs.method,
        cash_value_cents=quote.cash_value_cents,
        amount_cents=quote.amount_cents,
        transaction_id=record.transaction_id,
        referrer_shopper_id=None if referral is None else referral.referrer_shopper_id,
        referral_commission_cents=commission,
        referral_transaction_id=record.referral_transaction_id,
    )


# --------------------------------------------------------------------------------------------------
# Corrections and other money movements


@dataclass(frozen=True)
class Reversals:
    reversal_ids: tuple[UUID, ...]
    reversed_ids: tuple[UUID, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "reversal_ids": [str(i) for i in self.reversal_ids],
            "reversed_ids": [str(i) for i in self.reversed_ids],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reversals:
        return cls(tuple(UUID(i) for i in data["reversal_ids"]), tuple(UUID(i) for i in data["reversed_ids"]))


def _reverse_all(
    repos: RewardsRepositories, transaction_ids: list[UUID], *, actor_id: UUID, reason: str, now: datetime
) -> Reversals:
    originals = [repos.ledger.get_transaction(transaction_id) for transaction_id in transaction_ids]
    repos.ledger.lock(entry.account_id for original in originals for entry in original.entries)
    reversals = []
    for original in originals:
        if repos.ledger.reversal_of(original.id) is not None:
            raise AlreadyReversed(original.id)
        reversal = original.reversal(created_at=now, actor_id=actor_id, reason=reason)
        _post(repos, reversal)
        reversals.append(reversal)
        _audit(
            repos,
            actor_id=actor_id,
            action="transaction.reversed",
            subject_kind="ledger_transaction",
            subject_id=original.id,
            at=now,
            reversal_id=reversal.id,
            reason=reason,
        )
    return Reversals(tuple(r.id for r in reversals), tuple(o.id for o in originals))


def reverse_transaction(
    uow: PostgresRewardsUnitOfWork,
    *,
    transaction_id: UUID,
    actor_id: UUID,
    reason: str,
    now: datetime,
    idempotency_key: str,
) -> Reversals:
    """A correction: a new transaction with opposite entries, linked to the original; once per transaction."""
    repos = uow.repos
    result = _idempotent(
        repos,
        key=idempotency_key,
        operation="reverse_transaction",
        request={"transaction_id": str(transaction_id), "reason": reason},
        run=lambda: _reverse_all(repos, [transaction_id], actor_id=actor_id, reason=reason, now=now),
        dump=Reversals.to_json,
        load=Reversals.from_json,
    )
    uow.commit()
    return result


def reverse_delivery_reward(
    uow: PostgresRewardsUnitOfWork,
    *,
    order_id: UUID,
    actor_id: UUID,
    reason: str,
    now: datetime,
    idempotency_key: str,
) -> Reversals:
    """A disputed delivery: its reward and any referral bonus it paid are reversed together.

    Refused with `InsufficientBalance` if the shopper no longer holds the money (e.g. it was paid out).
    """
    repos = uow.repos

    def run() -> Reversals:
        reward = repos.rewards.for_order(order_id)
        if reward is None:
            raise NotFound(f"order {order_id} has no reward")
        to_reverse = [t for t in (reward.transaction_id, reward.referral_transaction_id) if t is not None]
        if not to_reverse:
            raise InvalidInput("order_id", "the reward was capped to zero: nothing to reverse")
        return _reverse_all(repos, to_reverse, actor_id=actor_id, reason=reason, now=now)

    result = _idempotent(
        repos,
        key=idempotency_key,
        operation="reverse_delivery_reward",
        request={"order_id": str(order_id), "reason": reason},
        run=run,
        dump=Reversals.to_json,
        load=Reversals.from_json,
    )
    uow.commit()
    return result


@dataclass(frozen=True)
class Posting:
    transaction_id: UUID
    amount_cents: Cents

    def to_json(self) -> dict[str, Any]:
        return {"transaction_id": str(self.transaction_id), "amount_cents": self.amount_cents}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Posting:
        return cls(UUID(data["transaction_id"]), Cents(int(data["amount_cents"])))


def redeem_store_credit(
    uow: PostgresRewardsUnitOfWork,
    *,
    shopper_id: UUID,
    amount_cents: Cents,
    now: datetime,
    idempotency_key: str,
    actor_id: UUID | None = None,
) -> Posting:
    """The shopper spends store credit at the till; refused (`InsufficientBalance`) beyond their balance."""
    repos = uow.repos

    def run() -> Posting:
        accounts = repos.ledger.shopper_accounts(shopper_id)
        redeemed = repos.ledger.company_account(AccountKind.STORE_CREDIT_REDEEMED)
        transaction = transfer(
            kind=TransactionKind.STORE_CREDIT_REDEMPTION,
            description=f"store credit spent by shopper {shopper_id}",
            created_at=now,
            from_account=accounts[AccountKind.STORE_CREDIT].id,
            to_account=redeemed.id,
            amount=amount_cents,
            actor_id=actor_id,
        )
        _post(repos, transaction)
        _audit(
            repos,
            actor_id=actor_id,
            action="store_credit.redeemed",
            subject_kind="shopper",
            subject_id=shopper_id,
            at=now,
            amount_cents=amount_cents,
        )
        return Posting(transaction.id, amount_cents)

    result = _idempotent(
        repos,
        key=idempotency_key,
        operation="redeem_store_credit",
        request={"shopper_id": str(shopper_id), "amount_cents": amount_cents},
        run=run,
        dump=Posting.to_json,
        load=Posting.from_json,
    )
    uow.commit()
    return result


@dataclass(frozen=True)
class ShopperBalances:
    shopper_id: UUID
    store_credit_cents: Cents
    cash_payable_cents: Cents


def shopper_balances(uow: PostgresRewardsUnitOfWork, *, shopper_id: UUID) -> ShopperBalances:
    accounts = uow.repos.ledger.shopper_accounts(shopper_id)
    uow.commit()  # opening the accounts on first sight is kept
    return ShopperBalances(
        shopper_id,
        accounts[AccountKind.STORE_CREDIT].balance_cents,
        accounts[AccountKind.CASH_PAYABLE].balance_cents,
    )


@dataclass(frozen=True)
class StatementLine:
    transaction_id: UUID
    kind: TransactionKind
    description: str
    at: datetime
    amount_cents: Cents
    order_id: UUID | None
    reverses_id: UUID | None


def shopper_statement(
    uow: PostgresRewardsUnitOfWork, *, shopper_id: UUID, kind: AccountKind, limit: int = 100
) -> list[StatementLine]:
    """The newest movements on one of the shopper's accounts, for "why do I have this balance?"."""
    if not kind.belongs_to_shopper:
        raise InvalidInput("kind", "a shopper has store_credit and cash_payable accounts")
    if not 1 <= limit <= 1_000:
        raise InvalidInput("limit", "must lie within 1..1000")
    account = uow.repos.ledger.shopper_accounts(shopper_id)[kind]
    rows = uow.repos.ledger.statement(account.id, limit)
    uow.commit()  # opening the accounts on first sight is kept
    return [
        StatementLine(
            transaction_id=row["transaction_id"],
            kind=TransactionKind(row["kind"]),
            description=row["description"],
            at=row["created_at"],
            amount_cents=Cents(int(row["amount_cents"])),
            order_id=row["order_id"],
            reverses_id=row["reverses_id"],
        )
        for row in rows
    ]


# --------------------------------------------------------------------------------------------------
# How the shopper is paid

DEFAULT_PAYMENT_METHOD = PaymentMethod.CASH
"""What a shopper who never chose is paid in."""


@dataclass(frozen=True)
class PaymentPreference:
    shopper_id: UUID
    method: PaymentMethod
    chosen_at: datetime | None
    """When the shopper made this choice; None when they never chose (the default, cash)."""


def payment_method_at(repos: RewardsRepositories, shopper_id: UUID, at: datetime) -> PaymentMethod:
    """The method in force at `at` (an offer's creation): both the offer's quote and the delivery's credit
    ask for the same instant, so a change between offer and delivery does not make them disagree."""
    choice = repos.payment_choices.in_force_at(shopper_id, at)
    return DEFAULT_PAYMENT_METHOD if choice is None else choice.method


def payment_preference(uow: PostgresRewardsUnitOfWork, *, shopper_id: UUID) -> PaymentPreference:
    """The shopper's newest choice, or cash if they never chose; `NotFound` for an unknown shopper."""
    repos = uow.repos
    repos.shoppers.get(shopper_id)
    choice = repos.payment_choices.latest(shopper_id)
    uow.rollback()
    if choice is None:
        return PaymentPreference(shopper_id, DEFAULT_PAYMENT_METHOD, None)
    return PaymentPreference(shopper_id, choice.method, choice.chosen_at)


def set_payment_preference(
    uow: PostgresRewardsUnitOfWork,
    *,
    shopper_id: UUID,
    method: PaymentMethod,
    now: datetime,
    actor_id: UUID | None = None,
) -> PaymentPreference:
    """Store credit or cash for offers made from `now` on; offers already made keep the method they showed.

    Choosing the method already in force changes nothing (no new row, no audit entry): a PUT can be retried.
    """
    try:
        method = PaymentMethod(method)
    except ValueError as error:
        raise InvalidInput("method", "must be cash or store_credit") from error
    if now.tzinfo is None:
        raise InvalidInput("now", "must be a timezone-aware timestamp")
    repos = uow.repos
    # One change at a time per shopper, so that the audit's "before" is the choice really replaced.
    locked = repos.connection.execute("SELECT 1 FROM shoppers WHERE id = %s FOR UPDATE", (shopper_id,)).fetchone()
    if locked is None:
        raise NotFound(f"shopper {shopper_id} not found")
    current = repos.payment_choices.latest(shopper_id)
    before = DEFAULT_PAYMENT_METHOD if current is None else current.method
    if current is not None and current.method is method:
        uow.rollback()
        return PaymentPreference(shopper_id, method, current.chosen_at)
    if current is None and method is DEFAULT_PAYMENT_METHOD:
        uow.rollback()
        return PaymentPreference(shopper_id, method, None)
    repos.payment_choices.add(PaymentMethodChoice(shopper_id, method, now, actor_id))
    _audit(
        repos,
        actor_id=actor_id,
        action="payment_method.changed",
        subject_kind="shopper",
        subject_id=shopper_id,
        at=now,
        before=before.value,
        after=method.value,
    )
    uow.commit()
    return PaymentPreference(shopper_id, method, now)


# --------------------------------------------------------------------------------------------------
# Referrals and tiers


def register_referral(
    uow: PostgresRewardsUnitOfWork,
    *,
    referrer_shopper_id: UUID,
    referred_shopper_id: UUID,
    actor_id: UUID,
    now: datetime,
) -> Referral:
    """Records who brought a shopper, before that shopper's first delivery counts."""
    referral = Referral(referrer_shopper_id, referred_shopper_id, now, actor_id)
    repos = uow.repos
    if repos.rewards.delivery_count(referred_shopper_id) > 0:
        raise InvalidInput("referred_shopper_id", "the shopper already delivered; referrals are for new shoppers")
    repos.rewards.add_referral(referral)
    _audit(
        repos,
        actor_id=actor_id,
        action="referral.registered",
        subject_kind="shopper",
        subject_id=referred_shopper_id,
        at=now,
        referrer_shopper_id=referrer_shopper_id,
    )
    uow.commit()
    return referral


@dataclass(frozen=True)
class TierReview:
    shopper_id: UUID
    before: TrustTier
    after: TrustTier
    record: ShopperRecord


def review_trust_tier(
    uow: PostgresRewardsUnitOfWork,
    *,
    shopper_id: UUID,
    window_start: datetime,
    now: datetime,
    actor_id: UUID | None = None,
    rules: TierRules | None = None,
) -> TierReview:
    """Moves the shopper's tier by their record in [window_start, now) and saves it on the shopper."""
    repos = uow.repos
    repos.connection.execute("SELECT 1 FROM shoppers WHERE id = %s FOR UPDATE", (shopper_id,))
    shopper = repos.shoppers.get(shopper_id)
    record = repos.reports.shopper_record(shopper_id, window_start, now)
    before = shopper.trust_tier
    shopper.trust_tier = next_tier(before, record, rules)
    if shopper.trust_tier != before:
        repos.shoppers.save(shopper)
        _audit(
            repos,
            actor_id=actor_id,
            action="tier.changed",
            subject_kind="shopper",
            subject_id=shopper_id,
            at=now,
            before=int(before),
            after=int(shopper.trust_tier),
            record=asdict(record),
        )
    uow.commit()
    return TierReview(shopper_id, before, shopper.trust_tier, record)


# --------------------------------------------------------------------------------------------------
# Payouts


def prepare_payout_batch(
    uow: PostgresRewardsUnitOfWork,
    *,
    period_start: datetime,
    period_end: datetime,
    actor_id: UUID,
    now: datetime,
    rules: AnomalyRules | None = None,
) -> PayoutBatch:
    """A draft batch of every positive cash-payable balance not already in an open batch, lines flagged."""
    batch = _prepare_batch(
        uow.repos, period_start=period_start, period_end=period_end, actor_id=actor_id, now=now, rules=rules
    )
    uow.commit()
    return batch


@dataclass(frozen=True)
class PreparedBatch:
    batch: PayoutBatch
    replayed: bool
    """True when the key was used before for the same request: `batch` is that first batch, as it is now."""


def prepare_payout_batch_once(
    uow: PostgresRewardsUnitOfWork,
    *,
    period_start: datetime,
    period_end: datetime,
    actor_id: UUID,
    now: datetime,
    idempotency_key: str,
    rules: AnomalyRules | None = None,
) -> PreparedBatch:
    """`prepare_payout_batch` once per key: a retry (same period, same preparer) gets the first batch back;
    the key with another request raises `IdempotencyKeyReused`. The key and the batch are kept together."""
    repos = uow.repos
    key = require_idempotency_key(idempotency_key)
    request = {
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "actor_id": str(actor_id),
    }
    fingerprint = request_hash("prepare_payout_batch", request)
    earlier = repos.idempotency.claim(key, "prepare_payout_batch", fingerprint)
    if earlier is not None:
        if earlier.request_hash != fingerprint or earlier.result is None:
            raise IdempotencyKeyReused(key)
        batch = repos.payouts.get(UUID(earlier.result["batch_id"]))
        uow.rollback()
        return PreparedBatch(batch, replayed=True)
    batch = _prepare_batch(
        repos, period_start=period_start, period_end=period_end, actor_id=actor_id, now=now, rules=rules
    )
    repos.idempotency.record_result(key, {"batch_id": str(batch.id)})
    uow.commit()
    return PreparedBatch(batch, replayed=False)


def _carried_reason(hold: StandingHold) -> str:
    carried = "carried over from batch "
    reason = hold.reason.split(": ", 1)[1] if hold.reason.startswith(carried) else hold.reason
    return f"{carried}{hold.batch_id}: {reason}"


MAX_PERIOD_END_AHEAD = timedelta(days=1)
MAX_PERIOD = timedelta(days=366)


def _prepare_batch(
    repos: RewardsRepositories,
    *,
    period_start: datetime,
    period_end: datetime,
    actor_id: UUID,
    now: datetime,
    rules: AnomalyRules | None,
) -> PayoutBatch:
    if period_end > now + MAX_PERIOD_END_AHEAD:
        raise InvalidInput("period_end", "must not be more than a day ahead: a batch pays what was earned")
    if period_end - period_start > MAX_PERIOD:
        raise InvalidInput("period_start", f"the period is at most {MAX_PERIOD.days} days long")
    batch = PayoutBatch(period_start=period_start, period_end=period_end, prepared_by=actor_id, prepared_at=now)
    balances = repos.payouts.payable_balances()
    if not balances:
        raise NothingToPay("no shopper has a cash balance to pay that is not already in an open batch")
    policies = {policy.id: policy for policy in repos.policies.list()}
    facts = repos.payouts.delivery_facts(period_start, period_end, policies)
    samples = repos.payouts.location_samples([b.shopper_id for b in balances], period_start, period_end)
    flags = flag_anomalies(facts, samples, rules or AnomalyRules())
    # A hold stands until someone releases it: a line held when its batch closed holds the next one too.
    holds = repos.payouts.standing_holds([balance.shopper_id for balance in balances])
    batch.lines = [
        PayoutLine(
            batch_id=batch.id,
            shopper_id=balance.shopper_id,
            account_id=balance.account_id,
            amount_cents=balance.balance_cents,
            flags=flags.get(balance.shopper_id, ()),
            held=balance.shopper_id in holds,
            hold_reason=_carried_reason(holds[balance.shopper_id]) if balance.shopper_id in holds else None,
            held_by=holds[balance.shopper_id].held_by if balance.shopper_id in holds else None,
        )
        for balance in balances
    ]
    repos.payouts.add(batch)
    _audit(
        repos,
        actor_id=actor_id,
        action="batch.prepared",
        subject_kind="payout_batch",
        subject_id=batch.id,
        at=now,
        lines=len(batch.lines),
        total_cents=batch.total_cents,
        flagged_lines=sum(1 for line in batch.lines if line.flags),
    )
    return batch


def hold_payout_line(
    uow: PostgresRewardsUnitOfWork, *, batch_id: UUID, line_id: UUID, reason: str, actor_id: UUID, now: datetime
) -> PayoutBatch:
    repos = uow.repos
    batch = repos.payouts.get(batch_id, for_update=True)
    batch.hold(line_id, reason=reason, actor_id=actor_id)
    repos.payouts.save(batch)
    _audit(
        repos,
        actor_id=actor_id,
        action="line.held",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        line_id=line_id,
        reason=reason,
    )
    uow.commit()
    return batch


def release_payout_line(
    uow: PostgresRewardsUnitOfWork, *, batch_id: UUID, line_id: UUID, actor_id: UUID, now: datetime
) -> PayoutBatch:
    repos = uow.repos
    batch = repos.payouts.get(batch_id, for_update=True)
    batch.unhold(line_id)
    repos.payouts.save(batch)
    _audit(
        repos,
        actor_id=actor_id,
        action="line.released",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        line_id=line_id,
    )
    uow.commit()
    return batch


def approve_payout_batch(
    uow: PostgresRewardsUnitOfWork, *, batch_id: UUID, actor_id: UUID, now: datetime
) -> PayoutBatch:
    """Four eyes: refused with `FourEyesViolation` when the approver prepared the batch."""
    repos = uow.repos
    batch = repos.payouts.get(batch_id, for_update=True)
    batch.approve(actor_id=actor_id, now=now)
    repos.payouts.save(batch)
    _audit(repos, actor_id=actor_id, action="batch.approved", subject_kind="payout_batch", subject_id=batch_id, at=now)
    uow.commit()
    return batch


def reject_payout_batch(
    uow: PostgresRewardsUnitOfWork, *, batch_id: UUID, actor_id: UUID, reason: str, now: datetime
) -> PayoutBatch:
    repos = uow.repos
    batch = repos.payouts.get(batch_id, for_update=True)
    batch.reject(actor_id=actor_id, now=now, reason=reason)
    repos.payouts.save(batch)
    _audit(
        repos,
        actor_id=actor_id,
        action="batch.rejected",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        reason=reason,
    )
    uow.commit()
    return batch


@dataclass(frozen=True)
class PaidBatch:
    batch_id: UUID
    transaction_ids: tuple[UUID, ...]
    paid_cents: Cents

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "transaction_ids": [str(i) for i in self.transaction_ids],
            "paid_cents": self.paid_cents,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PaidBatch:
        return cls(
            UUID(data["batch_id"]), tuple(UUID(i) for i in data["transaction_ids"]), Cents(int(data["paid_cents"]))
        )


def pay_payout_batch(
    uow: PostgresRewardsUnitOfWork, *, batch_id: UUID, actor_id: UUID, now: datetime, idempotency_key: str
) -> PaidBatch:
    """Approved → paid: each line not held moves its amount from cash payable to payouts clearing, once.

    If a shopper's balance fell below their line since the batch was prepared, the whole payment is refused
    (`InsufficientBalance`); reject the batch and prepare a new one.
    """
    repos = uow.repos

    def run() -> PaidBatch:
        batch = repos.payouts.get(batch_id, for_update=True)
        to_pay = batch.mark_paid(actor_id=actor_id, now=now)
        clearing = repos.ledger.company_account(AccountKind.PAYOUTS_CLEARING)
        repos.ledger.lock([clearing.id, *(line.account_id for line in to_pay)])
        transactions = []
        for line in to_pay:
            transaction = transfer(
                kind=TransactionKind.PAYOUT,
                description=f"payout batch {batch.id}, shopper {line.shopper_id}",
                created_at=now,
                from_account=line.account_id,
                to_account=clearing.id,
                amount=line.amount_cents,
                actor_id=actor_id,
                payout_line_id=line.id,
            )
            _post(repos, transaction)
            transactions.append(transaction)
        repos.payouts.save(batch)
        paid = Cents(sum(line.amount_cents for line in to_pay))
        _audit(
            repos,
            actor_id=actor_id,
            action="batch.paid",
            subject_kind="payout_batch",
            subject_id=batch_id,
            at=now,
            paid_cents=paid,
            lines_paid=len(to_pay),
        )
        return PaidBatch(batch.id, tuple(t.id for t in transactions), paid)

    result = _idempotent(
        repos,
        key=idempotency_key,
        operation="pay_payout_batch",
        request={"batch_id": str(batch_id)},
        run=run,
        dump=PaidBatch.to_json,
        load=PaidBatch.from_json,
    )
    uow.commit()
    return result


def payout_batch(uow: PostgresRewardsUnitOfWork, *, batch_id: UUID) -> PayoutBatch:
    return uow.repos.payouts.get(batch_id)


def payout_batches(
    uow: PostgresRewardsUnitOfWork, *, statuses: Sequence[BatchStatus] | None = None
) -> list[PayoutBatch]:
    """Batches, oldest first, with their lines; `statuses` narrows them (e.g. drafts waiting for approval)."""
    return [uow.repos.payouts.get(batch_id) for batch_id in uow.repos.payouts.batch_ids(statuses)]


def export_payout_batch_csv(uow: PostgresRewardsUnitOfWork, *, batch_id: UUID) -> str:
    return batch_csv(uow.repos.payouts.get(batch_id))


def reconciliation_report(uow: PostgresRewardsUnitOfWork) -> ReconciliationReport:
    """Ledger vs payouts vs deliveries, read from one snapshot."""
    uow.connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    report = reconcile(uow.repos.reports.reconciliation_data())
    uow.rollback()
    return report


# --------------------------------------------------------------------------------------------------
# Read models for the finance and shopper API


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: list[Item]
    total: int
    limit: int
    offset: int


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= 1_000:
        raise InvalidInput("limit", "must lie within 1..1000")
    if offset < 0:
        raise InvalidInput("offset", "must not be negative")


def reward_policies(uow: PostgresRewardsUnitOfWork) -> list[RewardPolicy]:
    """Every version, oldest first."""
    return uow.repos.policies.list()


def reward_policy(uow: PostgresRewardsUnitOfWork, *, version: int) -> RewardPolicy:
    return uow.repos.policies.get_version(version)


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


def shopper_ledger(
    uow: PostgresRewardsUnitOfWork,
    *,
    shopper_id: UUID,
    account: AccountKind | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[LedgerLine]:
    """The shopper's ledger entries, newest first, with running balances; `NotFound` for an unknown shopper."""
    if account is not None and not account.belongs_to_shopper:
        raise InvalidInput("account", "a shopper has store_credit and cash_payable accounts")
    _check_page(limit, offset)
    repos = uow.repos
    repos.shoppers.get(shopper_id)
    rows, total = repos.ledger.shopper_entries(shopper_id, account, limit, offset)
    lines = [
        LedgerLine(
            entry_id=int(row["entry_id"]),
            account=AccountKind(row["account_kind"]),
            transaction_id=row["transaction_id"],
            kind=TransactionKind(row["kind"]),
            description=row["description"],
            at=row["created_at"],
            amount_cents=Cents(int(row["amount_cents"])),
            balance_after_cents=Cents(int(row["balance_after_cents"])),
            order_id=row["order_id"],
            reverses_id=row["reverses_id"],
            payout_line_id=row["payout_line_id"],
        )
        for row in rows
    ]
    return Page(lines, total, limit, offset)


@dataclass(frozen=True)
class ShopperReward:
    record: RewardRecord
    method: PaymentMethod
    reversed: bool


def shopper_rewards(
    uow: PostgresRewardsUnitOfWork, *, shopper_id: UUID, limit: int = 50, offset: int = 0
) -> Page[ShopperReward]:
    """The shopper's rewards, newest first, each with the policy version and inputs it was computed from."""
    _check_page(limit, offset)
    records, total = uow.repos.rewards.for_shopper(shopper_id, limit, offset)
    items = [ShopperReward(record, record.inputs.method, reversed_) for record, reversed_ in records]
    return Page(items, total, limit, offset)


@dataclass(frozen=True)
class AuditRecord:
    sequence: int
    entry: AuditEntry


def audit_log(
    uow: PostgresRewardsUnitOfWork,
    *,
    subject_kind: str | None = None,
    subject_id: UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[AuditRecord]:
    """Who did what to money, newest first."""
    _check_page(limit, offset)
    rows, total = uow.repos.audit.page(subject_kind=subject_kind, subject_id=subject_id, limit=limit, offset=offset)
    return Page([AuditRecord(sequence, entry) for sequence, entry in rows], total, limit, offset)


__all__ = [
    "AlreadyRewarded",
    "AuditRecord",
    "BatchStatus",
    "LedgerLine",
    "NothingToPay",
    "Page",
    "PaidBatch",
    "PaymentPreference",
    "Posting",
    "PreparedBatch",
    "Reversals",
    "RewardCredit",
    "RewardNotDue",
    "ShopperBalances",
    "ShopperReward",
    "StatementLine",
    "TierReview",
    "approve_payout_batch",
    "audit_log",
    "create_reward_policy",
    "credit_delivery_reward",
    "credit_delivery_reward_in",
    "export_payout_batch_csv",
    "hold_payout_line",
    "pay_payout_batch",
    "payment_method_at",
    "payment_preference",
    "payout_batch",
    "payout_batches",
    "prepare_payout_batch",
    "prepare_payout_batch_once",
    "quote_delivery_reward",
    "reconciliation_report",
    "redeem_store_credit",
    "register_referral",
    "reject_payout_batch",
    "release_payout_line",
    "reverse_delivery_reward",
    "reverse_transaction",
    "review_trust_tier",
    "reward_policies",
    "reward_policy",
    "set_payment_preference",
    "shopper_balances",
    "shopper_ledger",
    "shopper_rewards",
    "shopper_statement",
]
