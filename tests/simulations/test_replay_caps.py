"""A replayed day counts what its shoppers earned elsewhere towards the caps, as live did: a shopper who had
earned at another store that morning was paid less under the daily cap, and so is the replay. A reward reversed
later counts as it did live: until its reversal, so one reversed on a later day counts all day."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from crowdship.settings import Settings
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Offer, OrderStatus, TrustTier
from dispatch.services.batch import matcher_solver, run_batch
from dispatch.services.context import DispatchConfig
from dispatch.services.delivery import confirm_pickup, deliver
from dispatch.services.offers import accept_offer
from rewards.adapters.postgres import PostgresRewardsUnitOfWork
from rewards.adapters.postgres.recorded_day import read_recorded_day
from rewards.policy import PaymentMethod, RewardInputs
from rewards.recorded_day import RecordedDay
from rewards.services import credit_delivery_reward, reverse_delivery_reward
from routing.geo import GeoPoint
from simulations.replay import replay_day
from simulations.replay_inputs import day_bounds
from simulations.replay_result import ReplayResult
from simulations.replay_state import ReplayOptions
from tests.rewards.conftest import OPS
from tests.simulations.test_replay import DAY, NINE, POLICY, _a_store, _check_in, _take_in

CAPPED: dict[str, Any] = {**POLICY, "daily_cap_cents": 800}
"""Every delivery earns at least the 500 minimum: a second one that day is paid the 300 left."""


def _delivered_here_after_earning_elsewhere(
    db: ConnectionPool,
    settings: Settings,
    *,
    reversed_at: datetime | None = None,
    here_reversed_at: datetime | None = None,
) -> RecordedDay:
    """500 earned at another store two seconds after nine (its reward reversed at `reversed_at`, if given), then
    an order delivered here by the same shopper at 9:08 (its reward reversed at `here_reversed_at`, after the
    delivery, if given); the day as recorded."""
    _, elsewhere_ctx, elsewhere, _ = _a_store(db, settings, "Elsewhere", 0, CAPPED)
    clock, ctx, store, [shopper] = _a_store(db, settings, "Capped store", 1, CAPPED)
    earlier, _, _ = _take_in(elsewhere_ctx, elsewhere, "E1", GeoPoint(30.47, -84.2211), 1)
    with PostgresDispatchUnitOfWork(db) as uow:  # carried there by hand: only its reward matters here
        carried = uow.orders.get(UUID(earlier), for_update=True)
        carried.status = OrderStatus.DELIVERED
        uow.orders.save(carried, at=NINE + timedelta(seconds=2))
        uow.commit()
    with PostgresRewardsUnitOfWork(db) as rewards:  # delivered two seconds after nine, before the first batch here
        credit_delivery_reward(
            rewards.repos, order_id=UUID(earlier), shopper_id=shopper.id,
            inputs=RewardInputs(0, 0, 1, 9, TrustTier.GOLD, PaymentMethod.CASH),
            delivered_at=NINE + timedelta(seconds=2), idempotency_key="earlier",
        )  # fmt: skip
        rewards.commit()
    if reversed_at is not None and reversed_at < NINE + timedelta(minutes=8):
        _reverse(db, UUID(earlier), reversed_at)
    dropoff = GeoPoint(30.475, -84.2211)
    _, bag, code = _take_in(ctx, store, "C1", dropoff, 1)
    clock.set(NINE + timedelta(seconds=5))
    trip = _check_in(ctx, shopper, store, north=0.0, bags=1, leave_by=NINE + timedelta(minutes=30))
    taken: Offer | None = None
    seconds = 7
    while taken is None:  # the dispatcher's cadence until the shopper takes the offer
        clock.set(NINE + timedelta(seconds=seconds))
        for offer in run_batch(ctx, store_id=store.id, solver=matcher_solver).offers:
            clock.set(NINE + timedelta(seconds=seconds + 2))
            taken = accept_offer(ctx, shopper_id=shopper.id, offer_id=offer.id).offer
        seconds += 10
    clock.set(NINE + timedelta(minutes=2))
    confirm_pickup(ctx, shopper_id=shopper.id, trip_id=trip.id, bag_codes=[bag])
    clock.set(NINE + timedelta(minutes=8))
    deliver(ctx, shopper_id=shopper.id, order_id=taken.stops[0], position=dropoff, code=code)
    if reversed_at is not None and reversed_at >= NINE + timedelta(minutes=8):
        _reverse(db, UUID(earlier), reversed_at)
    if here_reversed_at is not None:
        _reverse(db, taken.stops[0], here_reversed_at, key="here")
    start, end = day_bounds(DAY, "UTC")
    return read_recorded_day(db, store_id=store.id, start=start, end=end)


def _reverse(db: ConnectionPool, order_id: UUID, at: datetime, *, key: str = "elsewhere") -> None:
    with PostgresRewardsUnitOfWork(db) as rewards:
        reverse_delivery_reward(
            rewards, order_id=order_id, actor_id=OPS, reason="disputed", now=at, idempotency_key=key
        )


def _replayed(day: RecordedDay, settings: Settings) -> ReplayResult:
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(day, ReplayOptions(policy=CAPPED, config=config, cadence_s=10.0))
    assert result.answered_by_model == 0
    return result


def test_a_shopper_who_earned_elsewhere_that_morning_is_replayed_under_the_same_cap(
    db: ConnectionPool, settings: Settings
) -> None:
    """500 earned at another store just after nine, then an order delivered here: live paid 300 for it (the
    cap's room), and the replay under the same policy pays the same, not the 500 of a shopper who earned
    nothing before."""
    day = _delivered_here_after_earning_elsewhere(db, settings)
    assert sum(day.rewards_cents.values()) == 300  # the cap's room after the 500 earned elsewhere
    result = _replayed(day, settings)
    assert result.replayed.payouts_cents == result.recorded.payouts_cents == 300


def test_a_reward_earned_elsewhere_and_reversed_on_a_later_day_counts_as_it_did_that_day(
    db: ConnectionPool, settings: Settings
) -> None:
    """The 500 earned elsewhere was disputed and reversed the next day: that day, the cap counted it (live paid
    300 here), so the replay counts it too. It was left out as never earned, and the replay paid 500."""
    day = _delivered_here_after_earning_elsewhere(db, settings, reversed_at=NINE + timedelta(days=1))
    assert sum(day.rewards_cents.values()) == 300
    result = _replayed(day, settings)
    assert result.replayed.payouts_cents == result.recorded.payouts_cents == 300


def test_a_reward_earned_elsewhere_and_reversed_before_the_delivery_here_counts_only_until_its_reversal(
    db: ConnectionPool, settings: Settings
) -> None:
    """Reversed a second after it was earned, before this store's first batch: live paid the full 500 here (the
    reversal gave the cap its room back), and so does the replay."""
    day = _delivered_here_after_earning_elsewhere(db, settings, reversed_at=NINE + timedelta(seconds=3))
    assert sum(day.rewards_cents.values()) == 500
    result = _replayed(day, settings)
    assert result.replayed.payouts_cents == result.recorded.payouts_cents == 500


def test_a_reward_of_the_day_reversed_on_a_later_day_is_still_paid_as_the_day_happened(
    db: ConnectionPool, settings: Settings
) -> None:
    """The delivery here was disputed and its 300 reversed the next day: the day as it happened still paid it
    (the reversal is a later day's correction), and the replay, which reverses nothing, pays the same."""
    day = _delivered_here_after_earning_elsewhere(db, settings, here_reversed_at=NINE + timedelta(days=1))
    assert sum(day.rewards_cents.values()) == 300
    result = _replayed(day, settings)
    assert result.replayed.payouts_cents == result.recorded.payouts_cents == 300
