"""Distances: the fast great circle against the ellipsoid (geopy) and against PostGIS on geography."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from crowdship.errors import InvalidInput
from routing.distance import (
    distance_matrix,
    euclidean_matrix,
    geodesic_m,
    haversine_m,
    haversine_matrix,
    unit_vectors,
)
from routing.geo import GeoPoint


def destination_of(start: GeoPoint, bearing: float, distance_km: float) -> GeoPoint:
    end = geodesic(kilometers=distance_km).destination((start.lat, start.lon), bearing)
    return GeoPoint(end.latitude, end.longitude)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-89.0, 89.0),
    lon=st.floats(-180.0, 180.0),
    bearing=st.floats(0.0, 360.0),
    distance_km=st.floats(0.01, 100.0),
)
def test_great_circle_is_within_0_56_percent_of_the_ellipsoid_up_to_100_km(
    lat: float, lon: float, bearing: float, distance_km: float
) -> None:
    """Anywhere on Earth; 0.56 % is the spherical model's worst case (north-south at the equator)."""
    start = GeoPoint(lat, lon)
    end = destination_of(start, bearing, distance_km)
    fast = haversine_matrix([[start.lat, start.lon]], [[end.lat, end.lon]])[0, 0] * 1000.0
    assert fast == pytest.approx(geodesic_m(start, end), rel=0.0057)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(16.0, 89.0),
    south=st.booleans(),
    lon=st.floats(-180.0, 180.0),
    bearing=st.floats(0.0, 360.0),
    distance_km=st.floats(0.01, 100.0),
)
def test_great_circle_is_within_half_a_percent_outside_the_tropics(
    lat: float, south: bool, lon: float, bearing: float, distance_km: float
) -> None:
    """Starting beyond 16 degrees of latitude the 0.5 % bound holds for trips up to 100 km."""
    start = GeoPoint(-lat if south else lat, lon)
    end = destination_of(start, bearing, distance_km)
    assert haversine_m(start, end) == pytest.approx(geodesic_m(start, end), rel=0.005)


def test_north_south_trips_at_the_equator_exceed_half_a_percent() -> None:
    """Pins the documented exception: the sphere is 0.56 % long along the equatorial meridian."""
    start = GeoPoint(0.0, 0.0)
    end = destination_of(start, 0.0, 50.0)
    error = haversine_m(start, end) / geodesic_m(start, end) - 1
    assert 0.0055 < error < 0.0057


def test_matrix_has_one_row_per_origin_and_matches_single_pairs() -> None:
    """Shape (origins, destinations); each cell equals the one-pair function."""
    origins = [[52.52, 13.40], [48.85, 2.35]]
    destinations = [[51.51, -0.13], [40.71, -74.01], [52.52, 13.40]]
    matrix = haversine_matrix(origins, destinations)
    assert matrix.shape == (2, 3)
    for i, origin in enumerate(origins):
        for j, destination in enumerate(destinations):
            expected = haversine_m(GeoPoint(*origin), GeoPoint(*destination)) / 1000
            assert matrix[i, j] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert matrix[0, 2] == 0.0
    paris_london = geodesic_m(GeoPoint(48.85, 2.35), GeoPoint(51.51, -0.13)) / 1000
    assert 340 < paris_london < 348
    assert matrix[1, 0] == pytest.approx(paris_london, rel=0.005)


def test_euclidean_matrix_and_the_metric_switch() -> None:
    """Planar distances, and distance_matrix choosing by metric name."""
    matrix = euclidean_matrix([[0, 0], [1, 1]], [[3, 4]])
    np.testing.assert_allclose(matrix, [[5.0], [math.hypot(2, 3)]])
    np.testing.assert_array_equal(distance_matrix("euclidean", [[0, 0]], [[3, 4]]), [[5.0]])
    np.testing.assert_array_equal(
        distance_matrix("haversine", [[10, 10]], [[11, 11]]), haversine_matrix([[10, 10]], [[11, 11]])
    )
    assert distance_matrix("haversine", np.zeros((0, 2)), [[1, 1]]).shape == (0, 1)


def test_unit_vectors_have_chords_no_longer_than_arcs() -> None:
    """The 3-D embedding pruning relies on: unit length, and chord <= arc for every pair."""
    rng = np.random.default_rng(3)
    points = np.column_stack([rng.uniform(-90, 90, 200), rng.uniform(-180, 180, 200)])
    vectors = unit_vectors(points)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0)
    chords = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    arcs = haversine_matrix(points, points) / 6371.0088
    assert np.all(chords <= arcs + 1e-12)


@pytest.mark.parametrize(
    ("origins", "field"),
    [
        ([[91.0, 0.0]], "origins[0]"),
        ([[0.0, 0.0], [-90.5, 0.0]], "origins[1]"),
        ([[0.0, 180.5]], "origins[0]"),
        ([[0.0, float("nan")]], "origins[0]"),
        ([[float("inf"), 0.0]], "origins[0]"),
        ([[1.0, 2.0, 3.0]], "origins"),
    ],
)
def test_bad_coordinates_name_the_field(origins: list[list[float]], field: str) -> None:
    """Out-of-range, NaN, infinite or wrongly shaped input raises InvalidInput naming the row."""
    with pytest.raises(InvalidInput) as raised:
        haversine_matrix(origins, [[0.0, 0.0]])
    assert raised.value.field == field


