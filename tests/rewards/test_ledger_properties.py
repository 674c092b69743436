"""Property tests of the ledger on the real database: random sequences of money movements, and races.

After every step: each transaction sums to zero, each balance equals the sum of its entries, no shopper
balance is negative, nothing was paid twice, the balances match a plain-Python model of what should have
happened, and reconciliation finds no difference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from crowdship.errors import DomainError, InvalidInput
from crowdship.idempotency import IdempotencyKeyReused
from crowdship.units import Cents
from dispatch.errors import IllegalTransition
from dispatch.model import OrderStatus
from rewards.ledger import AccountKind, AlreadyReversed, InsufficientBalance
from rewards.policy import EarningsSoFar, PaymentMethod, RewardPolicy
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

SHOPPERS = 3
PROPERTY_SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_ledger_invariants(pool: ConnectionPool) -> None:
    """The rules that must hold after anything, read straight from the tables."""
    with pool.connection() as connection:
        unbalanced = connection.execute(
            """SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
               GROUP BY t.id HAVING coalesce(sum(e.amount_cents), 0) <> 0 OR count(e.id) < 2"""
        ).fetchall()
        drifted = connection.execute(
            """SELECT a.id FROM ledger_accounts a
               WHERE a.balance_cents <> coalesce((SELECT sum(amount_cents) FROM ledger_entries e
                                                   WHERE e.account_id = a.id), 0)"""
        ).fetchall()
        negative = connection.execute(
            "SELECT id FROM ledger_accounts WHERE NOT allow_negative AND balance_cents < 0"
        ).fetchall()
        paid_twice = connection.execute(
            """SELECT payout_line_id FROM ledger_transactions WHERE kind = 'payout'
               GROUP BY payout_line_id HAVING count(*) > 1
               UNION ALL
               SELECT order_id FROM ledger_transactions WHERE kind = 'delivery_reward'
               GROUP BY order_id HAVING count(*) > 1
               UNION ALL
               SELECT reverses_id FROM ledger_transactions WHERE reverses_id IS NOT NULL
               GROUP BY reverses_id HAVING count(*) > 1"""
        ).fetchall()
    assert unbalanced == []
    assert drifted == []
    assert negative == []
    assert paid_twice == []


def shopper_balances(pool: ConnectionPool, shopper_ids: list[UUID]) -> dict[tuple[UUID, AccountKind], int]:
    with pool.connection() as connection:
        rows = connection.execute(
            "SELECT shopper_id, kind, balance_cents FROM ledger_accounts WHERE shopper_id = ANY(%s)", (shopper_ids,)
        ).fetchall()
    found = {(row[0], AccountKind(row[1])): int(row[2]) for row in rows}
    return {
        (shopper_id, kind): found.get((shopper_id, kind), 0)
        for shopper_id in shopper_ids
        for kind in (AccountKind.STORE_CREDIT, AccountKind.CASH_PAYABLE)
    }


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


# --------------------------------------------------------------------------------------------------
# Races: threads with connections of their own, started together.


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs `work(i)` on `count` threads released at once; returns each result or the exception raised."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = work(index)
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.usefixtures("pg_policy")
def test_concurrent_retries_of_one_credit_pay_once(pg_world: World) -> None:
    """Five threads send the same credit with the same key at once: one reward, five identical answers."""
    world = pg_world
    shopper = world.add_shopper()
    order = world.order()

    def send(_: int) -> RewardCredit:
        with world.dispatch() as uow:
            result = credit_delivery_reward(
                world.repos_within(uow),
                order_id=order.id,
                shopper_id=shopper.id,
                inputs=inputs(),
                delivered_at=NOW,
                idempotency_key="same-key",
            )
            uow.commit()
        return result

    outcomes = race(5, send)
    assert all(isinstance(outcome, RewardCredit) for outcome in outcomes), outcomes
    assert len(set(outcomes)) == 1
    check_ledger_invariants(world.database)
    assert shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.CASH_PAYABLE)] == 500


@pytest.mark.usefixtures("pg_policy")
def test_concurrent_credits_of_one_order_with_different_keys_pay_once(pg_world: World) -> None:
    """Four keys for one order at once: one succeeds, the others are AlreadyRewarded."""
    world = pg_world
    shopper = world.add_shopper()
    order = world.order()

    def send(index: int) -> RewardCredit:
        with world.dispatch() as uow:
            result = credit_delivery_reward(
                world.repos_within(uow),
                order_id=order.id,
                shopper_id=shopper.id,
                inputs=inputs(),
                delivered_at=NOW,
                idempotency_key=f"key-{index}",
            )
            uow.commit()
        return result

    outcomes = race(4, send)
    assert sum(isinstance(o, RewardCredit) for o in outcomes) == 1
    assert sum(isinstance(o, AlreadyRewarded) for o in outcomes) == 3, outcomes
    check_ledger_invariants(world.database)


@pytest.mark.usefixtures("pg_policy")
def test_concurrent_credits_respect_the_daily_cap(pg_world: World) -> None:
    """Six 4 900 ¢ deliveries of one shopper at once under a 5 000 ¢ daily cap: 5 000 ¢ in all, not more."""
    world = pg_world
    shopper = world.add_shopper()
    orders = [world.order() for _ in range(6)]
    big = inputs(distance_m=90_000)

    def send(index: int) -> RewardCredit:
        with world.dispatch() as uow:
            result = credit_delivery_reward(
                world.repos_within(uow),
                order_id=orders[index].id,
                shopper_id=shopper.id,
                inputs=big,
                delivered_at=NOW + timedelta(seconds=index),
                idempotency_key=f"key-{index}",
            )
            uow.commit()
        return result

    outcomes = race(6, send)
    assert all(isinstance(o, RewardCredit) for o in outcomes), outcomes
    assert sum(o.cash_value_cents for o in outcomes) == 5_000
    check_ledger_invariants(world.database)


@pytest.mark.usefixtures("pg_policy")
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(50, 400), min_size=3, max_size=6))
def test_concurrent_redemptions_never_overdraw(pg_world: World, amounts: list[int]) -> None:
    """Threads spend store credit at once: what succeeds fits the balance; the rest is InsufficientBalance."""
    world = pg_world
    shopper = world.add_shopper()
    with world.dispatch() as uow:
        credit_delivery_reward(
            world.repos_within(uow),
            order_id=world.order().id,
            shopper_id=shopper.id,
            inputs=inputs(method=PaymentMethod.STORE_CREDIT),
            delivered_at=NOW,
            idempotency_key=f"fund-{shopper.id}",
        )
        uow.commit()
    start = shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.STORE_CREDIT)]

    def spend(index: int) -> int:
        with world.rewards() as uow:
            redeem_store_credit(
                uow,
                shopper_id=shopper.id,
                amount_cents=Cents(amounts[index]),
                now=NOW,
                idempotency_key=f"spend-{shopper.id}-{index}",
            )
        return amounts[index]

    outcomes = race(len(amounts), spend)
    spent = sum(o for o in outcomes if isinstance(o, int))
    assert all(isinstance(o, int | InsufficientBalance) for o in outcomes), outcomes
    end = shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.STORE_CREDIT)]
    assert end == start - spent >= 0
    refused = [amounts[i] for i, o in enumerate(outcomes) if isinstance(o, InsufficientBalance)]
    assert all(amount > end for amount in refused)  # it did not fit at its turn, and balances only fell since
    check_ledger_invariants(world.database)


@pytest.mark.usefixtures("pg_policy")
def test_concurrent_payments_of_one_batch_pay_once(pg_world: World) -> None:
    """Three finance clicks with different keys on one approved batch: one pays, the others are refused."""
    world = pg_world
    shoppers = [world.add_shopper() for _ in range(2)]
    for shopper in shoppers:
        with world.dispatch() as delivery:
            credit_delivery_reward(
                world.repos_within(delivery),
                order_id=world.order().id,
                shopper_id=shopper.id,
                inputs=inputs(),
                delivered_at=NOW,
                idempotency_key=f"fund-{shopper.id}",
            )
            delivery.commit()
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=1),
            period_end=NOW + timedelta(days=1),
            actor_id=FINANCE_A,
            now=NOW,
            idempotency_key="prepare",
        ).batch
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)

    def pay(index: int) -> Any:
        with world.rewards() as uow:
            return pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key=f"pay-{index}")

    outcomes = race(3, pay)
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert sum(isinstance(o, IllegalTransition) for o in outcomes) == 2, outcomes
    check_ledger_invariants(world.database)
    with world.database.connection() as connection:
        payouts = connection.execute("SELECT count(*) FROM ledger_transactions WHERE kind = 'payout'").fetchone()
    assert payouts == (2,)
