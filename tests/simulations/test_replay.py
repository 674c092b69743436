"""Replay end to end on PostGIS: a small day recorded through the live use cases (intake, check-in, batches,
answers, pickup, delivery, a cancellation, the fallback), read back from PostgreSQL and replayed under a cheaper
policy. The 'as it happened' column is what was recorded; the replay pays less."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg_pool import ConnectionPool
from typer.testing import CliRunner

from cli.main import app
from composition import live_context
from crowdship.clock import ManualClock
from crowdship.errors import InvalidInput
from crowdship.settings import Settings, get_settings
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.errors import DeliveryRefused
from dispatch.model import Offer, Order, Shopper, Store, Trip, TrustTier
from dispatch.services.batch import matcher_solver, run_batch
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.delivery import confirm_pickup, deliver, mark_not_delivered, mark_returned
from dispatch.services.intake import OrderIntake, ingest_order
from dispatch.services.offers import accept_offer, decline_offer
from dispatch.services.orders import cancel_order, hand_to_fallback, requeue_order
from dispatch.services.trips import cancel_trip, check_in
from rewards.adapters.postgres import PostgresRewardsUnitOfWork
from rewards.adapters.postgres.recorded_day import read_recorded_day
from rewards.policy import PaymentMethod
from rewards.services.wallet import set_payment_preference
from routing.areas import circular_area
from routing.geo import GeoPoint
from simulations.replay import replay_day
from simulations.replay_deliveries import wrong_code
from simulations.replay_inputs import day_bounds, load_policy_file
from simulations.replay_result import replay_rows, unreplayed_lines
from simulations.replay_state import ReplayOptions
from simulations.scenario import AcceptanceSpec
from tests.rewards.conftest import publish_policy

STORE_AT = GeoPoint(30.4627, -84.2211)
DAY = date(2026, 11, 30)
NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
POLICY: dict[str, Any] = {
    "base_cents": 400,
    "per_extra_km_cents": 80,
    "per_extra_minute_cents": 10,
    "per_bag_cents": 25,
    "minimum_cents": 500,
    "timezone": "UTC",
}
CHEAPER = {**POLICY, "base_cents": 150, "per_extra_km_cents": 40, "minimum_cents": 250}


@dataclasses.dataclass
class Recorded:
    store: Store
    delivered: int
    fallback: int
    cancelled: int
    credited_cents: int
    offers: int


def _a_store(
    db: ConnectionPool, settings: Settings, name: str, shoppers: int, policy: Mapping[str, Any] = POLICY
) -> tuple[ManualClock, DispatchContext, Store, list[Shopper]]:
    """A store with gold shoppers, the test policy in force since yesterday, and a live context at nine on a
    manual clock whose matcher plans one order per trip exactly (no search: the replay's plan is the same)."""
    clock = ManualClock(NINE)
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    ctx: DispatchContext = live_context(settings, db, clock=clock, live=None, config=config)
    publish_policy(PostgresRewardsUnitOfWork(db), dict(policy), now=NINE - timedelta(days=1))
    store = Store(name, STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    people = [Shopper(display_name=f"S{n}", trust_tier=TrustTier.GOLD, identity_verified=True) for n in range(shoppers)]
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        for shopper in people:
            uow.shoppers.add(shopper)
        uow.commit()
    return clock, ctx, store, people


def _take_in(ctx: DispatchContext, store: Store, ref: str, dropoff: GeoPoint, n: int) -> tuple[str, str, str]:
    """An order of one bag taken in by intake (key and reference `ref`, address `n Main St`): its id, bag code and
    delivery code."""
    result = ingest_order(
        ctx,
        scope="test",
        idempotency_key=ref,
        intake=OrderIntake(
            store_id=store.id,
            external_ref=ref,
            dropoff=dropoff,
            dropoff_address=f"{n} Main St",
            recipient_name="Pat Doe",
            window_earliest=NINE,
            window_latest=NINE + timedelta(hours=3),
            dispatch_deadline=NINE + timedelta(hours=2),
            size_bags=1,
            value_cents=Cents(3_000),
        ),
    )
    return str(result.receipt["order_id"]), str(result.receipt["bag_code"]), str(result.delivery_code)


def _check_in(
    ctx: DispatchContext, shopper: Shopper, store: Store, *, north: float, bags: int, leave_by: datetime
) -> Trip:
    """A trip home `north` degrees north of the store's latitude line at 30.52, within 4 km of detour."""
    return check_in(
        ctx,
        shopper_id=shopper.id,
        store_id=store.id,
        destination=GeoPoint(30.52 + north, -84.2211),
        capacity_bags=bags,
        max_detour_m=4_000,
        max_detour_s=None,
        leave_by=leave_by,
    )


def _record_a_day(db: ConnectionPool, settings: Settings) -> Recorded:
    """Five orders and three shoppers: the first offer accepted and delivered, the second declined, the third
    left to expire; one order cancelled by the customer; what nobody carried goes to the fallback."""
    clock, ctx, store, shoppers = _a_store(db, settings, "Replay store", 3)
    codes: dict[Any, tuple[str, str]] = {}
    for n in range(5):
        clock.set(NINE + timedelta(seconds=n))  # apart, so that every list comes in the same order in the replay
        new_order, bag, code = _take_in(
            ctx, store, f"R{n}", GeoPoint(30.475 + 0.006 * n, -84.2211 + 0.002 * (n % 2)), n
        )
        codes[new_order] = (bag, code)
    trips = []
    for index, shopper in enumerate(shoppers):
        clock.set(NINE + timedelta(seconds=5 + index))
        trips.append(_check_in(ctx, shopper, store, north=0.002 * index, bags=1, leave_by=NINE + timedelta(minutes=20)))
    taken: Offer | None = None
    made = 0
    for seconds in range(10, 20 * 60, 10):  # the dispatcher's cadence until the shoppers leave
        clock.set(NINE + timedelta(seconds=seconds))
        offers = run_batch(ctx, store_id=store.id, solver=matcher_solver).offers
        made += len(offers)
        clock.set(NINE + timedelta(seconds=seconds + 5))
        for offer in offers:  # the first shopper takes the first offer, the second declines, the third is away
            if offer.trip_id == trips[0].id:
                taken = accept_offer(ctx, shopper_id=shoppers[0].id, offer_id=offer.id).offer
            elif offer.trip_id == trips[1].id:
                decline_offer(ctx, shopper_id=shoppers[1].id, offer_id=offer.id)
        if seconds == 30:  # stamped with the test's clock, as every change is: the replay reads when it happened
            cancel_order(ctx, order_id=UUID(list(codes)[-1]))
    assert taken is not None
    clock.set(NINE + timedelta(minutes=20))
    confirm_pickup(
        ctx, shopper_id=shoppers[0].id, trip_id=trips[0].id, bag_codes=[codes[str(stop)][0] for stop in taken.stops]
    )
    clock.set(NINE + timedelta(minutes=35))
    for order_id in taken.stops:
        with PostgresDispatchUnitOfWork(db) as uow:
            dropoff = uow.orders.get(order_id).dropoff
        deliver(ctx, shopper_id=shoppers[0].id, order_id=order_id, position=dropoff, code=codes[str(order_id)][1])
    clock.set(NINE + timedelta(hours=2, minutes=1))
    run_batch(ctx, store_id=store.id, solver=matcher_solver)  # the rest is past its deadline: the fallback
    return _as_recorded(db, store, made)


def test_a_recorded_day_replays_under_a_cheaper_policy(db: ConnectionPool, settings: Settings) -> None:
    """'As it happened' is the recorded day to the cent; the replay keeps the shoppers' recorded answers to the
    same offers and pays less for the same deliveries; offers nobody answered in reality go to the acceptance
    model."""
    recorded = _record_a_day(db, settings)
    assert (recorded.delivered, recorded.cancelled) == (1, 1)
    assert recorded.fallback == 3
    assert recorded.credited_cents >= 500
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    assert (len(day.orders), len(day.trips), len(day.offers)) == (5, 3, recorded.offers)
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(day, ReplayOptions(policy=CHEAPER, config=config, cadence_s=10.0))

    happened = result.recorded
    assert (happened.orders, happened.delivered, happened.fallback, happened.cancelled) == (5, 1, 3, 1)
    assert happened.payouts_cents == recorded.credited_cents
    assert happened.cost_cents == recorded.credited_cents + 3 * 899
    assert happened.shopper_share == pytest.approx(1 / 4)

    replayed = result.replayed
    assert (result.offers, result.answered_as_recorded, result.answered_by_model) == (
        recorded.offers,
        recorded.offers,
        0,
    ), result
    assert replayed.delivered == happened.delivered
    assert replayed.fallback == happened.fallback
    assert 0 < replayed.payouts_cents < happened.payouts_cents
    assert replayed.cost_cents < happened.cost_cents
    rows = {row[0]: row[1:] for row in replay_rows(result)}
    assert rows["payouts, cents (rewards credited)"][:2] == (
        f"{happened.payouts_cents:,}",
        f"{replayed.payouts_cents:,}",
    )
    assert rows["payouts, cents (rewards credited)"][2].startswith("-")

    unanswered = replay_day(dataclasses.replace(day, offers=[]), ReplayOptions(policy=CHEAPER, config=config))
    assert unanswered.answered_as_recorded == 0
    assert unanswered.answered_by_model == unanswered.offers > 0


def _record_two_trips(
    db: ConnectionPool,
    settings: Settings,
    policy: Mapping[str, Any] = POLICY,
    store_credit_at: datetime | None = None,
) -> Recorded:
    """One shopper, two trips: checks in, accepts what is offered two seconds after it came, scans the bags two
    seconds later and delivers five minutes later; checks in again ten minutes after the first check-in and does
    the same. What is left goes to the fallback. The first trip's leave-by is 09:30, the second's 09:25: a
    replay that kept the shopper in the store until the first leave-by could not check them in again. The
    shopper chooses to be paid in store credit at `store_credit_at` when given."""
    clock, ctx, store, [shopper] = _a_store(db, settings, "Two trips store", 1, policy)
    if store_credit_at is not None:
        with PostgresRewardsUnitOfWork(db) as rewards_uow:
            set_payment_preference(
                rewards_uow, shopper_id=shopper.id, method=PaymentMethod.STORE_CREDIT, now=store_credit_at
            )
    codes: dict[str, tuple[str, str]] = {}
    made = 0
    for number, (first, leave_by) in enumerate(
        [(NINE, NINE + timedelta(minutes=30)), (NINE + timedelta(minutes=10), NINE + timedelta(minutes=25))]
    ):
        for n in range(2):
            clock.set(first + timedelta(seconds=n))
            dropoff = GeoPoint(30.475 + 0.006 * n + 0.003 * number, -84.2211)
            new_order, bag, code = _take_in(ctx, store, f"T{number}-{n}", dropoff, n)
            codes[new_order] = (bag, code)
        clock.set(first + timedelta(seconds=5))
        trip = _check_in(ctx, shopper, store, north=0.0, bags=2, leave_by=leave_by)
        taken: Offer | None = None
        seconds = 7  # the dispatcher's rounds fall between the replay's, which start with the first order
        while taken is None:  # the dispatcher's cadence until the shopper takes an offer
            clock.set(first + timedelta(seconds=seconds))
            offers = run_batch(ctx, store_id=store.id, solver=matcher_solver).offers
            made += len(offers)
            clock.set(first + timedelta(seconds=seconds + 2))
            for offer in offers:
                taken = accept_offer(ctx, shopper_id=shopper.id, offer_id=offer.id).offer
            seconds += 10
        # The bags scanned at once, long before the leave-by: before the replay's offer (made at its next round,
        # three seconds after the dispatcher's) is even answered.
        clock.set(first + timedelta(seconds=seconds - 10 + 4))
        bags = [codes[str(stop)][0] for stop in taken.stops]
        confirm_pickup(ctx, shopper_id=shopper.id, trip_id=trip.id, bag_codes=bags)
        clock.set(first + timedelta(minutes=5))
        for order_id in taken.stops:
            with PostgresDispatchUnitOfWork(db) as uow:
                dropoff = uow.orders.get(order_id).dropoff
            deliver(ctx, shopper_id=shopper.id, order_id=order_id, position=dropoff, code=codes[str(order_id)][1])
    clock.set(NINE + timedelta(hours=2, minutes=1))
    run_batch(ctx, store_id=store.id, solver=matcher_solver)  # anything left is past its deadline: the fallback
    with db.connection() as connection:
        credited = connection.execute("SELECT coalesce(sum(amount_cents), 0) FROM delivery_rewards").fetchone()
        counts: dict[str, int] = dict(
            connection.execute("SELECT status, count(*) FROM orders GROUP BY status").fetchall()
        )
    assert credited is not None
    return Recorded(
        store, counts.get("delivered", 0), counts.get("fallback", 0), counts.get("cancelled", 0), credited[0], made
    )


def test_a_day_replayed_under_its_own_policy_reproduces_a_shopper_s_two_trips(
    db: ConnectionPool, settings: Settings
) -> None:
    """The shopper left the store as soon as the bags were scanned, well before the first trip's leave-by, and
    checked in again: the replay leaves and delivers when the record says, so the second check-in is replayed
    too, and the same policy and matcher setting give the same deliveries and payouts to the cent. The replay's
    offer comes three seconds after the dispatcher's, so its answer comes after the recorded departure: the
    shopper leaves once it is in."""
    recorded = _record_two_trips(db, settings)
    assert recorded.delivered >= 2
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    assert len(day.trips) == 2
    assert set(day.departed_at) == {trip.id for trip in day.trips}
    assert len(day.delivered) == recorded.delivered
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(day, ReplayOptions(policy=POLICY, config=config, cadence_s=10.0))

    assert result.unreplayed == ()
    assert unreplayed_lines(result) == []
    assert result.answered_by_model == 0
    assert result.replayed == result.recorded
    assert (result.replayed.delivered, result.replayed.payouts_cents) == (recorded.delivered, recorded.credited_cents)


def test_a_shopper_who_chose_store_credit_during_the_day_is_replayed_paid_in_store_credit(
    db: ConnectionPool, settings: Settings
) -> None:
    """The shopper chose store credit at 09:00, after the day began: every offer of theirs was priced, and every
    delivery credited, with the policy's store-credit bonus. The replay under the same policy pays the same to
    the cent, which it does only if it asks how the shopper was paid when each offer was made, as live does,
    not at the day's start (cash, then)."""
    bonus = {**POLICY, "store_credit_bonus_bps": 12_000}
    recorded = _record_two_trips(db, settings, bonus, store_credit_at=NINE)
    assert recorded.delivered >= 2
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(day, ReplayOptions(policy=bonus, config=config, cadence_s=10.0))

    assert result.unreplayed == ()
    assert (result.replayed.delivered, result.replayed.payouts_cents) == (recorded.delivered, recorded.credited_cents)


def test_a_check_in_the_replay_cannot_play_is_reported_not_dropped(db: ConnectionPool, settings: Settings) -> None:
    """Without the record of when the first trip left, the replayed shopper stays in the store until its
    leave-by (09:30), past the second check-in's own leave-by (09:25): that check-in cannot be replayed, and the
    result counts it and says why instead of leaving it out silently."""
    recorded = _record_two_trips(db, settings)
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    unrecorded = dataclasses.replace(day, departed_at={}, delivered={})
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(unrecorded, ReplayOptions(policy=POLICY, config=config, cadence_s=10.0))

    assert [(item.what, item.at) for item in result.unreplayed] == [("check-in", day.trips[1].checked_in_at)]
    assert unreplayed_lines(result) == [
        "1 check-in could not be replayed: 09:10:05 UTC, shopper S0: the trip before went on past this one's leave-by"
    ]
    assert result.replayed.delivered < result.recorded.delivered
    assert replay_day(day, ReplayOptions(policy=POLICY, config=config, cadence_s=10.0)).unreplayed == ()


def test_a_check_in_behind_a_longer_replayed_trip_waits_for_it(db: ConnectionPool, settings: Settings) -> None:
    """When the record does not say when the first trip left, the replayed shopper stays in the store until its
    leave-by (09:30), past the second check-in (09:10): that check-in waits until the first trip has ended, as it
    would have live, and with a leave-by still ahead (09:40 here) it is replayed then, its recorded answer and
    delivery with it: nothing is lost and the figures are those recorded."""
    recorded = _record_two_trips(db, settings)
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    first, second = day.trips
    later = dataclasses.replace(second, leave_by=NINE + timedelta(minutes=40))
    unknown_first = dataclasses.replace(day, trips=[first, later], departed_at={second.id: day.departed_at[second.id]})
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(unknown_first, ReplayOptions(policy=POLICY, config=config, cadence_s=10.0))

    assert result.unreplayed == ()
    assert result.answered_by_model == 0
    assert result.replayed == result.recorded


def test_an_offer_left_unanswered_until_withdrawn_is_not_answered_by_the_model(
    db: ConnectionPool, settings: Settings
) -> None:
    """The shopper was offered an order and cancelled the trip eight seconds later without answering (the offer
    was withdrawn): the replay makes the same offer and leaves it unanswered as on record, rather than let an
    eager acceptance model take it."""
    clock, ctx, store, [shopper] = _a_store(db, settings, "Withdrawn store", 1)
    _take_in(ctx, store, "W0", GeoPoint(30.475, -84.2211), 1)
    clock.set(NINE + timedelta(seconds=5))
    trip = _check_in(ctx, shopper, store, north=0.0, bags=1, leave_by=NINE + timedelta(minutes=30))
    clock.set(NINE + timedelta(seconds=10))
    assert len(run_batch(ctx, store_id=store.id, solver=matcher_solver).offers) == 1
    clock.set(NINE + timedelta(seconds=18))
    cancel_trip(ctx, shopper_id=shopper.id, trip_id=trip.id)
    clock.set(NINE + timedelta(hours=2, minutes=1))
    run_batch(ctx, store_id=store.id, solver=matcher_solver)
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=store.id, start=start, end=end)
    eager = ReplayOptions(
        policy=POLICY,
        config=ctx.config,
        cadence_s=10.0,
        acceptance=AcceptanceSpec(intercept=30.0),
        response_seconds=(1, 2),
    )
    result = replay_day(day, eager)

    assert (result.offers, result.answered_as_recorded, result.answered_by_model) == (1, 1, 0)
    assert result.replayed == result.recorded
    assert result.unreplayed == ()


def _record_a_failed_delivery(db: ConnectionPool, settings: Settings, *, given_up: bool = False) -> Recorded:
    """Two shoppers take an order each and leave at once; the first order is delivered, at the second door the
    code is wrong three times (the attempts allowed), a minute apart, and the order fails; operations take it
    back into the store ten minutes later and hand it to the courier fleet five minutes after that.

    `given_up`: the code is wrong once, and operations mark the order not delivered two minutes later, take it
    back and requeue it; nobody takes it, and past its deadline the batch hands it to the courier fleet."""
    clock, ctx, store, shoppers = _a_store(db, settings, "Failed delivery store", 2)
    assert ctx.config.max_delivery_attempts == 3
    codes: dict[UUID, tuple[str, str]] = {}
    for n in range(2):
        clock.set(NINE + timedelta(seconds=n))
        new_order, bag, code = _take_in(ctx, store, f"F{n}", GeoPoint(30.475 + 0.006 * n, -84.2211), n)
        codes[UUID(new_order)] = (bag, code)
    trips = []
    for n, shopper in enumerate(shoppers):
        clock.set(NINE + timedelta(seconds=5 + n))
        trips.append(_check_in(ctx, shopper, store, north=0.002 * n, bags=1, leave_by=NINE + timedelta(minutes=30)))
    taken: dict[UUID, UUID] = {}
    made, seconds = 0, 7
    while len(taken) < 2:  # the dispatcher's cadence until each shopper has taken an order
        assert seconds < 600, (taken, made)
        clock.set(NINE + timedelta(seconds=seconds))
        offers = run_batch(ctx, store_id=store.id, solver=matcher_solver).offers
        made += len(offers)
        clock.set(NINE + timedelta(seconds=seconds + 2))
        for offer in offers:
            shopper_id = next(trip.shopper_id for trip in trips if trip.id == offer.trip_id)
            [taken[offer.trip_id]] = accept_offer(ctx, shopper_id=shopper_id, offer_id=offer.id).offer.stops
        seconds += 10
    clock.set(NINE + timedelta(seconds=seconds - 10 + 4))
    for trip in trips:
        confirm_pickup(ctx, shopper_id=trip.shopper_id, trip_id=trip.id, bag_codes=[codes[taken[trip.id]][0]])
    with PostgresDispatchUnitOfWork(db) as uow:
        first, second = (uow.orders.get(taken[trip.id]) for trip in trips)
    clock.set(NINE + timedelta(minutes=5))
    deliver(ctx, shopper_id=shoppers[0].id, order_id=first.id, position=first.dropoff, code=codes[first.id][1])
    _fail_at_the_door(ctx, clock, shoppers[1].id, second, codes[second.id][1], given_up=given_up)
    clock.set(NINE + timedelta(hours=2, minutes=1))
    run_batch(ctx, store_id=store.id, solver=matcher_solver)
    return _as_recorded(db, store, made)


def _fail_at_the_door(
    ctx: DispatchContext, clock: ManualClock, shopper_id: UUID, order: Order, code: str, *, given_up: bool
) -> None:
    """Wrong codes from 09:08 a minute apart, three (the order fails) or one (operations mark it not delivered
    at 09:10); operations take it back at 09:20 and at 09:25 hand it to the fleet or (given up) requeue it."""
    for attempt in range(1 if given_up else 3):
        clock.set(NINE + timedelta(minutes=8 + attempt))
        with pytest.raises(DeliveryRefused):
            deliver(ctx, shopper_id=shopper_id, order_id=order.id, position=order.dropoff, code=wrong_code(code))
    if given_up:
        clock.set(NINE + timedelta(minutes=10))
        mark_not_delivered(ctx, order_id=order.id, reason="nobody home")
    clock.set(NINE + timedelta(minutes=20))
    mark_returned(ctx, order_id=order.id)
    clock.set(NINE + timedelta(minutes=25))
    if given_up:
        requeue_order(ctx, order_id=order.id)
    else:
        hand_to_fallback(ctx, order_id=order.id)


def _as_recorded(db: ConnectionPool, store: Store, offers: int) -> Recorded:
    with db.connection() as connection:
        credited = connection.execute("SELECT coalesce(sum(amount_cents), 0) FROM delivery_rewards").fetchone()
        counts: dict[str, int] = dict(
            connection.execute("SELECT status, count(*) FROM orders GROUP BY status").fetchall()
        )
    assert credited is not None
    return Recorded(
        store, counts.get("delivered", 0), counts.get("fallback", 0), counts.get("cancelled", 0), credited[0], offers
    )


def test_a_delivery_that_failed_on_record_fails_in_the_replay_too(db: ConnectionPool, settings: Settings) -> None:
    """The second order failed at the door after three wrong codes and went back to the store and on to the
    courier fleet: the replay makes the same three refused attempts through the delivery use case, operations'
    moves follow when they were made, and the same policy gives the recorded figures exactly, nothing left
    unreplayed. Without the record of the refusals the order would have been delivered and paid."""
    recorded = _record_a_failed_delivery(db, settings)
    assert (recorded.delivered, recorded.fallback) == (1, 1)
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    [(failed_id, refused)] = day.refused.items()
    assert [proof.code_matched for proof in refused] == [False, False, False]
    [failure] = day.failures[failed_id]
    assert (failure.trip_id, failure.at) == (day.trips[1].id, NINE + timedelta(minutes=10))
    assert [status.value for status, _ in failure.then] == ["returned", "fallback"]
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(day, ReplayOptions(policy=POLICY, config=config, cadence_s=10.0))

    assert result.unreplayed == ()
    assert result.answered_by_model == 0
    assert result.replayed == result.recorded
    assert (result.replayed.delivered, result.replayed.fallback) == (1, 1)
    assert result.replayed.payouts_cents == recorded.credited_cents

    unrecorded = replay_day(
        dataclasses.replace(day, refused={}, failures={}), ReplayOptions(policy=POLICY, config=config, cadence_s=10.0)
    )
    assert (unrecorded.replayed.delivered, unrecorded.replayed.fallback) == (2, 0)
    assert unrecorded.replayed.payouts_cents > recorded.credited_cents


def test_an_order_operations_gave_up_on_and_requeued_is_replayed_as_recorded(
    db: ConnectionPool, settings: Settings
) -> None:
    """After one wrong code, operations marked the order not delivered, took it back and requeued it, and the
    fleet took it past its deadline: the replay makes the refused attempt, marks it not delivered with the same
    reason when they did, takes it back, requeues it (the batches, stopped with nothing left to dispatch, start
    again) and the fleet takes it: the recorded figures, nothing unreplayed."""
    recorded = _record_a_failed_delivery(db, settings, given_up=True)
    assert (recorded.delivered, recorded.fallback) == (1, 1)
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    [(failed_id, failures)] = day.failures.items()
    assert [(failure.note, [status.value for status, _ in failure.then]) for failure in failures] == [
        ("not delivered, said operations: nobody home", ["returned", "pending"])
    ]
    assert len(day.refused[failed_id]) == 1
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    result = replay_day(day, ReplayOptions(policy=POLICY, config=config, cadence_s=10.0))

    assert result.unreplayed == ()
    assert result.replayed == result.recorded


def test_a_failed_delivery_the_replay_cannot_reproduce_is_reported(db: ConnectionPool, settings: Settings) -> None:
    """With four attempts allowed now, the three refused on record do not fail the order: the replay says so
    (and delivers it, as it models a delivery) rather than count it delivered without a word."""
    recorded = _record_a_failed_delivery(db, settings)
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    [failed] = [order for order in day.orders if order.id in day.refused]
    config = dataclasses.replace(
        DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0, max_delivery_attempts=4
    )
    result = replay_day(day, ReplayOptions(policy=POLICY, config=config, cadence_s=10.0))

    assert unreplayed_lines(result) == [
        f"1 failed delivery could not be replayed: 09:10:00 UTC, {failed.external_ref}: failed at the door on "
        "record, picked_up in the replay"
    ]
    assert (result.replayed.delivered, result.replayed.fallback) == (2, 0)


def test_a_policy_file_is_validated_like_policy_create(tmp_path: Path) -> None:
    """JSON or TOML; an unknown or missing parameter is refused naming it."""
    good = tmp_path / "cheaper.toml"
    good.write_text(
        "base_cents = 150\nper_extra_km_cents = 40\nper_extra_minute_cents = 10\n"
        "per_bag_cents = 25\nminimum_cents = 250\n"
    )
    assert load_policy_file(good)["base_cents"] == 150
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**CHEAPER, "bonus": 1}))
    with pytest.raises(InvalidInput, match="bonus"):
        load_policy_file(bad)
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"base_cents": 1}))
    with pytest.raises(InvalidInput, match="is required"):
        load_policy_file(missing)


