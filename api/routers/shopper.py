"""The shopper app: check in, positions, offers, pickup, delivery with proof, incidents, history, events.

Every route acts only on the caller's own trips, offers and orders: someone else's are reported as not
found, so that ids cannot be probed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from api.dependencies import AppServices, Context, Services, ShopperId, ShopperPrincipal
from api.events import ACCOUNT_CHANGED, RESYNC, Reservation, TooManyStreams
from api.fields import Limit, Offset, OptionalIdempotencyKey
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.problems import ProblemException, problem_responses
from api.schemas import PageOf, ShopperOut
from api.security import Principal
from api.shopper_schemas import (
    DeliveryIn,
    DeliveryOut,
    HistoryItem,
    IncidentIn,
    IncidentOut,
    LocationIn,
    LocationOut,
    OfferOut,
    PickupIn,
    PickupOut,
    TripIn,
    TripOut,
)
from crowdship.errors import NotFound
from crowdship.logging import get_logger
from crowdship.outages import BACKING_SERVICE_ERRORS
from dispatch.adapters.live import LocationOutcome
from dispatch.errors import NoActiveTrip
from dispatch.live import offer_event
from dispatch.services import accounts, delivery, offers, queries, trips
from dispatch.views import stop_for_shopper
from routing.geo import GeoPoint

log = get_logger(__name__)

router = APIRouter(
    route_class=JsonBodyRoute, prefix="/shopper", tags=["shopper"], responses=problem_responses(401, 403)
)


_SAMPLED = LocationOut(sampled=True).model_dump_json().encode()
_NOT_SAMPLED = LocationOut(sampled=False).model_dump_json().encode()


@router.post("/location", status_code=202, response_model=LocationOut, responses=problem_responses(409, 422, 429))
async def update_location(body: LocationIn, shopper_id: ShopperId, request: Request) -> Response:
    """Your position during a trip, kept live in Redis; one per interval is also kept in the record.
    Rate-limited; refused (409) when you have no open or departed trip."""
    services: AppServices = request.app.state.services  # not a dependency: each costs FastAPI a few µs a request
    context = services.context
    now = context.clock.now()
    position = GeoPoint(body.lat, body.lon)
    outcome = await _record_position(services, shopper_id, position, now)
    if outcome is LocationOutcome.TRIP_UNKNOWN:
        # Redis lost (or never had) the shopper's trip: PostgreSQL says, and Redis is told for next time.
        trip = await run_in_threadpool(trips.active_trip, context, shopper_id=shopper_id)
        if trip is None:
            await services.positions.mark_off_trip(shopper_id)
            outcome = LocationOutcome.NO_TRIP
        else:
            await services.positions.mark_on_trip(shopper_id, trip.id)
            outcome = await _record_position(services, shopper_id, position, now)
    if outcome is LocationOutcome.RATE_LIMITED:
        raise ProblemException(429, "too many location updates; slow down", headers={"Retry-After": "1"})
    if not outcome.stored:
        raise NoActiveTrip
    sampled = False
    if outcome is LocationOutcome.SAMPLE_DUE:
        kept = await _keep_sample(request, services, shopper_id, position, now)
        if kept is None:  # PostgreSQL knows no trip: its end was missed by Redis (away as it was told)
            await services.positions.trip_over(shopper_id)
            raise NoActiveTrip
        sampled = kept
    # The two possible bodies, pre-serialised: this is the hottest route (documented as `LocationOut`).
    return Response(_SAMPLED if sampled else _NOT_SAMPLED, status_code=202, media_type="application/json")


async def _record_position(
    services: AppServices, shopper_id: UUID, position: GeoPoint, now: datetime
) -> LocationOutcome:
    config = services.context.config
    return await services.positions.record(
        shopper_id,
        position,
        epoch_second=int(now.timestamp()),
        rate_limit_per_s=config.location_rate_limit_per_s,
        sample_interval_s=config.location_sample_interval_s,
    )


async def _keep_sample(
    request: Request, services: AppServices, shopper_id: UUID, position: GeoPoint, now: datetime
) -> bool | None:
    """Writes the interval's sample to PostGIS: True when kept, None when PostgreSQL knows no active trip of the
    shopper (Redis believed one: it missed the trip's end). The live position is already stored, so PostgreSQL
    being away does not fail the update: False, it answers `sampled: false`, and the next update tries the
    sample again (logged as outages are, a line every few seconds saying how many it stands for)."""
    try:
        sample = await run_in_threadpool(
            trips.record_location_sample, services.context, shopper_id=shopper_id, position=position, recorded_at=now
        )
    except BACKING_SERVICE_ERRORS as error:
        held_back = request.app.state.outages_logged.take("location sample not kept")
        if held_back is not None:
            log.warning("location sample not kept", error=type(error).__name__, also_not_kept_since_last=held_back)
        await services.positions.reopen_sample_gate(shopper_id)
        return False
    return None if sample is None else True


@router.get("/profile", response_model=ShopperOut, responses=problem_responses(404))
def profile(shopper_id: ShopperId, context: Context) -> ShopperOut:
    return ShopperOut.model_validate(accounts.get_shopper(context, shopper_id))


@router.post("/trips", **created_once(TripOut, "the trip the first request started, as it is now", 409, 422))
def check_in(
    body: TripIn, shopper_id: ShopperId, context: Context, idempotency_key: OptionalIdempotencyKey = None
) -> JSONResponse:
    """Check in at a store: where you are going, how many bags fit, how far out of your way, until when. 409
    `already-on-trip` when you are on another trip; the same check-in again while its trip is open (a second
    tap, a retry after a lost answer) answers that trip (200). Send an `Idempotency-Key` so that a retry
    answers the trip it started even once it left (200, replayed); the key with another check-in is 409."""
    asked = trips.CheckIn(
        store_id=body.store_id,
        destination=body.destination.to_geo(),
        capacity_bags=body.capacity_bags,
        max_detour_m=body.max_detour_m,
        max_detour_s=body.max_detour_s,
        leave_by=body.leave_by,
    )
    started = trips.check_in_once(context, shopper_id=shopper_id, asked=asked, idempotency_key=idempotency_key)
    return created_or_replayed(
        TripOut.model_validate(started.value), started.replayed, keyed=idempotency_key is not None
    )


@router.get("/trips/current", response_model=TripOut, responses=problem_responses(404))
def current_trip(shopper_id: ShopperId, context: Context) -> TripOut:
    return TripOut.model_validate(trips.current_trip(context, shopper_id=shopper_id))


@router.get("/trips", response_model=PageOf[HistoryItem], responses=problem_responses(422))
def history(shopper_id: ShopperId, context: Context, limit: Limit = 20, offset: Offset = 0) -> PageOf[HistoryItem]:
    """Your trips, newest first; a delivered order no longer shows its address."""
    page = queries.shopper_history(context, shopper_id=shopper_id, limit=limit, offset=offset)
    return PageOf[HistoryItem].from_page(page, limit=limit, offset=offset)


@router.post("/trips/{trip_id}/cancel", response_model=TripOut, responses=problem_responses(404, 409))
def cancel_trip(trip_id: UUID, shopper_id: ShopperId, context: Context) -> TripOut:
    return TripOut.model_validate(trips.cancel_trip(context, shopper_id=shopper_id, trip_id=trip_id))


@router.post("/trips/{trip_id}/pickup", response_model=PickupOut, responses=problem_responses(404, 409, 422))
def pickup(trip_id: UUID, body: PickupIn, shopper_id: ShopperId, context: Context) -> PickupOut:
    """Scan every bag of your accepted orders; the trip then leaves the store. Scanning the same bags again
    answers alike (a second tap or a retry after a lost answer is harmless)."""
    picked = delivery.confirm_pickup(context, shopper_id=shopper_id, trip_id=trip_id, bag_codes=body.bag_codes)
    trip = trips.current_trip(context, shopper_id=shopper_id)
    stops = [stop_for_shopper(order, accepted_by_them=True) for order in picked]
    return PickupOut.model_validate({"trip": trip, "stops": stops})


@router.get("/offers/current", response_model=OfferOut, responses=problem_responses(404))
def current_offer(shopper_id: ShopperId, context: Context) -> OfferOut:
    """Your open offer: an approximate area per stop, the extra distance and time, the reward, the expiry."""
    return OfferOut.model_validate(offers.current_offer(context, shopper_id=shopper_id))


@router.get("/offers/{offer_id}", response_model=OfferOut, responses=problem_responses(404))
def get_offer(offer_id: UUID, shopper_id: ShopperId, context: Context) -> OfferOut:
    return OfferOut.model_validate(offers.get_offer(context, shopper_id=shopper_id, offer_id=offer_id))


@router.post("/offers/{offer_id}/accept", response_model=OfferOut, responses=problem_responses(404, 409))
def accept_offer(offer_id: UUID, shopper_id: ShopperId, context: Context) -> OfferOut:
    """Accept before it expires (409 after); the answer carries the exact addresses and first names. Accepting
    again answers with the accepted offer (a second tap or a retry is harmless)."""
    return OfferOut.model_validate(offers.accept_offer(context, shopper_id=shopper_id, offer_id=offer_id))


@router.post("/offers/{offer_id}/decline", response_model=OfferOut, responses=problem_responses(404, 409))
def decline_offer(offer_id: UUID, shopper_id: ShopperId, context: Context) -> OfferOut:
    return OfferOut.model_validate(offers.decline_offer(context, shopper_id=shopper_id, offer_id=offer_id))


@router.post("/orders/{order_id}/delivery", response_model=DeliveryOut, responses=problem_responses(404, 409, 422))
def deliver(order_id: UUID, body: DeliveryIn, shopper_id: ShopperId, context: Context) -> DeliveryOut:
    """Proof of delivery: your position (inside the geofence) and the recipient's code. Limited attempts. Once
    delivered, sending it again answers with the delivery as recorded (a second tap or a retry is harmless)."""
    result = delivery.deliver(
        context,
        shopper_id=shopper_id,
        order_id=order_id,
        position=body.position.to_geo(),
        code=body.code,
        photo_ref=body.photo_ref,
    )
    return DeliveryOut.model_validate(result)


@router.post(
    "/orders/{order_id}/incidents",
    **created_once(IncidentOut, "the incident the first request reported", 404, 409, 422),
)
def report_incident(
    order_id: UUID,
    body: IncidentIn,
    shopper_id: ShopperId,
    context: Context,
    idempotency_key: OptionalIdempotencyKey = None,
) -> JSONResponse:
    """Damage, theft, an accident: tell operations about an order you carry. Send an `Idempotency-Key` so
    that a retry after a lost answer reports it once (200, replayed); the key with another report is 409."""
    reported = delivery.report_incident(
        context,
        shopper_id=shopper_id,
        order_id=order_id,
        kind=body.kind,
        description=body.description,
        idempotency_key=idempotency_key,
    )
    return created_or_replayed(IncidentOut.model_validate(reported.value), reported.replayed)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Offer events as they happen"},
        **problem_responses(429),
    },
)
async def events(
    request: Request, principal: ShopperPrincipal, shopper_id: ShopperId, services: Services
) -> EventSourceResponse:
    """Server-sent events: `ready` once subscribed, then `offer` (id and expiry) for each new offer, your
    current one first, `order_cancelled` when the store cancels an order you accepted and `order_not_delivered`
    when operations give up on one you carry; `closed` (with why) ends the stream when your token expires or
    your account is deactivated. A few streams per account (429 beyond)."""
    try:
        reservation = services.events.reserve(principal.user_id)
    except TooManyStreams as error:
        raise ProblemException(429, error.detail, headers={"Retry-After": "30"}) from None
    return EventSourceResponse(_offer_events(request, reservation, principal, shopper_id, services), ping=15)


async def _offer_events(
    request: Request, reservation: Reservation, principal: Principal, shopper_id: UUID, services: AppServices
) -> AsyncIterator[dict[str, str]]:
    """Ends, with a `closed` event saying why, when the token expires or the account is deactivated."""
    with services.events.registered(reservation, shopper_id=shopper_id) as stream:
        yield {"event": "ready", "data": "{}"}
        if (current := await _current_offer_event(services, shopper_id)) is not None:
            yield current
        while not await request.is_disconnected():
            if services.context.clock.now().timestamp() >= principal.expires_at:
                yield {"event": "closed", "data": json.dumps({"detail": "the token expired: sign in again"})}
                return
            event = await stream.next(timeout_s=5.0)
            if event is ACCOUNT_CHANGED or event is RESYNC:
                # The hub has made the API forget what it knew of the account: it changed, or (a resync: the
                # subscription is back after Redis was away) a change, a deactivation among them, may have been
                # missed.
                if (closed := await _closed_unless_active(services, principal)) is not None:
                    yield closed
                    return
                if event is RESYNC and (current := await _current_offer_event(services, shopper_id)) is not None:
                    yield current
            elif event is not None:
                yield {"event": str(event.get("event", "offer")), "data": json.dumps(event)}


async def _closed_unless_active(services: AppServices, principal: Principal) -> dict[str, str] | None:
    """None when the account may go on; else the `closed` event that ends its stream, saying why."""
    try:
        active = await run_in_threadpool(services.accounts.ask, principal)
    except BACKING_SERVICE_ERRORS as error:
        log.warning("account of a stream not checked", error=type(error).__name__)
        detail = "the account could not be checked right now: reconnect shortly"
        return {"event": "closed", "data": json.dumps({"detail": detail})}
    if not active:
        return {"event": "closed", "data": json.dumps({"detail": "the account was deactivated"})}
    return None


async def _current_offer_event(services: AppServices, shopper_id: UUID) -> dict[str, str] | None:
    """The shopper's open offer as an event; None when there is none, or PostgreSQL cannot say right now (the
    stream stays open: the next event, or the app's own polling, brings the offer)."""
    try:
        view = await run_in_threadpool(offers.current_offer, services.context, shopper_id=shopper_id)
    except NotFound:
        return None
    except BACKING_SERVICE_ERRORS as error:
        log.warning("current offer unavailable for a stream", error=type(error).__name__)
        return None
    return {"event": "offer", "data": json.dumps(offer_event(view.offer))}
