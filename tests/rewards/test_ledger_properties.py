"""Property tests of the ledger on the real database: random sequences of money movements (races: in
`test_ledger_races`).

After every step: each transaction sums to zero, each balance equals the sum of its entries, no shopper
balance is negative, nothing was paid twice, the balances match a plain-Python model of what should have
happened, and reconciliation finds no difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdship.errors import DomainError, InvalidInput
from crowdship.idempotency import IdempotencyKeyReused
from crowdship.units import Cents
from dispatch.errors import IllegalTransition
from dispatch.model import OrderStatus
from rewards.ledger import AccountKind, AlreadyReversed, InsufficientBalance
from rewards.policy import EarningsSoFar, PaymentMethod
from rewards.policy_versions import RewardPolicy
from rewards.pricing import compute_reward
from rewards.records import AlreadyRewarded, NothingToPay
from rewards.services import (
    RewardCredit,
    approve_payout_batch,
    credit_delivery_reward,
    pay_payout_batch,
    prepare_payout_batch,
    reconciliation_report,
    redeem_store_credit,
    reverse_delivery_reward,
)
from tests.rewards.conftest import FINANCE_A, FINANCE_B, NOW, OPS, World, inputs
from tests.rewards.ledger_checks import check_ledger_invariants, shopper_balances

SHOPPERS = 3
PROPERTY_SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --------------------------------------------------------------------------------------------------
# Sequences


@dataclass
class Credited:
    key: str
    order_id: UUID
    shopper: int
    method: PaymentMethod
    delivered_at: datetime
    result: RewardCredit
    reversed: bool = False


@dataclass
class Model:
    """What the balances should be, computed without the database."""

    world: World
    policy: RewardPolicy
    shoppers: list[UUID]
    balance: dict[tuple[UUID, AccountKind], int] = field(default_factory=dict)
    credits: list[Credited] = field(default_factory=list)
    reversal_keys: list[tuple[str, int, Any]] = field(default_factory=list)
    pay_keys: list[tuple[str, UUID, Any]] = field(default_factory=list)
    counter: int = 0

    def key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def account_of(self, credited: Credited) -> tuple[UUID, AccountKind]:
        kind = AccountKind.STORE_CREDIT if credited.method is PaymentMethod.STORE_CREDIT else AccountKind.CASH_PAYABLE
        return self.shoppers[credited.shopper], kind

    def earned_so_far(self, shopper: int) -> EarningsSoFar:
        total = sum(
            c.result.cash_value_cents for c in self.credits if c.shopper == shopper and not c.reversed
        )  # every step happens on the same day and week
        return EarningsSoFar(total, total)


def _credit(
    model: Model, order_id: UUID, shopper: int, method: PaymentMethod, key: str, delivered_at: datetime
) -> RewardCredit:
    with model.world.dispatch() as uow:
        result = credit_delivery_reward(
            model.world.repos_within(uow),
            order_id=order_id,
            shopper_id=model.shoppers[shopper],
            inputs=inputs(method=method),
            delivered_at=delivered_at,
            idempotency_key=key,
        )
        uow.commit()
    return result


def step_credit(model: Model, shopper: int, method: PaymentMethod, mode: str, pick: int) -> None:
    if mode == "fresh" or not model.credits:
        order = model.world.order()
        key = model.key("credit")
        expected = compute_reward(model.policy, inputs(method=method), model.earned_so_far(shopper))
        delivered_at = NOW + timedelta(minutes=model.counter)
        result = _credit(model, order.id, shopper, method, key, delivered_at)
        assert (result.amount_cents, result.cash_value_cents) == (expected.amount_cents, expected.cash_value_cents)
        credited = Credited(key, order.id, shopper, method, delivered_at, result)
        model.credits.append(credited)
        model.balance[model.account_of(credited)] += result.amount_cents
        return
    earlier = model.credits[pick % len(model.credits)]
    if mode == "retry":
        again = _credit(model, earlier.order_id, earlier.shopper, earlier.method, earlier.key, earlier.delivered_at)
        assert again == earlier.result
    elif mode == "reuse_key":
        other = model.world.order(status=OrderStatus.PICKED_UP)  # refused on the key before the order is read
        with pytest.raises(IdempotencyKeyReused):
            _credit(model, other.id, shopper, method, earlier.key, earlier.delivered_at)
    else:  # a new key for an order already rewarded
        with pytest.raises(AlreadyRewarded):
            _credit(model, earlier.order_id, earlier.shopper, earlier.method, model.key("credit"), earlier.delivered_at)


def step_reverse(model: Model, pick: int, retry: bool) -> None:
    if retry and model.reversal_keys:
        key, index, first = model.reversal_keys[pick % len(model.reversal_keys)]
        with model.world.rewards() as uow:
            again = reverse_delivery_reward(
                uow,
                order_id=model.credits[index].order_id,
                actor_id=OPS,
                reason="dispute",
                now=NOW,
                idempotency_key=key,
            )
        assert again == first
        return
    if not model.credits:
        return
    index = pick % len(model.credits)
    credited = model.credits[index]
    account = model.account_of(credited)
    key = model.key("reverse")

    def reverse() -> Any:
        with model.world.rewards() as uow:
            return reverse_delivery_reward(
                uow, order_id=credited.order_id, actor_id=OPS, reason="dispute", now=NOW, idempotency_key=key
            )

    expected_error: type[DomainError] | None = None
    if credited.reversed:
        expected_error = AlreadyReversed
    elif credited.result.amount_cents == 0:
        expected_error = InvalidInput
    elif model.balance[account] < credited.result.amount_cents:
        expected_error = InsufficientBalance
    if expected_error is not None:
        with pytest.raises(expected_error):
            reverse()
        return
    result = reverse()
    credited.reversed = True
    model.balance[account] -= credited.result.amount_cents
    model.reversal_keys.append((key, index, result))


def step_redeem(model: Model, shopper: int, amount: int) -> None:
    account = (model.shoppers[shopper], AccountKind.STORE_CREDIT)
    key = model.key("redeem")
    with model.world.rewards() as uow:
        if model.balance[account] < amount:
            with pytest.raises(InsufficientBalance):
                redeem_store_credit(
                    uow, shopper_id=account[0], amount_cents=Cents(amount), now=NOW, idempotency_key=key
                )
            return
        redeem_store_credit(uow, shopper_id=account[0], amount_cents=Cents(amount), now=NOW, idempotency_key=key)
    model.balance[account] -= amount


def step_payout(model: Model, retry: bool, pick: int) -> None:
    if retry and model.pay_keys:
        key, batch_id, first = model.pay_keys[pick % len(model.pay_keys)]
        with model.world.rewards() as uow:
            assert pay_payout_batch(uow, batch_id=batch_id, actor_id=FINANCE_B, now=NOW, idempotency_key=key) == first
        return
    owed = {shopper: model.balance[(shopper, AccountKind.CASH_PAYABLE)] for shopper in model.shoppers}
    with model.world.rewards() as uow:
        if not any(owed.values()):
            with pytest.raises(NothingToPay):
                prepare_payout_batch(
                    uow,
                    period_start=NOW - timedelta(days=1),
                    period_end=NOW + timedelta(days=1),
                    actor_id=FINANCE_A,
                    now=NOW,
                    idempotency_key=model.key("prepare"),
                )
            return
        batch = prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=1),
            period_end=NOW + timedelta(days=1),
            actor_id=FINANCE_A,
            now=NOW,
            idempotency_key=model.key("prepare"),
        ).batch
    assert {line.shopper_id: line.amount_cents for line in batch.lines} == {s: a for s, a in owed.items() if a}
    with model.world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    key = model.key("pay")
    with model.world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key=key)
    assert paid.paid_cents == sum(owed.values())
    with model.world.rewards() as uow, pytest.raises(IllegalTransition):
        pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key=model.key("pay"))
    for shopper in model.shoppers:
        model.balance[(shopper, AccountKind.CASH_PAYABLE)] = 0
    model.pay_keys.append((key, batch.id, paid))


shopper_index = st.integers(0, SHOPPERS - 1)
picks = st.integers(0, 50)
steps = st.one_of(
    st.tuples(
        st.just("credit"),
        shopper_index,
        st.sampled_from(list(PaymentMethod)),
        st.sampled_from(["fresh", "fresh", "retry", "reuse_key", "new_key_same_order"]),
        picks,
    ),
    st.tuples(st.just("reverse"), picks, st.booleans()),
    st.tuples(st.just("redeem"), shopper_index, st.integers(1, 800)),
    st.tuples(st.just("payout"), st.booleans(), picks),
)


@PROPERTY_SETTINGS
@given(sequence=st.lists(steps, min_size=1, max_size=14))
def test_any_sequence_of_money_movements_keeps_the_books_right(
    fresh_world: Callable[[], World], sequence: list[tuple[Any, ...]]
) -> None:
    """Credits, retries, key reuse, reversals, redemptions and payouts in any order: invariants and model hold."""
    world = fresh_world()
    shoppers = [world.add_shopper().id for _ in range(SHOPPERS)]
    with world.rewards() as uow:
        policy = uow.repos.policies.latest()
    model = Model(world, policy, shoppers, balance=shopper_balances(world.database, shoppers))
    for step in sequence:
        match step:
            case ("credit", shopper, method, mode, pick):
                step_credit(model, shopper, method, mode, pick)
            case ("reverse", pick, retry):
                step_reverse(model, pick, retry)
            case ("redeem", shopper, amount):
                step_redeem(model, shopper, amount)
            case ("payout", retry, pick):
                step_payout(model, retry, pick)
        check_ledger_invariants(world.database)
        assert shopper_balances(world.database, shoppers) == model.balance
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    assert report.agrees, report.discrepancies
