"""Candidate pruning: which (trip, order) pairs the matcher needs to consider at all.

An order can ride along a trip only when store → order → destination stays within the trip's route limit,
i.e. when the order lies inside the ellipse with foci store and destination. Every such ellipse lies inside
a ball around the midpoint of its foci with radius (route limit / road factor) / 2, so a KD-tree over the
orders yields the few orders worth an exact test, and the work grows with the number of candidate pairs
rather than with orders x trips. On the sphere the ball lives in 3-D: unit vectors, centred at the chord
midpoint, with the arc limit used as a chord radius (a chord is never longer than its arc, so nothing
feasible is lost). `candidate_pairs_brute_force` is the O(N x M) reference the fast version
is tested against. The input and answer types, and their validation, are in `pruning_problem`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from routing.distance import EARTH_MEAN_RADIUS_KM, unit_vectors
from routing.pruning_problem import (
    RELATIVE_TOLERANCE,
    BoolArray,
    CandidatePairs,
    FloatArray,
    IntArray,
    Metric,
    PruningProblem,
)

__all__ = [
    "RELATIVE_TOLERANCE",
    "CandidatePairs",
    "Metric",
    "PruningProblem",
    "candidate_pairs",
    "candidate_pairs_brute_force",
    "pairwise_distances",
]

_BALL_SLACK = 1e-7
"""The search ball is widened by this much (relative) so that rounding never drops a boundary pair."""

_TRIP_CHUNK = 512
"""Fewest trips per block of the fast search."""

_PAIRS_PER_BLOCK = 4_000_000
"""Trips per block of the fast search: at most this many order x trip pairs could fall in one block."""

_RADIUS_GROUP_RATIO = 1.25
"""Trips searched together have radii within this factor of each other."""

_TINY_RADIUS = 1e-12

_MAX_BALLS = 64
_SPLIT_FROM = 8
"""An ellipse with a / b of at least _SPLIT_FROM is covered by that many balls (at most _MAX_BALLS)."""

_RADIX_LIMIT = 1 << 16
"""NumPy sorts 16-bit integers stably by radix, in linear time."""


def candidate_pairs(problem: PruningProblem) -> CandidatePairs:
    """All candidate pairs, found through a KD-tree over the orders; work grows with the pairs found."""
    n, m = problem.order_count, problem.trip_count
    if n == 0 or m == 0:
        return _empty_pairs()
    space = _Space.of(problem)
    # Each ellipse (foci store and destination, focal distances summing to at most limit / road factor)
    # lies in the ball around the foci's midpoint with half that sum as radius.
    focal_sum_limit = _with_tolerance(problem.trip_route_limits) / problem.road_factor
    radii = space.to_search_units * focal_sum_limit / 2.0 * (1.0 + _BALL_SLACK)
    centres = (np.column_stack(space.destinations) + space.store[None, :]) / 2.0
    tree = cKDTree(np.column_stack(space.orders))
    # Trips go in blocks of consecutive indices, so that each block's pairs are sorted where they still
    # fit in cache and the blocks simply follow each other.
    block = max(_TRIP_CHUNK, _PAIRS_PER_BLOCK // n)
    parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    half_focal = _column_distances(False, space.store_columns, space.destinations) / 2.0
    for start in range(0, m, block):
        trips = np.arange(start, min(start + block, m), dtype=np.int64)
        ball_trip, ball_centres, ball_radii = _covering_balls(space, centres, radii, half_focal, trips)
        trip_ids, order_ids = _pairs_within_balls(tree, n, ball_trip, ball_centres, ball_radii)
        trip_ids, order_ids, route = _decide(problem, space, trip_ids, order_ids)
        by_trip_then_order = _trip_major_order(trip_ids - start, order_ids, n)
        parts.append((trip_ids[by_trip_then_order], order_ids[by_trip_then_order], route[by_trip_then_order]))
    return _assemble(problem, space, parts)


def candidate_pairs_brute_force(problem: PruningProblem) -> CandidatePairs:
    """Every pair tested against every rule: the O(N x M) reference, in chunks of trips to bound memory."""
    n, m = problem.order_count, problem.trip_count
    if n == 0 or m == 0:
        return _empty_pairs()
    space = _Space.of(problem)
    parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    chunk = max(1, 2_000_000 // n)
    for start in range(0, m, chunk):
        trips = np.arange(start, min(start + chunk, m), dtype=np.int64)
        trip_ids = np.repeat(trips, n)
        order_ids = np.tile(np.arange(n, dtype=np.int64), trips.shape[0])
        parts.append(_decide(problem, space, trip_ids, order_ids))
    return _assemble(problem, space, parts)


# --------------------------------------------------------------------------------------------------
# Distances and rules shared by both versions, so that they decide every pair with the same arithmetic


Columns = tuple[FloatArray, ...]


@dataclass(frozen=True)
class _Space:
    """Locations as coordinate columns in a space where straight lines never exceed the metric distance.

    Plane: the [x, y] themselves. Sphere: 3-D unit vectors; the arc between two of them is computed as
    2 atan2(|a - b|, |a + b|), which stays accurate from a metre to the antipode.
    """

    sphere: bool
    orders: Columns
    store: FloatArray
    destinations: Columns
    to_search_units: float
    store_to_order: FloatArray
    """Metric (not road) distance store -> each order."""
    store_columns: Columns
    store_to_destination: FloatArray

    @classmethod
    def of(cls, problem: PruningProblem) -> _Space:
        sphere = problem.metric == "haversine"
        if sphere:
            orders = unit_vectors(problem.order_locations)
            store = unit_vectors(problem.store)[0]
            destinations = unit_vectors(problem.trip_destinations)
        else:
            orders, store, destinations = problem.order_locations, problem.store, problem.trip_destinations
        order_columns = tuple(np.ascontiguousarray(column) for column in orders.T)
        destination_columns = tuple(np.ascontiguousarray(column) for column in destinations.T)
        store_columns = tuple(np.full(1, value) for value in store)
        return cls(
            sphere=sphere,
            orders=order_columns,
            store=np.asarray(store, dtype=np.float64),
            destinations=destination_columns,
            to_search_units=1.0 / EARTH_MEAN_RADIUS_KM if sphere else 1.0,
            store_to_order=_column_distances(sphere, store_columns, order_columns),
            store_columns=store_columns,
            store_to_destination=_column_distances(sphere, store_columns, destination_columns),
        )


def _column_distances(sphere: bool, a: Columns, b: Columns) -> FloatArray:
    """Row-wise metric distances between two sets of coordinate columns (broadcasting length 1).

    Written with in-place operations: on hundreds of thousands of pairs the temporaries cost more than
    the arithmetic.
    """
    size = max(a[0].shape[0], b[0].shape[0])
    difference = np.zeros(size)
    term = np.empty(size)
    for first, second in zip(a, b, strict=True):
        np.subtract(first, second, out=term)
        np.multiply(term, term, out=term)
        np.add(difference, term, out=difference)
    np.sqrt(difference, out=difference)
    if not sphere:
        return difference
    total = np.zeros(size)
    for first, second in zip(a, b, strict=True):
        np.add(first, second, out=term)
        np.multiply(term, term, out=term)
        np.add(total, term, out=total)
    np.sqrt(total, out=total)
    # The angle between unit vectors a and b is 2 atan2(|a - b|, |a + b|), accurate at any separation.
    np.arctan2(difference, total, out=difference)
    np.multiply(difference, 2.0 * EARTH_MEAN_RADIUS_KM, out=difference)
    return difference


def pairwise_distances(metric: Metric, a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Metric distance between a[i] and b[i] for each row i (km for haversine), as pruning computes it."""
    first = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    second = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    if metric == "haversine":
        first, second = unit_vectors(first), unit_vectors(second)
    return _column_distances(metric == "haversine", tuple(first.T), tuple(second.T))


