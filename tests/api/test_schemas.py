"""Response bodies read straight from domain objects: the fields the objects hold under another name, in
another unit or in another shape come out as the API has always shown them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from api.schemas import (
    BatchOut,
    DeliveryOut,
    HistoryItem,
    LiveStoreSummary,
    OfferOut,
    OpsOfferOut,
    OrderOut,
    PageOf,
    ShopperOut,
    StoreSummaryOut,
    TripOut,
)
from crowdship.units import Cents
from dispatch.batching import DroppedAssignment
from dispatch.model import (
    DeliveryProof,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shopper,
    Trip,
    TripStatus,
    TrustTier,
)
from dispatch.repositories import Page, StoreSummary
from dispatch.services.batch import BatchReport
from dispatch.services.delivery import DeliveryResult
from dispatch.views import offer_for_shopper, stop_for_shopper
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


def test_an_offer_view_reads_as_the_shoppers_offer_with_km_and_minutes() -> None:
    """The offer's own fields come from `view.offer`, the stops from the view, in visiting order; the extra
    distance and time are also shown rounded to 10 m and 6 s."""
    first, second = an_order(OrderStatus.ACCEPTED), an_order(OrderStatus.ACCEPTED, name="Lee Park")
    offer = an_offer(first, second, status=OfferStatus.ACCEPTED)
    body = OfferOut.model_validate(offer_for_shopper(offer, {first.id: first, second.id: second})).model_dump(
        mode="json"
    )
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
    stop = OfferOut.model_validate(offer_for_shopper(an_offer(order), {order.id: order})).model_dump()["stops"][0]
    assert (stop["dropoff"], stop["address"], stop["recipient_first_name"]) == (None, None, None)
    assert set(stop["area"]) == {"lat", "lon"}


def test_an_ops_offer_lists_its_order_ids_in_visiting_order() -> None:
    orders = [an_order(), an_order(), an_order()]
    offer = an_offer(*orders)
    assert OpsOfferOut.model_validate(offer).order_ids == [order.id for order in orders]


def test_a_shoppers_trust_tier_is_a_plain_number() -> None:
    body = ShopperOut.model_validate(Shopper(display_name="Ana", trust_tier=TrustTier.GOLD)).model_dump_json()
    assert '"trust_tier":3' in body


def test_positions_read_from_geo_points() -> None:
    """A trip's destination and an order's drop-off come out as `{lat, lon}`."""
    trip = a_trip()
    assert TripOut.model_validate(trip).model_dump()["destination"] == {"lat": 30.5, "lon": -84.2211}
    assert OrderOut.model_validate(an_order()).model_dump()["dropoff"] == {"lat": DROPOFF.lat, "lon": DROPOFF.lon}


def test_a_store_summary_carries_the_live_count_beside_the_databases_figures() -> None:
    summary = StoreSummary(
        store_id=uuid4(), orders_by_status={"pending": 4}, open_trips=2, open_offers=1, orders_past_deadline=0
    )
    body = StoreSummaryOut.model_validate(LiveStoreSummary(summary, live_shoppers=7)).model_dump()
    assert body == {
        "store_id": summary.store_id,
        "orders_by_status": {"pending": 4},
        "open_trips": 2,
        "open_offers": 1,
        "orders_past_deadline": 0,
        "live_shoppers": 7,
    }


def test_a_batch_report_names_its_offers_and_counts_what_was_dropped() -> None:
    offers = [an_offer(an_order()), an_offer(an_order())]
    report = BatchReport(
        store_id=uuid4(),
        started_at=NOW,
        offers=offers,
        dropped=[DroppedAssignment(trip_id="t", order_ids=("o",), reason="capacity")],
        pending_orders=3,
    )
    body = BatchOut.model_validate(report)
    assert body.offers == [offer.id for offer in offers]
    assert (body.dropped_assignments, body.pending_orders, body.skipped) == (1, 3, False)


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