def test_bad_planar_input_and_metric_name_the_field() -> None:
    """NaN in planar input names the destination row; an unknown metric names `metric`."""
    with pytest.raises(InvalidInput) as raised:
        euclidean_matrix([[0.0, 0.0]], [[1.0, 1.0], [float("nan"), 0.0]])
    assert raised.value.field == "destinations[1]"
    with pytest.raises(InvalidInput) as raised:
        distance_matrix("manhattan", [[0.0, 0.0]], [[1.0, 1.0]])  # type: ignore[arg-type]
    assert raised.value.field == "metric"


def test_geopoint_refuses_bad_latitude_and_longitude() -> None:
    """GeoPoint names lat or lon; parse names the caller's field."""
    with pytest.raises(InvalidInput) as raised:
        GeoPoint(90.1, 0.0)
    assert raised.value.field == "lat"
    with pytest.raises(InvalidInput) as raised:
        GeoPoint.parse(0.0, float("nan"), "orders[2].location")
    assert raised.value.field == "orders[2].location.lon"


def random_city_pairs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs up to 100 km apart around random places on Earth."""
    rng = np.random.default_rng(seed)
    starts = np.column_stack([rng.uniform(-80, 80, count), rng.uniform(-180, 180, count)])
    ends = np.empty_like(starts)
    for index, (lat, lon) in enumerate(starts):
        end = destination_of(GeoPoint(lat, lon), rng.uniform(0, 360), rng.uniform(0.05, 100))
        ends[index] = (end.lat, end.lon)
    return starts, ends


def postgis_distances_m(pool: ConnectionPool, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    with pool.connection() as connection:
        rows = connection.execute(
            """SELECT ST_Distance(ST_SetSRID(ST_MakePoint(a_lon, a_lat), 4326)::geography,
                                  ST_SetSRID(ST_MakePoint(b_lon, b_lat), 4326)::geography)
               FROM unnest(%s::float8[], %s::float8[], %s::float8[], %s::float8[])
                    WITH ORDINALITY AS pairs(a_lat, a_lon, b_lat, b_lon, position)
               ORDER BY position""",
            (starts[:, 0].tolist(), starts[:, 1].tolist(), ends[:, 0].tolist(), ends[:, 1].tolist()),
        ).fetchall()
    return np.array([row[0] for row in rows])


def test_postgis_geography_distance_agrees_with_geodesic_and_haversine(pool: ConnectionPool) -> None:
    """ST_Distance on geography (spheroid) matches geopy to a millimetre; the fast one to within 0.56 %."""
    starts, ends = random_city_pairs(300, seed=11)
    postgis = postgis_distances_m(pool, starts, ends)
    exact = np.array([geodesic_m(GeoPoint(*a), GeoPoint(*b)) for a, b in zip(starts, ends, strict=True)])
    fast = np.array([haversine_matrix(a, b)[0, 0] * 1000 for a, b in zip(starts, ends, strict=True)])
    np.testing.assert_allclose(postgis, exact, rtol=1e-7, atol=1e-3)
    np.testing.assert_allclose(fast, postgis, rtol=0.0057)
    temperate = np.abs(starts[:, 0]) >= 16
    np.testing.assert_allclose(fast[temperate], postgis[temperate], rtol=0.005)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([[1.0, 2.0, 3.0]], "origins: expected an (n, 2) array of [lat, lon], got shape (1, 3)"),
        ([[10.0, 20.0], [91.0, 0.0]], "origins[1]: not a valid [lat, lon]: [91.0, 0.0]"),
        ([[0.0, 181.0]], "origins[0]: not a valid [lat, lon]: [0.0, 181.0]"),
        ([[math.nan, 0.0]], "origins[0]: not a valid [lat, lon]: [nan, 0.0]"),
    ],
)
def test_a_bad_lat_lon_row_is_refused_naming_its_field_and_index(points: list[list[float]], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        haversine_matrix(points, [[0.0, 0.0]])
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([[1.0, 2.0, 3.0]], "destinations: expected an (n, 2) array of [x, y], got shape (1, 3)"),
        ([[5.0, 1e9], [math.inf, 0.0]], "destinations[1]: not a finite [x, y]: [inf, 0.0]"),
    ],
)
def test_a_bad_planar_row_is_refused_naming_its_field_and_index(points: list[list[float]], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        euclidean_matrix([[0.0, 0.0]], points)
    assert refused.value.message == message


def test_a_single_point_and_no_points_are_read_as_rows() -> None:
    assert haversine_matrix([10.0, 20.0], []).shape == (1, 0)
    assert euclidean_matrix([], [3.0, 4.0]).shape == (0, 1)
