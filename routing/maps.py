"""A store's map as one SVG string: the street base, the service area, drop-offs, trips, shoppers, routes.

Pure: no I/O, no clock; the caller loads the base (`routing.streets.street_base`) and passes what to draw
(`routing.map_view`: the layers, the view and its equal-scale projection). Every layer is bounded: at most
`max_features` of each are drawn, and the legend and the description say how many were left out. Every
text that came from outside (store names, order references) is escaped, and characters XML cannot carry
are dropped, so the SVG is well-formed whatever the names hold.

    view = fit_view(layers)                            # routing.map_view
    base = street_base(view.center, view.radius_m)     # OSM streets where shipped, else a graticule
    svg = render_map_svg(base, layers, view=view, title="Northeast supercentre")

A page that lays the legend out itself, at its own text size whatever the map's scale (a phone shows a 520 px
map 300 px wide), asks `render_map(..., legend_in_svg=False)` for the map without it and its entries.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from shapely import MultiPolygon, Polygon

from crowdship.errors import InvalidInput
from routing.geo import METRES_PER_DEGREE, GeoPoint
from routing.map_labels import STORE_LABEL_CHAR_PX, STORE_LABEL_PX, label_place
from routing.map_symbols import (
    AREA_COLOUR,
    DESTINATION_COLOUR,
    FONT,
    GRID_COLOUR,
    MAJOR_ROADS,
    OTHER_STATUS_COLOUR,
    ROUTE_COLOUR,
    SHOPPER_COLOUR,
    STATUS_COLOURS,
    STATUS_ORDER,
    STORE_COLOUR,
    STREET_COLOUR,
    attr,
    clean,
    diamond,
    legend,
    star,
    status_words,
    swatch_area,
    swatch_diamond,
    swatch_dot,
    swatch_line,
    swatch_star,
    swatch_triangle,
    text,
    title,
    triangle,
)
from routing.map_view import (
    MAX_FEATURES_LIMIT,
    LocalProjection,
    MapLayers,
    MapMarker,
    MapRoute,
    MapStore,
    MapView,
    fit_view,
    projection_for,
)
from routing.streets import StreetBase, format_metres, lines_in_order, round_step

DEFAULT_MAX_FEATURES = 500
"""Per layer: drop-offs, destinations, shoppers, routes (and stores)."""
MAX_ROUTE_POINTS = 200
"""A longer route is thinned evenly (its ends kept)."""
MAX_AREA_VERTICES = 2_000
MIN_SIZE_PX, MAX_SIZE_PX = 200, 4_000

T = TypeVar("T")


@dataclass(frozen=True)
class LegendEntry:
    """One row of a map's legend: its swatch (SVG marks in a 16 x 16 box, or "" for a note) and its words."""

    swatch: str
    words: str


@dataclass(frozen=True)
class RenderedMap:
    svg: str
    legend: tuple[LegendEntry, ...]
    """The legend's entries, drawn below the map in `svg` too unless it was asked without (`legend_in_svg`)."""


def render_map_svg(
    base: StreetBase,
    layers: MapLayers,
    *,
    title: str,
    view: MapView | None = None,
    width: int = 800,
    height: int = 600,
    max_features: int = DEFAULT_MAX_FEATURES,
    element_id: str = "map",
) -> str:
    """The map as a standalone SVG element (embed it in HTML as-is). `width` x `height` is the map area;
    the legend is drawn below it. `element_id` prefixes the ids inside, so two maps can share a page.
    `view` defaults to `fit_view(layers)`."""
    drawn = render_map(
        base,
        layers,
        title=title,
        view=view,
        width=width,
        height=height,
        max_features=max_features,
        element_id=element_id,
    )
    return drawn.svg


