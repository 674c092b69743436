"""A delivery's reward onto the shopper's account, with the referral bonus it pays: in the delivering
transaction (live), or after the fact by finance (`deliveries`). An order is credited once; a retry under the
same idempotency key gets the first credit back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from crowdship.clock import require_aware
from crowdship.units import Cents
from rewards.ledger import AccountKind, TransactionKind, transfer
from rewards.policy import PaymentMethod, RewardInputs
from rewards.pricing import compute_reward
from rewards.records import AlreadyRewarded, RewardNotDue, RewardRecord
from rewards.referrals import referral_commission
from rewards.repositories import RewardsRepositories
from rewards.services.common import audit, idempotent, jsonable, post
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
        "delivered_at": delivered_at,  # fingerprinted as the instant, whatever its offset
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
    require_aware(delivered_at, "delivered_at")
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
    # A referral registered while this waited for the locks (it locks these accounts too) is this delivery's.
    registered = repos.rewards.referral_of(shopper_id)
    if registered is not None and registered != referral:
        referral = registered
        referrer_cash = repos.ledger.shopper_accounts(referral.referrer_shopper_id)
        repos.ledger.lock([referrer_cash[AccountKind.CASH_PAYABLE].id])

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
