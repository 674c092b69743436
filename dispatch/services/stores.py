"""Stores: where shoppers check in and orders wait. Operations create and edit them; the demo loader and
the simulator register theirs directly."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import Outcome
from crowdship.units import Cents
from dispatch.errors import StoreExists
from dispatch.hours import OpeningHours
from dispatch.model import Store
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.context import DispatchContext, StaffDecision, changed, created_once
from routing.areas import Area, check_store_area
from routing.geo import GeoPoint

MAX_FALLBACK_COST_CENTS = 100_000
"""A courier run costing more than 1 000.00 is a typing error, not a price."""
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class StoreDraft:
    """A store as operations enter it."""

    name: str
    location: GeoPoint
    service_area: Area
    fallback_cost_cents: Cents
    opening_hours: OpeningHours

    def as_request(self) -> dict[str, Any]:
        """The draft as idempotency fingerprints it (what tells a retry from another store under one key)."""
        return {
            "name": self.name.strip(),
            "location": [self.location.lat, self.location.lon],
            "service_area": self.service_area.wkt,
            "fallback_cost_cents": int(self.fallback_cost_cents),
            "opening_hours": {
                str(day): [hours.opens_minute, hours.closes_minute] for day, hours in self.opening_hours.days.items()
            },
        }


@dataclass(frozen=True)
class StoreChanges:
    """An edit: each field given replaces the store's; None leaves it as it is."""

    name: str | None = None
    location: GeoPoint | None = None
    service_area: Area | None = None
    fallback_cost_cents: Cents | None = None
    opening_hours: OpeningHours | None = None


def register_store(ctx: DispatchContext, store: Store, *, actor_id: UUID | None = None) -> Store:
    """Adds a store (its checks ran when it was built: name, positive fallback cost, a valid area); audited
    with its name and fallback cost, which prices every order it leaves to the courier fleet."""
    with ctx.unit_of_work() as uow:
        _add(ctx, uow, store, actor_id)
        uow.commit()
    return store


def _add(ctx: DispatchContext, uow: LiveUnitOfWork, store: Store, actor_id: UUID | None) -> Store:
    try:
        uow.stores.get(store.id)
    except NotFound:
        pass
    else:
        raise StoreExists(f"store {store.id} exists")
    uow.stores.add(store)
    details = {"name": store.name, "fallback_cost_cents": store.fallback_cost_cents}
    ctx.record_decision(uow, StaffDecision("store.created", "store", store.id, actor_id, ctx.clock.now(), details))
    return store


def create_store(
    ctx: DispatchContext, draft: StoreDraft, *, actor_id: UUID | None = None, idempotency_key: str | None = None
) -> Outcome[Store]:
    """A new store from operations, its area checked against its location (see `check_store_area`). With a key
    (the API's optional `Idempotency-Key`, the console's form key), a retry of the same draft answers the store
    it created, as it is now, rather than creating a second; the key with another draft is refused. Keys are
    the caller's own, as order intake's are."""
    store = _checked(
        Store(
            name=draft.name.strip(),
            location=draft.location,
            service_area=draft.service_area,
            fallback_cost_cents=draft.fallback_cost_cents,
            opening_hours=draft.opening_hours,
        )
    )
    with ctx.unit_of_work() as uow:
        outcome = created_once(
            uow,
            scope=f"stores:{actor_id}" if actor_id is not None else "stores",
            key=idempotency_key,
            request=draft.as_request(),
            run=lambda: _add(ctx, uow, store, actor_id),
            record_id=lambda created: created.id,
            fetch=uow.stores.get,
        )
        uow.commit()
    return outcome


def edit_store(ctx: DispatchContext, *, store_id: UUID, changes: StoreChanges, actor_id: UUID | None = None) -> Store:
    """Changes a store. The area is checked again against the (possibly new) location. Orders already taken in
    keep their drop-offs; a batch considers only those the new area covers. What changed is audited."""
    with ctx.unit_of_work() as uow:
        store = uow.stores.get(store_id)
        edited = _checked(
            replace(
                store,
                name=changes.name.strip() if changes.name is not None else store.name,
                location=changes.location or store.location,
                service_area=changes.service_area if changes.service_area is not None else store.service_area,
                fallback_cost_cents=changes.fallback_cost_cents
                if changes.fallback_cost_cents is not None
                else store.fallback_cost_cents,
                opening_hours=changes.opening_hours if changes.opening_hours is not None else store.opening_hours,
            )
        )
        uow.stores.save(edited)
        details = _differences(store, edited)
        if details:
            ctx.record_decision(
                uow, StaffDecision("store.changed", "store", store_id, actor_id, ctx.clock.now(), details)
            )
        uow.commit()
    return edited


def _differences(before: Store, after: Store) -> dict[str, object]:
    """An edit as the audit log records it: the name, fallback cost and location before and after, and the
    names of the other fields redrawn (an area or a week of hours is read on the store's page)."""
    found: dict[str, object] = {}
    if before.name != after.name:
        found["name"] = changed(before.name, after.name)
    if before.fallback_cost_cents != after.fallback_cost_cents:
        found["fallback_cost_cents"] = changed(before.fallback_cost_cents, after.fallback_cost_cents)
    if before.location != after.location:
        found["location"] = changed(_place(before.location), _place(after.location))
    also = [
        name
        for name, same in (
            ("service_area", before.service_area.equals(after.service_area)),
            ("opening_hours", before.opening_hours == after.opening_hours),
        )
        if not same
    ]
    if also:
        found["also_changed"] = also
    return found


def _place(point: GeoPoint) -> str:
    return f"{point.lat:.6f}, {point.lon:.6f}"


def _checked(store: Store) -> Store:
    if len(store.name) > MAX_NAME_CHARS:
        raise InvalidInput("name", f"at most {MAX_NAME_CHARS} characters")
    if store.fallback_cost_cents > MAX_FALLBACK_COST_CENTS:
        raise InvalidInput("fallback_cost_cents", f"at most {MAX_FALLBACK_COST_CENTS} cents")
    check_store_area(store.service_area, store.location)
    return store
