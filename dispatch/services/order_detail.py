"""An order as operations look into it: what happened to it and when, its offers, its delivery attempts
with their proof, its incidents, and why it waits without an offer when it does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from crowdship.pages import Page, check_page
from dispatch.batching import TripCandidate
from dispatch.evidence import DeliveryProof
from dispatch.history import OrderEvent, TimelineEntry, timeline
from dispatch.incidents import Incident
from dispatch.model import Offer, Order, OrderStatus, Store, Trip, TripStatus
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import barred_pairs
from dispatch.services.batch_inputs import held_back_trips
from dispatch.services.context import DispatchContext
from dispatch.unassigned import Unassigned, why_unassigned

MAX_TRIPS_EXPLAINED = 50
"""The unassigned explanation looks at this many of the store's open trips (the oldest first)."""


@dataclass(frozen=True)
class Carrier:
    """The trip that carries the order (or carried it last), with its shopper: a person names them."""

    trip: Trip
    shopper_name: str


@dataclass(frozen=True)
class Window:
    """A page of a list asked for: at most `limit` items after the first `offset`."""

    limit: int
    offset: int

    def __post_init__(self) -> None:
        check_page(self.limit, self.offset)


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    timeline: tuple[TimelineEntry, ...]
    offers: tuple[Offer, ...]
    proofs: tuple[DeliveryProof, ...]
    incidents: tuple[Incident, ...]
    unassigned: Unassigned | None
    """Why it waits, when it is pending or returned."""
    carrying_trip_id: UUID | None
    carrier: Carrier | None = None
    trip_shoppers: Mapping[UUID, UUID] = field(default_factory=dict)
    """The shopper of each trip its offers went to, for a page to name them."""
    history_total: int | None = None
    """How many status changes the order has, when `timeline` is one page of them (else None: all of it)."""
    history_shown: int = 0
    """How many of them this page of `timeline` tells (its lines are fewer or more: some say two at once)."""
    offers_total: int | None = None
    """How many offers the order was in, when `offers` is one page of them (else None: all of them)."""


def order_detail(
    ctx: DispatchContext, *, order_id: UUID, history: Window | None = None, offers: Window | None = None
) -> OrderDetail:
    """The order with all of its past, or, given windows, one page of its history (its status changes, with
    what else happened between the first of them and the first of the next page) and one page of its offers:
    an order re-offered a thousand times reads as little as any other."""
    with ctx.unit_of_work() as uow:
        order = uow.orders.get(order_id)
        listed = _offers(uow, order_id, offers)
        proofs = tuple(uow.proofs.list_for_order(order_id))
        incidents = tuple(uow.incidents.list_for_order(order_id))
        if history is None:
            events: Sequence[OrderEvent] = uow.history.for_order(order_id)
            told, history_total, since, until = listed.items, None, None, None
        else:
            # one event more than the page: the instant the next page starts at ends this one's window
            read = uow.history.page_for_order(order_id, limit=history.limit + 1, offset=history.offset)
            events, history_total = read.items[: history.limit], read.total
            since = events[0].at if history.offset > 0 and events else None
            until = read.items[history.limit].at if len(read.items) > history.limit else None
            beyond = history.offset > 0 and not events
            told = () if beyond else uow.offers.for_order_within(order_id, since=since, until=until)
        waits = order.status in (OrderStatus.PENDING, OrderStatus.RETURNED)
        waiting = _waiting_for(ctx, uow, order) if waits else None
        carrying = uow.orders.carrying_trips([order_id]).get(order_id)
        carrier = _carrier(uow, carrying) if carrying is not None else None
        trip_shoppers = uow.trips.shoppers_of({offer.trip_id for offer in (*listed.items, *told)})
    unassigned = None if waiting is None else _why_unassigned(ctx, order, waiting)
    entries = timeline(order, events, told, proofs, incidents)
    if history is not None:
        entries = [] if history.offset > 0 and not events else [e for e in entries if _within(e.at, since, until)]
    return OrderDetail(
        order=order,
        timeline=tuple(entries),
        offers=tuple(listed.items),
        proofs=proofs,
        incidents=incidents,
        unassigned=unassigned,
        carrying_trip_id=carrying,
        carrier=carrier,
        trip_shoppers=trip_shoppers,
        history_total=history_total,
        history_shown=len(events),
        offers_total=None if offers is None else listed.total,
    )


def _offers(uow: LiveUnitOfWork, order_id: UUID, window: Window | None) -> Page[Offer]:
    if window is None:
        everything = tuple(uow.offers.for_order(order_id))
        return Page(everything, len(everything))
    return uow.offers.page_for_order(order_id, limit=window.limit, offset=window.offset)


def _within(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


def _carrier(uow: LiveUnitOfWork, trip_id: UUID) -> Carrier:
    trip = uow.trips.get(trip_id)
    return Carrier(trip, uow.shoppers.get(trip.shopper_id).display_name)


@dataclass(frozen=True)
class _WaitingFor:
    """What explaining a waiting order reads in the order's unit of work."""

    store: Store
    trips: list[TripCandidate]
    busy: set[UUID]
    barred: set[tuple[UUID, UUID]]
    held_back: set[UUID]


def _waiting_for(ctx: DispatchContext, uow: LiveUnitOfWork, order: Order) -> _WaitingFor:
    store = uow.stores.get(order.store_id)
    trips = uow.trips.list_for_store(store.id, [TripStatus.OPEN])[:MAX_TRIPS_EXPLAINED]
    busy = uow.offers.busy_trips([trip.id for trip in trips]) if trips else set()
    shoppers = uow.shoppers.get_many({trip.shopper_id for trip in trips}) if trips else {}
    now = ctx.clock.now()
    barred = barred_pairs(
        uow.offers.pair_offers([order.id]),
        now,
        reoffer_after=ctx.config.batch.reoffer_after,
        max_offers=ctx.config.batch.max_offers_per_pair,
        trip_shoppers={trip.id: trip.shopper_id for trip in trips},
    )
    candidates = [TripCandidate(trip, shoppers[trip.shopper_id], trip.capacity_bags) for trip in trips]
    held = held_back_trips(uow, candidates, now, ctx.config.batch)
    return _WaitingFor(store, candidates, set(busy), barred, held)


def _why_unassigned(ctx: DispatchContext, order: Order, waiting: _WaitingFor) -> Unassigned | None:
    """Why the order waits; asks the reward policy (in a transaction of its own, after the order's) which
    shoppers are at their caps, whom batches offer nothing."""
    now = ctx.clock.now()
    trips = waiting.trips
    pricer = ctx.route_pricer if order.status is OrderStatus.PENDING and trips else None
    terms = {} if pricer is None else pricer([(each.trip, each.shopper) for each in trips], now)
    return why_unassigned(
        order=order,
        store=waiting.store,
        trips=trips,
        busy_trips=waiting.busy,
        barred_pairs=waiting.barred,
        now=now,
        parameters=ctx.config.batch,
        held_back_trips=waiting.held_back,
        capped_trips={trip_id for trip_id, each in terms.items() if each is not None and each.room == 0},
    )
