"""The shopper app's bodies read straight from domain objects: the fields the objects hold under another name,
in another unit or in another shape come out as the API has always shown them."""

from __future__ import annotations

from uuid import uuid4

from domain_samples import DROPOFF, NOW, a_trip, an_offer, an_order

from api.schemas import PageOf
from api.shopper_schemas import DeliveryOut, HistoryItem, OfferOut, TripOut
from crowdship.pages import Page
from dispatch.evidence import DeliveryProof
from dispatch.model import OfferStatus, OrderStatus
from dispatch.services.delivery import DeliveryResult
from dispatch.views import offer_for_shopper, stop_for_shopper


def test_an_offer_view_reads_as_the_shoppers_offer_with_km_and_minutes() -> None:
    """The offer's own fields come from `view.offer`, the stops from the view, in visiting order; the extra
    distance and time are also shown rounded to 10 m and 6 s."""
    first, second = an_order(OrderStatus.ACCEPTED), an_order(OrderStatus.ACCEPTED, name="Lee Park")
    offer = an_offer(first, second, status=OfferStatus.ACCEPTED)
    carrying = {first.id: offer.trip_id, second.id: offer.trip_id}
    view = offer_for_shopper(offer, {first.id: first, second.id: second}, carrying)
    body = OfferOut.model_validate(view).model_dump(mode="json")
    assert body["id"] == str(offer.id)
    assert body["trip_id"] == str(offer.trip_id)
    assert body["status"] == "accepted"
    assert (body["extra_distance_m"], body["extra_duration_s"]) == (2_346, 437)
    assert (body["extra_km"], body["extra_minutes"]) == (2.35, 7.3)
    assert body["reward_quote_cents"] == 512
    assert [stop["order_id"] for stop in body["stops"]] == [str(first.id), str(second.id)]
    assert body["stops"][1]["dropoff"] == {"lat": DROPOFF.lat, "lon": DROPOFF.lon}
    assert body["stops"][1]["recipient_first_name"] == "Lee"


def test_an_open_offer_shows_only_the_area() -> None:
    """Before acceptance a stop's exact drop-off, address and name are null, and its area is a point."""
    order = an_order(OrderStatus.OFFERED)
    stop = OfferOut.model_validate(offer_for_shopper(an_offer(order), {order.id: order}, {})).model_dump()["stops"][0]
    assert (stop["dropoff"], stop["address"], stop["recipient_first_name"]) == (None, None, None)
    assert set(stop["area"]) == {"lat", "lon"}


def test_a_delivery_shows_the_order_and_the_distance_to_a_tenth_of_a_metre() -> None:
    order = an_order(OrderStatus.DELIVERED)
    proof = DeliveryProof(
        order_id=order.id,
        trip_id=uuid4(),
        position=DROPOFF,
        recorded_at=NOW,
        distance_to_dropoff_m=42.37,
        code_matched=True,
        accepted=True,
    )
    body = DeliveryOut.model_validate(DeliveryResult(order=order, proof=proof, trip_completed=True))
    assert body.model_dump() == {
        "order_id": order.id,
        "status": OrderStatus.DELIVERED,
        "distance_to_dropoff_m": 42.4,
        "trip_completed": True,
    }


def test_a_history_page_reads_trips_with_their_stops() -> None:
    """The use case pages (trip, stops) pairs; the envelope echoes the window the request asked for."""
    trip, order = a_trip(), an_order(OrderStatus.PICKED_UP)
    page = Page(items=[(trip, [stop_for_shopper(order, accepted_by_them=True)])], total=9)
    body = PageOf[HistoryItem].from_page(page, limit=1, offset=4)
    assert (body.total, body.limit, body.offset) == (9, 1, 4)
    assert body.items[0].trip.id == trip.id
    assert body.items[0].stops[0].address == "1200 Magnolia Dr, Tallahassee"


def test_a_trips_destination_reads_from_a_geo_point() -> None:
    assert TripOut.model_validate(a_trip()).model_dump()["destination"] == {"lat": 30.5, "lon": -84.2211}
