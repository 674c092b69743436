"""Candidate pruning: which (trip, order) pairs the matcher needs to consider at all.

An order can ride along a trip only when store → order → destination stays within the trip's route limit,
i.e. when the order lies inside the ellipse with foci store and destination. Every such ellipse lies inside
a ball around the midpoint of its foci with radius (route limit / road factor) / 2, so a KD-tree over the
orders yields the few orders worth an exact test, and the work grows with the number of candidate pairs
rather than with orders x trips. On the sphere the ball lives in 3-D: unit vectors, centred at the chord
midpoint, with the arc limit used as a chord radius (a chord is never longer than its arc, so nothing
feasible is lost). `candidate_pairs_brute_force` is the O(N x M) reference the fast version
is tested against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from crowdship.errors import InvalidInput
from routing.distance import EARTH_MEAN_RADIUS_KM, unit_vectors

Metric = Literal["euclidean", "haversine"]
"""euclidean: planar [x, y]; haversine: [lat, lon] degrees with distances in km."""

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

RELATIVE_TOLERANCE = 1e-9
"""Route and window limits hold up to this relative slack, as the match-problem format prescribes."""

_BALL_SLACK = 1e-7
"""The search ball is widened by this much (relative) so that rounding never drops a boundary pair."""

_TRIP_CHUNK = 512
"""Trips handled per vectorised step: bounds the memory of one step without a per-trip Python loop."""


@dataclass(frozen=True)
class PruningProblem:
    """One store's orders and trips, as arrays; limits that do not apply are inf (values: nan)."""

    metric: Metric
    road_factor: float
    speed: float
    store: FloatArray
    order_locations: FloatArray
    order_sizes: FloatArray
    order_values: FloatArray
    order_requires_id: BoolArray
    order_latest: FloatArray
    trip_destinations: FloatArray
    trip_route_limits: FloatArray
    trip_capacities: FloatArray
    trip_id_verified: BoolArray
    trip_value_limits: FloatArray
    trip_departs: FloatArray

    def __post_init__(self) -> None:
        if self.metric not in ("euclidean", "haversine"):
            raise InvalidInput("metric", f"must be 'euclidean' or 'haversine', got {self.metric!r}")
        _check_positive_finite(self.road_factor, "road_factor")
        _check_positive_finite(self.speed, "speed")
        store = _coerce_locations(self.store, "store", self.metric, single=True)
        orders = _coerce_locations(self.order_locations, "order_locations", self.metric)
        trips = _coerce_locations(self.trip_destinations, "trip_destinations", self.metric)
        object.__setattr__(self, "store", store.reshape(2))
        object.__setattr__(self, "order_locations", orders)
        object.__setattr__(self, "trip_destinations", trips)
        n, m = orders.shape[0], trips.shape[0]
        self._set_float("order_sizes", n, allow_nan=False, allow_inf=False, minimum=0.0)
        self._set_float("order_values", n, allow_nan=True, allow_inf=False, minimum=0.0)
        self._set_float("order_latest", n, allow_nan=False, allow_inf=True, minimum=None)
        self._set_float("trip_route_limits", m, allow_nan=False, allow_inf=True, minimum=0.0)
        self._set_float("trip_capacities", m, allow_nan=False, allow_inf=True, minimum=0.0)
        self._set_float("trip_value_limits", m, allow_nan=False, allow_inf=True, minimum=0.0)
        self._set_float("trip_departs", m, allow_nan=False, allow_inf=False, minimum=None)
        self._set_bool("order_requires_id", n)
        self._set_bool("trip_id_verified", m)

    def _set_float(
        self, name: str, length: int, *, allow_nan: bool, allow_inf: bool, minimum: float | None
    ) -> None:
        array = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
        if array.shape[0] != length:
            raise InvalidInput(name, f"expected {length} values, got {array.shape[0]}")
        bad = np.zeros(length, dtype=bool)
        if not allow_nan:
            bad |= np.isnan(array)
        if not allow_inf:
            bad |= np.isinf(array)
        if minimum is not None:
            bad |= array < minimum
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            rule = "not NaN" if not allow_nan else ""
            rule = ", ".join(
                part
                for part in (
                    rule,
                    "finite" if not allow_inf else "",
                    f">= {minimum}" if minimum is not None else "",
                )
                if part
            )
            raise InvalidInput(f"{name}[{index}]", f"must be {rule}, got {array[index]!r}")
        object.__setattr__(self, name, array)

    def _set_bool(self, name: str, length: int) -> None:
        array = np.asarray(getattr(self, name), dtype=np.bool_).reshape(-1)
        if array.shape[0] != length:
            raise InvalidInput(name, f"expected {length} values, got {array.shape[0]}")
        object.__setattr__(self, name, array)

    @property
    def order_count(self) -> int:
        return int(self.order_locations.shape[0])

    @property
    def trip_count(self) -> int:
        return int(self.trip_destinations.shape[0])


