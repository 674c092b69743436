"""The demo store is the same for the same seed, honours its own rules, and loads once."""

from __future__ import annotations

from datetime import UTC, datetime

from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import OrderStatus, TripStatus
from routing.areas import covers
from simulations.demo import build_demo_store
from simulations.demo_loader import load_demo_store

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)


def test_the_same_seed_builds_the_same_demo() -> None:
    """Ids, places and amounts are all drawn from the seed; another seed gives another demo."""
    first, second = build_demo_store(NOW, seed=3), build_demo_store(NOW, seed=3)
    assert first.store.id == second.store.id
    assert [o.id for o in first.orders] == [o.id for o in second.orders]
    assert [o.dropoff for o in first.orders] == [o.dropoff for o in second.orders]
    assert build_demo_store(NOW, seed=4).store.id != first.store.id


def test_demo_orders_lie_in_the_service_area_and_trips_are_open() -> None:
    """Intake would refuse drop-offs outside the area, so the demo has none."""
    demo = build_demo_store(NOW, seed=7, orders=50)
    assert len(demo.orders) == 50
    assert all(covers(demo.store.service_area, order.dropoff) for order in demo.orders)
    assert all(order.value_cents > Cents(0) for order in demo.orders)
    assert all(trip.can_take_offers(NOW) for trip in demo.trips)


def test_loading_the_demo_twice_stores_it_once(uow: PostgresDispatchUnitOfWork) -> None:
    """The second load finds the first and adds nothing."""
    demo = build_demo_store(NOW, seed=7)
    assert load_demo_store(lambda: uow, demo) is True
    assert load_demo_store(lambda: uow, demo) is False
    with uow:
        assert len(uow.stores.list()) == 1
        assert len(uow.orders.list_for_store(demo.store.id, [OrderStatus.PENDING])) == len(demo.orders)
        assert len(uow.trips.list_for_store(demo.store.id, [TripStatus.OPEN])) == len(demo.trips)