def render_map(
    base: StreetBase,
    layers: MapLayers,
    *,
    title: str,
    view: MapView | None = None,
    width: int = 800,
    height: int = 600,
    max_features: int = DEFAULT_MAX_FEATURES,
    element_id: str = "map",
    legend_in_svg: bool = True,
) -> RenderedMap:
    """`render_map_svg`'s map with its legend's entries; without the legend below it when `legend_in_svg` is
    False (the page lays them out)."""
    for name, size in (("width", width), ("height", height)):
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE_PX <= size <= MAX_SIZE_PX:
            raise InvalidInput(name, f"must be a whole number of pixels in [{MIN_SIZE_PX}, {MAX_SIZE_PX}]")
    bad_count = isinstance(max_features, bool) or not isinstance(max_features, int)
    if bad_count or not 1 <= max_features <= MAX_FEATURES_LIMIT:
        raise InvalidInput("max_features", f"must be a whole number in [1, {MAX_FEATURES_LIMIT}]")
    prefix = re.sub(r"[^A-Za-z0-9_-]", "", element_id)[:40] or "map"
    projection = projection_for(view or fit_view(layers), width, height)
    drawing = _Drawing(projection, max_features)
    drawing.add(f'<rect width="{width}" height="{height}" fill="#fbfbf8"/>')
    drawing.add(f'<g clip-path="url(#{prefix}-clip)">')
    drawing.base(base)
    stores = drawing.cut("stores", layers.stores)
    routes = drawing.cut("routes", layers.routes)
    destinations = drawing.cut("destinations", layers.destinations)
    dropoffs = drawing.cut("drop-offs", layers.dropoffs)
    shoppers = drawing.cut("shoppers", layers.shoppers)
    drawing.service_areas([store.service_area for store in stores if store.service_area is not None])
    # Stores first, so that a shopper still in the store is drawn over its star; each name goes where it
    # covers no marker (above the star, else below, right or left of it).
    markers = [marker.location for marker in (*destinations, *dropoffs, *shoppers)]
    drawing.stores(stores, len(layers.stores), markers, width, height)
    drawing.routes(routes, len(layers.routes), layers.routes_note)
    drawing.destinations(destinations, len(layers.destinations))
    drawing.dropoffs(dropoffs, len(layers.dropoffs))
    drawing.shoppers(shoppers, len(layers.shoppers))
    drawing.add("</g>")
    drawing.scale_bar(width, height)
    if base.attribution:
        drawing.add(
            f'<text x="{width - 6}" y="{height - 6}" text-anchor="end" font-size="11" fill="#333333" '
            f'stroke="#ffffff" stroke-width="3" paint-order="stroke" data-attribution="osm">'
            f"{text(base.attribution)}</text>"
        )
    base_label = base.description + (" (some streets left out)" if base.truncated else "")
    drawing.legend.append((swatch_line(GRID_COLOUR if base.kind == "graticule" else STREET_COLOUR), base_label))
    if drawing.notes:
        drawing.legend.append(("", "; ".join(drawing.notes)))

    entries = tuple(LegendEntry(swatch, clean(words, 160)) for swatch, words in drawing.legend)
    legend_svg, legend_height = legend(drawing.legend, width, height + 10, columns=2) if legend_in_svg else ("", 0)
    total_height = height + 10 + legend_height if legend_in_svg else height
    description = _description(base, layers, drawing.notes)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{prefix}" role="img" '
        f'aria-labelledby="{prefix}-title {prefix}-desc" width="{width}" height="{total_height}" '
        f'viewBox="0 0 {width} {total_height}" font-family="{attr(FONT)}" '
        f'data-projection="{_projection_words(projection)}" data-map-height="{height}">'
        f'<title id="{prefix}-title">{text(title, 200)}</title>'
        f'<desc id="{prefix}-desc">{text(description, 1000)}</desc>'
        f'<defs><clipPath id="{prefix}-clip"><rect width="{width}" height="{height}"/></clipPath></defs>'
        + "".join(drawing.parts)
        + f'<rect width="{width}" height="{height}" fill="none" stroke="#999999"/>'
        + legend_svg
        + "</svg>"
    )
    return RenderedMap(svg, entries)


