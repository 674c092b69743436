"""Service areas: where a store delivers, as shapely polygons in (lon, lat).

Areas come in as GeoJSON (a Polygon or MultiPolygon geometry, or a Feature holding one) and are stored as-is in PostGIS
(`stores.service_area`, geography). Edges are straight in (lon, lat), here and in the database, which compares
drop-offs with areas as geometry: as geography an edge would be a great-circle arc, and a long one bows hundreds
of metres away from the straight line intake checks against. Areas across the antimeridian are not supported.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely import MultiPolygon, Point, Polygon
from shapely.ops import nearest_points
from shapely.validation import explain_validity

from crowdship.errors import DomainError, InvalidInput
from routing.distance import geodesic_m, geopy_geodesic
from routing.geo import METRES_PER_DEGREE, GeoPoint

BoolArray = npt.NDArray[np.bool_]
Area: TypeAlias = Polygon | MultiPolygon

MAX_AREA_VERTICES = 5_000
"""Enough for a hand-drawn or traced city area; a pasted coastline is refused."""
MIN_AREA_KM2 = 0.05
MAX_AREA_KM2 = 5_000.0
MAX_AREA_REACH_M = 100_000.0
"""No vertex of a store's area lies further than this from the store: a crowd-delivery detour is local."""


class OutsideServiceArea(DomainError):
    """A drop-off the store does not serve; says how far outside it lies, so support can judge."""

    kind = "invalid"

    def __init__(self, store_name: str, distance_m: float) -> None:
        super().__init__(f"the drop-off is {distance_m:,.0f} m outside the service area of {store_name}")
        self.store_name = store_name
        self.distance_m = distance_m


def circular_area(center: GeoPoint, radius_m: float, segments: int = 64) -> Polygon:
    """A polygon approximating the circle of `radius_m` around `center` on the ellipsoid."""
    if not math.isfinite(radius_m) or radius_m <= 0:
        raise InvalidInput("radius_m", "must be positive")
    if segments < 8:
        raise InvalidInput("segments", "use at least 8 segments")
    ring = []
    for index in range(segments):
        bearing = 360.0 * index / segments
        vertex = geopy_geodesic()(meters=radius_m).destination((center.lat, center.lon), bearing)
        ring.append((vertex.longitude, vertex.latitude))
    return Polygon(ring)


def covers(area: Area, point: GeoPoint) -> bool:
    """True when the point lies inside the area or on its edge."""
    return bool(area.covers(Point(point.lon, point.lat)))