def test_a_policy_file_not_named_toml_is_read_and_refused_as_json(tmp_path: Path) -> None:
    """Anything but `.toml` is read as JSON, so its refusal says JSON: `README.md` was 'not valid MD (…)'."""
    notes = tmp_path / "README.md"
    notes.write_text("# a policy\n")
    with pytest.raises(InvalidInput) as refused:
        load_policy_file(notes)
    assert refused.value.message == f"policy: {notes}: not JSON (line 1, column 1)"
    broken = tmp_path / "broken.toml"
    broken.write_text("base_cents = \n")
    with pytest.raises(InvalidInput, match=r"broken\.toml: not valid TOML \("):
        load_policy_file(broken)


def test_the_command_prints_the_table_and_refuses_a_bad_policy(
    db: ConnectionPool, settings: Settings, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crowdship replay` reads the day from the configured database and prints both columns and where the
    answers came from; a policy file with an unknown parameter is `error: policy: <file>: <field>: ...`, exit
    status 1 (the file named, as when it is missing or not JSON)."""
    recorded = _record_a_day(db, settings)
    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", database_url)
    get_settings.cache_clear()
    policy = tmp_path / "cheaper.json"
    policy.write_text(json.dumps(CHEAPER))
    arguments = ["replay", "--store", str(recorded.store.id), "--day", DAY.isoformat(), "--matcher-time-limit", "0"]
    try:
        runner = CliRunner()
        shown = runner.invoke(app, [*arguments, "--policy", str(policy)])
        today = datetime.now(UTC).date().isoformat()
        unfinished = runner.invoke(app, [*arguments[:3], "--day", today, *arguments[5:], "--policy", str(policy)])
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        future = runner.invoke(app, [*arguments[:3], "--day", tomorrow, *arguments[5:], "--policy", str(policy)])
        policy.write_text(json.dumps({**CHEAPER, "bonus": 1}))
        refused = runner.invoke(app, [*arguments, "--policy", str(policy)])
    finally:
        get_settings.cache_clear()
    assert shown.exit_code == 0, shown.output
    assert "as it happened" in shown.output
    assert f"{recorded.credited_cents:,}" in shown.output
    assert f"{recorded.offers} answered as the shopper answered" in shown.output
    assert "the day is not over" not in shown.output
    assert "nothing was recorded" not in shown.output
    assert "could not be replayed" not in shown.output
    assert unfinished.exit_code == 0, unfinished.output
    assert "the day is not over" in unfinished.output
    assert "nothing was recorded at this store" in " ".join(unfinished.output.split())  # not a silent zero table
    assert future.exit_code == 0, future.output  # a day to come: said so, not 'is it that zone's day you meant?'
    assert f"note: {tomorrow} has not begun in UTC: nothing is recorded yet" in " ".join(future.output.split())
    assert "the day is not over" not in future.output
    assert "nothing was recorded at this store" not in future.output
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: policy: {policy}: bonus")


def test_an_acceptance_aware_replay_matches_as_the_aware_dispatcher(db: ConnectionPool, settings: Settings) -> None:
    """Every batch of the replay hands the matcher the acceptance section and each order's waiting cost (the
    recorded day's own check-ins are its supply), and the day still settles every order."""
    recorded = _record_a_day(db, settings)
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=recorded.store.id, start=start, end=end)
    config = dataclasses.replace(DispatchConfig.from_settings(settings), matcher_time_limit_s=0.0)
    problems: list[Mapping[str, Any]] = []

    def solver(problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        problems.append(problem)
        return matcher_solver(problem, time_limit_s)

    options = ReplayOptions(policy=CHEAPER, config=config, cadence_s=10.0, solver=solver, acceptance_aware=True)
    result = replay_day(day, options)
    assert problems
    assert all("acceptance" in problem for problem in problems)
    assert all("fallback_cost" in order for problem in problems for order in problem["orders"])
    replayed = result.replayed
    assert replayed.delivered + replayed.fallback + replayed.cancelled == replayed.orders == 5


def test_a_shopper_who_did_not_leave_early_on_record_leaves_by_the_time_their_accepted_offer_says(
    db: ConnectionPool, settings: Settings
) -> None:
    """Recorded: an order whose window closes at 09:30 and a shopper who may stay until 10:00, nothing more (no
    batch ran: no answer, no departure on record). The replay's offer says to leave by about 09:2x
    (`breakdown.leave_before`) and the shopper, who accepts (an eager model), leaves then, as a simulated shopper
    does, and delivers inside the window: they left at their leave-by and delivered half an hour late."""
    clock, ctx, store, [shopper] = _a_store(db, settings, "Leave-before store", 1)
    ingest_order(
        ctx,
        scope="test",
        idempotency_key="L0",
        intake=OrderIntake(
            store_id=store.id, external_ref="L0", dropoff=GeoPoint(30.49, -84.2211), dropoff_address="1 Main St",
            recipient_name="Pat Doe", window_earliest=NINE, window_latest=NINE + timedelta(minutes=30),
            dispatch_deadline=NINE + timedelta(minutes=25), size_bags=1, value_cents=Cents(3_000),
        ),
    )  # fmt: skip
    clock.set(NINE + timedelta(seconds=5))
    _check_in(ctx, shopper, store, north=0.0, bags=1, leave_by=NINE + timedelta(hours=1))
    start, end = day_bounds(DAY, "UTC")
    day = read_recorded_day(db, store_id=store.id, start=start, end=end)
    assert day.departed_at == {}
    eager = ReplayOptions(
        policy=POLICY, config=ctx.config, cadence_s=10.0, acceptance=AcceptanceSpec(intercept=30.0),
        response_seconds=(1, 2),
    )  # fmt: skip

    result = replay_day(day, eager)

    assert (result.offers, result.answered_by_model) == (1, 1)
    assert result.replayed.delivered == 1
    assert (result.late_as_recorded, result.late_replayed) == (0, 0)
    rows = {row[0]: row[1:] for row in replay_rows(result)}
    assert rows["orders delivered after their window"] == ("0", "0", "±0")


@pytest.mark.parametrize(("day", "zone"), [(date(9999, 12, 31), "UTC"), (date(1, 1, 1), "Asia/Tokyo")])
def test_a_day_whose_bounds_fall_outside_the_calendar_is_refused_naming_the_day(day: date, zone: str) -> None:
    """`crowdship replay --day 9999-12-31` printed an OverflowError's traceback: its next midnight is past the
    calendar's end (and the first day's midnight in Tokyo is before its start)."""
    with pytest.raises(InvalidInput) as refused:
        day_bounds(day, zone)
    assert refused.value.field == "day"
    assert day.isoformat() in refused.value.message
