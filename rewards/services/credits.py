"""Money onto shoppers' accounts and back: a delivery's reward (in the delivering transaction), corrections by
reversal, store credit spent at the till. Every movement runs once per idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from crowdship.errors import InvalidInput, NotFound
from crowdship.units import Cents
from rewards.ledger import AccountKind, AlreadyReversed, InsufficientBalance, TransactionKind, transfer
from rewards.policy import PaymentMethod, RewardInputs
from rewards.pricing import compute_reward
from rewards.records import (
    AlreadyRewarded,
    NotEnoughStoreCredit,
    RewardAlreadyReversed,
    RewardNoLongerHeld,
    RewardNotDue,
    RewardRecord,
)
from rewards.referrals import referral_commission
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services.common import audit, callers_once, idempotent, jsonable, post
from rewards.services.policies import earnings_so_far


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
        return jsonable(asdict(self))  # type: ignore[no-any-return]

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
    """Credits a delivered order's reward inside the caller's open transaction; never commits.

    Call it after saving the order as delivered in the same transaction: both are kept, or neither.
    """
    request = {
        "order_id": str(order_id),
        "shopper_id": str(shopper_id),
        "inputs": inputs.to_json(),
        "delivered_at": delivered_at.isoformat(),
        "policy_version": policy_version,
    }
    return idempotent(
        repos,
        key=idempotency_key,
        operation="credit_delivery_reward",
        request=request,
        run=lambda: _credit(repos, order_id, shopper_id, inputs, delivered_at, policy_version, actor_id, None),
        dump=RewardCredit.to_json,
        load=RewardCredit.from_json,
    )


def credit_delivered_order(
    repos: RewardsRepositories,
    *,
    order_id: UUID,
    shopper_id: UUID,
    inputs: RewardInputs,
    delivered_at: datetime,
    policy_version: int,
    actor_id: UUID,
    posted_at: datetime,
) -> RewardCredit:
    """Credits a delivered order after the fact, inside the caller's open transaction and under the caller's
    own idempotency key; never commits. The reward is earned at `delivered_at` (the caps of that day and week
    apply) and its money moves at `posted_at`, by `actor_id`, which is when and by whom the audit log says."""
    return _credit(repos, order_id, shopper_id, inputs, delivered_at, policy_version, actor_id, posted_at)


def _credit(
    repos: RewardsRepositories,
    order_id: UUID,
    shopper_id: UUID,
    inputs: RewardInputs,
    delivered_at: datetime,
    policy_version: int | None,
    actor_id: UUID | None,
    posted_at: datetime | None,
) -> RewardCredit:
    if delivered_at.tzinfo is None:
        raise InvalidInput("delivered_at", "must be a timezone-aware timestamp")
    moved_at = posted_at or delivered_at
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
            created_at=moved_at,
            from_account=reward_expense.id,
            to_account=target.id,
            amount=quote.amount_cents,
            actor_id=actor_id,
            order_id=order_id,
        )
        post(repos, reward_transaction)

    commission = Cents(0)
    referral_transaction = None
    if referral is not None and referrer_cash is not None:
        delivery_number = repos.rewards.delivery_count(shopper_id) + 1
        commission = referral_commission(policy.parameters, quote.cash_value_cents, delivery_number)
        if commission > 0:
            referral_transaction = transfer(
                kind=TransactionKind.REFERRAL_BONUS,
                description=f"referral bonus: delivery {delivery_number} of shopper {shopper_id}",
                created_at=moved_at,
                from_account=referral_expense.id,
                to_account=referrer_cash[AccountKind.CASH_PAYABLE].id,
                amount=commission,
                actor_id=actor_id,
                order_id=order_id,
            )
            post(repos, referral_transaction)

    record = RewardRecord(
        id=uuid4(),
        order_id=order_id,
        shopper_id=shopper_id,
        store_id=order.store_id,
        policy_id=policy.id,
        policy_version=policy.version,
        inputs=inputs,
        earned_before=earned,
        breakdown=quote.components,
        cash_value_cents=quote.cash_value_cents,
        amount_cents=quote.amount_cents,
        earned_at=delivered_at,
        transaction_id=None if reward_transaction is None else reward_transaction.id,
        referral_transaction_id=None if referral_transaction is None else referral_transaction.id,
    )
    repos.rewards.add(record)
    audit(
        repos,
        actor_id=actor_id,
        action="reward.credited",
        subject_kind="order",
        subject_id=order_id,
        at=moved_at,
        amount_cents=quote.amount_cents,
        policy_version=policy.version,
        **({} if posted_at is None else {"delivered_at": delivered_at.isoformat()}),
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


@dataclass(frozen=True)
class Reversals:
    reversal_ids: tuple[UUID, ...]
    reversed_ids: tuple[UUID, ...]
    replayed: bool = field(default=False, compare=False)
    """True when the key was used before for the same request: these are the first request's reversals."""

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
        post(repos, reversal)
        reversals.append(reversal)
        audit(
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


def _finish(uow: RewardsUnitOfWork, replayed: bool) -> None:
    """A first request keeps its work; a replay changed nothing, so its transaction is let go."""
    if replayed:
        uow.rollback()
    else:
        uow.commit()


def reverse_transaction(
    uow: RewardsUnitOfWork,
    *,
    transaction_id: UUID,
    actor_id: UUID,
    reason: str,
    now: datetime,
    idempotency_key: str,
) -> Reversals:
    """A correction: a new transaction with opposite entries, linked to the original; once per transaction."""
    repos = uow.repos
    result = idempotent(
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
    uow: RewardsUnitOfWork,
    *,
    order_id: UUID,
    actor_id: UUID,
    reason: str,
    now: datetime,
    idempotency_key: str,
) -> Reversals:
    """A disputed delivery: its reward and any referral bonus it paid are reversed together, once.

    `NotFound` when the order has no reward; `RewardAlreadyReversed` the second time; `RewardNoLongerHeld`
    (an `InsufficientBalance`) if the shopper, or the referrer, no longer holds the money (paid out, or spent
    at the till). A retry with the same key gets the first reversals back, `replayed`.
    """
    repos = uow.repos

    def run() -> Reversals:
        reward = repos.rewards.for_order(order_id)
        if reward is None:
            raise NotFound(f"order {order_id} has no reward")
        to_reverse = [t for t in (reward.transaction_id, reward.referral_transaction_id) if t is not None]
        if not to_reverse:
            raise InvalidInput("order_id", "the reward was capped to zero: nothing to reverse")
        try:
            return _reverse_all(repos, to_reverse, actor_id=actor_id, reason=reason, now=now)
        except AlreadyReversed as error:
            raise RewardAlreadyReversed(order_id, error.transaction_id) from error
        except InsufficientBalance as error:
            from_referrer = error.account.shopper_id != reward.shopper_id
            raise RewardNoLongerHeld(order_id, error, from_referrer=from_referrer) from error

    outcome = callers_once(
        repos,
        caller=actor_id,
        operation="reverse_delivery_reward",
        key=idempotency_key,
        request={"order_id": str(order_id), "reason": reason},
        run=run,
        dump=Reversals.to_json,
        load=Reversals.from_json,
    )
    _finish(uow, outcome.replayed)
    return replace(outcome.value, replayed=outcome.replayed)


@dataclass(frozen=True)
class Posting:
    transaction_id: UUID
    amount_cents: Cents
    replayed: bool = field(default=False, compare=False)
    """True when the key was used before for the same request: this is the first request's posting."""

    def to_json(self) -> dict[str, Any]:
        return {"transaction_id": str(self.transaction_id), "amount_cents": self.amount_cents}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Posting:
        return cls(UUID(data["transaction_id"]), Cents(int(data["amount_cents"])))


def redeem_store_credit(
    uow: RewardsUnitOfWork,
    *,
    shopper_id: UUID,
    amount_cents: Cents,
    now: datetime,
    idempotency_key: str,
    actor_id: UUID | None = None,
) -> Posting:
    """The shopper spends store credit at the till, once per key (a retry gets the first posting back,
    `replayed`). `NotFound` for an unknown shopper; `NotEnoughStoreCredit` (an `InsufficientBalance`) beyond
    their balance."""
    repos = uow.repos

    def run() -> Posting:
        repos.shoppers.get(shopper_id)  # NotFound before any account is opened for nobody
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
        try:
            post(repos, transaction)
        except InsufficientBalance as error:
            raise NotEnoughStoreCredit(error) from error
        audit(
            repos,
            actor_id=actor_id,
            action="store_credit.redeemed",
            subject_kind="shopper",
            subject_id=shopper_id,
            at=now,
            amount_cents=amount_cents,
        )
        return Posting(transaction.id, amount_cents)

    outcome = callers_once(
        repos,
        caller=actor_id,
        operation="redeem_store_credit",
        key=idempotency_key,
        request={"shopper_id": str(shopper_id), "amount_cents": amount_cents},
        run=run,
        dump=Posting.to_json,
        load=Posting.from_json,
    )
    _finish(uow, outcome.replayed)
    return replace(outcome.value, replayed=outcome.replayed)
