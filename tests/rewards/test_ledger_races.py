"""Races on the ledger, on the real database: threads with connections of their own, started together, retry
one credit, credit one order under different keys, credit past the daily cap, spend store credit and pay one
batch. Whatever wins, the books stay right: each transaction sums to zero, each balance equals its entries, no
shopper balance is negative and nothing is paid twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdship.units import Cents
from dispatch.errors import IllegalTransition
from rewards.ledger import AccountKind, InsufficientBalance
from rewards.policy import PaymentMethod
from rewards.records import AlreadyRewarded
from rewards.services import (
    RewardCredit,
    approve_payout_batch,
    pay_payout_batch,
    prepare_payout_batch,
    redeem_store_credit,
)
from tests.rewards.conftest import FINANCE_A, FINANCE_B, NOW, World, credit, inputs
from tests.rewards.ledger_checks import check_ledger_invariants, shopper_balances

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
        return credit(world, order.id, shopper.id, "same-key")

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
        return credit(world, order.id, shopper.id, f"key-{index}")

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
        return credit(
            world,
            orders[index].id,
            shopper.id,
            f"key-{index}",
            reward_inputs=big,
            delivered_at=NOW + timedelta(seconds=index),
        )

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
    credit(
        world,
        world.order().id,
        shopper.id,
        f"fund-{shopper.id}",
        reward_inputs=inputs(method=PaymentMethod.STORE_CREDIT),
    )
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
        credit(world, world.order().id, shopper.id, f"fund-{shopper.id}")
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
