"""Geographic value types, validated where they are made so that nothing downstream sees a bad point."""

import math
from dataclasses import dataclass

from crowdship.errors import InvalidInput

METRES_PER_DEGREE = 111_320.0
"""Metres per degree of latitude (and of longitude at the equator), the local equirectangular scale: what a
small offset in metres is in degrees, for city-sized distances."""


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 position. Latitude first, as people say it; GeoJSON and WKT order is (lon, lat)."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        check_latitude(self.lat, "lat")
        check_longitude(self.lon, "lon")

    @classmethod
    def parse(cls, lat: float, lon: float, field: str) -> "GeoPoint":
        """Builds a point whose errors name the caller's field, e.g. `orders[3].location`."""
        check_latitude(lat, f"{field}.lat")
        check_longitude(lon, f"{field}.lon")
        return cls(lat, lon)


def check_latitude(value: float, field: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidInput(field, f"latitude must be a finite number, got {value!r}")
    if not -90.0 <= value <= 90.0:
        raise InvalidInput(field, f"latitude must lie within [-90, 90], got {value!r}")


def check_longitude(value: float, field: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidInput(field, f"longitude must be a finite number, got {value!r}")
    if not -180.0 <= value <= 180.0:
        raise InvalidInput(field, f"longitude must lie within [-180, 180], got {value!r}")
