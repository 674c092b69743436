"""The matcher's answer back into offers, every safety rule re-checked here: the matcher is trusted to optimise,
not to enforce. Plain functions, no I/O."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np

from dispatch.batching import (
    ROUTE_TOLERANCE,
    BatchParameters,
    QuoteRequest,
    RewardQuote,
    TripCandidate,
    answer_minutes,
    detour_limit_km,
    direct_km,
    lat_lon,
    minutes_after,
)
from dispatch.model import Offer, Order, Store, Trip
from dispatch.rules import refusal_reason
from routing.distance import haversine_matrix


@dataclass(frozen=True)
class RouteMetrics:
    route_km: float
    detour_km: float
    arrival_minutes: tuple[float, ...]


def route_metrics(store: Store, trip: Trip, stops: Sequence[Order], parameters: BatchParameters) -> RouteMetrics:
    """Road km of store, stops, destination; the detour over the direct way; when each stop is reached."""
    points = [store.location, *(order.dropoff for order in stops), trip.destination]
    coordinates = np.array([lat_lon(point) for point in points])
    legs = np.diag(haversine_matrix(coordinates[:-1], coordinates[1:])) * parameters.road_factor
    elapsed = np.cumsum(legs)[:-1] / parameters.speed_km_per_min
    route = float(legs.sum())
    return RouteMetrics(
        route_km=route,
        detour_km=max(0.0, route - direct_km(store, trip, parameters)),
        arrival_minutes=tuple(float(minute) for minute in elapsed),
    )


@dataclass(frozen=True)
class DroppedAssignment:
    trip_id: str
    order_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class BatchOffers:
    offers: list[Offer]
    dropped: list[DroppedAssignment]


def offers_from_solution(
    *,
    store: Store,
    orders: Sequence[Order],
    trips: Sequence[TripCandidate],
    excluded: Collection[tuple[UUID, UUID]],
    solution: Mapping[str, Any],
    now: datetime,
    parameters: BatchParameters,
    quote: RewardQuote,
) -> BatchOffers:
    """Offers for the trips the matcher filled, each re-checked; a rule-breaking assignment is dropped."""
    orders_by_id = {str(order.id): order for order in orders}
    trips_by_id = {str(candidate.trip.id): candidate for candidate in trips}
    offers: list[Offer] = []
    dropped: list[DroppedAssignment] = []
    taken: set[str] = set()
    for trip_key, order_keys in sorted(dict(solution.get("trips", {})).items()):
        keys = tuple(str(key) for key in order_keys)
        if not keys:
            continue
        reason = _assignment_problem(
            trip_key=trip_key,
            keys=keys,
            orders_by_id=orders_by_id,
            trips_by_id=trips_by_id,
            taken=taken,
            excluded=excluded,
            parameters=parameters,
        )
        if reason is None:
            candidate = trips_by_id[trip_key]
            stops = tuple(orders_by_id[key] for key in keys)
            metrics = route_metrics(store, candidate.trip, stops, parameters)
            reason = _route_problem(candidate.trip, stops, metrics, now, parameters)
            if reason is not None and len(stops) > 1:
                # The matcher is told that a shopper never waits at a door (`wait_at_doors`), so this is a
                # safety net only: rather than drop the whole bundle, the largest part of it (in the same
                # order) that keeps every rule is offered, and the rest waits for the next batch, each order
                # with the rule it breaks added to that part (not the whole bundle's first broken rule).
                # With no part that keeps them, each order waits with the rule it breaks alone.
                part = _feasible_part(store, candidate.trip, stops, now, parameters)
                kept = () if part is None else part[0]
                dropped.extend(_cut(store, candidate.trip, trip_key, stops, kept, now, parameters, reason))
                if part is None:
                    continue
                stops, metrics, reason = part[0], part[1], None
                keys = tuple(str(order.id) for order in stops)
        if reason is not None:
            dropped.append(DroppedAssignment(trip_key, keys, reason))
            continue
        taken.update(keys)
        extra_m = round(metrics.detour_km * 1000)
        extra_s = round(metrics.detour_km / parameters.speed_km_per_min * 60)
        request = QuoteRequest(candidate.trip, candidate.shopper, stops, extra_m, extra_s, now)
        offers.append(
            Offer(
                trip_id=candidate.trip.id,
                stops=tuple(order.id for order in stops),
                extra_distance_m=extra_m,
                extra_duration_s=extra_s,
                reward_quote_cents=quote(request),
                created_at=now,
                expires_at=now + parameters.offer_ttl,
                trust_tier=candidate.shopper.trust_tier,
            )
        )
    return BatchOffers(offers, dropped)


def _cut(
    store: Store,
    trip: Trip,
    trip_key: str,
    stops: tuple[Order, ...],
    part: tuple[Order, ...],
    now: datetime,
    parameters: BatchParameters,
    bundle_reason: str,
) -> list[DroppedAssignment]:
    """The orders of `stops` left out of `part`, each with the rule its route breaks with it added back (in the
    bundle's order). `part` is the largest that keeps every rule (empty when not even one order alone does),
    so each breaks one (else, which cannot be, the whole bundle's `bundle_reason`)."""
    kept = {order.id for order in part}
    cut = []
    for order in stops:
        if order.id in kept:
            continue
        with_it = tuple(each for each in stops if each.id in kept or each.id == order.id)
        reason = _route_problem(trip, with_it, route_metrics(store, trip, with_it, parameters), now, parameters)
        cut.append(DroppedAssignment(trip_key, (str(order.id),), reason or bundle_reason))
    return cut


def _feasible_part(
    store: Store, trip: Trip, stops: tuple[Order, ...], now: datetime, parameters: BatchParameters
) -> tuple[tuple[Order, ...], RouteMetrics] | None:
    """The largest subsequence of `stops` whose route keeps every rule (the shortest detour among equals)."""
    for size in range(len(stops) - 1, 0, -1):
        feasible = []
        for part in itertools.combinations(stops, size):
            metrics = route_metrics(store, trip, part, parameters)
            if _route_problem(trip, part, metrics, now, parameters) is None:
                feasible.append((metrics.detour_km, part, metrics))
        if feasible:
            _, part, metrics = min(feasible, key=lambda found: found[0])
            return part, metrics
    return None


def _assignment_problem(
    *,
    trip_key: str,
    keys: tuple[str, ...],
    orders_by_id: Mapping[str, Order],
    trips_by_id: Mapping[str, TripCandidate],
    taken: Collection[str],
    excluded: Collection[tuple[UUID, UUID]],
    parameters: BatchParameters,
) -> str | None:
    candidate = trips_by_id.get(trip_key)
    if candidate is None:
        return "unknown trip"
    if any(key not in orders_by_id for key in keys):
        return "unknown order"
    if len(set(keys)) != len(keys) or any(key in taken for key in keys):
        return "order assigned twice"
    if len(keys) > parameters.max_bundle_orders:
        return "too many orders"
    stops = [orders_by_id[key] for key in keys]
    if sum(order.size_bags for order in stops) > candidate.remaining_capacity:
        return "capacity"
    for order in stops:
        if (candidate.trip.id, order.id) in excluded:
            return "offered to this trip before"
        refusal = refusal_reason(
            candidate.shopper, order, parameters.tier_value_caps_cents, parameters.own_address_radius_m
        )
        if refusal is not None:
            return refusal
    return None


def _route_problem(
    trip: Trip, stops: Sequence[Order], metrics: RouteMetrics, now: datetime, parameters: BatchParameters
) -> str | None:
    """The detour limit, then the windows: the shopper leaves between now and their leave-by and drives
    without waiting at a door, so some departure in that span must put every stop in [earliest, latest]; and
    since they may accept at the offer's last second and leave only then, that departure must come no sooner
    than the offer's expiry (`batching.answer_minutes`); one who accepts sooner may leave sooner (no sooner than
    the offer's `leave_after`) and arrives sooner, still inside every window."""
    if metrics.detour_km > detour_limit_km(trip, parameters) * (1 + ROUTE_TOLERANCE) + ROUTE_TOLERANCE:
        return "detour"
    earliest_departure, latest_departure = answer_minutes(parameters), minutes_after(now, trip.leave_by)
    for order, minute in zip(stops, metrics.arrival_minutes, strict=True):
        if minute > minutes_after(now, order.window_latest) * (1 + ROUTE_TOLERANCE) + ROUTE_TOLERANCE:
            return "window"
        earliest_departure = max(earliest_departure, minutes_after(now, order.window_earliest) - minute)
        latest_departure = min(latest_departure, minutes_after(now, order.window_latest) - minute)
    slack = ROUTE_TOLERANCE * max(1.0, abs(latest_departure)) + ROUTE_TOLERANCE
    if earliest_departure > minutes_after(now, trip.leave_by) + slack:
        return "leave_by"
    if earliest_departure > latest_departure + slack:
        return "window"
    return None
