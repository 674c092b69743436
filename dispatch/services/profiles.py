"""Commute profiles: save, change and delete a recurring trip, and check in from one with a single request.

A profile belongs to its shopper: someone else's is reported as not found, so that ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID, uuid4

from crowdship.errors import DomainError, InvalidInput, NotFound
from crowdship.idempotency import Outcome
from dispatch.model import Trip
from dispatch.profiles import MAX_PROFILES_PER_SHOPPER, CommuteProfile, DepartureTimePassed, TooManyProfiles, Weekday
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import check_destination_near
from dispatch.services.context import DispatchContext, created_once
from dispatch.services.trips import CheckIn, new_trip, start_trip_once
from routing.geo import GeoPoint


@dataclass(frozen=True)
class ProfileDraft:
    """What a shopper writes into a profile (on creation and on every change)."""

    store_id: UUID
    name: str
    destination: GeoPoint
    days: Sequence[Weekday]
    departure: time
    time_zone: str
    capacity_bags: int
    max_detour_m: int | None
    max_detour_s: int | None

    def as_request(self) -> dict[str, Any]:
        """The draft as idempotency fingerprints it (what tells a retry from another profile under one key)."""
        return {
            "store_id": str(self.store_id),
            "name": self.name,
            "destination": [self.destination.lat, self.destination.lon],
            "days": [str(day) for day in self.days],
            "departure": self.departure.isoformat(),
            "time_zone": self.time_zone,
            "capacity_bags": self.capacity_bags,
            "max_detour_m": self.max_detour_m,
            "max_detour_s": self.max_detour_s,
        }


def _owned(uow: LiveUnitOfWork, shopper_id: UUID, profile_id: UUID) -> CommuteProfile:
    profile = uow.profiles.get(profile_id)
    if profile.shopper_id != shopper_id:
        raise NotFound(f"commute profile {profile_id} not found")
    return profile


def _checked(uow: LiveUnitOfWork, ctx: DispatchContext, draft: ProfileDraft) -> None:
    """The store exists and the destination is as near it as a trip's must be."""
    try:
        store = uow.stores.get(draft.store_id)
    except NotFound as error:
        raise InvalidInput("store_id", "no such store") from error
    check_destination_near(store.location, draft.destination, max_m=ctx.config.max_destination_m)


def _from_draft(draft: ProfileDraft, *, shopper_id: UUID, created_at: datetime, profile_id: UUID) -> CommuteProfile:
    return CommuteProfile(
        shopper_id=shopper_id,
        store_id=draft.store_id,
        name=draft.name,
        destination=draft.destination,
        days=tuple(draft.days),
        departure=draft.departure,
        time_zone=draft.time_zone,
        capacity_bags=draft.capacity_bags,
        max_detour_m=draft.max_detour_m,
        max_detour_s=draft.max_detour_s,
        created_at=created_at,
        id=profile_id,
    )


def list_profiles(ctx: DispatchContext, *, shopper_id: UUID) -> list[CommuteProfile]:
    with ctx.unit_of_work() as uow:
        return list(uow.profiles.list_for_shopper(shopper_id))


def get_profile(ctx: DispatchContext, *, shopper_id: UUID, profile_id: UUID) -> CommuteProfile:
    with ctx.unit_of_work() as uow:
        return _owned(uow, shopper_id, profile_id)


def create_profile(ctx: DispatchContext, *, shopper_id: UUID, draft: ProfileDraft) -> CommuteProfile:
    """Saves a new profile; at most `MAX_PROFILES_PER_SHOPPER` per shopper."""
    return create_profile_once(ctx, shopper_id=shopper_id, draft=draft, idempotency_key=None).value


