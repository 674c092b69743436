"""Service areas: GeoJSON in and out, point checks, the out-of-area error, and agreement with PostGIS."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
import shapely
from geopy.distance import geodesic
from psycopg_pool import ConnectionPool
from shapely import Polygon

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresStoreRepository
from dispatch.model import Store
from routing.areas import (
    OutsideServiceArea,
    area_km2,
    check_service_area,
    check_store_area,
    circular_area,
    covers,
    distance_to_area_m,
    ensure_within_service_area,
    service_area_from_geojson,
    service_area_to_geojson,
)
from routing.geo import GeoPoint

CENTRE = GeoPoint(52.5200, 13.4050)

# A block of Berlin-Mitte with a courtyard cut out; (lon, lat) as GeoJSON has it.
MITTE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[13.38, 52.51], [13.43, 52.51], [13.43, 52.53], [13.38, 52.53], [13.38, 52.51]],
        [[13.40, 52.515], [13.41, 52.515], [13.41, 52.52], [13.40, 52.52], [13.40, 52.515]],
    ],
}


def point_at(start: GeoPoint, bearing: float, metres: float) -> GeoPoint:
    end = geodesic(meters=metres).destination((start.lat, start.lon), bearing)
    return GeoPoint(end.latitude, end.longitude)


def test_geojson_polygon_and_feature_give_the_same_area() -> None:
    """A bare Polygon, a Feature holding it and its JSON text all parse to the same polygon."""
    bare = service_area_from_geojson(MITTE)
    feature = service_area_from_geojson({"type": "Feature", "properties": {}, "geometry": MITTE})
    text = service_area_from_geojson(json.dumps(MITTE))
    assert bare.equals(feature)
    assert bare.equals(text)
    assert len(bare.interiors) == 1
    assert service_area_from_geojson(service_area_to_geojson(bare)).equals_exact(bare, 0.0)


def test_point_checks_respect_holes_and_edges() -> None:
    """Inside is covered, the courtyard and the outside are not, the edge is."""
    area = service_area_from_geojson(MITTE)
    assert covers(area, GeoPoint(52.525, 13.39))
    assert not covers(area, GeoPoint(52.517, 13.405))  # in the courtyard
    assert not covers(area, GeoPoint(52.54, 13.40))
    assert covers(area, GeoPoint(52.51, 13.40))  # on the southern edge


def test_outside_drop_off_raises_with_distance_and_store_name() -> None:
    """1 500 m from the centre of a 1 000 m area: about 500 m outside, said in the message."""
    area = circular_area(CENTRE, 1_000)
    far = point_at(CENTRE, 75.0, 1_500)
    with pytest.raises(OutsideServiceArea) as raised:
        ensure_within_service_area("Mitte Markt", area, far)
    error = raised.value
    assert error.kind == "invalid"
    assert error.store_name == "Mitte Markt"
    assert 499 <= error.distance_m <= 502  # the 64-gon's edges sag at most 1.2 m inside the circle
    assert "Mitte Markt" in error.message
    assert f"{error.distance_m:,.0f} m" in error.message


def test_inside_drop_off_passes_and_has_no_distance() -> None:
    """A point inside raises nothing and lies 0 m from the area."""
    area = circular_area(CENTRE, 1_000)
    inside = point_at(CENTRE, 200.0, 900)
    ensure_within_service_area("Mitte Markt", area, inside)
    assert distance_to_area_m(area, inside) == 0.0


@pytest.mark.parametrize("bearing", [0.0, 90.0, 180.0, 270.0, 33.0])
def test_distance_to_area_is_measured_on_the_ellipsoid_in_every_direction(bearing: float) -> None:
    """Outside a 2 km area at 3 km from the centre, the gap is 1 km whichever way (despite lon shrink)."""
    area = circular_area(GeoPoint(60.0, 10.0), 2_000, segments=256)
    assert distance_to_area_m(area, point_at(GeoPoint(60.0, 10.0), bearing, 3_000)) == pytest.approx(1_000, abs=1.0)


def with_change(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(MITTE)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (with_change(("coordinates", 0, 1), [13.43, 91.0]), "service_area.coordinates[0][1]"),
        (with_change(("coordinates", 0, 2), [-180.5, 52.53]), "service_area.coordinates[0][2]"),
        (with_change(("coordinates", 1, 1), [13.41, float("nan")]), "service_area.coordinates[1][1]"),
        (with_change(("coordinates", 0, 1), ["13.43", 52.51]), "service_area.coordinates[0][1]"),
        (with_change(("coordinates", 0, 1), [10**400, 52.51]), "service_area.coordinates[0][1]"),
        (with_change(("coordinates",), []), "service_area.coordinates"),
        (
            with_change(("coordinates", 0), [[13.38, 52.51], [13.43, 52.51], [13.38, 52.51]]),
            "service_area.coordinates[0]",
        ),
        (with_change(("coordinates", 0, 4), [13.39, 52.51]), "service_area.coordinates[0]"),
        (with_change(("type",), "LineString"), "service_area.type"),
        ({"type": "Feature", "geometry": None}, "service_area.geometry"),
        ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [13, 52]}}, "service_area.geometry.type"),
        ("{not json", "service_area"),
        (
            # A bow tie: the edges cross in the middle.
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "service_area",
        ),
        (
            # Degenerate: every vertex on one line.
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]},
            "service_area",
        ),
    ],
)
def test_bad_geojson_raises_invalid_input_naming_the_field(data: Any, field: str) -> None:
    """Out-of-range (of any size), NaN or non-numeric positions, empty, open, short or self-intersecting rings,
    wrong types; a message quotes a bad value short."""
    with pytest.raises(InvalidInput) as raised:
        service_area_from_geojson(data)
    assert raised.value.field == field
    assert len(raised.value.message) < 200


def test_self_intersection_is_explained() -> None:
    """The message says why the polygon is invalid, and check_service_area refuses non-polygons and empties."""
    with pytest.raises(InvalidInput, match="Self-intersection"):
        service_area_from_geojson({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})
    with pytest.raises(InvalidInput, match="empty"):
        check_service_area(Polygon())
    with pytest.raises(InvalidInput, match="polygon"):
        check_service_area(shapely.Point(0, 0))


def make_store(area: Polygon, name: str = "Mitte Markt") -> Store:
    return Store(name=name, location=CENTRE, service_area=area, fallback_cost_cents=Cents(690))


def test_geojson_area_survives_a_postgis_round_trip(db: ConnectionPool) -> None:
    """GeoJSON -> Store -> PostgresStoreRepository -> Store -> GeoJSON gives back the same polygon, hole too."""
    store = make_store(service_area_from_geojson(MITTE))
    with db.connection() as connection:
        PostgresStoreRepository(connection).add(store)
    with db.connection() as connection:
        loaded = PostgresStoreRepository(connection).get(store.id)
    assert loaded.service_area.equals_exact(store.service_area, 0.0)
    assert service_area_to_geojson(loaded.service_area) == service_area_to_geojson(store.service_area)


def test_shapely_covers_agrees_with_postgis_st_covers(db: ConnectionPool) -> None:
    """Random points around two stored areas; PostGIS uses geodesic edges, so the 0.5 m band at edges is left out."""
    rng = np.random.default_rng(17)
    stores = [make_store(service_area_from_geojson(MITTE), "Mitte"), make_store(circular_area(CENTRE, 3_000), "Ring")]
    with db.connection() as connection:
        repository = PostgresStoreRepository(connection)
        for store in stores:
            repository.add(store)
    for store in stores:
        min_x, min_y, max_x, max_y = store.service_area.bounds
        pad_x, pad_y = (max_x - min_x) * 0.2, (max_y - min_y) * 0.2
        lons = rng.uniform(min_x - pad_x, max_x + pad_x, 600)
        lats = rng.uniform(min_y - pad_y, max_y + pad_y, 600)
        with db.connection() as connection:
            rows = connection.execute(
                """SELECT ST_Covers(s.service_area, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography)
                   FROM stores s, unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(lon, lat, position)
                   WHERE s.id = %s ORDER BY p.position""",
                (lons.tolist(), lats.tolist(), store.id),
            ).fetchall()
        postgis = np.array([row[0] for row in rows])
        ours = np.array([covers(store.service_area, GeoPoint(lat, lon)) for lat, lon in zip(lats, lons, strict=True)])
        metres_per_degree = 111_195.0
        boundary = store.service_area.boundary
        clear_of_edges = np.array(
            [
                shapely.distance(boundary, shapely.Point(lon, lat)) * metres_per_degree * math.cos(math.radians(lat))
                > 0.5
                for lon, lat in zip(lons, lats, strict=True)
            ]
        )
        assert clear_of_edges.sum() > 550
        np.testing.assert_array_equal(ours[clear_of_edges], postgis[clear_of_edges])
        assert 100 < int(ours.sum()) < 550, "both inside and outside points were tested"


# --- Stores' areas -----------------------------------------------------------------------------------------

TWO_BLOCKS: dict[str, Any] = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[13.38, 52.51], [13.43, 52.51], [13.43, 52.53], [13.38, 52.53], [13.38, 52.51]]],
        [[[13.45, 52.51], [13.47, 52.51], [13.47, 52.53], [13.45, 52.53], [13.45, 52.51]]],
    ],
}


def test_a_multipolygon_round_trips_and_covers_both_parts() -> None:
    """A store may serve two separate districts: both parts cover their points, GeoJSON out equals GeoJSON in."""
    area = service_area_from_geojson(TWO_BLOCKS)
    assert isinstance(area, shapely.MultiPolygon)
    assert covers(area, GeoPoint(52.52, 13.40))
    assert covers(area, GeoPoint(52.52, 13.46))
    assert not covers(area, GeoPoint(52.52, 13.44))
    assert service_area_to_geojson(area) == TWO_BLOCKS


def test_overlapping_multipolygon_parts_are_refused() -> None:
    """Parts of a MultiPolygon must not overlap (shapely's validity), and the field is named."""
    overlapping = copy.deepcopy(TWO_BLOCKS)
    overlapping["coordinates"][1] = [[[13.40, 52.51], [13.47, 52.51], [13.47, 52.53], [13.40, 52.53], [13.40, 52.51]]]
    with pytest.raises(InvalidInput) as raised:
        service_area_from_geojson(overlapping)
    assert raised.value.field == "service_area"


@pytest.mark.parametrize(
    ("area", "message"),
    [
        (circular_area(point_at(CENTRE, 90, 20_000), 3_000), "must contain the store"),
        (circular_area(CENTRE, 100), "less than"),
        (circular_area(CENTRE, 60_000), "more than"),
        (Polygon([(13.40, 52.51), (13.41, 52.51), (14.9, 52.53), (13.40, 52.53)]), "reaches"),
        (circular_area(CENTRE, 5_000, segments=6_000), "vertices"),
    ],
    ids=["store-outside", "tiny", "huge", "far-reaching", "too-many-vertices"],
)
def test_a_store_area_must_hold_the_store_and_be_of_a_sensible_size(area: Polygon, message: str) -> None:
    """Contains the store, between 0.05 and 5 000 km², within 100 km of it, at most 5 000 vertices."""
    with pytest.raises(InvalidInput, match=message) as raised:
        check_store_area(area, CENTRE)
    assert raised.value.field == "service_area"


def test_a_city_area_around_the_store_passes_and_its_size_is_measured() -> None:
    """A 5 km circle is about 78.5 km² by the local-plane measure (within 0.5 %)."""
    area = circular_area(CENTRE, 5_000, segments=256)
    assert check_store_area(area, CENTRE) is area
    assert area_km2(area) == pytest.approx(math.pi * 25, rel=5e-3)
