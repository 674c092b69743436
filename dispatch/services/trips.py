"""A shopper's trip: check in at a store, send positions, cancel."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import Outcome
from dispatch.errors import AlreadyOnTrip, Forbidden
from dispatch.evidence import LocationSample
from dispatch.model import Offer, OfferStatus, OrderStatus, Trip, TripStatus
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import check_destination_near
from dispatch.services.context import DispatchContext, created_once
from dispatch.services.moves import save_move
from routing.geo import GeoPoint


def owned_trip(uow: LiveUnitOfWork, shopper_id: UUID, trip_id: UUID, *, for_update: bool = False) -> Trip:
    """The trip, if it is this shopper's; another shopper's trip is reported as not found."""
    trip = uow.trips.get(trip_id, for_update=for_update)
    if trip.shopper_id != shopper_id:
        raise NotFound(f"trip {trip_id} not found")
    return trip


@dataclass(frozen=True)
class CheckIn:
    """What a shopper asks for when checking in at a store."""

    store_id: UUID
    destination: GeoPoint
    capacity_bags: int
    max_detour_m: int | None
    max_detour_s: int | None
    leave_by: datetime

    def as_request(self) -> dict[str, Any]:
        """The check-in as idempotency fingerprints it (what tells a retry from another trip under one key)."""
        return {
            "store_id": str(self.store_id),
            "destination": [self.destination.lat, self.destination.lon],
            "capacity_bags": self.capacity_bags,
            "max_detour_m": self.max_detour_m,
            "max_detour_s": self.max_detour_s,
            "leave_by": self.leave_by,
        }

    def started(self, trip: Trip) -> bool:
        """True when `trip` is still open and is exactly what this check-in asks for: a second tap or a retry
        after a lost answer, which can only mean that trip (a shopper has one at a time)."""
        return trip.status is TripStatus.OPEN and (
            trip.store_id,
            trip.destination,
            trip.capacity_bags,
            trip.max_detour_m,
            trip.max_detour_s,
            trip.leave_by,
        ) == (
            self.store_id,
            self.destination,
            self.capacity_bags,
            self.max_detour_m,
            self.max_detour_s,
            self.leave_by,
        )


def check_in(
    ctx: DispatchContext,
    *,
    shopper_id: UUID,
    store_id: UUID,
    destination: GeoPoint,
    capacity_bags: int,
    max_detour_m: int | None,
    max_detour_s: int | None,
    leave_by: datetime,
) -> Trip:
    """A new open trip; `AlreadyOnTrip` whenever the shopper has one, even the very trip asked for: for callers
    that never lose an answer (the simulator, a replayed day, the demo), to which that means "wait"."""
    asked = CheckIn(store_id, destination, capacity_bags, max_detour_m, max_detour_s, leave_by)
    return new_trip(check_in_once(ctx, shopper_id=shopper_id, asked=asked, idempotency_key=None))


def new_trip(outcome: Outcome[Trip]) -> Trip:
    """The trip a check-in started; `AlreadyOnTrip` when it answered one that was there before it."""
    if outcome.replayed:
        raise AlreadyOnTrip
    return outcome.value


def check_in_once(
    ctx: DispatchContext, *, shopper_id: UUID, asked: CheckIn, idempotency_key: str | None
) -> Outcome[Trip]:
    """A new open trip, once per the shopper's `idempotency_key` when they give one: a retry answers the trip
    the key started, as it is now (`replayed`). Without a key, a check-in identical to the shopper's open trip
    answers that trip as it is (`replayed`): it can only be a retry; any other check-in while on a trip is
    `AlreadyOnTrip`."""
    return start_trip_once(
        ctx, shopper_id=shopper_id, request=asked.as_request(), plan=lambda _: asked, idempotency_key=idempotency_key
    )


def start_trip_once(
    ctx: DispatchContext,
    *,
    shopper_id: UUID,
    request: Mapping[str, Any],
    plan: Callable[[LiveUnitOfWork], CheckIn],
    idempotency_key: str | None,
) -> Outcome[Trip]:
    """`check_in_once` for any way of asking (`request`, as the key's fingerprint), whose check-in `plan`
    works out inside the transaction (a commute profile's, from the profile). Two identical check-ins racing
    each other: the loser finds the winner's trip.

    The shopper's account is locked to share first and must be active: a deactivation either waits for this
    check-in to commit (and cancels the trip it finds) or commits first (and this one is refused), never slips
    in between."""
    try:
        return _start_trip_once(ctx, shopper_id, request, plan, idempotency_key)
    except AlreadyOnTrip:
        return _start_trip_once(ctx, shopper_id, request, plan, idempotency_key)


def _start_trip_once(
    ctx: DispatchContext,
    shopper_id: UUID,
    request: Mapping[str, Any],
    plan: Callable[[LiveUnitOfWork], CheckIn],
    idempotency_key: str | None,
) -> Outcome[Trip]:
    now = ctx.clock.now()
    found: list[Trip] = []

    def start(uow: LiveUnitOfWork) -> Trip:
        _refuse_a_deactivated_account(uow, shopper_id)
        shopper = uow.shoppers.get(shopper_id)
        if not shopper.opted_in:
            raise Forbidden("this shopper has opted out of delivering")
        asked = plan(uow)
        try:
            store = uow.stores.get(asked.store_id)
        except NotFound as error:
            raise InvalidInput("store_id", "no such store") from error
        if (active := uow.trips.active_for_shopper(shopper_id)) is not None:
            if asked.started(active):
                found.append(active)
                return active
            raise AlreadyOnTrip
        if asked.leave_by <= now:
            raise InvalidInput("leave_by", "must be in the future")
        if asked.leave_by > now + ctx.config.max_leave_by:
            hours = ctx.config.max_leave_by.total_seconds() / 3600
            said = "1 hour" if hours == 1 else f"{hours:g} hours"
            raise InvalidInput("leave_by", f"must be within the next {said}: check in when you shop")
        check_destination_near(store.location, asked.destination, max_m=ctx.config.max_destination_m)
        trip = Trip(
            shopper_id=shopper_id,
            store_id=asked.store_id,
            destination=asked.destination,
            capacity_bags=asked.capacity_bags,
            checked_in_at=now,
            leave_by=asked.leave_by,
            max_detour_m=asked.max_detour_m,
            max_detour_s=asked.max_detour_s,
        )
        uow.trips.add(trip)
        return trip

    with ctx.unit_of_work() as uow:
        outcome = created_once(
            uow,
            scope=f"trips:{shopper_id}",
            key=idempotency_key,
            request=request,
            run=lambda: start(uow),
            record_id=lambda trip: trip.id,
            fetch=lambda trip_id: owned_trip(uow, shopper_id, trip_id),
        )
        uow.commit()
    if outcome.replayed or found:
        return Outcome(outcome.value, replayed=True)
    if ctx.live is not None:
        ctx.live.trip_started(shopper_id, outcome.value.id)
    return outcome


def _refuse_a_deactivated_account(uow: LiveUnitOfWork, shopper_id: UUID) -> None:
    """Locks the shopper's account until the transaction ends (`accounts.set_active` locks it for update) and
    refuses it when deactivated. A shopper without an account (the simulator's) has nothing to lock."""
    try:
        account = uow.users.for_shopper(shopper_id, for_share=True)
    except NotFound:
        return
    if not account.active:
        raise Forbidden("this account is deactivated")


def release_trip_orders(uow: LiveUnitOfWork, trip: Trip, now: datetime) -> list[UUID]:
    """For a trip that ends before pickup: withdraws its open and accepted offers (so that an accepted offer
    no longer shows the shopper the recipient's address and name) and gives their orders back to the pool;
    returns them."""
    withdrawn: dict[UUID, Offer] = {}
    for listed in uow.offers.list_for_trip(trip.id, [OfferStatus.OPEN, OfferStatus.ACCEPTED]):
        offer = uow.offers.get(listed.id, for_update=True)
        offer.withdraw(now)
        uow.offers.save(offer)
        withdrawn.update(dict.fromkeys(offer.stops, offer))
    released = list(withdrawn)
    for order_id in sorted(released):
        order = uow.orders.get(order_id, for_update=True)
        if order.status in (OrderStatus.OFFERED, OrderStatus.ACCEPTED):
            order.release(withdrawn[order_id])
            save_move(uow, order, now, f"trip {trip.status.value}: offer withdrawn")
    return released


def cancel_trip(ctx: DispatchContext, *, shopper_id: UUID, trip_id: UUID) -> Trip:
    """Cancels an open trip; its offer is withdrawn and its accepted orders go back to the pool. Cancelling
    again answers with the cancelled trip (a second tap or a retry after a lost answer is harmless)."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        trip = owned_trip(uow, shopper_id, trip_id, for_update=True)
        if trip.status is TripStatus.CANCELLED:
            return trip
        trip.cancel()
        release_trip_orders(uow, trip, now)
        uow.trips.save(trip, at=now)
        uow.commit()
    trip_ended(ctx, trip)
    return trip


def trip_ended(ctx: DispatchContext, trip: Trip) -> None:
    """After the commit that ended a trip: the shopper's live position goes (best effort)."""
    if ctx.live is not None:
        ctx.live.trip_ended(trip.shopper_id)


def active_trip(ctx: DispatchContext, *, shopper_id: UUID) -> Trip | None:
    """The shopper's open or departed trip, if any."""
    with ctx.unit_of_work() as uow:
        return uow.trips.active_for_shopper(shopper_id)


def current_trip(ctx: DispatchContext, *, shopper_id: UUID) -> Trip:
    trip = active_trip(ctx, shopper_id=shopper_id)
    if trip is None:
        raise NotFound("no open or departed trip")
    return trip


def record_location_sample(
    ctx: DispatchContext, *, shopper_id: UUID, position: GeoPoint, recorded_at: datetime
) -> LocationSample | None:
    """Keeps one position for the record (proof and fraud checks), tagged with the active trip; nothing when
    the shopper has no active trip (a position is only the company's business during a trip)."""
    with ctx.unit_of_work() as uow:
        trip = uow.trips.active_for_shopper(shopper_id)
        if trip is None:
            return None
        sample = LocationSample(shopper_id, trip.id, position, recorded_at)
        uow.locations.add(sample)
        uow.commit()
    return sample
