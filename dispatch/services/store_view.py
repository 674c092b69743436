"""A store as operations watch it live: the orders that failed on the road and need their bags taken back,
its waiting orders, its open trips with their shoppers' live positions and the routes of what they still carry,
its open offers and the orders handed to the courier fleet."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crowdship.pages import Page
from dispatch.model import (
    STILL_CARRIED,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shopper,
    Store,
    Trip,
    TripStatus,
)
from dispatch.repositories import LiveOrderRepository, StoreSummary
from dispatch.services.context import DispatchContext
from routing.geo import GeoPoint

MAX_LISTED = 100
"""Each list of the view shows at most this many rows (with the total), newest first."""

WAITING = (OrderStatus.PENDING, OrderStatus.RETURNED)
"""In the store, waiting for a shopper (or for operations to requeue or hand on a returned one)."""
NEEDS_ACTION = (OrderStatus.FAILED,)
"""Failed on the road: nothing moves it on until operations take its bags back into the store (then requeue
it, hand it to the courier fleet or cancel it); its trip may be over already, so no other list shows it."""


@dataclass(frozen=True)
class TripOnMap:
    trip: Trip
    shopper: Shopper
    position: GeoPoint | None
    """The shopper's live position, when live state has one."""
    stops: tuple[Order, ...]
    """What the trip still has to take to the door, in visiting order: its route is store, stops, destination.
    An order it delivered, that failed or was cancelled, or that went on with another trip is not among them."""


@dataclass(frozen=True)
class StoreLiveView:
    store: Store
    summary: StoreSummary
    needs_action: Page[Order]
    """Failed orders whose bags are still to be taken back (`NEEDS_ACTION`)."""
    waiting: Page[Order]
    """Pending and returned orders (`WAITING`)."""
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
        needs_action = uow.orders.page(store_id=store_id, statuses=list(NEEDS_ACTION), limit=MAX_LISTED, offset=0)
        waiting = uow.orders.page(store_id=store_id, statuses=list(WAITING), limit=MAX_LISTED, offset=0)
        trips = uow.trips.page(
            store_id=store_id,
            shopper_id=None,
            statuses=[TripStatus.OPEN, TripStatus.DEPARTED],
            limit=MAX_LISTED,
            offset=0,
        )
        stops = _still_carried(uow.orders, [trip.id for trip in trips.items])
        shoppers = uow.shoppers.get_many({trip.shopper_id for trip in trips.items})
        offered = uow.orders.page(store_id=store_id, statuses=[OrderStatus.OFFERED], limit=MAX_LISTED, offset=0)
        offers = uow.offers.page(store_id=store_id, statuses=[OfferStatus.OPEN], limit=MAX_LISTED, offset=0)
        fallbacks = uow.orders.page(store_id=store_id, statuses=[OrderStatus.FALLBACK], limit=MAX_LISTED, offset=0)
    positions = ctx.live.positions([trip.shopper_id for trip in trips.items]) if ctx.live is not None else {}
    return StoreLiveView(
        store=store,
        summary=summary,
        needs_action=Page(tuple(needs_action.items), needs_action.total),
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


def _still_carried(orders: LiveOrderRepository, trip_ids: list[UUID]) -> dict[UUID, list[Order]]:
    """Per trip, the orders it still carries: accepted or picked up, and by this trip, not by a later one that
    accepted the order after it failed here and was requeued."""
    carried = orders.on_trips(trip_ids, sorted(STILL_CARRIED))
    carriers = orders.carrying_trips({order.id for listed in carried.values() for order in listed})
    return {
        trip_id: [order for order in listed if carriers.get(order.id) == trip_id] for trip_id, listed in carried.items()
    }
