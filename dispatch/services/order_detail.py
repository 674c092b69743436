"""An order as operations look into it: what happened to it and when, its offers, its delivery attempts
with their proof, its incidents, and why it waits without an offer when it does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from dispatch.batching import TripCandidate
from dispatch.history import TimelineEntry, timeline
from dispatch.incidents import Incident
from dispatch.model import DeliveryProof, Offer, Order, OrderStatus, Store, Trip, TripStatus
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import barred_pairs
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


def order_detail(ctx: DispatchContext, *, order_id: UUID) -> OrderDetail:
    with ctx.unit_of_work() as uow:
        order = uow.orders.get(order_id)
        offers = tuple(uow.offers.for_order(order_id))
        proofs = tuple(uow.proofs.list_for_order(order_id))
        incidents = tuple(uow.incidents.list_for_order(order_id))
        events = uow.history.for_order(order_id)
        waits = order.status in (OrderStatus.PENDING, OrderStatus.RETURNED)
        waiting = _waiting_for(ctx, uow, order) if waits else None
        carrying = uow.orders.carrying_trips([order_id]).get(order_id)
        carrier = _carrier(uow, carrying) if carrying is not None else None
        trip_shoppers = uow.trips.shoppers_of({offer.trip_id for offer in offers})
    unassigned = None if waiting is None else _why_unassigned(ctx, order, waiting)
    return OrderDetail(
        order=order,
        timeline=tuple(timeline(order, events, offers, proofs, incidents)),
        offers=offers,
        proofs=proofs,
        incidents=incidents,
        unassigned=unassigned,
        carrying_trip_id=carrying,
        carrier=carrier,
        trip_shoppers=trip_shoppers,
    )


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


def _waiting_for(ctx: DispatchContext, uow: LiveUnitOfWork, order: Order) -> _WaitingFor:
    store = uow.stores.get(order.store_id)
    trips = uow.trips.list_for_store(store.id, [TripStatus.OPEN])[:MAX_TRIPS_EXPLAINED]
    busy = uow.offers.busy_trips([trip.id for trip in trips]) if trips else set()
    shoppers = uow.shoppers.get_many({trip.shopper_id for trip in trips}) if trips else {}
    barred = barred_pairs(
        uow.offers.pair_offers([order.id]),
        ctx.clock.now(),
        reoffer_after=ctx.config.batch.reoffer_after,
        max_offers=ctx.config.batch.max_offers_per_pair,
    )
    candidates = [TripCandidate(trip, shoppers[trip.shopper_id], trip.capacity_bags) for trip in trips]
    return _WaitingFor(store, candidates, set(busy), barred)


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
        capped_trips={trip_id for trip_id, each in terms.items() if each is not None and each.room == 0},
    )
