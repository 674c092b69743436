"""A batch whose lease runs out and is taken over mid-batch (its process frozen, then resumed) writes nothing from
then on, in any of its transactions: not its clean-up (expired offers and trips, orders handed to the courier
fleet), not its offers, not the reasons of the orders it leaves pending. The new holder batches the store from
fresher state. On real PostgreSQL; `tests/resilience/test_frozen_dispatcher.py` freezes a real process."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.leases import PostgresLeases
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import OfferStatus, Order, OrderStatus, Shopper, Store, Trip, TripStatus, TrustTier
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.batch import run_batch
from dispatch.services.context import DispatchConfig, DispatchContext
from routing.areas import circular_area
from routing.geo import GeoPoint

pytestmark = pytest.mark.usefixtures("matcher_loaded")  # a batch's lease is not spent loading it

STORE_AT = GeoPoint(30.4627, -84.2211)
HOME = GeoPoint(30.50, -84.2211)
START = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def context(db: ConnectionPool, settings: Settings) -> DispatchContext:
    return DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=ManualClock(START),
        config=DispatchConfig.from_settings(settings.model_copy(update={"matcher_time_limit_s": 0.5})),
        leases=PostgresLeases(db),
    )


def _store(context: DispatchContext, *, orders: int, trips: int) -> Store:
    """Orders due within the hour, and one-bag trips leaving in half an hour."""
    store = Store("Fenced store", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    with context.unit_of_work() as uow:
        uow.stores.add(store)
        for index in range(orders):
            uow.orders.add(
                Order(
                    store_id=store.id, external_ref=f"F{index}", dropoff=GeoPoint(30.47 + 0.005 * index, -84.2211),
                    dropoff_address=f"{index} Main St", recipient_name="Jo Doe", window_earliest=START,
                    window_latest=START + timedelta(hours=3), dispatch_deadline=START + timedelta(hours=1),
                    size_bags=1, value_cents=Cents(2_000), created_at=START,
                )
            )  # fmt: skip
        for index in range(trips):
            shopper = Shopper(f"Shopper {index}", trust_tier=TrustTier.GOLD, identity_verified=True)
            uow.shoppers.add(shopper)
            uow.trips.add(Trip(shopper.id, store.id, HOME, 1, START, START + timedelta(minutes=30), max_detour_m=3_000))
        uow.commit()
    return store


def _taken_over_before(context: DispatchContext, db: ConnectionPool, store: Store, transaction: int) -> DispatchContext:
    """The context, where the store's lease runs out and another dispatcher takes it just before the batch opens
    its `transaction`-th unit of work (1: its clean-up, 2: its read, then its writes), as when its process froze
    there for longer than the lease."""
    opened = itertools.count(1)

    def unit_of_work() -> LiveUnitOfWork:
        if next(opened) == transaction:
            with db.connection() as connection:
                connection.execute(
                    "UPDATE store_leases SET expires_at = clock_timestamp() WHERE store_id = %s", [store.id]
                )
            assert PostgresLeases(db).acquire(store.id, 30) is not None
        return context.unit_of_work()

    return replace(context, unit_of_work=unit_of_work)


def _orders(context: DispatchContext, store: Store) -> list[tuple[OrderStatus, str | None, datetime | None]]:
    """Each order's status, and its reason for waiting with the time of the batch that gave it."""
    with context.unit_of_work() as uow:
        orders = uow.orders.list_for_store(store.id)
    return sorted(((order.status, order.unassigned_reason, order.unassigned_at) for order in orders), key=str)


def _trips_and_offers(context: DispatchContext, store: Store) -> tuple[list[TripStatus], list[OfferStatus]]:
    with context.unit_of_work() as uow:
        trips = uow.trips.list_for_store(store.id)
        offers = [offer for trip in trips for offer in uow.offers.list_for_trip(trip.id)]
    return [trip.status for trip in trips], [offer.status for offer in offers]


def test_a_holder_resumed_before_its_clean_up_expires_nothing_and_hands_nothing_to_the_fleet(
    context: DispatchContext, db: ConnectionPool
) -> None:
    """An offer past its expiry, a trip past its leave-by, an order past its dispatch deadline: the batch that
    lost its lease before its clean-up leaves them all as they were, for the store's new holder."""
    store = _store(context, orders=2, trips=1)
    assert len(run_batch(context, store_id=store.id).offers) == 1
    assert isinstance(context.clock, ManualClock)
    context.clock.advance(timedelta(hours=2))
    orders = _orders(context, store)
    assert _trips_and_offers(context, store) == ([TripStatus.OPEN], [OfferStatus.OPEN])

    late = run_batch(_taken_over_before(context, db, store, transaction=1), store_id=store.id)

    assert late.lost_lease
    assert (late.expired_offers, late.expired_trips, late.fallback_orders, late.offers) == (0, 0, [], [])
    assert _trips_and_offers(context, store) == ([TripStatus.OPEN], [OfferStatus.OPEN]), "it expired them"
    assert _orders(context, store) == orders, "it handed orders to the fleet, or said why they wait"


def test_a_holder_resumed_before_its_reasons_does_not_write_them(context: DispatchContext, db: ConnectionPool) -> None:
    """No trip for the store's orders: the batch that lost its lease before writing why they wait leaves them
    saying nothing."""
    store = _store(context, orders=2, trips=0)

    late = run_batch(_taken_over_before(context, db, store, transaction=3), store_id=store.id)

    assert late.lost_lease
    assert late.unassigned == {}
    assert _orders(context, store) == [(OrderStatus.PENDING, None, None)] * 2


def test_a_holder_resumed_after_its_offers_does_not_write_the_reasons_of_the_rest(
    context: DispatchContext, db: ConnectionPool
) -> None:
    """Two orders, one trip of one bag: the offer is written under the batch's lease; the lease is taken over
    before the other order's reason is written, and it is not."""
    store = _store(context, orders=2, trips=1)

    late = run_batch(_taken_over_before(context, db, store, transaction=4), store_id=store.id)

    assert len(late.offers) == 1
    assert late.lost_lease
    assert late.unassigned == {}
    assert sorted(_orders(context, store), key=lambda order: order[0]) == [
        (OrderStatus.OFFERED, None, None),
        (OrderStatus.PENDING, None, None),
    ]
