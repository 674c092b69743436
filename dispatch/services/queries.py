"""Reads for operations and for a shopper's history."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.pages import Page
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip, TripStatus
from dispatch.repositories import StoreSummary
from dispatch.services.context import DispatchContext
from dispatch.views import StopView, stop_on_trip


def list_orders(
    ctx: DispatchContext,
    *,
    store_id: UUID | None,
    statuses: Sequence[OrderStatus] | None,
    limit: int,
    offset: int,
    external_ref: str | None = None,
) -> Page[Order]:
    """Newest first; `external_ref` finds the orders whose reference starts with it (any case)."""
    with ctx.unit_of_work() as uow:
        return uow.orders.page(
            store_id=store_id, statuses=statuses, limit=limit, offset=offset, external_ref=external_ref
        )


def list_shoppers(ctx: DispatchContext, *, limit: int, offset: int) -> Page[Shopper]:
    with ctx.unit_of_work() as uow:
        return uow.shoppers.page(limit=limit, offset=offset)


def shoppers_named(ctx: DispatchContext, *, prefix: str, limit: int = 20) -> Sequence[Shopper]:
    """Shoppers whose name starts with `prefix` (any case): finding one by name."""
    with ctx.unit_of_work() as uow:
        return uow.shoppers.named(prefix.strip(), limit=limit)


def shopper_names(ctx: DispatchContext, shopper_ids: Collection[UUID | None]) -> Mapping[UUID, str]:
    """The display names of the shoppers a page mentions, in one read; unknown ids are left out."""
    wanted = {shopper_id for shopper_id in shopper_ids if shopper_id is not None}
    if not wanted:
        return {}
    with ctx.unit_of_work() as uow:
        return {shopper_id: shopper.display_name for shopper_id, shopper in uow.shoppers.get_many(wanted).items()}


def order_references(ctx: DispatchContext, order_ids: Collection[UUID | None]) -> Mapping[UUID, str]:
    """The external references of the orders a page mentions, in one read; unknown ids are left out."""
    wanted = {order_id for order_id in order_ids if order_id is not None}
    if not wanted:
        return {}
    with ctx.unit_of_work() as uow:
        return uow.orders.references(wanted)


def get_order(ctx: DispatchContext, *, order_id: UUID) -> Order:
    with ctx.unit_of_work() as uow:
        return uow.orders.get(order_id)


def list_trips(
    ctx: DispatchContext,
    *,
    store_id: UUID | None,
    shopper_id: UUID | None,
    statuses: Sequence[TripStatus] | None,
    limit: int,
    offset: int,
) -> Page[Trip]:
    with ctx.unit_of_work() as uow:
        return uow.trips.page(store_id=store_id, shopper_id=shopper_id, statuses=statuses, limit=limit, offset=offset)


def list_offers(
    ctx: DispatchContext, *, store_id: UUID | None, statuses: Sequence[OfferStatus] | None, limit: int, offset: int
) -> Page[Offer]:
    with ctx.unit_of_work() as uow:
        return uow.offers.page(store_id=store_id, statuses=statuses, limit=limit, offset=offset)


def get_store(ctx: DispatchContext, *, store_id: UUID) -> Store:
    with ctx.unit_of_work() as uow:
        return uow.stores.get(store_id)


def orders_on_trip(ctx: DispatchContext, *, trip_id: UUID) -> Sequence[Order]:
    """The orders a trip accepted to carry (whatever became of them since), in stop order."""
    with ctx.unit_of_work() as uow:
        return uow.orders.on_trips([trip_id])[trip_id]


def list_stores(ctx: DispatchContext) -> Sequence[Store]:
    with ctx.unit_of_work() as uow:
        return uow.stores.list()


def store_names(ctx: DispatchContext, store_ids: Collection[UUID]) -> Mapping[UUID, str]:
    """The names of the stores a page mentions (a handful: a read each); unknown ids are left out."""
    found: dict[UUID, str] = {}
    with ctx.unit_of_work() as uow:
        for store_id in store_ids:
            try:
                found[store_id] = uow.stores.get(store_id).name
            except NotFound:
                continue
    return found


def stores_page(ctx: DispatchContext, *, limit: int, offset: int) -> Page[Store]:
    with ctx.unit_of_work() as uow:
        return uow.stores.page(limit=limit, offset=offset)


def store_summary(ctx: DispatchContext, *, store_id: UUID, now: datetime | None = None) -> tuple[StoreSummary, int]:
    """The store's orders by status, open trips and offers, orders past deadline; and how many of its active
    shoppers have a live position in Redis."""
    with ctx.unit_of_work() as uow:
        uow.stores.get(store_id)
        summary = uow.orders.summary(store_id, now or ctx.clock.now())
        active = uow.trips.list_for_store(store_id, [TripStatus.OPEN, TripStatus.DEPARTED])
    live = ctx.live.live_among([trip.shopper_id for trip in active]) if ctx.live else 0
    return summary, live


def shopper_history(
    ctx: DispatchContext, *, shopper_id: UUID, limit: int, offset: int
) -> Page[tuple[Trip, list[StopView]]]:
    """The shopper's trips, newest first, with the orders they accepted; addresses only while still en route
    with them. An order that came back to the store and went on with someone else shows as returned here."""
    with ctx.unit_of_work() as uow:
        trips = uow.trips.page(store_id=None, shopper_id=shopper_id, statuses=None, limit=limit, offset=offset)
        carried = uow.orders.on_trips([trip.id for trip in trips.items])
        accepted = [(trip, carried[trip.id]) for trip in trips.items]
        carrying = uow.orders.carrying_trips({order.id for _, orders in accepted for order in orders})
    items = [
        (trip, [stop_on_trip(order, carried_here=carrying.get(order.id) == trip.id) for order in orders])
        for trip, orders in accepted
    ]
    return Page(items, trips.total)