def create_profile_once(
    ctx: DispatchContext, *, shopper_id: UUID, draft: ProfileDraft, idempotency_key: str | None
) -> Outcome[CommuteProfile]:
    """Saves a new profile, once per the shopper's key when they give one: a retry after a lost answer answers
    the profile it saved, as it is now (404 once deleted), rather than saving a second (towards the limit)."""
    profile = _from_draft(draft, shopper_id=shopper_id, created_at=ctx.clock.now(), profile_id=uuid4())

    def add(uow: LiveUnitOfWork) -> CommuteProfile:
        uow.shoppers.get(shopper_id)
        if len(uow.profiles.list_for_shopper(shopper_id, for_update=True)) >= MAX_PROFILES_PER_SHOPPER:
            raise TooManyProfiles
        _checked(uow, ctx, draft)
        uow.profiles.add(profile)
        return profile

    with ctx.unit_of_work() as uow:
        outcome = created_once(
            uow,
            scope=f"profiles:{shopper_id}",
            key=idempotency_key,
            request=draft.as_request(),
            run=lambda: add(uow),
            record_id=lambda created: created.id,
            fetch=lambda profile_id: _owned(uow, shopper_id, profile_id),
        )
        uow.commit()
    return outcome


def update_profile(ctx: DispatchContext, *, shopper_id: UUID, profile_id: UUID, draft: ProfileDraft) -> CommuteProfile:
    """Replaces every field the shopper writes; the profile keeps its id and creation time."""
    with ctx.unit_of_work() as uow:
        before = _owned(uow, shopper_id, profile_id)
        changed = _from_draft(draft, shopper_id=shopper_id, created_at=before.created_at, profile_id=before.id)
        _checked(uow, ctx, draft)
        uow.profiles.save(changed, at=ctx.clock.now())
        uow.commit()
    return changed


def delete_profile(ctx: DispatchContext, *, shopper_id: UUID, profile_id: UUID) -> None:
    with ctx.unit_of_work() as uow:
        _owned(uow, shopper_id, profile_id)
        uow.profiles.delete(profile_id)
        uow.commit()


class DepartureTooFarAhead(DomainError):
    """Today's departure of a profile lies beyond how far ahead a leave-by may be (`max_leave_by`)."""

    def __init__(self, departure: datetime, hours: float) -> None:
        super().__init__(
            f"today's departure of this profile ({departure:%H:%M} {departure.tzname()}) is more than {hours:g} "
            "hours away: check in when you shop"
        )
        self.departure = departure


def check_in_from_profile(ctx: DispatchContext, *, shopper_id: UUID, profile_id: UUID) -> Trip:
    """`check_in_from_profile_once` without a key, for callers that never lose an answer (the simulator): this
    profile's trip, still open, is `AlreadyOnTrip` too (`trips.check_in`)."""
    return new_trip(check_in_from_profile_once(ctx, shopper_id=shopper_id, profile_id=profile_id, idempotency_key=None))


def check_in_from_profile_once(
    ctx: DispatchContext, *, shopper_id: UUID, profile_id: UUID, idempotency_key: str | None
) -> Outcome[Trip]:
    """One tap: a trip at the profile's store, to its destination, leaving today (the shopper's day) at its
    usual time. Refused when that time has passed (`DepartureTimePassed`) or is further ahead than a leave-by
    may be (`DepartureTooFarAhead`) and, as any check-in, when the shopper is already on another trip
    (`AlreadyOnTrip`): the open trip this very tap started is answered as it is (`trips.check_in_once`), as is
    the trip a retry's key started. The day of the week does not matter: the days say when the shopper usually
    goes, not when they may."""
    now = ctx.clock.now()

    def plan(uow: LiveUnitOfWork) -> CheckIn:
        profile = _owned(uow, shopper_id, profile_id)
        leave_by = profile.departure_on(profile.local_date(now))
        if leave_by <= now:
            raise DepartureTimePassed(leave_by)  # said in the shopper's own time
        if leave_by > now + ctx.config.max_leave_by:  # else check_in's 422 names a leave_by nobody sent
            raise DepartureTooFarAhead(leave_by, ctx.config.max_leave_by.total_seconds() / 3600)
        return CheckIn(
            store_id=profile.store_id,
            destination=profile.destination,
            capacity_bags=profile.capacity_bags,
            max_detour_m=profile.max_detour_m,
            max_detour_s=profile.max_detour_s,
            leave_by=leave_by.astimezone(UTC),  # a trip's instants are kept and told in UTC, like every other
        )

    return start_trip_once(
        ctx,
        shopper_id=shopper_id,
        request={"profile_id": str(profile_id)},
        plan=plan,
        idempotency_key=idempotency_key,
    )
