"""The drop-out rules in the batch the dispatcher and the simulator share (`dispatch.services.batch.run_batch`, on
the simulator's in-memory storage, through the shopper's own use cases): an order a shopper dropped out of goes
to no later trip of theirs, and past the limit they are offered nothing until the window lets them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.model import Order, Shopper, Store, Trip
from dispatch.offer_explanation import SHOPPERS_DROPPED_OUT
from dispatch.services.batch import run_batch
from dispatch.services.context import DispatchConfig
from dispatch.services.offers import accept_offer
from dispatch.services.order_detail import order_detail
from dispatch.services.trips import cancel_trip, check_in
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
ON_THE_WAY = GeoPoint(30.4800, -84.2211)
HOME = GeoPoint(30.5000, -84.2211)


def _world(settings: Settings) -> tuple[InMemory, ManualClock, Store, Shopper]:
    clock = ManualClock(NOW)
    world = in_memory(DispatchConfig.from_settings(settings), clock)
    store = Store("Drop-outs", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    shopper = Shopper("Ana Lee")
    with world.context.unit_of_work() as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.commit()
    return world, clock, store, shopper


def _order(world: InMemory, store: Store, ref: str) -> Order:
    now = world.context.clock.now()
    order = Order(
        store_id=store.id, external_ref=ref, dropoff=ON_THE_WAY, dropoff_address="1 Main St", recipient_name="Jo Doe",
        window_earliest=now, window_latest=now + timedelta(hours=3), dispatch_deadline=now + timedelta(hours=2),
        size_bags=1, value_cents=Cents(2_000), created_at=now,
    )  # fmt: skip
    with world.context.unit_of_work() as uow:
        uow.orders.add(order)
        uow.commit()
    return order


def _check_in(world: InMemory, store: Store, shopper: Shopper) -> Trip:
    now = world.context.clock.now()
    return check_in(
        world.context, shopper_id=shopper.id, store_id=store.id, destination=HOME, capacity_bags=1,
        max_detour_m=3_000, max_detour_s=None, leave_by=now + timedelta(hours=1),
    )  # fmt: skip


def _accept_and_drop_out(world: InMemory, clock: ManualClock, store: Store, shopper: Shopper) -> None:
    trip = _check_in(world, store, shopper)
    (offer,) = run_batch(world.context, store_id=store.id).offers
    accept_offer(world.context, shopper_id=shopper.id, offer_id=offer.id)
    cancel_trip(world.context, shopper_id=shopper.id, trip_id=trip.id)
    clock.advance(timedelta(minutes=1))


def test_an_order_dropped_out_of_goes_to_no_later_trip_of_that_shopper(settings: Settings) -> None:
    world, clock, store, shopper = _world(settings)
    order = _order(world, store, "W1")
    _accept_and_drop_out(world, clock, store, shopper)
    _check_in(world, store, shopper)
    assert run_batch(world.context, store_id=store.id).offers == []
    waits = order_detail(world.context, order_id=order.id).unassigned
    assert waits is not None
    assert [verdict.reason for verdict in waits.trips] == ["offered before"]


def test_past_the_limit_nothing_is_offered_until_the_oldest_drop_out_leaves_the_window(settings: Settings) -> None:
    world, clock, store, shopper = _world(settings)
    limit = DispatchConfig.from_settings(settings).batch.drop_outs
    first = clock.now()
    for index in range(limit.max_drop_outs):
        _order(world, store, f"W{index}")
        _accept_and_drop_out(world, clock, store, shopper)
    fresh = _order(world, store, "FRESH")
    held_trip = _check_in(world, store, shopper)  # the check-in still works
    report = run_batch(world.context, store_id=store.id)
    assert report.offers == []
    assert report.unassigned[fresh.id] == SHOPPERS_DROPPED_OUT
    waits = order_detail(world.context, order_id=fresh.id).unassigned
    assert waits is not None
    assert [verdict.reason for verdict in waits.trips] == ["dropped_out"]

    cancel_trip(world.context, shopper_id=shopper.id, trip_id=held_trip.id)  # nothing accepted: no drop-out
    clock.advance(first + limit.window - clock.now())  # the first drop-out leaves the window at that instant
    later = _order(world, store, "LATER")
    _check_in(world, store, shopper)
    (offer,) = run_batch(world.context, store_id=store.id).offers
    assert offer.stops == (later.id,)
