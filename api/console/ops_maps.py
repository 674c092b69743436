"""The maps of operations' pages, drawn by `routing.maps` on the street base of `routing.streets`: a store with
its service area, and a store's live picture (drop-offs of waiting orders, open trips' destinations, shoppers'
live positions and the routes of what they carry)."""

from __future__ import annotations

import html
from pathlib import Path

from crowdship.errors import InvalidInput
from dispatch.model import Store
from dispatch.services.store_view import StoreLiveView
from routing.areas import Area
from routing.geo import GeoPoint
from routing.map_view import MapLayers, MapMarker, MapRoute, MapStore, MapView, fit_view
from routing.maps import LegendEntry, render_map
from routing.streets import street_base

MAP_WIDTH, MAP_HEIGHT = 520, 400
"""About the size it is shown at on a wide screen; a phone shows it smaller, so its legend is the page's text."""
DRAW_VIEW_RADIUS_M = 6_000.0
"""Around a store with no area yet, the ground its form's map shows to draw one on."""
FORM_MAP_MARGIN = 0.35
"""Room around a store's area on its form's map, to draw a larger one."""


def _store_layer(store: Store) -> list[MapStore]:
    """The store with its whole area, one polygon or several."""
    return [MapStore(store.location, store.name, store.service_area)]


def store_map_svg(store: Store, *, networks_dir: Path | None, element_id: str = "store-map") -> str:
    area = store.service_area
    return area_map_svg(store.name, store.location, area, networks_dir=networks_dir, element_id=element_id)


def area_map_svg(
    name: str, location: GeoPoint, area: Area | None, *, networks_dir: Path | None, element_id: str = "store-map"
) -> str:
    """The map of a store's form, to draw its area on: the area with room around it for a larger one, or with
    none yet, the ground a few kilometres around the store."""
    layers = MapLayers(stores=[MapStore(location, name, area)])
    view = fit_view(layers, margin=FORM_MAP_MARGIN) if area is not None else MapView(location, DRAW_VIEW_RADIUS_M)
    return _render(layers, f"{name}: service area", element_id, networks_dir, view)


def live_map_svg(view: StoreLiveView, *, networks_dir: Path | None, element_id: str = "live-map") -> str:
    store = view.store
    routes = []
    for on_map in view.trips.items:
        if on_map.stops:
            points = (store.location, *(order.dropoff for order in on_map.stops), on_map.trip.destination)
            routes.append(MapRoute(points, f"{on_map.shopper.display_name}'s route"))
    layers = MapLayers(
        stores=_store_layer(store),
        dropoffs=[
            MapMarker(order.dropoff, order.external_ref, order.status.value)
            for order in (*view.waiting.items, *view.offered.items, *(o for t in view.trips.items for o in t.stops))
        ],
        destinations=[
            MapMarker(on_map.trip.destination, f"{on_map.shopper.display_name}'s destination")
            for on_map in view.trips.items
        ],
        shoppers=[
            MapMarker(on_map.position, on_map.shopper.display_name)
            for on_map in view.trips.items
            if on_map.position is not None
        ],
        routes=routes,
    )
    return _render(layers, f"{store.name}: live", element_id, networks_dir)


def _render(
    layers: MapLayers, title: str, element_id: str, networks_dir: Path | None, view: MapView | None = None
) -> str:
    """The map as SVG and its legend under it as the page's own text (a list), so that the legend reads at the
    page's size however small the map is shown (at 12 px of a 520 px map, a phone's 300 px made it 7 px)."""
    try:
        view = view or fit_view(layers)
        drawn = render_map(
            street_base(view.center, view.radius_m, networks_dir=networks_dir),
            layers,
            title=title,
            view=view,
            width=MAP_WIDTH,
            height=MAP_HEIGHT,
            element_id=element_id,
            legend_in_svg=False,
        )
    except InvalidInput as error:  # e.g. an area wider than a map may show: the page still works
        return f'<p class="muted">No map: {error.message}</p>'
    return drawn.svg + _legend_html(drawn.legend, element_id)


def _legend_html(entries: tuple[LegendEntry, ...], element_id: str) -> str:
    """The legend's rows: each swatch (the map's own marks, drawn by `routing.map_symbols`) and its words."""
    rows = "".join(
        "<li>"
        + (
            f'<svg class="swatch" width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">{entry.swatch}</svg>'
            if entry.swatch
            else '<span class="swatch"></span>'
        )
        + f"{html.escape(entry.words, quote=False)}</li>"
        for entry in entries
    )
    return f'<ul class="map-legend" id="{html.escape(element_id)}-legend" aria-label="Legend of the map">{rows}</ul>'