@dataclass(frozen=True)
class CandidatePairs:
    """The pairs that pass every hard rule, sorted by trip then order, with their one-order route."""

    trip_index: IntArray
    order_index: IntArray
    route_length: FloatArray
    """store → order → destination, road distance."""
    detour: FloatArray
    """route_length minus road distance store → destination, never negative."""

    def __len__(self) -> int:
        return int(self.trip_index.shape[0])


def candidate_pairs(problem: PruningProblem) -> CandidatePairs:
    """All candidate pairs, found through a KD-tree over the orders; work grows with the pairs found."""
    n, m = problem.order_count, problem.trip_count
    if n == 0 or m == 0:
        return _empty_pairs()
    order_points, store_point, trip_points, to_search_units = _search_space(problem)
    tree = cKDTree(order_points)
    store_to_order = _distances_from_store(problem)
    store_to_destination = _direct_distances(problem)
    # The ellipse store + destination foci, sum of focal distances ≤ limit / road factor, fits in this ball.
    focal_sum_limit = _with_tolerance(problem.trip_route_limits) / problem.road_factor
    radii = to_search_units * focal_sum_limit / 2.0 * (1.0 + _BALL_SLACK)
    centres = (store_point[None, :] + trip_points) / 2.0
    unlimited = ~np.isfinite(radii)

    trip_parts: list[IntArray] = []
    order_parts: list[IntArray] = []
    for start in range(0, m, _TRIP_CHUNK):
        trips = np.arange(start, min(start + _TRIP_CHUNK, m), dtype=np.int64)
        trip_ids, order_ids = _ball_members(
            tree, centres=centres, radii=radii, unlimited=unlimited, trips=trips, order_count=n
        )
        keep = _passes_rules(problem, trip_ids, order_ids, store_to_order)
        trip_parts.append(trip_ids[keep])
        order_parts.append(order_ids[keep])
    trip_index = np.concatenate(trip_parts)
    order_index = np.concatenate(order_parts)
    return _finish(problem, trip_index, order_index, store_to_order, store_to_destination)


def candidate_pairs_brute_force(problem: PruningProblem) -> CandidatePairs:
    """Every pair tested against every rule: the O(N x M) reference, in chunks of trips to bound memory."""
    n, m = problem.order_count, problem.trip_count
    if n == 0 or m == 0:
        return _empty_pairs()
    store_to_order = _distances_from_store(problem)
    store_to_destination = _direct_distances(problem)
    trip_parts: list[IntArray] = []
    order_parts: list[IntArray] = []
    chunk = max(1, 2_000_000 // n)
    for start in range(0, m, chunk):
        trips = np.arange(start, min(start + chunk, m), dtype=np.int64)
        trip_ids = np.repeat(trips, n)
        order_ids = np.tile(np.arange(n, dtype=np.int64), trips.shape[0])
        keep = _passes_rules(problem, trip_ids, order_ids, store_to_order)
        trip_parts.append(trip_ids[keep])
        order_parts.append(order_ids[keep])
    trip_index = np.concatenate(trip_parts)
    order_index = np.concatenate(order_parts)
    return _finish(problem, trip_index, order_index, store_to_order, store_to_destination)


# --------------------------------------------------------------------------------------------------
# Distances shared by both versions, so that they decide every pair with the very same arithmetic


def pairwise_distances(metric: Metric, a: FloatArray, b: FloatArray) -> FloatArray:
    """Metric distance between a[i] and b[i] for each row i (km for haversine)."""
    if metric == "euclidean":
        planar: FloatArray = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
        return planar
    lat1, lon1 = np.radians(a[:, 0]), np.radians(a[:, 1])
    lat2, lon2 = np.radians(b[:, 0]), np.radians(b[:, 1])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    spherical: FloatArray = 2 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return spherical


def _distances_from_store(problem: PruningProblem) -> FloatArray:
    """Metric (not road) distance store → each order."""
    store = np.broadcast_to(problem.store, problem.order_locations.shape)
    return pairwise_distances(problem.metric, np.ascontiguousarray(store), problem.order_locations)


def _direct_distances(problem: PruningProblem) -> FloatArray:
    """Metric (not road) distance store → each trip destination."""
    store = np.broadcast_to(problem.store, problem.trip_destinations.shape)
    return pairwise_distances(problem.metric, np.ascontiguousarray(store), problem.trip_destinations)


def _with_tolerance(limit: FloatArray) -> FloatArray:
    widened: FloatArray = limit + RELATIVE_TOLERANCE * np.abs(limit)
    return widened


def _passes_rules(
    problem: PruningProblem, trip_ids: IntArray, order_ids: IntArray, store_to_order: FloatArray
) -> BoolArray:
    """The contract's hard rules for the given pairs; the route test last, as it is the costly one."""
    rf = problem.road_factor
    keep = problem.order_sizes[order_ids] <= problem.trip_capacities[trip_ids]
    keep &= ~problem.order_requires_id[order_ids] | problem.trip_id_verified[trip_ids]
    values = problem.order_values[order_ids]
    keep &= np.isnan(values) | (values <= problem.trip_value_limits[trip_ids])
    arrival = problem.trip_departs[trip_ids] + rf * store_to_order[order_ids] / problem.speed
    keep &= arrival <= _with_tolerance(problem.order_latest[order_ids])
    trip_ids, order_ids = trip_ids[keep], order_ids[keep]
    route = rf * (
        store_to_order[order_ids]
        + pairwise_distances(
            problem.metric, problem.order_locations[order_ids], problem.trip_destinations[trip_ids]
        )
    )
    within = route <= _with_tolerance(problem.trip_route_limits[trip_ids])
    keep[np.flatnonzero(keep)[~within]] = False
    return keep


def _finish(
    problem: PruningProblem,
    trip_index: IntArray,
    order_index: IntArray,
    store_to_order: FloatArray,
    store_to_destination: FloatArray,
) -> CandidatePairs:
    rf = problem.road_factor
    to_destination = pairwise_distances(
        problem.metric, problem.order_locations[order_index], problem.trip_destinations[trip_index]
    )
    route_length: FloatArray = rf * (store_to_order[order_index] + to_destination)
    detour: FloatArray = np.maximum(route_length - rf * store_to_destination[trip_index], 0.0)
    return CandidatePairs(trip_index, order_index, route_length, detour)


def _empty_pairs() -> CandidatePairs:
    return CandidatePairs(
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.float64),
    )


