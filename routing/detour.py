"""Detours: what carrying a few orders costs a shopper on the way from the store to where they are going.

A trip store → drop-offs → destination is compared with going straight home (store → destination); the
difference in distance and minutes is what the matcher weighs and what an offer quotes. With at most four
drop-offs every visiting order (at most 24) is tried, so the best order is exact.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from crowdship.errors import DomainError, InvalidInput
from routing.distance import Metric, as_lat_lon_array, as_planar_array, distance_matrix
from routing.geo import GeoPoint
from routing.travel import TravelModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_DROPOFFS = 4
"""Beyond four stops an offer is too much to ask of a shopper on the way home (and 5! orders to try)."""


class NoRoute(DomainError):
    """No way through the drop-offs to the destination (a road network without a path)."""

    kind = "invalid"


@dataclass(frozen=True)
class Detour:
    """The best way through the drop-offs and what it adds to the direct trip."""

    visiting_order: tuple[int, ...]
    """Indices into the drop-offs as given, in the order to visit them."""
    route_m: float
    direct_m: float
    route_s: float
    direct_s: float

    @property
    def extra_m(self) -> float:
        return max(self.route_m - self.direct_m, 0.0)

    @property
    def extra_s(self) -> float:
        return max(self.route_s - self.direct_s, 0.0)

    def offer_figures(self) -> tuple[int, int]:
        """(extra metres, extra seconds) rounded up, as an offer quotes them: never understate the ask."""
        return math.ceil(self.extra_m - 1e-9), math.ceil(self.extra_s - 1e-9)


def best_visiting_order(distance: npt.ArrayLike) -> tuple[tuple[int, ...], float]:
    """The shortest store → all drop-offs → destination route on a square distance matrix.

    Row and column 0 are the store, 1..k the drop-offs, k + 1 the destination. Returns the drop-off
    indices (0-based, in visiting order) and the route length; ties go to the lexicographically first order.
    """
    matrix = np.asarray(distance, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise InvalidInput("distance", f"expected a square matrix of at least 2 x 2, got shape {matrix.shape}")
    if np.isnan(matrix).any() or (matrix < 0).any():
        raise InvalidInput("distance", "distances must be non-negative numbers (inf for no route)")
    count = matrix.shape[0] - 2
    if count > MAX_DROPOFFS:
        raise InvalidInput("dropoffs", f"at most {MAX_DROPOFFS} drop-offs per trip, got {count}")
    if count == 0:
        return (), float(matrix[0, 1])
    stops = _permutations(count) + 1
    lengths = matrix[0, stops[:, 0]] + matrix[stops[:, -1], count + 1]
    for leg in range(count - 1):
        lengths = lengths + matrix[stops[:, leg], stops[:, leg + 1]]
    best = int(np.argmin(lengths))
    return tuple(int(stop) - 1 for stop in stops[best]), float(lengths[best])


def detour(store: GeoPoint, dropoffs: Sequence[GeoPoint], destination: GeoPoint, travel: TravelModel) -> Detour:
    """The best visiting order by distance, with the distance and minutes it adds, under a travel model."""
    if len(dropoffs) > MAX_DROPOFFS:
        raise InvalidInput("dropoffs", f"at most {MAX_DROPOFFS} drop-offs per trip, got {len(dropoffs)}")
    matrices = travel.matrices([store, *dropoffs, destination])
    order, route_m = best_visiting_order(matrices.distance_m)
    if not math.isfinite(route_m):
        raise NoRoute("no route from the store through the drop-offs to the destination")
    path = [0, *(stop + 1 for stop in order), len(dropoffs) + 1]
    route_s = float(sum(matrices.duration_s[a, b] for a, b in itertools.pairwise(path)))
    last = len(dropoffs) + 1
    return Detour(
        visiting_order=order,
        route_m=route_m,
        direct_m=float(matrices.distance_m[0, last]),
        route_s=route_s,
        direct_s=float(matrices.duration_s[0, last]),
    )


def metric_detour(
    metric: Metric,
    road_factor: float,
    store: npt.ArrayLike,
    dropoffs: npt.ArrayLike,
    destination: npt.ArrayLike,
) -> tuple[tuple[int, ...], float, float]:
    """The matcher's reading: (visiting order, route length, detour) in the match format's units.

    Distances are the metric's (km on the sphere for haversine, [lat, lon] rows) times the road factor.
    """
    if not math.isfinite(road_factor) or road_factor <= 0:
        raise InvalidInput("road_factor", f"must be positive and finite, got {road_factor!r}")
    if metric not in ("euclidean", "haversine"):
        raise InvalidInput("metric", f"must be 'euclidean' or 'haversine', got {metric!r}")
    checked = as_lat_lon_array if metric == "haversine" else as_planar_array
    start, finish = checked(store, "store"), checked(destination, "destination")
    for name, point in (("store", start), ("destination", finish)):
        if point.shape[0] != 1:
            raise InvalidInput(name, f"expected one location, got {point.shape[0]}")
    points = np.vstack([start, checked(dropoffs, "dropoffs"), finish])
    matrix = road_factor * distance_matrix(metric, points, points)
    order, route = best_visiting_order(matrix)
    return order, route, max(route - float(matrix[0, -1]), 0.0)


@cache
def _permutations(count: int) -> IntArray:
    return np.array(list(itertools.permutations(range(count))), dtype=np.int64).reshape(-1, count)
