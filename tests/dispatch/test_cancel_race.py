"""An order cancelled while a batch offers it, on real PostgreSQL: the cancellation reads which trip holds the
order, then locks that trip and the order. A batch that offered the order in between (the order locked by
neither yet) left the cancellation holding no trip: the order was cancelled and its offer stayed open, so the
shopper's accept of the bundle was refused until it expired and the bundle's other orders waited with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from psycopg import Connection
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip
from dispatch.services import orders
from dispatch.services.context import DispatchConfig, DispatchContext
from routing.areas import circular_area
from routing.geo import GeoPoint

STORE_AT = GeoPoint(30.4627, -84.2211)
NOW = datetime.now(UTC).replace(microsecond=0)


class OfferedMeanwhile(PostgresDispatchUnitOfWork):
    """A unit of work in which, just after it first reads which open offer holds an order, another
    transaction offers that order (as a batch would) and commits."""

    def __init__(self, pool: ConnectionPool, meanwhile: list[Callable[[], None]]) -> None:
        super().__init__(pool)
        self._meanwhile = meanwhile

    def _attach(self, connection: Connection) -> None:
        super()._attach(connection)
        read = self.offers.open_trip_of_order

        def read_then_offer(order_id: UUID) -> UUID | None:
            found = read(order_id)
            while self._meanwhile:
                self._meanwhile.pop()()
            return found

        self.offers.open_trip_of_order = read_then_offer  # type: ignore[method-assign]


@pytest.fixture
def stocked(db: ConnectionPool) -> tuple[Trip, Order, Order]:
    store = Store("Race store", STORE_AT, circular_area(STORE_AT, 8_000), Cents(899))
    shopper = Shopper("Ana")
    trip = Trip(
        shopper_id=shopper.id,
        store_id=store.id,
        destination=GeoPoint(30.50, -84.2211),
        capacity_bags=3,
        checked_in_at=NOW,
        leave_by=NOW + timedelta(hours=1),
        max_detour_m=3_000,
    )
    placed = [
        Order(
            store_id=store.id,
            external_ref=f"WEB-{index}",
            dropoff=GeoPoint(30.48, -84.219),
            dropoff_address="1200 Magnolia Dr",
            recipient_name="Jade",
            window_earliest=NOW,
            window_latest=NOW + timedelta(hours=3),
            dispatch_deadline=NOW + timedelta(hours=3),
            size_bags=1,
            value_cents=Cents(1000),
            created_at=NOW,
        )
        for index in range(2)
    ]
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        for order in placed:
            uow.orders.add(order)
        uow.commit()
    return trip, placed[0], placed[1]


def _offer_as_a_batch_would(db: ConnectionPool, trip: Trip, bundle: list[Order]) -> Offer:
    offer = Offer(
        trip_id=trip.id,
        stops=tuple(order.id for order in bundle),
        extra_distance_m=400,
        extra_duration_s=60,
        reward_quote_cents=Cents(300),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.trips.get(trip.id, for_update=True)
        for each in sorted(bundle, key=lambda order: order.id):
            locked = uow.orders.get(each.id, for_update=True)
            locked.offer()
            uow.orders.save(locked, at=NOW)
        uow.offers.add(offer)
        uow.commit()
    return offer


def test_an_order_offered_while_it_is_cancelled_takes_its_offer_with_it(
    db: ConnectionPool, settings: Settings, stocked: tuple[Trip, Order, Order]
) -> None:
    trip, cancelled, other = stocked
    offers: list[Offer] = []
    meanwhile = [lambda: offers.append(_offer_as_a_batch_would(db, trip, [cancelled, other]))]
    context = DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=ManualClock(NOW + timedelta(seconds=5)),
        config=DispatchConfig.from_settings(settings),
    )
    racing = replace(context, unit_of_work=lambda: OfferedMeanwhile(db, meanwhile))

    assert orders.cancel_order(racing, order_id=cancelled.id).status is OrderStatus.CANCELLED

    [offer] = offers
    with context.unit_of_work() as uow:
        assert uow.offers.get(offer.id).status is OfferStatus.WITHDRAWN
        assert uow.orders.get(other.id).status is OrderStatus.PENDING
        assert uow.offers.list_for_trip(trip.id, [OfferStatus.OPEN]) == []
