"""The lifecycles of orders, trips and offers: every legal move works, every other move is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from shapely import Polygon

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from dispatch.errors import IllegalTransition, OfferExpired
from dispatch.evidence import DeliveryProof
from dispatch.model import (
    MAX_CAPACITY_BAGS,
    MAX_DETOUR_M,
    MAX_DETOUR_S,
    Offer,
    OfferNotYetExpired,
    OfferStatus,
    Order,
    OrderStatus,
    Shopper,
    Store,
    Trip,
    TripStatus,
)
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)

# The brief's lifecycles, written out here on their own so that a change to the model's tables shows up.
LEGAL_ORDER_MOVES = {
    ("pending", "offered"), ("pending", "fallback"), ("pending", "cancelled"),
    ("offered", "accepted"), ("offered", "pending"), ("offered", "cancelled"),
    ("accepted", "picked_up"), ("accepted", "pending"), ("accepted", "cancelled"),
    ("picked_up", "delivered"), ("picked_up", "failed"),
    ("failed", "returned"),
    ("returned", "pending"), ("returned", "fallback"), ("returned", "cancelled"),
}  # fmt: skip
LEGAL_TRIP_MOVES = {
    ("open", "departed"), ("open", "cancelled"), ("open", "expired"),
    ("departed", "completed"),
}  # fmt: skip
LEGAL_OFFER_MOVES = {
    ("open", "accepted"),
    ("open", "declined"),
    ("open", "expired"),
    ("open", "withdrawn"),
    ("accepted", "withdrawn"),  # the trip ended before pickup
}

ORDER_ACTIONS: dict[OrderStatus, Callable[[Order], None]] = {
    OrderStatus.PENDING: Order.release,
    OrderStatus.OFFERED: Order.offer,
    OrderStatus.ACCEPTED: Order.accept,
    OrderStatus.PICKED_UP: Order.pick_up,
    OrderStatus.DELIVERED: Order.deliver,
    OrderStatus.FAILED: Order.fail,
    OrderStatus.RETURNED: Order.return_to_store,
    OrderStatus.FALLBACK: Order.hand_to_fallback,
    OrderStatus.CANCELLED: Order.cancel,
}
TRIP_ACTIONS: dict[TripStatus, Callable[[Trip], None]] = {
    TripStatus.DEPARTED: Trip.depart,
    TripStatus.COMPLETED: Trip.complete,
    TripStatus.CANCELLED: Trip.cancel,
    TripStatus.EXPIRED: Trip.expire,
}


def make_order(status: OrderStatus = OrderStatus.PENDING, **changes: object) -> Order:
    fields: dict[str, object] = {
        "store_id": uuid4(),
        "external_ref": "WEB-1",
        "dropoff": GeoPoint(30.45, -84.25),
        "dropoff_address": "12 Park Ave",
        "recipient_name": "Ana",
        "window_earliest": NOW + timedelta(hours=1),
        "window_latest": NOW + timedelta(hours=3),
        "dispatch_deadline": NOW + timedelta(hours=2),
        "size_bags": 2,
        "value_cents": Cents(4_200),
        "created_at": NOW,
        "status": status,
    }
    fields.update(changes)
    return Order(**fields)  # type: ignore[arg-type]


def make_trip(status: TripStatus = TripStatus.OPEN, **changes: object) -> Trip:
    fields: dict[str, object] = {
        "shopper_id": uuid4(),
        "store_id": uuid4(),
        "destination": GeoPoint(30.5, -84.3),
        "capacity_bags": 3,
        "checked_in_at": NOW,
        "leave_by": NOW + timedelta(minutes=40),
        "max_detour_m": 3_000,
        "status": status,
    }
    fields.update(changes)
    return Trip(**fields)  # type: ignore[arg-type]


def make_offer(status: OfferStatus = OfferStatus.OPEN, **changes: object) -> Offer:
    fields: dict[str, object] = {
        "trip_id": uuid4(),
        "stops": (uuid4(), uuid4()),
        "extra_distance_m": 2_100,
        "extra_duration_s": 240,
        "reward_quote_cents": Cents(450),
        "created_at": NOW,
        "expires_at": NOW + timedelta(seconds=60),
        "status": status,
    }
    fields.update(changes)
    return Offer(**fields)  # type: ignore[arg-type]


ALL_ORDER_PAIRS = [(a, b) for a in OrderStatus for b in OrderStatus]
ALL_TRIP_PAIRS = [(a, b) for a in TripStatus for b in TRIP_ACTIONS]


@pytest.mark.parametrize(("current", "target"), ALL_ORDER_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_ORDER_PAIRS])
def test_order_moves_exactly_as_the_lifecycle_allows(current: OrderStatus, target: OrderStatus) -> None:
    """Each of the 81 (from, to) pairs either succeeds or raises IllegalTransition, as the brief says."""
    order = make_order(current)
    if (current.value, target.value) in LEGAL_ORDER_MOVES:
        ORDER_ACTIONS[target](order)
        assert order.status is target
    else:
        with pytest.raises(IllegalTransition) as raised:
            ORDER_ACTIONS[target](order)
        assert order.status is current
        assert (raised.value.current, raised.value.target) == (current, target)


@pytest.mark.parametrize(("current", "target"), ALL_TRIP_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_TRIP_PAIRS])
def test_trip_moves_exactly_as_the_lifecycle_allows(current: TripStatus, target: TripStatus) -> None:
    """A trip is open until it leaves, is cancelled or expires; a departed trip can only complete."""
    trip = make_trip(current)
    if (current.value, target.value) in LEGAL_TRIP_MOVES:
        TRIP_ACTIONS[target](trip)
        assert trip.status is target
    else:
        with pytest.raises(IllegalTransition):
            TRIP_ACTIONS[target](trip)
        assert trip.status is current


OFFER_ACTIONS: dict[OfferStatus, Callable[[Offer, datetime], None]] = {
    OfferStatus.ACCEPTED: Offer.accept,
    OfferStatus.DECLINED: Offer.decline,
    OfferStatus.EXPIRED: Offer.expire,
    OfferStatus.WITHDRAWN: Offer.withdraw,
}
ALL_OFFER_PAIRS = [(a, b) for a in OfferStatus for b in OFFER_ACTIONS]


@pytest.mark.parametrize(("current", "target"), ALL_OFFER_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_OFFER_PAIRS])
def test_offer_moves_exactly_as_the_lifecycle_allows(current: OfferStatus, target: OfferStatus) -> None:
    """An open offer resolves once; an accepted one can only be withdrawn (its trip ended before pickup); the
    time of the last move is recorded."""
    resolved = None if current is OfferStatus.OPEN else NOW + timedelta(seconds=5)
    offer = make_offer(current, resolved_at=resolved)
    # Expiry is only legal once the offer's time is up; every other move happens before that.
    when = offer.expires_at if target is OfferStatus.EXPIRED else NOW + timedelta(seconds=30)
    if (current.value, target.value) in LEGAL_OFFER_MOVES:
        OFFER_ACTIONS[target](offer, when)
        assert (offer.status, offer.resolved_at) == (target, when)
    else:
        late = (current, target) == (OfferStatus.EXPIRED, OfferStatus.ACCEPTED)  # told as what it is
        with pytest.raises(OfferExpired if late else IllegalTransition):
            OFFER_ACTIONS[target](offer, when)
        assert (offer.status, offer.resolved_at) == (current, resolved)


def test_accepting_an_offer_at_or_after_its_expiry_is_refused() -> None:
    """The expiry instant itself is too late: an offer is open strictly before expires_at."""
    offer = make_offer()
    with pytest.raises(OfferExpired):
        offer.accept(offer.expires_at)
    assert offer.status is OfferStatus.OPEN


def test_an_offer_cannot_be_expired_before_its_time() -> None:
    """Expiring early would take an offer away from a shopper who may still accept it."""
    offer = make_offer()
    with pytest.raises(OfferNotYetExpired):
        offer.expire(offer.expires_at - timedelta(microseconds=1))
    assert offer.status is OfferStatus.OPEN


@pytest.mark.parametrize("ending", ["decline", "expire", "withdraw"])
def test_an_order_whose_offer_ended_says_so_and_when_until_a_batch_says_more(ending: str) -> None:
    """Its offer cleared its reason; released by that offer's end, it says the end and its instant. Released
    from a return (no offer) it says nothing: no batch saw it since."""
    order = make_order()
    order.unassigned_reason, order.unassigned_at = "window", NOW
    order.offer()
    offer = make_offer(stops=(order.id,))
    getattr(offer, ending)(NOW + timedelta(minutes=2))
    order.release(offer)
    assert (order.status, order.unassigned_reason, order.unassigned_at) == (
        OrderStatus.PENDING,
        f"offer_{offer.status.value}",
        NOW + timedelta(minutes=2),
    )
    returned = make_order(OrderStatus.RETURNED)
    returned.release()
    assert (returned.unassigned_reason, returned.unassigned_at) == (None, None)


def test_order_final_states_are_the_ones_without_moves() -> None:
    """Delivered, fallback and cancelled orders are done; every other state still has somewhere to go."""
    final = {status for status in OrderStatus if make_order(status).is_final}
    assert final == {OrderStatus.DELIVERED, OrderStatus.FALLBACK, OrderStatus.CANCELLED}


def test_trip_takes_offers_only_while_open_and_before_leave_by() -> None:
    """A trip past its leave-by time, or no longer open, gets no new offers."""
    trip = make_trip()
    assert trip.can_take_offers(NOW + timedelta(minutes=39))
    assert not trip.can_take_offers(trip.leave_by)
    trip.depart()
    assert not trip.can_take_offers(NOW)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_latest": NOW + timedelta(hours=1)}, "window_latest"),
        ({"dispatch_deadline": NOW + timedelta(hours=4)}, "dispatch_deadline"),
        ({"size_bags": 0}, "size_bags"),
        ({"value_cents": Cents(0)}, "value_cents"),
        ({"recipient_name": "  "}, "recipient_name"),
        ({"created_at": datetime(2026, 11, 22, 17, 0)}, "created_at"),
    ],
)
def test_an_order_with_bad_fields_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    """A bad order never comes into being, and the error says which field is wrong."""
    with pytest.raises(InvalidInput) as raised:
        make_order(**changes)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"capacity_bags": 0}, "capacity_bags"),
        ({"capacity_bags": MAX_CAPACITY_BAGS + 1}, "capacity_bags"),
        ({"max_detour_m": None, "max_detour_s": None}, "max_detour_m"),
        ({"max_detour_s": -1}, "max_detour_s"),
        ({"max_detour_m": MAX_DETOUR_M + 1}, "max_detour_m"),
        ({"max_detour_s": MAX_DETOUR_S + 1}, "max_detour_s"),
        ({"leave_by": NOW}, "leave_by"),
    ],
)
def test_a_trip_with_bad_fields_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    """Capacity between 1 and the most bags a trip may hold, some detour limit given and each within its bound
    (as a commute profile's), and leave-by after check-in."""
    with pytest.raises(InvalidInput) as raised:
        make_trip(**changes)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"stops": ()}, "stops"),
        ({"stops": (uuid4(),) * 2}, "stops"),
        ({"reward_quote_cents": Cents(-1)}, "reward_quote_cents"),
        ({"expires_at": NOW}, "expires_at"),
    ],
)
def test_an_offer_with_bad_fields_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    """An offer carries distinct orders, non-negative amounts and a future expiry."""
    with pytest.raises(InvalidInput) as raised:
        make_offer(**changes)
    assert raised.value.field == field


