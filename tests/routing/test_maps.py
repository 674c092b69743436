"""A store's map as SVG: equal scale, every layer with its legend, bounded, escaped, attributed."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from shapely import MultiPolygon

from crowdship.errors import InvalidInput
from crowdship.settings import DEFAULT_STREET_NETWORKS_DIR
from routing.areas import circular_area
from routing.geo import METRES_PER_DEGREE, GeoPoint
from routing.map_symbols import LEGEND_CHAR_PX, LEGEND_ROW_PX
from routing.map_view import MapLayers, MapMarker, MapRoute, MapStore, MapView, fit_view, projection_for
from routing.maps import render_map_svg
from routing.streets import OSM_ATTRIBUTION, graticule_base, street_base

SVG = "{http://www.w3.org/2000/svg}"
PIEDMONT = GeoPoint(37.8244, -122.2312)
STORE = GeoPoint(60.0, 10.0)  # far north, where a degree of longitude is half a degree of latitude


def east_of(point: GeoPoint, metres: float) -> GeoPoint:
    return GeoPoint(point.lat, point.lon + metres / (METRES_PER_DEGREE * 0.5))


def north_of(point: GeoPoint, metres: float) -> GeoPoint:
    return GeoPoint(point.lat + metres / METRES_PER_DEGREE, point.lon)


def layers(**more: object) -> MapLayers:
    store = MapStore(STORE, "Store", circular_area(STORE, 2000))
    return MapLayers(stores=[store], **more)  # type: ignore[arg-type]


def render(map_layers: MapLayers, **options: object) -> ElementTree.Element:
    view = fit_view(map_layers)
    svg = render_map_svg(graticule_base(view.center, view.radius_m), map_layers, title="A map", **options)  # type: ignore[arg-type]
    return ElementTree.fromstring(svg)


def layer(root: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next((g for g in root.iter(f"{SVG}g") if g.get("data-layer") == name), None)


def legend_text(root: ElementTree.Element) -> str:
    legend = layer(root, "legend")
    assert legend is not None
    return " | ".join(text.text or "" for text in legend.iter(f"{SVG}text"))


def test_a_kilometre_east_is_as_many_pixels_as_a_kilometre_north() -> None:
    """Equirectangular at the store's latitude: at 60° N a degree of longitude is drawn half as wide."""
    projection = projection_for(MapView(STORE, 3000), 800, 600)
    x0, y0 = projection.xy(STORE.lon, STORE.lat)
    east = east_of(STORE, 1000)
    north = north_of(STORE, 1000)
    xe, ye = projection.xy(east.lon, east.lat)
    xn, yn = projection.xy(north.lon, north.lat)
    assert ye == pytest.approx(y0)
    assert xn == pytest.approx(x0)
    assert xe - x0 == pytest.approx(y0 - yn)
    assert xe - x0 == pytest.approx(1000 * 600 / 6000)


def test_drop_offs_are_drawn_where_they_are_in_equal_metres() -> None:
    root = render(
        layers(dropoffs=[MapMarker(east_of(STORE, 1000), "east", "pending"), MapMarker(north_of(STORE, 1000), "north")])
    )
    dots = list(layer(root, "dropoffs") or [])
    (east_x, east_y), (north_x, north_y) = ((float(d.get("cx", 0)), float(d.get("cy", 0))) for d in dots)
    assert east_x - 400 == pytest.approx(300 - north_y, abs=0.2)
    assert north_x == pytest.approx(400, abs=0.2)
    assert east_y == pytest.approx(300, abs=0.2)


def test_every_layer_has_its_legend_entry_and_the_svg_its_accessible_title() -> None:
    somewhere = east_of(STORE, 500)
    root = render(
        layers(
            dropoffs=[MapMarker(somewhere, "R-1", "delivered"), MapMarker(somewhere, "R-2", "pending")],
            destinations=[MapMarker(north_of(STORE, 800), "trip 1")],
            shoppers=[MapMarker(somewhere, "shopper 1")],
            routes=[MapRoute((STORE, somewhere), "trip 1")],
            routes_note="straight lines",
        )
    )
    for name in ("base", "service-area", "routes", "destinations", "dropoffs", "shoppers", "stores", "scale"):
        assert layer(root, name) is not None, name
    text = legend_text(root)
    for entry in (
        "service area",
        "routes (1): straight lines",
        "open trips' destinations (1)",
        "drop-offs pending (1)",
        "drop-offs delivered (1)",
        "shoppers now (1)",
        "store",
        "no street data",
    ):
        assert entry in text
    assert root.get("role") == "img"
    labelled_by = (root.get("aria-labelledby") or "").split()
    ids = {element.get("id"): element for element in root.iter() if element.get("id")}
    assert [ids[name].tag for name in labelled_by] == [f"{SVG}title", f"{SVG}desc"]
    assert ids[labelled_by[0]].text == "A map"
    assert "2 drop-offs" in (ids[labelled_by[1]].text or "")


