"""A shopper's trip: check in at a store, send positions, cancel."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crowdship.errors import InvalidInput, NotFound
from dispatch.errors import AlreadyOnTrip, Forbidden
from dispatch.evidence import LocationSample
from dispatch.model import Offer, OfferStatus, OrderStatus, Trip, TripStatus
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import check_destination_near
from dispatch.services.context import DispatchContext
from dispatch.services.moves import save_move
from routing.geo import GeoPoint


def owned_trip(uow: LiveUnitOfWork, shopper_id: UUID, trip_id: UUID, *, for_update: bool = False) -> Trip:
    """The trip, if it is this shopper's; another shopper's trip is reported as not found."""
    trip = uow.trips.get(trip_id, for_update=for_update)
    if trip.shopper_id != shopper_id:
        raise NotFound(f"trip {trip_id} not found")
    return trip


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
    """A new open trip. The shopper's account is locked to share first and must be active: a deactivation
    either waits for this check-in to commit (and cancels the trip it finds) or commits first (and this one is
    refused), never slips in between."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        _refuse_a_deactivated_account(uow, shopper_id)
        shopper = uow.shoppers.get(shopper_id)
        if not shopper.opted_in:
            raise Forbidden("this shopper has opted out of delivering")
        try:
            store = uow.stores.get(store_id)
        except NotFound as error:
            raise InvalidInput("store_id", "no such store") from error
        if uow.trips.active_for_shopper(shopper_id) is not None:
            raise AlreadyOnTrip
        if leave_by <= now:
            raise InvalidInput("leave_by", "must be in the future")
        if leave_by > now + ctx.config.max_leave_by:
            hours = ctx.config.max_leave_by.total_seconds() / 3600
            said = "1 hour" if hours == 1 else f"{hours:g} hours"
            raise InvalidInput("leave_by", f"must be within the next {said}: check in when you shop")
        check_destination_near(store.location, destination, max_m=ctx.config.max_destination_m)
        trip = Trip(
            shopper_id=shopper_id,
            store_id=store_id,
            destination=destination,
            capacity_bags=capacity_bags,
            checked_in_at=now,
            leave_by=leave_by,
            max_detour_m=max_detour_m,
            max_detour_s=max_detour_s,
        )
        uow.trips.add(trip)
        uow.commit()
    if ctx.live is not None:
        ctx.live.trip_started(shopper_id, trip.id)
    return trip


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
