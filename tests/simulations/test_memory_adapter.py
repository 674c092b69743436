"""The in-memory repositories keep the promises of the PostGIS ones the use cases rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crowdship.errors import NotFound
from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.errors import AlreadyOffered, AlreadyOnTrip, DuplicateOrder
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip, TripStatus
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 6, 5, 15, 0, tzinfo=UTC)
HERE = GeoPoint(30.4627, -84.2211)


def _store() -> Store:
    return Store(name="S", location=HERE, service_area=circular_area(HERE, 5_000), fallback_cost_cents=Cents(899))


def _order(store: Store, ref: str, minutes_ago: int, dropoff: GeoPoint = HERE) -> Order:
    return Order(
        store_id=store.id,
        external_ref=ref,
        dropoff=dropoff,
        dropoff_address="1 Main St",
        recipient_name="Pat",
        window_earliest=NOW,
        window_latest=NOW + timedelta(hours=2),
        dispatch_deadline=NOW + timedelta(hours=1),
        size_bags=1,
        value_cents=Cents(1_000),
        created_at=NOW - timedelta(minutes=minutes_ago),
    )


def _trip(store: Store, shopper: Shopper) -> Trip:
    return Trip(
        shopper_id=shopper.id,
        store_id=store.id,
        destination=HERE,
        capacity_bags=2,
        checked_in_at=NOW,
        leave_by=NOW + timedelta(minutes=20),
        max_detour_m=2_000,
    )


def _offer(trip: Trip, *orders: Order) -> Offer:
    return Offer(
        trip_id=trip.id,
        stops=tuple(order.id for order in orders),
        extra_distance_m=100,
        extra_duration_s=10,
        reward_quote_cents=Cents(300),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
    )


@pytest.fixture
def db() -> MemoryDispatchDatabase:
    return MemoryDispatchDatabase()


def test_nothing_is_kept_without_commit(db: MemoryDispatchDatabase) -> None:
    """Adds and status changes of a unit of work that did not commit are undone, indexes included."""
    store = _store()
    order = _order(store, "A", 5)
    with MemoryDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.orders.add(order)
        uow.commit()
    with MemoryDispatchUnitOfWork(db) as uow:
        loaded = uow.orders.get(order.id)
        loaded.offer()
        uow.orders.save(loaded)
        uow.orders.add(_order(store, "B", 1))
        assert len(uow.orders.list_for_store(store.id, [OrderStatus.OFFERED])) == 1
    with MemoryDispatchUnitOfWork(db) as uow:
        assert uow.orders.get(order.id).status is OrderStatus.PENDING
        assert [o.external_ref for o in uow.orders.list_for_store(store.id)] == ["A"]
        assert uow.orders.list_for_store(store.id, [OrderStatus.OFFERED]) == []


def test_a_change_not_saved_changes_nothing(db: MemoryDispatchDatabase) -> None:
    """Reads are copies: only `save` writes, as with a database row."""
    store = _store()
    order = _order(store, "A", 5)
    with MemoryDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.orders.add(order)
        uow.orders.get(order.id).cancel()
        uow.commit()
    with MemoryDispatchUnitOfWork(db) as uow:
        assert uow.orders.get(order.id).status is OrderStatus.PENDING
        with pytest.raises(NotFound):
            uow.orders.get(_order(store, "X", 1).id)


def test_lists_come_in_creation_order_and_filter_the_service_area(db: MemoryDispatchDatabase) -> None:
    """Oldest first, as the PostGIS adapter sorts; a drop-off outside the area is not within it."""
    store = _store()
    far = GeoPoint(HERE.lat + 0.2, HERE.lon)
    with MemoryDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.orders.add(_order(store, "new", 1))
        uow.orders.add(_order(store, "old", 30))
        uow.orders.add(_order(store, "far", 10, far))
        uow.commit()
        assert [o.external_ref for o in uow.orders.list_for_store(store.id)] == ["old", "far", "new"]
        assert [o.external_ref for o in uow.orders.within_service_area(store.id)] == ["old", "new"]
        with pytest.raises(DuplicateOrder):
            uow.orders.add(_order(store, "old", 3))


def test_one_open_offer_per_order_and_per_trip(db: MemoryDispatchDatabase) -> None:
    """A second open offer for an order or a trip is refused; once the first closes, it is allowed."""
    store = _store()
    first, second = Shopper(display_name="A"), Shopper(display_name="B")
    order, other = _order(store, "A", 5), _order(store, "B", 4)
    with MemoryDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        for shopper in (first, second):
            uow.shoppers.add(shopper)
        trip_a, trip_b = _trip(store, first), _trip(store, second)
        uow.trips.add(trip_a)
        uow.trips.add(trip_b)
        uow.orders.add(order)
        uow.orders.add(other)
        offer = _offer(trip_a, order)
        uow.offers.add(offer)
        with pytest.raises(AlreadyOffered):
            uow.offers.add(_offer(trip_b, order))
        with pytest.raises(AlreadyOffered):
            uow.offers.add(_offer(trip_a, other))
        offer.decline(NOW)
        uow.offers.save(offer)
        uow.offers.add(_offer(trip_b, order))
        uow.commit()
        assert uow.offers.offered_pairs([order.id]) == {(trip_a.id, order.id), (trip_b.id, order.id)}
        assert [o.status for o in uow.offers.list_for_trip(trip_a.id)] == [OfferStatus.DECLINED]


def test_a_shopper_has_one_active_trip(db: MemoryDispatchDatabase) -> None:
    """A second open trip is refused until the first one ends."""
    store, shopper = _store(), Shopper(display_name="A")
    with MemoryDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        trip = _trip(store, shopper)
        uow.trips.add(trip)
        with pytest.raises(AlreadyOnTrip):
            uow.trips.add(_trip(store, shopper))
        trip.cancel()
        uow.trips.save(trip)
        assert uow.trips.active_for_shopper(shopper.id) is None
        uow.trips.add(_trip(store, shopper))
        uow.commit()
        assert len(uow.trips.list_for_store(store.id, [TripStatus.OPEN])) == 1
        assert len(uow.trips.past_leave_by(store.id, NOW + timedelta(hours=1))) == 1