def distance_to_area_m(area: Area, point: GeoPoint) -> float:
    """Metres from the point to the nearest point of the area; 0 inside or on the edge."""
    if covers(area, point):
        return 0.0
    # Nearest point found in a local equidistant-ish plane around the point (degrees of longitude shrink
    # with latitude), then measured exactly on the ellipsoid.
    shrink = math.cos(math.radians(point.lat))

    def to_local(coordinates: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(((coordinates[:, 0] - point.lon) * shrink, coordinates[:, 1] - point.lat))

    local_area = shapely.transform(area, to_local)
    nearest, _ = nearest_points(local_area, Point(0.0, 0.0))
    lon = point.lon + nearest.x / shrink if shrink > 1e-12 else point.lon
    lat = point.lat + nearest.y
    return geodesic_m(point, GeoPoint(max(-90.0, min(90.0, lat)), max(-180.0, min(180.0, lon))))


def ensure_within_service_area(store_name: str, area: Area, point: GeoPoint) -> None:
    """Raises `OutsideServiceArea` unless the store's area covers the point."""
    if not covers(area, point):
        raise OutsideServiceArea(store_name, distance_to_area_m(area, point))


# --------------------------------------------------------------------------------------------------
# GeoJSON


def service_area_from_geojson(data: Mapping[str, Any] | str, field: str = "service_area") -> Area:
    """A checked area from a GeoJSON Polygon or MultiPolygon geometry or a Feature holding one (RFC 7946)."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise InvalidInput(field, f"not valid JSON: {error.msg}") from error
    if not isinstance(data, Mapping):
        raise InvalidInput(field, "expected a GeoJSON object")
    if data.get("type") == "Feature":
        geometry = data.get("geometry")
        if not isinstance(geometry, Mapping):
            raise InvalidInput(f"{field}.geometry", "a Feature needs a geometry")
        return service_area_from_geojson(geometry, f"{field}.geometry")
    kind = data.get("type")
    if kind == "Polygon":
        return check_service_area(_polygon(data.get("coordinates"), f"{field}.coordinates"), field)
    if kind == "MultiPolygon":
        parts = data.get("coordinates")
        if not isinstance(parts, list) or not parts:
            raise InvalidInput(f"{field}.coordinates", "a MultiPolygon needs at least one polygon")
        if len(parts) > 100:
            raise InvalidInput(f"{field}.coordinates", "at most 100 polygons")
        polygons = [_polygon(part, f"{field}.coordinates[{index}]") for index, part in enumerate(parts)]
        return check_service_area(MultiPolygon(polygons), field)
    raise InvalidInput(f"{field}.type", f"expected 'Polygon', 'MultiPolygon' or 'Feature', got {kind!r}")


def _polygon(rings: object, field: str) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise InvalidInput(field, "a polygon needs at least its exterior ring")
    if len(rings) > 100:
        raise InvalidInput(field, "at most 100 rings per polygon")
    parsed = [_ring(ring, f"{field}[{index}]") for index, ring in enumerate(rings)]
    return Polygon(parsed[0], parsed[1:])


def service_area_to_geojson(area: Area) -> dict[str, Any]:
    """The area as a GeoJSON Polygon or MultiPolygon geometry."""
    geometry: dict[str, Any] = shapely.geometry.mapping(area)
    if isinstance(area, MultiPolygon):
        return {
            "type": "MultiPolygon",
            "coordinates": [
                [[list(position) for position in ring] for ring in polygon] for polygon in geometry["coordinates"]
            ],
        }
    return {
        "type": "Polygon",
        "coordinates": [[list(position) for position in ring] for ring in geometry["coordinates"]],
    }


def area_km2(area: Area) -> float:
    """The area's size, measured in a local plane around its centroid (exact enough for city-sized areas)."""
    centre = area.centroid
    shrink = math.cos(math.radians(centre.y))

    def to_local(coordinates: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(
            (
                (coordinates[:, 0] - centre.x) * shrink * METRES_PER_DEGREE,
                (coordinates[:, 1] - centre.y) * METRES_PER_DEGREE,
            )
        )

    return float(shapely.transform(area, to_local).area) / 1e6


def check_store_area(area: Area, store_location: GeoPoint, field: str = "service_area") -> Area:
    """A store's area: checked as any area, and also of a bounded vertex count, covering the store itself,
    of a sensible size and reaching no further than `MAX_AREA_REACH_M` from the store."""
    area = check_service_area(area, field)
    vertices = int(shapely.get_num_coordinates(area))
    if vertices > MAX_AREA_VERTICES:
        raise InvalidInput(field, f"at most {MAX_AREA_VERTICES} vertices, got {vertices}; simplify the outline")
    if not covers(area, store_location):
        raise InvalidInput(field, "must contain the store's own location")
    size = area_km2(area)
    if size < MIN_AREA_KM2:
        raise InvalidInput(field, f"covers {size:.3f} km², less than {MIN_AREA_KM2} km²: draw the area it delivers to")
    if size > MAX_AREA_KM2:
        raise InvalidInput(field, f"covers {size:,.0f} km², more than {MAX_AREA_KM2:,.0f} km²")
    coordinates = shapely.get_coordinates(area)
    reach = max(geodesic_m(store_location, GeoPoint(float(lat), float(lon))) for lon, lat in coordinates)
    if reach > MAX_AREA_REACH_M:
        raise InvalidInput(
            field, f"reaches {reach / 1000:,.0f} km from the store, more than {MAX_AREA_REACH_M / 1000:.0f} km"
        )
    return area


def check_service_area(area: object, field: str = "service_area") -> Area:
    """The area itself when it is a non-empty, valid polygon or multipolygon within lat/lon bounds; else
    InvalidInput."""
    if not isinstance(area, Polygon | MultiPolygon):
        raise InvalidInput(field, f"expected a polygon, got {type(area).__name__}")
    if area.is_empty:
        raise InvalidInput(field, "must not be empty")
    coordinates = shapely.get_coordinates(area)
    if not np.isfinite(coordinates).all():
        raise InvalidInput(field, "coordinates must be finite numbers")
    if (np.abs(coordinates[:, 0]) > 180).any() or (np.abs(coordinates[:, 1]) > 90).any():
        raise InvalidInput(field, "coordinates must be (lon, lat) within ±180, ±90")
    if not area.is_valid:
        raise InvalidInput(field, f"not a valid polygon: {explain_validity(area)}")
    if area.area == 0:
        raise InvalidInput(field, "must enclose some area")
    return area


def _ring(ring: object, field: str) -> list[tuple[float, float]]:
    if not isinstance(ring, list):
        raise InvalidInput(field, "a ring is a list of [lon, lat] positions")
    positions: list[tuple[float, float]] = []
    for index, position in enumerate(ring):
        name = f"{field}[{index}]"
        if not isinstance(position, list | tuple) or len(position) not in (2, 3):
            raise InvalidInput(name, "a position is [lon, lat] (an altitude may follow)")
        lon, lat = position[0], position[1]
        for value, axis, limit in ((lon, "longitude", 180.0), (lat, "latitude", 90.0)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(name, f"{axis} must be a number, got {_shown(value)}")
            if isinstance(value, float) and not math.isfinite(value):  # an int of any size compares exactly
                raise InvalidInput(name, f"{axis} must be a finite number, got {_shown(value)}")
            if abs(value) > limit:
                raise InvalidInput(name, f"{axis} must lie within ±{limit:g}, got {_shown(value)}")
        positions.append((float(lon), float(lat)))
    if len(positions) < 4:
        raise InvalidInput(field, f"a ring needs at least 4 positions, got {len(positions)}")
    if positions[0] != positions[-1]:
        raise InvalidInput(field, "a ring must end where it starts (RFC 7946)")
    return positions


def _shown(value: object) -> str:
    """A bad value as an error message quotes it: short, whatever was sent."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:20]}…"
