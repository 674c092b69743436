"""Service areas: where a store delivers, as shapely polygons in (lon, lat)."""

from __future__ import annotations

from geopy.distance import geodesic
from shapely import Point, Polygon

from crowdship.errors import InvalidInput
from routing.geo import GeoPoint


def circular_area(center: GeoPoint, radius_m: float, segments: int = 64) -> Polygon:
    """A polygon approximating the circle of `radius_m` around `center` on the ellipsoid."""
    if radius_m <= 0:
        raise InvalidInput("radius_m", "must be positive")
    if segments < 8:
        raise InvalidInput("segments", "use at least 8 segments")
    ring = []
    for index in range(segments):
        bearing = 360.0 * index / segments
        vertex = geodesic(meters=radius_m).destination((center.lat, center.lon), bearing)
        ring.append((vertex.longitude, vertex.latitude))
    return Polygon(ring)


def covers(area: Polygon, point: GeoPoint) -> bool:
    """True when the point lies inside the area or on its edge."""
    return bool(area.covers(Point(point.lon, point.lat)))
