"""The shopper app: check in, positions, offers, pickup, delivery with proof, incidents, history, events.

Every route acts only on the caller's own trips, offers and orders: someone else's are reported as not
found, so that ids cannot be probed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sse_starlette.sse import EventSourceResponse

from api.dependencies import Context, Services, ShopperId
from api.problems import ProblemException, problem_responses
from api.schemas import (
    DeliveryIn,
    DeliveryOut,
    HistoryItem,
    IncidentIn,
    IncidentOut,
    LocationIn,
    LocationOut,
    OfferOut,
    PageOf,
    PickupIn,
    PickupOut,
    ShopperOut,
    StopOut,
    TripIn,
    TripOut,
)
from crowdship.errors import NotFound
from dispatch.adapters.live import offers_channel
from dispatch.services import accounts, delivery, offers, queries, trips
from dispatch.views import stop_for_shopper
from routing.geo import GeoPoint

router = APIRouter(prefix="/shopper", tags=["shopper"], responses=problem_responses(401, 403))

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("/profile", response_model=ShopperOut, responses=problem_responses(404))
def profile(shopper_id: ShopperId, context: Context) -> ShopperOut:
    return ShopperOut.of(accounts.get_shopper(context, shopper_id))


@router.post("/trips", status_code=201, response_model=TripOut, responses=problem_responses(409, 422))
def check_in(body: TripIn, shopper_id: ShopperId, context: Context) -> TripOut:
    """Check in at a store: where you are going, how many bags fit, how far out of your way, until when."""
    trip = trips.check_in(
        context,
        shopper_id=shopper_id,
        store_id=body.store_id,
        destination=body.destination.to_geo(),
        capacity_bags=body.capacity_bags,
        max_detour_m=body.max_detour_m,
        max_detour_s=body.max_detour_s,
        leave_by=body.leave_by,
    )
    return TripOut.of(trip)


@router.get("/trips/current", response_model=TripOut, responses=problem_responses(404))
def current_trip(shopper_id: ShopperId, context: Context) -> TripOut:
    return TripOut.of(trips.current_trip(context, shopper_id=shopper_id))


@router.get("/trips", response_model=PageOf[HistoryItem], responses=problem_responses(422))
def history(shopper_id: ShopperId, context: Context, limit: Limit = 20, offset: Offset = 0) -> PageOf[HistoryItem]:
    """Your trips, newest first; a delivered order no longer shows its address."""
    page = queries.shopper_history(context, shopper_id=shopper_id, limit=limit, offset=offset)
    items = [
        HistoryItem(trip=TripOut.of(trip), stops=[StopOut.of(stop) for stop in stops]) for trip, stops in page.items
    ]
    return PageOf[HistoryItem](items=items, total=page.total, limit=limit, offset=offset)


@router.post("/trips/{trip_id}/cancel", response_model=TripOut, responses=problem_responses(404, 409))
def cancel_trip(trip_id: UUID, shopper_id: ShopperId, context: Context) -> TripOut:
    return TripOut.of(trips.cancel_trip(context, shopper_id=shopper_id, trip_id=trip_id))


@router.post("/trips/{trip_id}/pickup", response_model=PickupOut, responses=problem_responses(404, 409, 422))
def pickup(trip_id: UUID, body: PickupIn, shopper_id: ShopperId, context: Context) -> PickupOut:
    """Scan every bag of your accepted orders; the trip then leaves the store."""
    picked = delivery.confirm_pickup(context, shopper_id=shopper_id, trip_id=trip_id, bag_codes=body.bag_codes)
    trip = trips.current_trip(context, shopper_id=shopper_id)
    return PickupOut(
        trip=TripOut.of(trip), stops=[StopOut.of(stop_for_shopper(order, accepted_by_them=True)) for order in picked]
    )


_SAMPLED = LocationOut(sampled=True).model_dump_json().encode()
_NOT_SAMPLED = LocationOut(sampled=False).model_dump_json().encode()


@router.post("/location", status_code=202, response_model=LocationOut, responses=problem_responses(422, 429))
async def update_location(body: LocationIn, shopper_id: ShopperId, services: Services) -> Response:
    """Your position, kept live in Redis; one per interval is also kept in the record. Rate-limited."""
    context = services.context
    now = context.clock.now()
    position = GeoPoint(body.lat, body.lon)
    outcome = await services.positions.record(
        shopper_id,
        position,
        epoch_second=int(now.timestamp()),
        rate_limit_per_s=context.config.location_rate_limit_per_s,
        sample_interval_s=context.config.location_sample_interval_s,
    )
    if not outcome.accepted:
        raise ProblemException(429, "too many location updates; slow down", headers={"Retry-After": "1"})
    if outcome.sample_due:
        await run_in_threadpool(
            trips.record_location_sample, context, shopper_id=shopper_id, position=position, recorded_at=now
        )
    # The two possible bodies, pre-serialised: this is the hottest route (documented as `LocationOut`).
    return Response(_SAMPLED if outcome.sample_due else _NOT_SAMPLED, status_code=202, media_type="application/json")


@router.get("/offers/current", response_model=OfferOut, responses=problem_responses(404))
def current_offer(shopper_id: ShopperId, context: Context) -> OfferOut:
    """Your open offer: an approximate area per stop, the extra distance and time, the reward, the expiry."""
    return OfferOut.of(offers.current_offer(context, shopper_id=shopper_id))


@router.get("/offers/{offer_id}", response_model=OfferOut, responses=problem_responses(404))
def get_offer(offer_id: UUID, shopper_id: ShopperId, context: Context) -> OfferOut:
    return OfferOut.of(offers.get_offer(context, shopper_id=shopper_id, offer_id=offer_id))


@router.post("/offers/{offer_id}/accept", response_model=OfferOut, responses=problem_responses(404, 409))
def accept_offer(offer_id: UUID, shopper_id: ShopperId, context: Context) -> OfferOut:
    """Accept before it expires (409 after); the answer carries the exact addresses and first names."""
    return OfferOut.of(offers.accept_offer(context, shopper_id=shopper_id, offer_id=offer_id))


@router.post("/offers/{offer_id}/decline", response_model=OfferOut, responses=problem_responses(404, 409))
def decline_offer(offer_id: UUID, shopper_id: ShopperId, context: Context) -> OfferOut:
    return OfferOut.of(offers.decline_offer(context, shopper_id=shopper_id, offer_id=offer_id))


@router.post("/orders/{order_id}/delivery", response_model=DeliveryOut, responses=problem_responses(404, 409, 422))
def deliver(order_id: UUID, body: DeliveryIn, shopper_id: ShopperId, context: Context) -> DeliveryOut:
    """Proof of delivery: your position (inside the geofence) and the recipient's code. Limited attempts."""
    result = delivery.deliver(
        context,
        shopper_id=shopper_id,
        order_id=order_id,
        position=body.position.to_geo(),
        code=body.code,
        photo_ref=body.photo_ref,
    )
    return DeliveryOut(
        order_id=result.order.id,
        status=result.order.status,
        distance_to_dropoff_m=round(result.proof.distance_to_dropoff_m, 1),
        trip_completed=result.trip_completed,
    )


