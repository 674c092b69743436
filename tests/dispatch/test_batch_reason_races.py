"""After every batch each order it leaves pending says why in this batch's words, on real PostGIS and Redis:
also when what the matcher answered could not be written (its trip was cancelled, or an order of its bundle,
between the matcher's answer and the offer), and when the order's last offer was declined. Such an order kept
whatever an earlier batch had said of it, or nothing, with that batch's time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import redis
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.leases import PostgresLeases
from dispatch.adapters.live import RedisLiveState
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.matching import UnassignedReason
from dispatch.model import Order, OrderStatus, Shopper, Store, Trip, TrustTier
from dispatch.offer_explanation import CHANGED_BEFORE_OFFERED
from dispatch.services import orders as order_services
from dispatch.services.batch import BatchReport, Solver, matcher_solver, run_batch
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.offers import decline_offer
from dispatch.services.trips import cancel_trip
from routing.areas import circular_area
from routing.geo import GeoPoint

pytestmark = pytest.mark.usefixtures("matcher_loaded")  # a batch's lease is not spent loading it

STORE_AT = GeoPoint(30.4627, -84.2211)
HOME = GeoPoint(30.50, -84.2211)
START = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def context(db: ConnectionPool, settings: Settings, redis_client: redis.Redis) -> DispatchContext:
    return DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=ManualClock(START),
        config=DispatchConfig.from_settings(settings.model_copy(update={"matcher_time_limit_s": 0.5})),
        live=RedisLiveState(redis_client),
        leases=PostgresLeases(db),
    )


def _order(store: Store, index: int) -> Order:
    return Order(
        store_id=store.id, external_ref=f"W{index}", dropoff=GeoPoint(30.47 + 0.005 * index, -84.2211),
        dropoff_address=f"{index} Main St", recipient_name="Jo Doe", window_earliest=START,
        window_latest=START + timedelta(hours=3), dispatch_deadline=START + timedelta(hours=2), size_bags=1,
        value_cents=Cents(2_000), created_at=START,
    )  # fmt: skip


def _store(context: DispatchContext, orders: int) -> tuple[Store, list[Order]]:
    store = Store("Reasons store", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    placed = [_order(store, index) for index in range(orders)]
    with context.unit_of_work() as uow:
        uow.stores.add(store)
        for order in placed:
            uow.orders.add(order)
        uow.commit()
    return store, placed


def _check_in(context: DispatchContext, store: Store, *, bags: int) -> Trip:
    shopper = Shopper("Ana Lee", trust_tier=TrustTier.GOLD, identity_verified=True)
    trip = Trip(
        shopper_id=shopper.id, store_id=store.id, destination=HOME, capacity_bags=bags,
        checked_in_at=context.clock.now(), leave_by=context.clock.now() + timedelta(hours=1), max_detour_m=3_000,
    )  # fmt: skip
    with context.unit_of_work() as uow:
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        uow.commit()
    return trip


def _then(meanwhile: Callable[[], object]) -> Solver:
    """The real matcher, then something else happens before the batch writes its offers."""

    def solve(problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        solution = matcher_solver(problem, time_limit_s)
        meanwhile()
        return solution

    return solve


def _later(context: DispatchContext, seconds: int) -> datetime:
    clock = context.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(seconds=seconds))
    return clock.now()


def _reasons(context: DispatchContext, store: Store) -> dict[UUID, tuple[str | None, datetime | None]]:
    """Each pending order's reason and the time of the batch that gave it."""
    with context.unit_of_work() as uow:
        pending = uow.orders.list_for_store(store.id, [OrderStatus.PENDING])
    return {order.id: (order.unassigned_reason, order.unassigned_at) for order in pending}


def _said_by(report: BatchReport, context: DispatchContext, store: Store) -> dict[UUID, str | None]:
    """Every pending order's reason, checked to come from this batch (its time, and its report)."""
    reasons = _reasons(context, store)
    assert {order_id: at for order_id, (_, at) in reasons.items()} == dict.fromkeys(reasons, report.started_at)
    assert {order_id: report.unassigned.get(order_id) for order_id in reasons} == {
        order_id: reason for order_id, (reason, _) in reasons.items()
    }
    return {order_id: reason for order_id, (reason, _) in reasons.items()}


def test_an_order_whose_trip_is_cancelled_before_its_offer_is_written_says_so_in_this_batch(
    context: DispatchContext,
) -> None:
    """The first batch has no trip (`no_trip_takes_orders`); a shopper checks in and the second batch's
    matcher gives them the order, but they cancel their trip before the offer is written: no offer, and the
    order says it was matched to a trip that changed, at the second batch's time. It still said
    `no_trip_takes_orders`, at the first batch's time."""
    store, (order,) = _store(context, 1)
    first = run_batch(context, store_id=store.id)
    assert _said_by(first, context, store) == {order.id: str(UnassignedReason.NO_TRIP_TAKES_ORDERS)}
    _later(context, 10)
    trip = _check_in(context, store, bags=2)
    _later(context, 10)

    second = run_batch(
        context,
        store_id=store.id,
        solver=_then(lambda: cancel_trip(context, shopper_id=trip.shopper_id, trip_id=trip.id)),
    )

    assert second.offers == []
    assert second.conflicts == 1
    assert _said_by(second, context, store) == {order.id: CHANGED_BEFORE_OFFERED}