# --------------------------------------------------------------------------------------------------
# Spatial search


def _search_space(problem: PruningProblem) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Points in a space where straight-line distance never exceeds the metric's: the plane or 3-D."""
    if problem.metric == "euclidean":
        return problem.order_locations, problem.store, problem.trip_destinations, 1.0
    return (
        unit_vectors(problem.order_locations),
        unit_vectors(problem.store.reshape(1, 2))[0],
        unit_vectors(problem.trip_destinations),
        1.0 / EARTH_MEAN_RADIUS_KM,
    )


def _ball_members(
    tree: cKDTree,
    *,
    centres: FloatArray,
    radii: FloatArray,
    unlimited: BoolArray,
    trips: IntArray,
    order_count: int,
) -> tuple[IntArray, IntArray]:
    """(trip, order) pairs, sorted by trip then order, of the orders inside each trip's search ball."""
    bounded = trips[~unlimited[trips]]
    counts = np.zeros(trips.shape[0], dtype=np.int64)
    members_by_trip: dict[int, IntArray] = {}
    if bounded.shape[0]:
        found = tree.query_ball_point(centres[bounded], radii[bounded], return_sorted=True)
        for trip, members in zip(bounded.tolist(), found, strict=True):
            members_by_trip[trip] = np.asarray(members, dtype=np.int64)
    all_orders = np.arange(order_count, dtype=np.int64)
    parts: list[IntArray] = []
    for position, trip in enumerate(trips.tolist()):
        members = all_orders if unlimited[trip] else members_by_trip[trip]
        counts[position] = members.shape[0]
        parts.append(members)
    order_ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return np.repeat(trips, counts), order_ids


# --------------------------------------------------------------------------------------------------
# Validation


def _check_positive_finite(value: float, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidInput(field, f"must be a number, got {value!r}")
    if not math.isfinite(float(value)) or value <= 0:
        raise InvalidInput(field, f"must be positive and finite, got {value!r}")


def _coerce_locations(value: object, field: str, metric: Metric, *, single: bool = False) -> FloatArray:
    array = np.asarray(value, dtype=np.float64)
    if single:
        if array.size != 2:
            raise InvalidInput(field, f"expected one location of 2 coordinates, got shape {array.shape}")
        array = array.reshape(1, 2)
    elif array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise InvalidInput(field, f"expected an (n, 2) array, got shape {array.shape}")
    bad = ~np.isfinite(array).all(axis=1)
    if metric == "haversine":
        bad |= (np.abs(array[:, 0]) > 90.0) | (np.abs(array[:, 1]) > 180.0)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        name = field if single else f"{field}[{index}]"
        expected = "[lat, lon] within ±90, ±180" if metric == "haversine" else "finite [x, y]"
        raise InvalidInput(name, f"must be {expected}, got {array[index].tolist()}")
    return np.ascontiguousarray(array)
