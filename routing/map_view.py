"""What a store's map shows and the ground it covers: the layers given to draw (`MapLayers`), the view fitted
around them (`fit_view`) and the local projection from degrees to pixels (`projection_for`).

The projection is a local equirectangular one at the view's centre latitude, so one metre east is as many
pixels as one metre north (within a few parts per thousand over a city). `routing.maps` draws the layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shapely import MultiPolygon, Polygon

from crowdship.errors import InvalidInput
from routing.geo import METRES_PER_DEGREE, GeoPoint
from routing.streets import MAX_VIEW_RADIUS_M

MAX_FEATURES_LIMIT = 5_000
"""The most of each layer a map may be asked to draw (and `fit_view` looks at)."""
MIN_VIEW_RADIUS_M = 300.0


@dataclass(frozen=True, slots=True)
class MapStore:
    location: GeoPoint
    name: str
    service_area: Polygon | MultiPolygon | None = None
    """In (lon, lat), as `routing.areas` builds it; a MultiPolygon is drawn part by part, one legend entry."""


@dataclass(frozen=True, slots=True)
class MapMarker:
    """A drop-off (with its order status), an open trip's destination or a shopper's live position."""

    location: GeoPoint
    label: str = ""
    status: str = ""


@dataclass(frozen=True, slots=True)
class MapRoute:
    points: tuple[GeoPoint, ...]
    label: str = ""


@dataclass(frozen=True)
class MapLayers:
    """What to draw over the base, bottom to top: service areas, routes, destinations, drop-offs, shoppers,
    stores."""

    stores: Sequence[MapStore] = ()
    dropoffs: Sequence[MapMarker] = ()
    destinations: Sequence[MapMarker] = ()
    shoppers: Sequence[MapMarker] = ()
    routes: Sequence[MapRoute] = ()
    routes_note: str = ""
    """Said after the routes' count in the legend, e.g. "straight lines between stops"."""


@dataclass(frozen=True, slots=True)
class MapView:
    """The ground shown: at least `radius_m` on every side of `center` (more along the longer side)."""

    center: GeoPoint
    radius_m: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.radius_m) or not 0 < self.radius_m <= MAX_VIEW_RADIUS_M:
            raise InvalidInput("view.radius_m", f"must lie in (0, {MAX_VIEW_RADIUS_M:g}] metres")


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular at the centre's latitude: x grows east, y grows south (SVG), equal px per metre."""

    center: GeoPoint
    px_per_m: float
    origin_x: float
    origin_y: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        east_m = (lon - self.center.lon) * METRES_PER_DEGREE * math.cos(math.radians(self.center.lat))
        north_m = (lat - self.center.lat) * METRES_PER_DEGREE
        return self.origin_x + east_m * self.px_per_m, self.origin_y - north_m * self.px_per_m


def fit_view(layers: MapLayers, margin: float = 0.08) -> MapView:
    """The view around the stores and their service areas; with no area, around every drawn point too."""
    lons: list[float] = []
    lats: list[float] = []
    areas = [store.service_area for store in layers.stores[:MAX_FEATURES_LIMIT] if store.service_area is not None]
    for store in layers.stores[:MAX_FEATURES_LIMIT]:
        lons.append(store.location.lon)
        lats.append(store.location.lat)
    for area in areas:
        west, south, east, north = area.bounds
        lons += [west, east]
        lats += [south, north]
    if not areas:
        for markers in (layers.dropoffs, layers.destinations, layers.shoppers):
            for marker in markers[:MAX_FEATURES_LIMIT]:
                lons.append(marker.location.lon)
                lats.append(marker.location.lat)
    if not lons:
        raise InvalidInput("layers", "nothing to map: give at least a store or a point")
    center = GeoPoint((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
    shrink = math.cos(math.radians(center.lat))
    half_east = (max(lons) - min(lons)) / 2 * METRES_PER_DEGREE * shrink
    half_north = (max(lats) - min(lats)) / 2 * METRES_PER_DEGREE
    radius = max(half_east, half_north, MIN_VIEW_RADIUS_M) * (1 + margin)
    return MapView(center, min(radius, MAX_VIEW_RADIUS_M))


def projection_for(view: MapView, width: int, height: int) -> LocalProjection:
    """Fits the view's square into the width x height map area, centred."""
    px_per_m = min(width, height) / (2 * view.radius_m)
    return LocalProjection(view.center, px_per_m, width / 2, height / 2)
