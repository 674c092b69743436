"""One store's batch, in and out of the matcher's problem format. Plain functions, no I/O.

`build_match_problem` turns the store's pending orders and open trips into the `crowdship-match/1` problem
(haversine, km, minutes from the batch start); `dispatch.batch_offers` reads the matcher's answer back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from crowdship.units import Cents, divide_half_up
from dispatch.matching.reward_rule import RewardTerms, reward_terms_to_json
from dispatch.model import Order, Shopper, Store, Trip
from dispatch.rules import DropOutLimit, refusal_reason, value_cap
from routing.distance import haversine_matrix
from routing.geo import GeoPoint

ROUTE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class BatchParameters:
    road_factor: float
    speed_km_per_min: float
    max_bundle_orders: int
    tier_value_caps_cents: Mapping[int, int | None]
    own_address_radius_m: float
    compensation_cents_per_km: int
    compensation_minimum_cents: int
    offer_ttl: timedelta
    reoffer_after: timedelta = timedelta(minutes=5)
    """An order whose offer to a trip expired unanswered may go to that trip again this long after."""
    max_offers_per_pair: int = 3
    drop_outs: DropOutLimit = field(default_factory=DropOutLimit)
    """Drop-outs (accepted, then left before pickup) after which a shopper is offered nothing for a while."""


@dataclass(frozen=True)
class TripCandidate:
    """An open trip that can take an offer now, with who drives it and how many bags still fit."""

    trip: Trip
    shopper: Shopper
    remaining_capacity: int


@dataclass(frozen=True)
class QuoteRequest:
    """What a reward quote is computed from."""

    trip: Trip
    shopper: Shopper
    orders: tuple[Order, ...]
    extra_distance_m: int
    extra_duration_s: int
    at: datetime


RewardQuote = Callable[[QuoteRequest], Cents]

RoutePricer = Callable[[Sequence[tuple[Trip, Shopper]], datetime], dict[UUID, RewardTerms | None]]
"""The terms of the reward policy in force at the instant for each trip's shopper (tier, payment method,
what is left under the caps), by trip id, which the matcher prices every candidate route with (its `reward`
rule), so that the offer's quote is the matcher's cost. Asked once per batch for all its trips. None where no
policy is in force: the compensation rule then prices both. Implemented by rewards, wired by the composition
root."""


def compensation_components(parameters: BatchParameters, stops: int, extra_m: int) -> dict[str, int]:
    """The matcher's own price of a route (no policy in force), by the same components as a policy's: the
    larger of the minimum per order and the rate per extra km."""
    distance = divide_half_up(parameters.compensation_cents_per_km * extra_m, 1000)
    total = max(distance, parameters.compensation_minimum_cents * stops)
    return {"distance": distance, "minimum": total - distance, "total": total}


def compensation_quote(parameters: BatchParameters) -> RewardQuote:
    def quote(request: QuoteRequest) -> Cents:
        return Cents(compensation_components(parameters, len(request.orders), request.extra_distance_m)["total"])

    return quote


def _km(a: GeoPoint, b: GeoPoint) -> float:
    return float(haversine_matrix([[a.lat, a.lon]], [[b.lat, b.lon]])[0, 0])


def lat_lon(point: GeoPoint) -> list[float]:
    return [point.lat, point.lon]


def minutes_after(after: datetime, instant: datetime) -> float:
    return (instant - after).total_seconds() / 60.0


def detour_limit_km(trip: Trip, parameters: BatchParameters) -> float:
    """The tighter of the trip's detour limits, in road km."""
    limits = []
    if trip.max_detour_m is not None:
        limits.append(trip.max_detour_m / 1000.0)
    if trip.max_detour_s is not None:
        limits.append(trip.max_detour_s / 60.0 * parameters.speed_km_per_min)
    return min(limits)


def direct_km(store: Store, trip: Trip, parameters: BatchParameters) -> float:
    return _km(store.location, trip.destination) * parameters.road_factor


def eligible_orders(
    candidate: TripCandidate,
    orders: Sequence[Order],
    excluded: Collection[tuple[UUID, UUID]],
    parameters: BatchParameters,
) -> list[Order]:
    """Orders this trip may be offered: not offered to it before, and allowed for its shopper."""
    return [
        order
        for order in orders
        if (candidate.trip.id, order.id) not in excluded
        and order.size_bags <= candidate.remaining_capacity
        and refusal_reason(candidate.shopper, order, parameters.tier_value_caps_cents, parameters.own_address_radius_m)
        is None
    ]


def answer_minutes(parameters: BatchParameters) -> float:
    """The offer's time to answer, in minutes from the batch time: the earliest a route is planned to leave the
    store. A shopper may accept at the last second and leaves once they have accepted, so every stop must still
    be reached inside its window leaving then (leaving earlier, as soon as they accept, is planned as well: no
    stop closes sooner for it, and one that opens later says so as the offer's `leave_after`)."""
    return parameters.offer_ttl.total_seconds() / 60.0


