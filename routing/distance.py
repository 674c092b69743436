"""Distances, many at once.

`haversine_matrix` is great-circle distance on the WGS84 mean radius: fast, and within 0.56 % of the
ellipsoid (within 0.5 % outside the tropics; north-south trips near the equator are the worst, where the
meridian curves more tightly than the mean sphere). `euclidean_matrix` is planar, for benchmark instances
given in abstract coordinates; `geodesic_m` is the exact ellipsoidal distance for single pairs where
precision matters more than speed. `distance_matrix` picks one of the two by the match format's metric name.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from crowdship.errors import InvalidInput
from routing.geo import GeoPoint

if TYPE_CHECKING:
    from geopy.distance import geodesic

EARTH_MEAN_RADIUS_KM = 6371.0088
"""The IUGG mean radius R1, the one the match-problem format prescribes."""

FloatArray = npt.NDArray[np.float64]


Metric = Literal["euclidean", "haversine"]


def _pairs(points: npt.ArrayLike, field: str, names: str) -> FloatArray:
    """`points` as (n, 2) rows: one pair alone is one row and nothing is no rows, so that callers may pass a
    single point or an empty list; any other shape is refused naming the field and the pair (`names`)."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1 and array.size == 2:
        array = array.reshape(1, 2)
    if array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise InvalidInput(field, f"expected an (n, 2) array of {names}, got shape {array.shape}")
    return array


def _refuse_first(array: FloatArray, invalid: npt.ArrayLike, field: str, what: str) -> None:
    """Names the first bad row by its index, so that one point among thousands can be found in the input."""
    flagged = np.flatnonzero(invalid)
    if flagged.size:
        bad = int(flagged[0])
        raise InvalidInput(f"{field}[{bad}]", f"not {what}: {array[bad].tolist()}")


def as_lat_lon_array(points: npt.ArrayLike, field: str = "points") -> FloatArray:
    """An (n, 2) array of [lat, lon] degrees, checked for range and finiteness."""
    array = _pairs(points, field, "[lat, lon]")
    invalid = ~np.isfinite(array).all(axis=1) | (np.abs(array[:, 0]) > 90) | (np.abs(array[:, 1]) > 180)
    _refuse_first(array, invalid, field, "a valid [lat, lon]")
    return array


def haversine_matrix(origins: npt.ArrayLike, destinations: npt.ArrayLike) -> FloatArray:
    """Great-circle distances in km between every origin and every destination ([lat, lon] rows)."""
    a = np.radians(as_lat_lon_array(origins, "origins"))
    b = np.radians(as_lat_lon_array(destinations, "destinations"))
    lat1, lon1 = a[:, 0:1], a[:, 1:2]
    lat2, lon2 = b[:, 0][None, :], b[:, 1][None, :]
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    result: FloatArray = 2 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return result


def unit_vectors(points: npt.ArrayLike) -> FloatArray:
    """[lat, lon] degrees as 3-D unit vectors, where a chord is never longer than its great-circle arc."""
    radians = np.radians(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    lat, lon = radians[:, 0], radians[:, 1]
    cos_lat = np.cos(lat)
    vectors: FloatArray = np.column_stack((cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)))
    return vectors


def as_planar_array(points: npt.ArrayLike, field: str = "points") -> FloatArray:
    """An (n, 2) array of finite [x, y]."""
    array = _pairs(points, field, "[x, y]")
    _refuse_first(array, ~np.isfinite(array).all(axis=1), field, "a finite [x, y]")
    return array


def euclidean_matrix(origins: npt.ArrayLike, destinations: npt.ArrayLike) -> FloatArray:
    """Planar distances between every origin and every destination ([x, y] rows)."""
    a = as_planar_array(origins, "origins")
    b = as_planar_array(destinations, "destinations")
    result: FloatArray = np.hypot(a[:, 0:1] - b[None, :, 0], a[:, 1:2] - b[None, :, 1])
    return result


def geodesic_m(a: GeoPoint, b: GeoPoint) -> float:
    """Exact distance in metres on the WGS84 ellipsoid."""
    return float(geopy_geodesic()((a.lat, a.lon), (b.lat, b.lon)).meters)


@cache
def geopy_geodesic() -> type[geodesic]:
    """geopy's ellipsoid geodesic, imported on first use: importing geopy imports its geocoders and their HTTP
    clients too (0.4 s), which no command that never measures a distance should wait for."""
    from geopy.distance import geodesic as imported

    found: type[geodesic] = imported
    return found


def distance_matrix(metric: Metric, origins: npt.ArrayLike, destinations: npt.ArrayLike) -> FloatArray:
    """Distances in the match format's units: km on the sphere for haversine, plane units for euclidean."""
    if metric == "haversine":
        return haversine_matrix(origins, destinations)
    if metric == "euclidean":
        return euclidean_matrix(origins, destinations)
    raise InvalidInput("metric", f"must be 'euclidean' or 'haversine', got {metric!r}")


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres between two points (the fast approximation, one pair)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2_000.0 * EARTH_MEAN_RADIUS_KM * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))
