"""The pruning's contract: one store's orders and trips as validated arrays in, candidate pairs out.

`PruningProblem` checks its arrays where it is made (shapes, ranges, NaN and inf where they mean
something), so that the search in `pruning` can trust them; `CandidatePairs` is what it answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from crowdship.errors import InvalidInput

Metric = Literal["euclidean", "haversine"]
"""euclidean: planar [x, y]; haversine: [lat, lon] degrees with distances in km."""

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

RELATIVE_TOLERANCE = 1e-9
"""Route and window limits hold up to this relative slack, as the match-problem format prescribes."""


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

    def _set_float(self, name: str, length: int, *, allow_nan: bool, allow_inf: bool, minimum: float | None) -> None:
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