def _with_tolerance(limit: FloatArray) -> FloatArray:
    widened: FloatArray = limit + RELATIVE_TOLERANCE * np.abs(limit)
    return widened


def _decide(
    problem: PruningProblem, space: _Space, trip_ids: IntArray, order_ids: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """The pairs among those given that pass the contract's rules, with their road route lengths.

    Rules that cannot exclude anything in this problem are skipped; the route test, the costly one, is last.
    """
    keep: BoolArray | None = None

    def narrow(passes: BoolArray) -> None:
        nonlocal keep
        keep = passes if keep is None else keep & passes

    if np.isfinite(problem.trip_capacities).any():
        narrow(problem.order_sizes[order_ids] <= problem.trip_capacities[trip_ids])
    if problem.order_requires_id.any() and not problem.trip_id_verified.all():
        narrow(~problem.order_requires_id[order_ids] | problem.trip_id_verified[trip_ids])
    if np.isfinite(problem.trip_value_limits).any() and not np.isnan(problem.order_values).all():
        values = problem.order_values[order_ids]
        narrow(np.isnan(values) | (values <= problem.trip_value_limits[trip_ids]))
    if (problem.order_latest < np.inf).any():
        travel_minutes = problem.road_factor * space.store_to_order / problem.speed
        arrival = problem.trip_departs[trip_ids] + travel_minutes[order_ids]
        narrow(arrival <= _with_tolerance(problem.order_latest)[order_ids])
    if keep is not None:
        trip_ids, order_ids = trip_ids[keep], order_ids[keep]

    to_destination = _column_distances(
        space.sphere,
        tuple(column[order_ids] for column in space.orders),
        tuple(column[trip_ids] for column in space.destinations),
    )
    route: FloatArray = problem.road_factor * (space.store_to_order[order_ids] + to_destination)
    within = route <= _with_tolerance(problem.trip_route_limits)[trip_ids]
    return trip_ids[within], order_ids[within], route[within]


def _assemble(
    problem: PruningProblem,
    space: _Space,
    parts: list[tuple[IntArray, IntArray, FloatArray]],
) -> CandidatePairs:
    """Joins the blocks of pairs (each sorted, in trip order) and adds the detours.

    Fresh memory is slow to touch on some machines, so a single block is used as it is and the detour is
    computed in place.
    """
    if len(parts) == 1:
        trip_index, order_index, route_length = parts[0]
    else:
        trip_index = np.concatenate([part[0] for part in parts])
        order_index = np.concatenate([part[1] for part in parts])
        route_length = np.concatenate([part[2] for part in parts])
    detour: FloatArray = problem.road_factor * space.store_to_destination[trip_index]
    np.subtract(route_length, detour, out=detour)
    np.maximum(detour, 0.0, out=detour)
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


def _covering_balls(
    space: _Space, centres: FloatArray, radii: FloatArray, half_focal: FloatArray, trips: IntArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Balls that together hold each trip's ellipse: one for a round ellipse, a row of smaller ones along
    the major axis for a thin one (a trip whose limit is barely above its direct route).

    With semi-axes a (the ball's radius) and b = sqrt(a^2 - c^2), c half the distance between the foci in
    search space, every point of the ellipse (the ellipsoid, on the sphere) is within b of the major axis
    and within a of the centre along it; so cutting the axis into k pieces, the balls around the pieces'
    middles with radius sqrt(b^2 + (a/k)^2) cover it. They hold about k b^2 + a^2 / k of area against a^2
    for one ball: k = a / b cuts the area by a / 2b, which matters for huge batches pruned with narrow
    limits (a / b of 10 to 30). Returns (trip of each ball, centres, radii).
    """
    radius = radii[trips]
    focal = np.minimum(half_focal[trips], radius)
    minor = np.sqrt(np.maximum(radius * radius - focal * focal, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pieces = np.where(minor > 0, np.rint(radius / np.maximum(minor, _TINY_RADIUS)), 1.0)
    pieces = np.clip(np.nan_to_num(pieces, nan=1.0, posinf=_MAX_BALLS), 1, _MAX_BALLS).astype(np.int64)
    split_radius = np.sqrt(minor * minor + (radius / pieces) ** 2) * (1.0 + _BALL_SLACK)
    # splitting pays only on clearly thin ellipses: it adds balls to search and points found twice to drop
    worth = np.isfinite(radius) & (focal > 0) & (pieces >= _SPLIT_FROM)
    pieces = np.where(worth, pieces, 1)
    ball_trip = np.repeat(trips, pieces)
    ball_centres = centres[ball_trip].copy()
    ball_radii = np.where(worth, split_radius, radius)[np.repeat(np.arange(len(trips)), pieces)]
    split = np.flatnonzero(worth)
    if len(split):
        ends = np.column_stack(space.destinations)[trips[split]] - space.store[None, :]
        axis = ends / np.linalg.norm(ends, axis=1, keepdims=True)
        first = np.r_[0, np.cumsum(pieces)[:-1]][split]
        count = pieces[split]
        rows = np.repeat(first, count) + _ranks(count)
        fraction = (2.0 * _ranks(count) + 1.0) / np.repeat(count, count) - 1.0  # piece middles in (-1, 1)
        offset = (np.repeat(radius[split], count) * fraction)[:, None] * np.repeat(axis, count, axis=0)
        ball_centres[rows] += offset
    return ball_trip, ball_centres, ball_radii


def _ranks(counts: IntArray) -> IntArray:
    """0, 1, ..., c - 1 for each c in `counts`, concatenated."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    ranks: IntArray = np.arange(int(counts.sum()), dtype=np.int64) - starts
    return ranks


def _pairs_within_balls(
    tree: cKDTree, point_count: int, ball_trip: IntArray, centres: FloatArray, radii: FloatArray
) -> tuple[IntArray, IntArray]:
    """(trip, point) index pairs with the point inside one of the trip's balls, unsorted, each once.

    Balls sorted by radius are searched in groups of similar radius with one dual-tree traversal each
    (scipy's sparse distance matrix, which returns plain arrays), then cut down to each ball's own radius:
    nothing per pair goes through Python objects. Balls without a limit take every point.
    """
    trip_parts: list[IntArray] = []
    point_parts: list[IntArray] = []
    unlimited = ball_trip[~np.isfinite(radii)]
    if unlimited.size:
        trip_parts.append(np.repeat(unlimited, point_count))
        point_parts.append(np.tile(np.arange(point_count, dtype=np.int64), unlimited.size))
    bounded = np.flatnonzero(np.isfinite(radii))
    bounded = bounded[np.argsort(radii[bounded], kind="stable")]
    start = 0
    while start < bounded.size:
        # Keep radii within a factor of the group's smallest so the shared search radius wastes little.
        smallest = max(float(radii[bounded[start]]), _TINY_RADIUS)
        stop = start + int(np.searchsorted(radii[bounded[start:]], smallest * _RADIUS_GROUP_RATIO, "right"))
        group = bounded[start:stop]
        near = tree.sparse_distance_matrix(cKDTree(centres[group]), float(radii[group[-1]]), output_type="ndarray")
        balls = group[near["j"]]
        inside = near["v"] <= radii[balls]
        trip_parts.append(ball_trip[balls[inside]])
        point_parts.append(near["i"][inside].astype(np.int64, copy=False))
        start = stop
    if not trip_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    trip_ids, point_ids = np.concatenate(trip_parts), np.concatenate(point_parts)
    several = np.zeros(int(ball_trip.max()) + 1, dtype=np.bool_)
    several[ball_trip[1:][ball_trip[1:] == ball_trip[:-1]]] = True  # a trip's balls are consecutive
    shared = several[trip_ids]
    if shared.any():  # a point in two balls of one trip counts once
        keys = np.unique(trip_ids[shared] * point_count + point_ids[shared])
        trip_ids = np.r_[trip_ids[~shared], keys // point_count]
        point_ids = np.r_[point_ids[~shared], keys % point_count]
    return trip_ids, point_ids


def _trip_major_order(trip_index: IntArray, order_index: IntArray, order_count: int) -> IntArray:
    """The permutation that sorts pairs by trip, then order (two radix passes when indices fit 16 bits)."""
    if trip_index.size == 0:
        return np.zeros(0, dtype=np.int64)
    if order_count <= _RADIX_LIMIT and int(trip_index.max()) < _RADIX_LIMIT:
        by_order = np.argsort(order_index.astype(np.uint16), kind="stable")
        by_trip = np.argsort(trip_index[by_order].astype(np.uint16), kind="stable")
        permutation: IntArray = by_order[by_trip]
        return permutation
    return np.argsort(trip_index * order_count + order_index, kind="stable")
