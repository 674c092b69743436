"""Why an offer and why no offer: what a shopper and an operator may ask about a batch. Plain functions.

An offer's breakdown: its detour (metres and seconds), its stops, its reward by component in cents (the
published policy's terms when one is in force, else the compensation rule's), what the matcher priced it at,
and the best alternative it beat: the cheapest other trip of the batch that could have carried the same
stops in the same order, priced by that trip's own rule, or "none"; and when to leave the store, if later than
now, for a route whose windows open later (`leave_after`), and at the latest, if sooner than the trip's
leave-by, for a route whose windows close sooner (`leave_before`).

An order left pending carries the matcher's reason code (`dispatch.matching.UnassignedReason`, the codes of
`crowdship match`); an order whose assignment the batch's own checks dropped, or that the batch kept from every
trip before the matcher saw it, carries the code of that rule.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from dispatch.batch_offers import DroppedAssignment, route_metrics
from dispatch.batching import (
    ROUTE_TOLERANCE,
    BatchParameters,
    TripCandidate,
    answer_minutes,
    compensation_components,
    detour_limit_km,
    reachable_by_leave_by,
)
from dispatch.matching import UnassignedReason, parse_problem
from dispatch.matching.instance import build_instance
from dispatch.matching.reward_rule import RewardTerms, reward_components
from dispatch.model import OFFER_ENDED_REASONS, Offer, OfferStatus, Order, Store, Trip
from dispatch.rules import refusal_reason, value_cap

DROPPED_REASONS: Mapping[str, UnassignedReason] = {
    "detour": UnassignedReason.NO_TRIP_WITHIN_DETOUR,
    "window": UnassignedReason.WINDOW,
    "leave_by": UnassignedReason.WINDOW,
    "capacity": UnassignedReason.CAPACITY,
    "identity": UnassignedReason.ID_CHECK,
    "trust_tier": UnassignedReason.VALUE_LIMIT,
}
"""The batch's own re-check (`batching._assignment_problem`, `_route_problem`) in the matcher's codes."""


def offer_breakdown(
    offer: Offer,
    orders: Mapping[UUID, Order],
    terms: RewardTerms | None,
    parameters: BatchParameters,
    *,
    matcher_cost: float | None,
    alternative: Mapping[str, Any] | str,
    leave_after: datetime | None = None,
    leave_before: datetime | None = None,
) -> dict[str, Any]:
    bags = [orders[order_id].size_bags for order_id in offer.stops]
    reward = (
        compensation_components(parameters, len(bags), offer.extra_distance_m)
        if terms is None
        else reward_components(terms, bags, offer.extra_distance_m, offer.extra_duration_s)
    )
    return {
        "detour_m": offer.extra_distance_m,
        "detour_s": offer.extra_duration_s,
        "stops": len(offer.stops),
        "priced_by": "compensation_rule" if terms is None else "reward_policy",
        "reward_cents": reward,
        "matcher_cost_cents": None if matcher_cost is None else round(matcher_cost),
        "best_alternative": alternative,
        "leave_after": None if leave_after is None else leave_after.isoformat(),
        "leave_before": None if leave_before is None else leave_before.isoformat(),
    }


def leave_after(
    store: Store, trip: Trip, stops: Sequence[Order], now: datetime, parameters: BatchParameters
) -> datetime | None:
    """The earliest the shopper may leave the store and reach every stop of this route inside its window (no
    waiting at a door, `batching._route_problem`'s rule); None when leaving within the minute does. An offer
    must say it: its route may have been made for a shopper who stays in the store until a later window opens."""
    arrivals = route_metrics(store, trip, stops, parameters).arrival_minutes
    opens = [(order.window_earliest - now).total_seconds() / 60.0 for order in stops]
    wait = max(opening - arrival for opening, arrival in zip(opens, arrivals, strict=True))
    return now + timedelta(minutes=wait) if wait >= 1.0 else None


def leave_before(
    store: Store, trip: Trip, stops: Sequence[Order], now: datetime, parameters: BatchParameters
) -> datetime | None:
    """The latest the shopper may leave the store and still reach every stop of this route inside its window
    (to the second, rounded down); None when that is no sooner than the trip's leave-by, the limit then. An
    offer must say it: a shopper who may stay an hour would otherwise leave at their leave-by and arrive after
    a window that closes sooner."""
    arrivals = route_metrics(store, trip, stops, parameters).arrival_minutes
    latest = min(
        (order.window_latest - now).total_seconds() - arrival * 60.0
        for order, arrival in zip(stops, arrivals, strict=True)
    )
    departure = now + timedelta(seconds=math.floor(latest))
    return departure if departure < trip.leave_by else None


def latest_departure(offer: Offer) -> datetime | None:
    """When a shopper who accepted `offer` must leave the store at the latest to reach every stop inside its
    window: what its breakdown says (`leave_before`); None when it says nothing sooner than the trip's leave-by
    (or has no breakdown). The simulator's and the replay's shoppers leave by then, as the app tells a real one."""
    said = None if offer.breakdown is None else offer.breakdown.get("leave_before")
    return None if said is None else datetime.fromisoformat(said)


def best_alternatives(problem: Mapping[str, Any], offers: Sequence[Offer]) -> dict[UUID, dict[str, Any] | str]:
    """Per offer, the cheapest other trip of the problem that could have carried its stops, or "none"; and
    whether that trip got another offer of this batch (then it may be the cheaper one here: it was worth more
    where the matcher put it)."""
    if not offers:
        return {}
    offered_trips = {str(offer.trip_id) for offer in offers}
    instance = build_instance(parse_problem(problem))
    order_index = {order.id: index for index, order in enumerate(instance.problem.orders)}
    trip_ids = [trip.id for trip in instance.problem.trips]
    found: dict[UUID, dict[str, Any] | str] = {}
    for offer in offers:
        stops = [order_index.get(str(order_id)) for order_id in offer.stops]
        best: tuple[float, str] | None = None
        if all(stop is not None for stop in stops):
            known = [stop for stop in stops if stop is not None]
            for trip, trip_id in enumerate(trip_ids):
                if trip_id == str(offer.trip_id):
                    continue
                route = instance.trip_route(trip, known)
                if route is not None and (best is None or route.compensation < best[0]):
                    best = (route.compensation, trip_id)
        found[offer.id] = (
            "none"
            if best is None
            else {
                "trip_id": best[1],
                "cost_cents": round(best[0]),
                "carries_another_offer": best[1] in offered_trips,
            }
        )
    return found


def pending_reasons(
    pending: Collection[UUID],
    solution: Mapping[str, Any] | None,
    dropped: Sequence[DroppedAssignment],
    unwritten: Collection[UUID] = (),
) -> dict[UUID, str]:
    """The reason code of every order the batch leaves pending, the matcher's or the batch's own check's; an
    order of an offer the batch made but could not write (`unwritten`: its trip or bundle changed meanwhile)
    says so (`CHANGED_BEFORE_OFFERED`), not what an earlier batch said of it."""
    given = {} if solution is None else dict(solution.get("unassigned", {}))
    for assignment in dropped:
        code = DROPPED_REASONS.get(assignment.reason, UnassignedReason.NOT_A_CANDIDATE)
        for order_id in assignment.order_ids:
            given.setdefault(order_id, str(code))
    for unwritten_id in unwritten:
        given.setdefault(str(unwritten_id), CHANGED_BEFORE_OFFERED)
    return {order_id: str(given[str(order_id)]) for order_id in sorted(pending, key=str) if str(order_id) in given}


OUTSIDE_SERVICE_AREA = "outside_service_area"
"""The batch's own code: the drop-off lies outside the store's service area as it is drawn now (it was
redrawn after the order was taken in), so no batch considers the order; operations decide."""

SHOPPERS_AT_THEIR_CAPS = "shoppers_at_their_caps"
"""The batch's own code: every trip that may carry the order is a shopper's who can earn nothing more today
or this week (the policy's caps), and the batch offers them nothing, since it would pay nothing."""

SHOPPERS_DROPPED_OUT = "shoppers_dropped_out"
"""The batch's own code: every trip that may carry the order is a shopper's who dropped out of too many accepted
orders lately (`dispatch.rules.offers_resume_at`), and the batch offers them nothing until the window lets them
(or the others of those trips can earn nothing more, `SHOPPERS_AT_THEIR_CAPS`)."""

WAITING_FOR_A_LATER_TRIP = "waiting_for_a_later_trip"
"""The batch's own code: leaving the order was cheaper than any route because a later shopper is likely to
take it (its waiting cost, `dispatch.prospects`, is below the fallback fee)."""


CHANGED_BEFORE_OFFERED = "changed_before_offered"
"""The batch's own code: the matcher gave the order to a trip, but before the offer was written the trip
changed (it left, was cancelled or took another batch's offer) or so did another order of the bundle
(cancelled, or offered by another batch), so no offer was made; the next batch tries again."""


BATCH_REASON_TEXT: Mapping[str, str] = {
    OFFER_ENDED_REASONS[OfferStatus.DECLINED]: "the shopper it was offered to declined it: the next batch tries again",
    OFFER_ENDED_REASONS[OfferStatus.EXPIRED]: (
        "the shopper it was offered to did not answer in time: the next batch tries again"
    ),
    OFFER_ENDED_REASONS[OfferStatus.WITHDRAWN]: (
        "its offer was withdrawn (the trip ended, or another order of the bundle was cancelled): "
        "the next batch tries again"
    ),
    OUTSIDE_SERVICE_AREA: "its drop-off lies outside the store's service area as it is drawn now",
    SHOPPERS_AT_THEIR_CAPS: "the only shoppers who may carry it can earn nothing more today or this week",
    SHOPPERS_DROPPED_OUT: (
        "the only shoppers who may carry it dropped out of too many accepted orders lately: "
        "they are offered nothing for now"
    ),
    WAITING_FOR_A_LATER_TRIP: "a later shopper is likely to take it for less than any route now",
    CHANGED_BEFORE_OFFERED: (
        "matched to a shopper, but their trip or the rest of the bundle changed before the offer was made: "
        "the next batch tries again"
    ),
}
"""The batch's own codes in words, as `dispatch.matching.REASON_TEXT` says the matcher's, and those an order says
between its offer's end and the next batch (`dispatch.model.OFFER_ENDED_REASONS`)."""


def waiting_reasons(
    reasons: Mapping[UUID, str], waiting_costs: Mapping[UUID, float], fallback: float
) -> dict[UUID, str]:
    """`reasons` with "better left for the fallback" said as what it means under prospects: waiting."""
    return {
        order_id: WAITING_FOR_A_LATER_TRIP
        if reason == UnassignedReason.BETTER_LEFT_FOR_FALLBACK and waiting_costs.get(order_id, fallback) < fallback
        else reason
        for order_id, reason in reasons.items()
    }


def withheld_reasons(
    reasons: Mapping[UUID, str],
    *,
    store: Store,
    orders: Sequence[Order],
    trips: Sequence[TripCandidate],
    excluded: Collection[tuple[UUID, UUID]],
    now: datetime,
    parameters: BatchParameters,
    capped: Collection[UUID] = (),
    held_back: Collection[UUID] = (),
) -> dict[UUID, str]:
    """`reasons` with "not a candidate" said as the rule that kept the order from every trip when the batch
    kept it itself: the matcher never saw those pairs (a trip with no order it may carry is not even in its
    problem), so it cannot tell. As the matcher does (`matching.answer.unassigned_reasons`), the first rule
    in its order (detour, capacity, window, identity, value) that leaves no trip is the code; the window
    includes the batch's leave-by (`batching.reachable_by_leave_by`). Trips kept from the order for a reason
    with no code (offered it before, the shopper's own address) are not counted: with no other trip the
    order stays "not a candidate". When the trips that pass every rule are all `capped` (their shoppers can
    earn nothing more: the batch left them out), the code is `SHOPPERS_AT_THEIR_CAPS`; when they are all `capped`
    or `held_back` (their shoppers dropped out too often lately), some held back, `SHOPPERS_DROPPED_OUT`."""
    by_id = {order.id: order for order in orders}
    told = dict(reasons)
    for order_id, reason in reasons.items():
        found = by_id.get(order_id)
        if reason != UnassignedReason.NOT_A_CANDIDATE or found is None:
            continue
        alive = [each for each in trips if not _kept_without_a_code(each, found, excluded, parameters)]
        if not alive:
            continue
        for rule in WITHHOLDING_RULES:
            alive = [each for each in alive if _passes(rule, store, each, found, now, parameters)]
            if not alive:
                told[order_id] = str(rule)
                break
        if alive and all(each.trip.id in capped or each.trip.id in held_back for each in alive):
            only_capped = all(each.trip.id in capped for each in alive)
            told[order_id] = SHOPPERS_AT_THEIR_CAPS if only_capped else SHOPPERS_DROPPED_OUT
    return told


def _kept_without_a_code(
    candidate: TripCandidate, order: Order, excluded: Collection[tuple[UUID, UUID]], parameters: BatchParameters
) -> bool:
    """Kept from the trip by a rule the matcher has no code for: offered to it before, or its own address."""
    if (candidate.trip.id, order.id) in excluded:
        return True
    refusal = refusal_reason(
        candidate.shopper, order, parameters.tier_value_caps_cents, parameters.own_address_radius_m
    )
    return refusal == "own_address"


WITHHOLDING_RULES = (
    UnassignedReason.NO_TRIP_WITHIN_DETOUR,
    UnassignedReason.CAPACITY,
    UnassignedReason.WINDOW,
    UnassignedReason.ID_CHECK,
    UnassignedReason.VALUE_LIMIT,
)
"""The matcher's rules in the order it tries them (`matching.answer.unassigned_reasons`)."""


def _passes(
    rule: UnassignedReason, store: Store, each: TripCandidate, order: Order, now: datetime, parameters: BatchParameters
) -> bool:
    """Whether one trip passes one of `WITHHOLDING_RULES` for one order on its own."""
    if rule is UnassignedReason.CAPACITY:
        return order.size_bags <= each.remaining_capacity
    if rule is UnassignedReason.ID_CHECK:
        return not order.age_restricted or each.shopper.identity_verified
    if rule is UnassignedReason.VALUE_LIMIT:
        cap = value_cap(each.shopper.trust_tier, parameters.tier_value_caps_cents)
        return cap is None or order.value_cents <= cap
    metrics = route_metrics(store, each.trip, [order], parameters)
    if rule is UnassignedReason.NO_TRIP_WITHIN_DETOUR:
        limit = detour_limit_km(each.trip, parameters)
        return metrics.detour_km <= limit * (1 + ROUTE_TOLERANCE) + ROUTE_TOLERANCE
    latest = (order.window_latest - now).total_seconds() / 60.0
    arrival = answer_minutes(parameters) + metrics.arrival_minutes[0]  # left once the offer could be answered
    in_time = arrival <= latest * (1 + ROUTE_TOLERANCE) + ROUTE_TOLERANCE
    return in_time and reachable_by_leave_by(store, each.trip, order, now, parameters)