class _Drawing:
    """The SVG parts, legend entries and notes of one map as its layers are drawn."""

    def __init__(self, projection: LocalProjection, max_features: int) -> None:
        self.projection = projection
        self.max_features = max_features
        self.parts: list[str] = []
        self.legend: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def cut(self, name: str, items: Sequence[T]) -> Sequence[T]:
        if len(items) > self.max_features:
            self.notes.append(f"{len(items) - self.max_features} {name} not drawn (at most {self.max_features})")
        return items[: self.max_features]

    def xy(self, point: GeoPoint) -> tuple[float, float]:
        return self.projection.xy(point.lon, point.lat)

    def base(self, base: StreetBase) -> None:
        colour = GRID_COLOUR if base.kind == "graticule" else STREET_COLOUR
        self.add(f'<g data-layer="base" data-base="{base.kind}" fill="none" stroke="{colour}" stroke-linecap="round">')
        for line in lines_in_order(base.lines):
            width = 2.2 if line.kind in MAJOR_ROADS else 1.2
            points = " ".join(_pair(self.projection.xy(lon, lat)) for lon, lat in line.points)
            self.add(f'<polyline points="{points}" stroke-width="{width}"/>')
        self.add("</g>")

    def service_areas(self, areas: Sequence[Polygon | MultiPolygon]) -> None:
        if not areas:
            return
        self.add('<g data-layer="service-area">')
        for area in areas:
            self.add(
                f'<path d="{_polygon_path(area, self.projection)}" fill="{AREA_COLOUR}" fill-opacity="0.06" '
                f'stroke="{AREA_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4" fill-rule="evenodd"/>'
            )
        self.add("</g>")
        self.legend.append((swatch_area(), "service area"))

    def routes(self, routes: Sequence[MapRoute], total: int, note: str) -> None:
        if not routes:
            return
        self.add(
            f'<g data-layer="routes" fill="none" stroke="{ROUTE_COLOUR}" stroke-opacity="0.45" stroke-width="1.4">'
        )
        for route in routes:
            points = " ".join(_pair(self.xy(point)) for point in _thin(route.points))
            self.add(f'<polyline points="{points}">{title(route.label)}</polyline>')
        self.add("</g>")
        label = f"routes ({_count(len(routes), total)})" + (f": {note}" if note else "")
        self.legend.append((swatch_line(ROUTE_COLOUR), label))

    def destinations(self, markers: Sequence[MapMarker], total: int) -> None:
        if not markers:
            return
        self.add(f'<g data-layer="destinations" fill="none" stroke="{DESTINATION_COLOUR}" stroke-width="1.6">')
        for marker in markers:
            self.add(f'<path d="{diamond(*self.xy(marker.location), 5)}">{title(marker.label)}</path>')
        self.add("</g>")
        self.legend.append((swatch_diamond(), f"open trips' destinations ({_count(len(markers), total)})"))

    def dropoffs(self, markers: Sequence[MapMarker], total: int) -> None:
        if not markers:
            return
        self.add('<g data-layer="dropoffs" stroke="#ffffff" stroke-width="0.8">')
        for marker in markers:
            x, y = self.xy(marker.location)
            colour = STATUS_COLOURS.get(marker.status, OTHER_STATUS_COLOUR)
            label = f"{marker.label} ({status_words(marker.status)})" if marker.status else marker.label
            self.add(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" data-status="{attr(marker.status)}">'
                f"{title(label)}</circle>"
            )
        self.add("</g>")
        by_status = Counter(marker.status for marker in markers)
        order = {status: index for index, status in enumerate(STATUS_ORDER)}
        for status in sorted(by_status, key=lambda s: (order.get(s, len(order)), s)):
            colour = STATUS_COLOURS.get(status, OTHER_STATUS_COLOUR)
            said = status_words(status) if status else "without status"
            self.legend.append((swatch_dot(colour), f"drop-offs {said} ({by_status[status]})"))
        if total > len(markers):
            self.legend.append(("", f"drop-offs: {total - len(markers)} more not drawn"))

    def shoppers(self, markers: Sequence[MapMarker], total: int) -> None:
        if not markers:
            return
        self.add(f'<g data-layer="shoppers" fill="{SHOPPER_COLOUR}" stroke="#ffffff" stroke-width="1">')
        for marker in markers:
            self.add(f'<path d="{triangle(*self.xy(marker.location), 6)}">{title(marker.label)}</path>')
        self.add("</g>")
        self.legend.append((swatch_triangle(), f"shoppers now ({_count(len(markers), total)})"))

    def stores(
        self, stores: Sequence[MapStore], total: int, markers: Sequence[GeoPoint], width: int, height: int
    ) -> None:
        if not stores:
            return
        self.add(f'<g data-layer="stores" fill="{STORE_COLOUR}" stroke="#000000" stroke-width="1">')
        stars = [self.xy(store.location) for store in stores]
        for store, (x, y) in zip(stores, stars, strict=True):
            self.add(f'<path d="{star(x, y, 10)}">{title(store.name)}</path>')
        for store, (x, y) in zip(stores, stars, strict=True):
            name = clean(store.name, 40)
            others = [self.xy(point) for point in markers] + [xy for xy in stars if xy != (x, y)]
            tx, ty, anchor = label_place(x, y, len(name) * STORE_LABEL_CHAR_PX, others, width, height)
            self.add(
                f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}" font-size="{STORE_LABEL_PX}" '
                f'stroke="#ffffff" stroke-width="3" paint-order="stroke" fill="#111111">{text(store.name, 40)}</text>'
            )
        self.add("</g>")
        self.legend.append((swatch_star(), "store" if total == 1 else f"stores ({_count(len(stores), total)})"))

    def scale_bar(self, width: int, height: int) -> None:
        metres = round_step(width / self.projection.px_per_m / 5)
        length = metres * self.projection.px_per_m
        x0, y0 = 12.0, height - 14.0
        self.add(
            f'<g data-layer="scale" stroke="#222222" stroke-width="2" fill="none">'
            f'<path d="M{x0:.1f},{y0 - 5:.1f} V{y0:.1f} H{x0 + length:.1f} V{y0 - 5:.1f}"/></g>'
            f'<text x="{x0 + length / 2:.1f}" y="{y0 - 7:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#222222" stroke="#ffffff" stroke-width="3" paint-order="stroke" data-scale-m="{metres:g}">'
            f"{format_metres(metres)}</text>"
        )