def open_for_offers(trip: Trip, now: datetime, parameters: BatchParameters) -> bool:
    """Whether an offer made now could be answered in full before the trip's leave-by: a trip about to leave
    gets no offer it would have to accept on the doorstep (or could not accept at all)."""
    return trip.can_take_offers(now + parameters.offer_ttl)


def reachable_by_leave_by(store: Store, trip: Trip, order: Order, now: datetime, parameters: BatchParameters) -> bool:
    """Whether the order's window has opened by the time the shopper, leaving at their leave-by at the latest,
    gets there straight from the store: a window that opens later would keep them waiting at the door."""
    arrival = minutes_after(now, trip.leave_by) + _km(store.location, order.dropoff) * parameters.road_factor / (
        parameters.speed_km_per_min
    )
    return minutes_after(now, order.window_earliest) <= arrival * (1 + ROUTE_TOLERANCE) + ROUTE_TOLERANCE


def _compensation(terms: RewardTerms | None, parameters: BatchParameters) -> dict[str, Any]:
    if terms is not None:
        return reward_terms_to_json(terms)
    return {
        "rule": "detour",
        "rate": parameters.compensation_cents_per_km,
        "minimum": parameters.compensation_minimum_cents,
    }


def _waiting(waiting_costs: Mapping[UUID, float] | None, order_id: UUID) -> dict[str, float]:
    if waiting_costs is None or order_id not in waiting_costs:
        return {}
    return {"fallback_cost": round(float(waiting_costs[order_id]), 2)}


def build_match_problem(
    *,
    store: Store,
    orders: Sequence[Order],
    trips: Sequence[TripCandidate],
    excluded: Collection[tuple[UUID, UUID]],
    now: datetime,
    parameters: BatchParameters,
    terms: Mapping[UUID, RewardTerms | None] | None = None,
    waiting_costs: Mapping[UUID, float] | None = None,
) -> dict[str, Any]:
    """The batch as a `crowdship-match/1` problem; trips with no eligible order are left out, and so are trips
    whose shopper can earn nothing more today or this week (`terms` with no room under the caps): an offer
    that pays nothing is not one to make.

    Every trip is planned to leave once its offer may be answered in full (`depart`: the offer's time to
    answer, `answer_minutes`; windows count from the batch time) and never waits at a door (`wait_at_doors`
    false): a window that closes before a shopper who accepts at the last second could reach it is not met,
    and one that opens late is met by staying in the store and leaving later, as the offer's `leave_after`
    says and `batch_offers` checks. So the matcher plans no route the batch would cut,
    and the detour it prices (the quote) holds every minute the shopper spends on the road for it. An order
    whose window would open only after the trip could reach it leaving at its leave-by is no candidate for it.
    Routes are priced by the policy's `terms` of each trip when given. An order left out costs the store's
    fallback fee, or its `waiting_costs` entry (cents; `dispatch.prospects`).
    """
    problem_trips = []
    for candidate in trips:
        trip_terms = None if terms is None else terms.get(candidate.trip.id)
        if trip_terms is not None and trip_terms.room == 0:
            continue
        eligible = [
            order
            for order in eligible_orders(candidate, orders, excluded, parameters)
            if reachable_by_leave_by(store, candidate.trip, order, now, parameters)
        ]
        if not eligible:
            continue
        trip = candidate.trip
        cap = value_cap(candidate.shopper.trust_tier, parameters.tier_value_caps_cents)
        problem_trips.append(
            {
                "id": str(trip.id),
                "destination": lat_lon(trip.destination),
                "max_orders": parameters.max_bundle_orders,
                "capacity": candidate.remaining_capacity,
                "max_detour_ratio": None,
                "max_route": direct_km(store, trip, parameters) + detour_limit_km(trip, parameters),
                "depart": answer_minutes(parameters),
                "wait_at_doors": False,
                "id_verified": candidate.shopper.identity_verified,
                "value_limit_cents": cap,
                "compensation": _compensation(trip_terms, parameters),
                "candidates": None
                if len(eligible) == len(orders)
                else [{"order": str(order.id)} for order in eligible],
            }
        )
    return {
        "format": "crowdship-match/1",
        "metric": "haversine",
        "road_factor": parameters.road_factor,
        "speed": parameters.speed_km_per_min,
        "store": {"id": str(store.id), "location": lat_lon(store.location)},
        "orders": [
            {
                "id": str(order.id),
                "location": lat_lon(order.dropoff),
                "size": order.size_bags,
                "window": [
                    max(0.0, minutes_after(now, order.window_earliest)),
                    minutes_after(now, order.window_latest),
                ],
                "value_cents": order.value_cents,
                "requires_id_check": order.age_restricted,
                **_waiting(waiting_costs, order.id),
            }
            for order in orders
        ],
        "trips": problem_trips,
        "fleet": None,
        "fallback_cost": store.fallback_cost_cents,
    }


def past_deadline(orders: Sequence[Order], now: datetime) -> list[Order]:
    """Orders no shopper can make in time any more: the courier fleet takes them."""
    return [order for order in orders if order.dispatch_deadline <= now]
