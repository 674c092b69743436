"""Why an order waits without an offer: the same rules a batch applies, asked of one order against each open
trip of its store, so operations see 'no shopper verified for age-restricted orders' rather than guess.
Plain functions, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dispatch.batch_offers import route_metrics
from dispatch.batching import (
    BatchParameters,
    TripCandidate,
    answer_minutes,
    detour_limit_km,
    open_for_offers,
    reachable_by_leave_by,
)
from dispatch.model import Order, OrderStatus, Store
from dispatch.rules import refusal_reason
from routing.areas import covers

REASONS = {
    "offered before": (
        "was offered this order before (answered, just now unanswered, or too many times), or its shopper "
        "accepted it on another trip and dropped out"
    ),
    "dropped_out": "its shopper dropped out of too many accepted orders lately: offered nothing for now",
    "busy": "already has an open or accepted offer (one bundle per trip)",
    "cap": "its shopper can earn nothing more today or this week (the reward policy's cap)",
    "capacity": "has no room left for its bags",
    "trust_tier": "its shopper's trust tier may not carry an order of this value",
    "identity": "its shopper's identity is not verified (the order is age-restricted)",
    "own_address": "the drop-off is at its shopper's own address",
    "detour": "the detour to the drop-off is longer than the trip allows",
    "window": "would arrive after the delivery window (leaving once an offer made now could be answered)",
    "leave_by": "its shopper leaves before the delivery window opens (they would wait at the door)",
    "closed": "can no longer take offers (it leaves before an offer could be answered)",
}


@dataclass(frozen=True)
class TripVerdict:
    trip_id: UUID
    shopper_id: UUID
    shopper_name: str
    reason: str | None
    """A key of `REASONS`, or None when this trip could take the order alone."""

    @property
    def explanation(self) -> str:
        return "could take it" if self.reason is None else REASONS[self.reason]


@dataclass(frozen=True)
class Unassigned:
    summary: str
    trips: tuple[TripVerdict, ...] = ()


def why_unassigned(
    *,
    order: Order,
    store: Store,
    trips: Sequence[TripCandidate],
    busy_trips: Collection[UUID],
    barred_pairs: Collection[tuple[UUID, UUID]],
    now: datetime,
    parameters: BatchParameters,
    capped_trips: Collection[UUID] = (),
    held_back_trips: Collection[UUID] = (),
) -> Unassigned | None:
    """None unless the order waits (pending or returned); else the reason in one line and, per open trip, why
    it could not take the order alone (a bundle may still fail where each order alone would not).
    `capped_trips` are those whose shoppers can earn nothing more under the caps, `held_back_trips` those whose
    shoppers dropped out too often lately: batches offer them nothing."""
    if order.status is OrderStatus.RETURNED:
        return Unassigned("returned to the store: operations requeue it, cancel it or hand it to the courier fleet")
    if order.status is not OrderStatus.PENDING:
        return None
    if order.dispatch_deadline <= now:
        return Unassigned("past its dispatch deadline: the next batch hands it to the courier fleet")
    if not covers(store.service_area, order.dropoff):
        return Unassigned("its drop-off lies outside the store's service area: no batch considers it")
    if not trips:
        return Unassigned("no shopper is checked in at the store on an open trip")
    verdicts = tuple(
        TripVerdict(
            candidate.trip.id,
            candidate.shopper.id,
            candidate.shopper.display_name,
            _trip_reason(candidate, order, store, busy_trips, barred_pairs, now, parameters)
            or ("dropped_out" if candidate.trip.id in held_back_trips else None)
            or ("cap" if candidate.trip.id in capped_trips else None),
        )
        for candidate in trips
    )
    if any(verdict.reason is None for verdict in verdicts):
        return Unassigned("a checked-in trip could take it: waiting for the next batch", verdicts)
    return Unassigned("no open trip may take it now (see each trip's reason)", verdicts)


def _trip_reason(
    candidate: TripCandidate,
    order: Order,
    store: Store,
    busy_trips: Collection[UUID],
    barred_pairs: Collection[tuple[UUID, UUID]],
    now: datetime,
    parameters: BatchParameters,
) -> str | None:
    trip = candidate.trip
    if not open_for_offers(trip, now, parameters):
        return "closed"
    if (trip.id, order.id) in barred_pairs:
        return "offered before"
    if trip.id in busy_trips:
        return "busy"
    if order.size_bags > candidate.remaining_capacity:
        return "capacity"
    refusal = refusal_reason(
        candidate.shopper, order, parameters.tier_value_caps_cents, parameters.own_address_radius_m
    )
    if refusal is not None:
        return refusal
    metrics = route_metrics(store, trip, [order], parameters)
    if metrics.detour_km > detour_limit_km(trip, parameters):
        return "detour"
    if answer_minutes(parameters) + metrics.arrival_minutes[0] > (order.window_latest - now).total_seconds() / 60.0:
        return "window"  # leaving once the offer could be answered in full (`batching.answer_minutes`)
    if not reachable_by_leave_by(store, trip, order, now, parameters):  # the batch's own candidate rule
        return "leave_by"
    return None