@router.post(
    "/orders/{order_id}/incidents",
    status_code=201,
    response_model=IncidentOut,
    responses=problem_responses(404, 422),
)
def report_incident(order_id: UUID, body: IncidentIn, shopper_id: ShopperId, context: Context) -> IncidentOut:
    """Damage, theft, an accident: tell operations about an order you carry."""
    incident = delivery.report_incident(
        context, shopper_id=shopper_id, order_id=order_id, kind=body.kind, description=body.description
    )
    return IncidentOut(
        id=incident.id,
        order_id=incident.order_id,
        trip_id=incident.trip_id,
        kind=incident.kind,
        description=incident.description,
        reported_at=incident.reported_at,
    )


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Offer events as they happen"}},
)
async def events(request: Request, shopper_id: ShopperId, services: Services) -> EventSourceResponse:
    """Server-sent events: `ready` once subscribed, then `offer` for each new offer (your current one first)."""
    return EventSourceResponse(_offer_events(request, shopper_id, services), ping=15)


async def _offer_events(request: Request, shopper_id: UUID, services: Services) -> AsyncIterator[dict[str, str]]:
    pubsub = request.app.state.async_redis.pubsub()
    await pubsub.subscribe(offers_channel(shopper_id))
    try:
        yield {"event": "ready", "data": "{}"}
        try:
            view = await run_in_threadpool(offers.current_offer, services.context, shopper_id=shopper_id)
            yield {"event": "offer", "data": json.dumps({"event": "offer", "offer_id": str(view.offer.id)})}
        except NotFound:
            pass
        while not await request.is_disconnected():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                yield {"event": "offer", "data": str(message["data"])}
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