def test_the_scale_bar_is_a_round_length_drawn_at_the_map_scale() -> None:
    root = render(layers(), width=800, height=600)
    label = next(t for t in root.iter(f"{SVG}text") if t.get("data-scale-m"))
    metres = float(label.get("data-scale-m", 0))
    assert metres in {1, 2, 5} or re.fullmatch(r"[125]0+", f"{metres:g}")
    bar = layer(root, "scale")
    assert bar is not None
    path = next(iter(bar)).get("d", "")
    start, end = (float(value) for value in re.findall(r"[MH](-?[\d.]+)", path))
    view = fit_view(layers())
    assert end - start == pytest.approx(metres * 600 / (2 * view.radius_m), abs=0.2)


def test_names_are_escaped_and_characters_xml_cannot_carry_are_dropped() -> None:
    hostile = 'Store <script>alert("x")</script> & Co \x00\x1b'
    svg = render_map_svg(
        graticule_base(STORE, 2000),
        MapLayers(stores=[MapStore(STORE, hostile)], dropoffs=[MapMarker(STORE, "<b>R&1</b>", '"><x')]),
        title="<title>",
        element_id='map"><script>',
    )
    assert "<script>" not in svg
    root = ElementTree.fromstring(svg)  # well-formed whatever the names held
    assert root.get("id") == "mapscript"
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert 'Store <script>alert("x")</script> & Co ' in titles
    assert titles[0] == "<title>"


def test_each_layer_is_bounded_and_the_map_says_how_many_were_left_out() -> None:
    many = [MapMarker(east_of(STORE, index), f"R-{index}", "delivered") for index in range(30)]
    root = render(layers(dropoffs=many, shoppers=many), max_features=10)
    assert len(list(layer(root, "dropoffs") or [])) == 10
    assert len(list(layer(root, "shoppers") or [])) == 10
    text = legend_text(root)
    assert "drop-offs: 20 more not drawn" in text
    assert "shoppers now (10 of 30)" in text
    description = next(root.iter(f"{SVG}desc")).text or ""
    assert "20 drop-offs not drawn (at most 10)" in description


def test_a_long_route_is_thinned_keeping_its_ends() -> None:
    points = tuple(east_of(STORE, index) for index in range(1000))
    root = render(layers(routes=[MapRoute(points)]))
    line = next(iter(layer(root, "routes") or []))
    pairs = (line.get("points") or "").split()
    assert len(pairs) == 200
    projection = projection_for(fit_view(layers()), 800, 600)
    assert pairs[-1] == "{:.1f},{:.1f}".format(*projection.xy(points[-1].lon, points[-1].lat))