def test_store_and_shopper_refuse_blank_names_and_bad_areas() -> None:
    """A store needs a name, a positive fallback cost and a valid service area."""
    square = Polygon([(-84.3, 30.4), (-84.2, 30.4), (-84.2, 30.5), (-84.3, 30.5)])
    bowtie = Polygon([(-84.3, 30.4), (-84.2, 30.5), (-84.2, 30.4), (-84.3, 30.5)])
    with pytest.raises(InvalidInput, match="name"):
        Store(name=" ", location=GeoPoint(30.45, -84.25), service_area=square, fallback_cost_cents=Cents(500))
    with pytest.raises(InvalidInput, match="fallback_cost_cents"):
        Store(name="S", location=GeoPoint(30.45, -84.25), service_area=square, fallback_cost_cents=Cents(0))
    with pytest.raises(InvalidInput, match="service_area"):
        Store(name="S", location=GeoPoint(30.45, -84.25), service_area=bowtie, fallback_cost_cents=Cents(500))
    with pytest.raises(InvalidInput, match="display_name"):
        Shopper(display_name="")


def test_a_store_nearer_a_pole_than_live_positions_can_be_kept_is_refused() -> None:
    """Shoppers' live positions (Redis GEO) stop at 85.05°: a store beyond could never see them."""
    arctic = Polygon([(20.0, 85.1), (20.2, 85.1), (20.2, 85.3), (20.0, 85.3)])
    with pytest.raises(InvalidInput, match=r"within 85\.05° of the equator") as refused:
        Store(name="S", location=GeoPoint(85.2, 20.1), service_area=arctic, fallback_cost_cents=Cents(500))
    assert refused.value.field == "location"


def test_a_delivery_without_the_code_cannot_be_accepted() -> None:
    """Proof of delivery needs the recipient's one-time code."""
    with pytest.raises(InvalidInput, match="accepted"):
        DeliveryProof(
            order_id=uuid4(),
            trip_id=uuid4(),
            position=GeoPoint(30.45, -84.25),
            recorded_at=NOW,
            distance_to_dropoff_m=12.0,
            code_matched=False,
            accepted=True,
        )