# --------------------------------------------------------------------------------------------------
# Pieces


def _projection_words(projection: LocalProjection) -> str:
    """The projection as "lat lon px_per_degree_lat px_per_degree_lon origin_x origin_y": what a page needs to
    turn a point of the map back into a position (the console draws a service area by clicks so)."""
    centre = projection.center
    per_degree_lat = projection.px_per_m * METRES_PER_DEGREE
    per_degree_lon = per_degree_lat * math.cos(math.radians(centre.lat))
    return (
        f"{centre.lat:.7f} {centre.lon:.7f} {per_degree_lat:.9g} {per_degree_lon:.9g} "
        f"{projection.origin_x:g} {projection.origin_y:g}"
    )


def _description(base: StreetBase, layers: MapLayers, notes: list[str]) -> str:
    stores = len(layers.stores)
    counts = [
        f"{stores} store{'s' if stores != 1 else ''}",
        f"{len(layers.dropoffs)} drop-offs",
        f"{len(layers.destinations)} open trips' destinations",
        f"{len(layers.shoppers)} shopper positions",
        f"{len(layers.routes)} routes",
    ]
    text = f"Map on {base.description}: " + ", ".join(counts) + "."
    if notes:
        text += " " + "; ".join(notes) + "."
    if base.attribution:
        text += f" Street data {base.attribution}."
    return text


def _polygon_path(area: Polygon | MultiPolygon, projection: LocalProjection) -> str:
    polygons = list(area.geoms) if isinstance(area, MultiPolygon) else [area]
    rings = [ring for polygon in polygons for ring in (polygon.exterior, *polygon.interiors)]
    step_vertices = max(1, math.ceil(sum(len(ring.coords) for ring in rings) / MAX_AREA_VERTICES))
    parts = []
    for ring in rings:
        coordinates = list(ring.coords)
        kept = coordinates[::step_vertices] if len(coordinates) > 3 * step_vertices else coordinates
        parts.append("M" + " L".join(_pair(projection.xy(lon, lat)) for lon, lat, *_ in kept) + " Z")
    return " ".join(parts)


def _thin(points: Sequence[GeoPoint]) -> list[GeoPoint]:
    if len(points) <= MAX_ROUTE_POINTS:
        return list(points)
    step = (len(points) - 1) / (MAX_ROUTE_POINTS - 1)
    return [points[round(index * step)] for index in range(MAX_ROUTE_POINTS)]


def _pair(xy: tuple[float, float]) -> str:
    return f"{xy[0]:.1f},{xy[1]:.1f}"


def _count(drawn: int, total: int) -> str:
    return f"{drawn} of {total}" if total > drawn else str(drawn)