@pytest.mark.parametrize(
    ("options", "field"),
    [({"width": 10}, "width"), ({"height": 100_000}, "height"), ({"max_features": 0}, "max_features")],
)
def test_sizes_and_counts_out_of_bounds_are_refused(options: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        render(layers(), **options)
    assert raised.value.field == field


def test_a_map_with_nothing_on_it_is_refused() -> None:
    with pytest.raises(InvalidInput, match="nothing to map"):
        fit_view(MapLayers())


def test_the_view_fits_the_service_area_and_without_one_the_points() -> None:
    view = fit_view(layers())
    assert view.center.lat == pytest.approx(STORE.lat, abs=1e-6)
    assert 2000 < view.radius_m < 2400
    far = east_of(STORE, 5000)
    bare = fit_view(MapLayers(stores=[MapStore(STORE, "Store")], shoppers=[MapMarker(far)]))
    assert bare.radius_m > 2500


def test_a_graticule_map_carries_no_openstreetmap_attribution() -> None:
    svg = render_map_svg(graticule_base(STORE, 2000), layers(), title="t")
    assert "OpenStreetMap" not in svg


@pytest.mark.skipif(
    not DEFAULT_STREET_NETWORKS_DIR.is_dir(), reason=f"street networks not found at {DEFAULT_STREET_NETWORKS_DIR}"
)
def test_near_piedmont_the_map_draws_openstreetmap_streets_and_credits_them() -> None:
    map_layers = MapLayers(stores=[MapStore(PIEDMONT, "Piedmont", circular_area(PIEDMONT, 1200))])
    view = fit_view(map_layers)
    svg = render_map_svg(
        street_base(view.center, view.radius_m, networks_dir=DEFAULT_STREET_NETWORKS_DIR), map_layers, title="t"
    )
    root = ElementTree.fromstring(svg)
    base = layer(root, "base")
    assert base is not None
    assert base.get("data-base") == "osm"
    assert len(list(base)) > 100
    attribution = next(t for t in root.iter(f"{SVG}text") if t.get("data-attribution") == "osm")
    assert attribution.text == OSM_ATTRIBUTION


def test_a_service_area_in_several_parts_is_drawn_whole_under_one_store() -> None:
    west, east = east_of(STORE, -3000), east_of(STORE, 3000)
    area = MultiPolygon([circular_area(west, 800), circular_area(east, 800)])
    root = render(MapLayers(stores=[MapStore(STORE, "Store", area)]))
    paths = list(layer(root, "service-area") or [])
    assert len(paths) == 1
    assert (paths[0].get("d") or "").count("M") == 2
    assert len(list(layer(root, "stores") or [])) == 2  # one star and its name
    view = fit_view(MapLayers(stores=[MapStore(STORE, "Store", area)]))
    assert view.radius_m > 3800


def test_an_area_with_very_many_vertices_is_thinned() -> None:
    root = render(MapLayers(stores=[MapStore(STORE, "Store", circular_area(STORE, 2000, segments=5_000))]))
    path = next(iter(layer(root, "service-area") or [])).get("d") or ""
    assert path.count("L") <= 2_000


def test_the_legend_says_statuses_in_words_and_fits_a_narrow_map() -> None:
    """At the console's 520 px a long entry takes a whole row (or wraps): every line fits inside the map."""
    somewhere = east_of(STORE, 500)
    width = 520
    root = render(
        layers(
            dropoffs=[MapMarker(somewhere, "R-1", "picked_up")],
            routes=[MapRoute((STORE, somewhere), "trip 1")],
            routes_note="straight lines between the stops, " * 4,
        ),
        width=width,
        height=400,
    )
    assert "drop-offs picked up (1)" in legend_text(root)
    legend = layer(root, "legend")
    assert legend is not None
    for label in legend.iter(f"{SVG}text"):
        for line in [label.text or "", *(span.text or "" for span in label.iter(f"{SVG}tspan"))]:
            assert float(label.get("x", 0)) + len(line) * LEGEND_CHAR_PX <= width, line
    assert float(root.get("height", 0)) > 400 + 10 + 3 * LEGEND_ROW_PX  # the long note's lines are counted


def _store_label(root: ElementTree.Element) -> ElementTree.Element:
    stores = layer(root, "stores")
    assert stores is not None
    (label,) = stores.iter(f"{SVG}text")
    return label


def test_the_stores_name_goes_above_its_star_unless_a_marker_is_there() -> None:
    """Above by default; a drop-off right above the store pushes the name below the star, one below too to
    its right, so that the name never hides a dot (the dots are drawn over it)."""
    free = _store_label(render(layers(dropoffs=[MapMarker(east_of(STORE, 1500), "far", "pending")])))
    assert free.get("text-anchor") == "middle"
    assert float(free.get("y", 0)) == pytest.approx(300 - 13)
    above = north_of(STORE, 150)  # about 15 px above the star at this scale: inside the name's place
    below = GeoPoint(2 * STORE.lat - above.lat, STORE.lon)
    pushed = _store_label(render(layers(dropoffs=[MapMarker(above, "above", "pending")])))
    assert pushed.get("text-anchor") == "middle"
    assert float(pushed.get("y", 0)) > 300
    aside = _store_label(render(layers(dropoffs=[MapMarker(above, "a", "pending")], shoppers=[MapMarker(below, "b")])))
    assert aside.get("text-anchor") == "start"
    assert float(aside.get("x", 0)) > 400


def test_the_svg_carries_its_projection_so_a_page_turns_a_point_of_the_map_back_into_a_position() -> None:
    """`data-projection` is "lat lon px_per_degree_lat px_per_degree_lon origin_x origin_y" and
    `data-map-height` the map area above the legend: what a page needs to draw a service area by clicks."""
    drop = east_of(north_of(STORE, 700), 1200)
    root = render(layers(dropoffs=[MapMarker(drop, "a drop-off")]), width=500, height=400)
    words = (root.get("data-projection") or "").split()
    lat, lon, per_degree_lat, per_degree_lon, origin_x, origin_y = (float(word) for word in words)
    assert root.get("data-map-height") == "400"
    (dot,) = list(layer(root, "dropoffs") or [])
    x, y = float(dot.get("cx", 0)), float(dot.get("cy", 0))
    back = GeoPoint(lat + (origin_y - y) / per_degree_lat, lon + (x - origin_x) / per_degree_lon)
    assert back.lat == pytest.approx(drop.lat, abs=1e-5)
    assert back.lon == pytest.approx(drop.lon, abs=1e-5)
