"""What a shopper is told when the bags scanned at pickup are not the trip's: counted in words, "1 bag" and
"2 bags" (it said "1 bag(s) of this trip were not scanned"), and both mistakes at once when both were made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.errors import InvalidInput
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.errors import MissingBagCode
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip
from dispatch.repositories import OrderSecret
from dispatch.services.context import DispatchConfig
from dispatch.services.delivery import confirm_pickup
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)


@pytest.fixture
def world(settings: Settings) -> InMemory:
    return in_memory(DispatchConfig.from_settings(settings), ManualClock(NOW))


def _accepted(world: InMemory, bags: list[str | None]) -> tuple[Shopper, Trip]:
    """A trip that accepted one order per entry of `bags`, each with that bag code (None: taken in without one)."""
    store = Store("Pickup store", STORE_AT, circular_area(STORE_AT, 5_000), Cents(899))
    shopper = Shopper("Ana")
    trip = Trip(shopper.id, store.id, GeoPoint(30.5, -84.22), 4, NOW, NOW + timedelta(hours=1), max_detour_m=2_000)
    orders = []
    for number, _ in enumerate(bags, start=1):
        order = Order(
            store.id,
            f"WEB-{number}",
            GeoPoint(30.48, -84.219),
            "1 Main St",
            "Jade",
            NOW,
            NOW + timedelta(hours=3),
            NOW + timedelta(hours=2),
            1,
            Cents(4_000),
            NOW,
        )
        order.offer()
        order.accept()
        orders.append(order)
    offer = Offer(
        trip_id=trip.id,
        stops=tuple(order.id for order in orders),
        extra_distance_m=400,
        extra_duration_s=60,
        reward_quote_cents=Cents(300),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
        status=OfferStatus.ACCEPTED,
        resolved_at=NOW,
    )
    with world.context.unit_of_work() as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        for order, bag in zip(orders, bags, strict=True):
            uow.orders.add(order)
            if bag is not None:
                uow.secrets.add(OrderSecret(order.id, bag, "unused"))
        uow.offers.add(offer)
        uow.commit()
    return shopper, trip


def _refusal(world: InMemory, bags: list[str | None], scanned: list[str]) -> str:
    shopper, trip = _accepted(world, bags)
    with pytest.raises(InvalidInput) as refused:
        confirm_pickup(world.context, shopper_id=shopper.id, trip_id=trip.id, bag_codes=scanned)
    assert refused.value.field == "bag_codes"
    with world.context.unit_of_work() as uow:  # nothing left the store
        assert {order.status for order in uow.orders.on_trips([trip.id])[trip.id]} == {OrderStatus.ACCEPTED}
    return refused.value.message


def test_one_bag_missing_is_one_bag(world: InMemory) -> None:
    assert _refusal(world, ["BAG-A", "BAG-B"], ["BAG-A"]) == "bag_codes: 1 bag of this trip was not scanned"


def test_two_bags_missing_are_two_bags(world: InMemory) -> None:
    assert _refusal(world, ["BAG-A", "BAG-B", "BAG-C"], ["BAG-A"]) == (
        "bag_codes: 2 bags of this trip were not scanned"
    )


def test_one_foreign_bag_and_two_foreign_bags(world: InMemory) -> None:
    assert _refusal(world, ["BAG-A"], ["BAG-A", "BAG-X"]) == "bag_codes: 1 scanned bag does not belong to this trip"
    assert _refusal(world, ["BAG-A"], ["BAG-A", "BAG-X", "BAG-Y"]) == (
        "bag_codes: 2 scanned bags do not belong to this trip"
    )


def test_a_foreign_bag_scanned_in_place_of_the_trips_own_says_both(world: InMemory) -> None:
    assert _refusal(world, ["BAG-A", "BAG-B"], ["BAG-A", "BAG-X"]) == (
        "bag_codes: 1 scanned bag does not belong to this trip, and 1 bag of this trip was not scanned"
    )


def test_orders_taken_in_without_a_bag_code_are_named_in_the_singular_or_the_plural(world: InMemory) -> None:
    shopper, trip = _accepted(world, [None, "BAG-B"])
    with pytest.raises(MissingBagCode) as one:
        confirm_pickup(world.context, shopper_id=shopper.id, trip_id=trip.id, bag_codes=["BAG-B"])
    assert one.value.message == "order WEB-1 has no bag code: it was not taken in through intake"
    shopper, trip = _accepted(world, [None, None])
    with pytest.raises(MissingBagCode) as two:
        confirm_pickup(world.context, shopper_id=shopper.id, trip_id=trip.id, bag_codes=["BAG-B"])
    assert two.value.message == "orders WEB-1, WEB-2 have no bag code: they were not taken in through intake"
