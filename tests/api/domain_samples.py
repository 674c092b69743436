"""Domain objects for the schema tests: an order, a trip and an offer as the use cases hand them to the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from crowdship.units import Cents
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Trip, TripStatus
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
DROPOFF = GeoPoint(30.4812, -84.2193)


def an_order(status: OrderStatus = OrderStatus.PENDING, name: str = "Jade Moreau") -> Order:
    return Order(
        store_id=uuid4(),
        external_ref=f"WEB-{uuid4().hex[:6]}",
        dropoff=DROPOFF,
        dropoff_address="1200 Magnolia Dr, Tallahassee",
        recipient_name=name,
        window_earliest=NOW + timedelta(hours=1),
        window_latest=NOW + timedelta(hours=3),
        dispatch_deadline=NOW + timedelta(hours=2),
        size_bags=2,
        value_cents=Cents(4_599),
        created_at=NOW,
        status=status,
    )


def a_trip() -> Trip:
    return Trip(
        shopper_id=uuid4(),
        store_id=uuid4(),
        destination=GeoPoint(30.5, -84.2211),
        capacity_bags=3,
        checked_in_at=NOW,
        leave_by=NOW + timedelta(minutes=40),
        max_detour_m=3_000,
        status=TripStatus.DEPARTED,
    )


def an_offer(*orders: Order, status: OfferStatus = OfferStatus.OPEN) -> Offer:
    return Offer(
        trip_id=uuid4(),
        stops=tuple(order.id for order in orders),
        extra_distance_m=2_346,
        extra_duration_s=437,
        reward_quote_cents=Cents(512),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
        status=status,
    )