def test_the_rest_of_a_bundle_one_of_whose_orders_is_cancelled_before_it_is_written_says_so(
    context: DispatchContext,
) -> None:
    """Two orders bundled for one trip; operations cancel one before the offer is written: the other stays
    pending, saying its bundle changed (it said nothing: the first batch to see it gave no reason)."""
    store, (kept, cancelled) = _store(context, 2)
    _check_in(context, store, bags=2)

    report = run_batch(
        context, store_id=store.id, solver=_then(lambda: order_services.cancel_order(context, order_id=cancelled.id))
    )

    assert report.offers == []
    assert _said_by(report, context, store) == {kept.id: CHANGED_BEFORE_OFFERED}


def test_an_order_declined_since_the_last_batch_says_why_it_waits_at_the_next(context: DispatchContext) -> None:
    """Offered, declined (its reason was cleared by the offer), then batched again with only the trip that
    declined it: it says no trip may take it, at this batch's time."""
    store, (order,) = _store(context, 1)
    trip = _check_in(context, store, bags=1)
    (offer,) = run_batch(context, store_id=store.id).offers
    _later(context, 20)
    decline_offer(context, shopper_id=trip.shopper_id, offer_id=offer.id)
    _later(context, 10)

    report = run_batch(context, store_id=store.id)

    assert report.offers == []
    assert _said_by(report, context, store) == {order.id: str(UnassignedReason.NOT_A_CANDIDATE)}


def test_an_older_batch_does_not_overwrite_the_reasons_of_a_newer_one_without_a_lease(
    context: DispatchContext,
) -> None:
    """No lease keeps two batches of a store apart (one outlived its own): one batch's matcher gives an order to a trip
    of one bag; meanwhile that trip is cancelled and a second, newer batch says both orders wait for want of a
    trip. The first batch then writes nothing over the second's reasons (it said the one matched had changed
    and the other what its matcher said, at its own, older time)."""
    unleased = replace(context, leases=None)
    store, orders = _store(unleased, 2)
    trip = _check_in(unleased, store, bags=1)
    _later(unleased, 10)
    newer: list[BatchReport] = []

    def meanwhile() -> None:
        cancel_trip(unleased, shopper_id=trip.shopper_id, trip_id=trip.id)
        _later(unleased, 5)
        newer.append(run_batch(unleased, store_id=store.id))

    older = run_batch(unleased, store_id=store.id, solver=_then(meanwhile))

    assert older.offers == []
    assert older.conflicts == 1
    assert older.started_at < newer[0].started_at
    assert set(older.unassigned) == {order.id for order in orders}
    assert _said_by(newer[0], unleased, store) == dict.fromkeys(
        (order.id for order in orders), str(UnassignedReason.NO_TRIP_TAKES_ORDERS)
    )


def test_an_order_whose_offer_expired_says_the_batchs_own_reason_or_the_expiry_when_the_batch_writes_none(
    context: DispatchContext, db: ConnectionPool
) -> None:
    """The batch that finds the offer expired releases the order (`offer_expired`, at its own time) and then
    says why it waits, at the same instant: its reason replaces the expiry's. One that outlived its lease
    writes no reason (another dispatcher holds the store): the order says its offer expired, and when."""
    store, (order,) = _store(context, 1)
    _check_in(context, store, bags=1)
    (offer,) = run_batch(context, store_id=store.id).offers
    _later(context, int((offer.expires_at - context.clock.now()).total_seconds()) + 1)

    report = run_batch(context, store_id=store.id)

    assert report.expired_offers == 1
    assert report.unassigned[order.id] != "offer_expired"
    _said_by(report, context, store)

    overtaken_order = _order(store, 7)
    with context.unit_of_work() as uow:
        uow.orders.add(overtaken_order)
        uow.commit()
    _check_in(context, store, bags=1)
    _later(context, 10)
    offered = run_batch(context, store_id=store.id).offers
    assert offered
    _later(context, int((offered[0].expires_at - context.clock.now()).total_seconds()) + 1)

    def another_dispatcher_takes_the_store() -> None:
        _run_out(db, store)
        assert PostgresLeases(db).acquire(store.id, 30) is not None

    late = run_batch(context, store_id=store.id, solver=_then(another_dispatcher_takes_the_store))

    assert late.lost_lease
    assert late.expired_offers == len(offered)
    stops = [order_id for each in offered for order_id in each.stops]
    reasons = _reasons(context, store)
    assert {order_id: reasons[order_id] for order_id in stops} == dict.fromkeys(
        stops, ("offer_expired", late.started_at)
    )


def _run_out(db: ConnectionPool, store: Store) -> None:
    """The store's lease runs out now, as when its holder outlived it."""
    with db.connection() as connection:
        connection.execute("UPDATE store_leases SET expires_at = clock_timestamp() WHERE store_id = %s", [store.id])
