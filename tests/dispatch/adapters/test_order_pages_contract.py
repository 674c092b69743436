"""An order's history and offers read a page at a time, alike in PostgreSQL and in memory: the console's order
page never reads an order's whole past, however many times it was re-offered."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.history import OrderEvent
from dispatch.model import Offer, OfferStatus, OrderStatus, Shopper
from dispatch.repositories import LiveUnitOfWork
from routing.geo import GeoPoint
from tests.dispatch.adapters.test_contract import NOW, a_store, a_trip, an_order

FAR = GeoPoint(30.6, -84.0)


@pytest.fixture(params=["postgres", "memory"])
def uow(request: pytest.FixtureRequest) -> LiveUnitOfWork:
    if request.param == "memory":
        return MemoryDispatchUnitOfWork(MemoryDispatchDatabase())
    return PostgresDispatchUnitOfWork(request.getfixturevalue("db"))


def test_an_orders_history_is_read_a_page_at_a_time_oldest_first(uow: LiveUnitOfWork) -> None:
    store = a_store()
    order, other = an_order(store, GeoPoint(30.47, -84.23), "A"), an_order(store, GeoPoint(30.47, -84.23), "B")
    events = [
        OrderEvent(order.id, NOW + timedelta(minutes=minute), status)
        for minute, status in enumerate([OrderStatus.PENDING, OrderStatus.OFFERED] * 3)
    ]
    with uow:
        uow.stores.add(store)
        uow.orders.add(order)
        uow.orders.add(other)
        for event in reversed(events):
            uow.history.add(event)
        uow.history.add(OrderEvent(other.id, NOW, OrderStatus.FALLBACK))
        uow.commit()
    with uow:
        middle = uow.history.page_for_order(order.id, limit=2, offset=2)
        assert list(middle.items) == events[2:4]
        assert middle.total == 6
        beyond = uow.history.page_for_order(order.id, limit=2, offset=6)
        assert (list(beyond.items), beyond.total) == ([], 6)


def test_an_orders_offers_are_read_a_page_at_a_time_and_by_the_window_they_were_made_or_resolved_in(
    uow: LiveUnitOfWork,
) -> None:
    store = a_store()
    shopper = Shopper(display_name="Dee")
    trip = a_trip(store, shopper, FAR)
    order, other = an_order(store, GeoPoint(30.47, -84.23), "A"), an_order(store, GeoPoint(30.47, -84.23), "B")
    offers = [
        Offer(
            trip_id=trip.id,
            stops=(order.id,),
            extra_distance_m=500,
            extra_duration_s=60,
            reward_quote_cents=Cents(300 + minute),
            created_at=NOW + timedelta(minutes=10 * minute),
            expires_at=NOW + timedelta(minutes=10 * minute + 1),
            status=OfferStatus.EXPIRED,
            resolved_at=NOW + timedelta(minutes=10 * minute + 1),
        )
        for minute in range(5)
    ]
    with uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.orders.add(order)
        uow.orders.add(other)
        uow.trips.add(trip)
        for offer in reversed(offers):
            uow.offers.add(offer)
        uow.offers.add(replace(offers[0], id=uuid4(), stops=(other.id,)))
        uow.commit()
    with uow:
        page = uow.offers.page_for_order(order.id, limit=2, offset=1)
        assert (list(page.items), page.total) == (offers[1:3], 5)
        # made at 20 min, resolved at 21: in a window from 21 min; the one made at 30 is not (until is excluded)
        within = uow.offers.for_order_within(
            order.id, since=NOW + timedelta(minutes=21), until=NOW + timedelta(minutes=30)
        )
        assert within == [offers[2]]
        assert uow.offers.for_order_within(order.id, since=None, until=NOW + timedelta(minutes=10)) == offers[:1]
        assert uow.offers.for_order_within(order.id, since=NOW + timedelta(minutes=40), until=None) == offers[4:]
