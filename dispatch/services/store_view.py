"""A store as operations watch it live: its waiting orders, its open trips with their shoppers' live
positions and the routes of what they carry, its open offers and the orders handed to the courier fleet."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crowdship.pages import Page
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip, TripStatus
from dispatch.repositories import StoreSummary
from dispatch.services.context import DispatchContext
from routing.geo import GeoPoint

MAX_LISTED = 100
"""Each list of the view shows at most this many rows (with the total), newest first."""


@dataclass(frozen=True)
class TripOnMap:
    trip: Trip
    shopper: Shopper
    position: GeoPoint | None
    """The shopper's live position, when live state has one."""
    stops: tuple[Order, ...]
    """What the trip accepted to carry, in visiting order: its route is store, stops, destination."""


@dataclass(frozen=True)
class StoreLiveView:
    store: Store
    summary: StoreSummary
    waiting: Page[Order]
    """Pending and returned orders."""
    offered: Page[Order]
    """Orders in an open offer."""
    trips: Page[TripOnMap]
    """Open and departed trips."""
    open_offers: Page[Offer]
    fallbacks: Page[Order]


def store_live_view(ctx: DispatchContext, *, store_id: UUID) -> StoreLiveView:
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        store = uow.stores.get(store_id)
        summary = uow.orders.summary(store_id, now)
        waiting = uow.orders.page(
            store_id=store_id, statuses=[OrderStatus.PENDING, OrderStatus.RETURNED], limit=MAX_LISTED, offset=0
        )
        trips = uow.trips.page(
            store_id=store_id,
            shopper_id=None,
            statuses=[TripStatus.OPEN, TripStatus.DEPARTED],
            limit=MAX_LISTED,
            offset=0,
        )
        stops = uow.orders.on_trips([trip.id for trip in trips.items])
        shoppers = uow.shoppers.get_many({trip.shopper_id for trip in trips.items})
        offered = uow.orders.page(store_id=store_id, statuses=[OrderStatus.OFFERED], limit=MAX_LISTED, offset=0)
        offers = uow.offers.page(store_id=store_id, statuses=[OfferStatus.OPEN], limit=MAX_LISTED, offset=0)
        fallbacks = uow.orders.page(store_id=store_id, statuses=[OrderStatus.FALLBACK], limit=MAX_LISTED, offset=0)
    positions = ctx.live.positions([trip.shopper_id for trip in trips.items]) if ctx.live is not None else {}
    return StoreLiveView(
        store=store,
        summary=summary,
        waiting=Page(tuple(waiting.items), waiting.total),
        offered=Page(tuple(offered.items), offered.total),
        trips=Page(
            tuple(
                TripOnMap(trip, shoppers[trip.shopper_id], positions.get(trip.shopper_id), tuple(stops[trip.id]))
                for trip in trips.items
            ),
            trips.total,
        ),
        open_offers=Page(tuple(offers.items), offers.total),
        fallbacks=Page(tuple(fallbacks.items), fallbacks.total),
    )
