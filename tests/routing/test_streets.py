"""The street base under maps: OpenStreetMap lines where a shipped network covers the place, else a graticule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crowdship.errors import InvalidInput
from crowdship.settings import DEFAULT_STREET_NETWORKS_DIR
from routing.distance import haversine_m
from routing.geo import GeoPoint
from routing.streets import (
    OSM_ATTRIBUTION,
    graticule_base,
    load_street_network,
    parse_street_network,
    parse_wkt_linestring,
    round_step,
    street_base,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
needs_street_networks = pytest.mark.skipif(
    not (DEFAULT_STREET_NETWORKS_DIR / "piedmont_ca_drive.graphml").is_file(),
    reason=f"street networks not found at {DEFAULT_STREET_NETWORKS_DIR}",
)

PIEDMONT = GeoPoint(37.8244, -122.2312)
TALLAHASSEE = GeoPoint(30.4627, -84.2211)

SMALL_NETWORK = b"""<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="geometry" attr.type="string" for="edge" id="d3" />
  <key attr.name="name" attr.type="string" for="edge" id="d2" />
  <key attr.name="x" attr.type="string" for="node" id="d1" />
  <key attr.name="y" attr.type="string" for="node" id="d0" />
  <graph edgedefault="directed">
    <node id="a"><data key="d0">10.0</data><data key="d1">20.0</data></node>
    <node id="b"><data key="d0">10.001</data><data key="d1">20.001</data></node>
    <node id="c"><data key="d0">10.002</data><data key="d1">20.0</data></node>
    <edge source="a" target="b"><data key="d2">Oak Road</data></edge>
    <edge source="b" target="a"><data key="d2">Oak Road</data></edge>
    <edge source="b" target="c"><data key="d2">['Elm Road', 'Elm Street']</data>
      <data key="d3">LINESTRING (20.001 10.001, 20.0005 10.0015, 20.0 10.002)</data></edge>
  </graph>
</graphml>"""


def test_a_two_way_street_is_drawn_once_and_an_edge_geometry_is_followed() -> None:
    network = parse_street_network(SMALL_NETWORK, "small")
    assert len(network.lines) == 2
    oak, elm = network.lines
    assert oak.name == "Oak Road"
    assert oak.points == ((20.0, 10.0), (20.001, 10.001))
    assert elm.name == "Elm Road"
    assert elm.points == ((20.001, 10.001), (20.0005, 10.0015), (20.0, 10.002))
    assert (network.min_lon, network.min_lat, network.max_lon, network.max_lat) == (20.0, 10.0, 20.001, 10.002)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("POINT (1 2)", "geometry"),
        ("LINESTRING (1 2)", "geometry"),
        ("LINESTRING (1 2, x 3)", "geometry[1]"),
        ("LINESTRING (1 2, 200 3)", "geometry[1].lon"),
    ],
)
def test_a_bad_wkt_line_is_refused_naming_the_point(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_wkt_linestring(text)
    assert raised.value.field == field


def test_a_file_that_is_not_graphml_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not GraphML"):
        parse_street_network(b"<graphml", "broken")


def test_without_a_network_folder_the_base_is_a_graticule_without_attribution(tmp_path: Path) -> None:
    base = street_base(TALLAHASSEE, 5000, networks_dir=tmp_path / "absent")
    assert base.kind == "graticule"
    assert base.attribution is None
    assert "no street data" in base.description
    assert street_base(PIEDMONT, 5000, networks_dir=None).kind == "graticule"


def test_the_graticule_is_square_in_metres_and_passes_through_the_centre() -> None:
    base = graticule_base(TALLAHASSEE, 3000, spacing_m=1000)
    assert "1 km squares" in base.description
    north_south = sorted({line.points[0][0] for line in base.lines if line.points[0][0] == line.points[1][0]})
    east_west = sorted({line.points[0][1] for line in base.lines if line.points[0][1] == line.points[1][1]})
    assert TALLAHASSEE.lon in north_south
    assert TALLAHASSEE.lat in east_west
    step_east = haversine_m(GeoPoint(TALLAHASSEE.lat, north_south[0]), GeoPoint(TALLAHASSEE.lat, north_south[1]))
    step_north = haversine_m(GeoPoint(east_west[0], TALLAHASSEE.lon), GeoPoint(east_west[1], TALLAHASSEE.lon))
    assert step_east == pytest.approx(1000, rel=0.01)
    assert step_north == pytest.approx(1000, rel=0.01)


@pytest.mark.parametrize("radius_m", [0, -1, math.nan, math.inf, 1e9, True])
def test_a_view_radius_out_of_bounds_is_refused(radius_m: float) -> None:
    with pytest.raises(InvalidInput) as raised:
        street_base(TALLAHASSEE, radius_m, networks_dir=None)
    assert raised.value.field == "radius_m"


def test_round_steps_are_one_two_or_five_times_a_power_of_ten() -> None:
    assert [round_step(value) for value in (0.5, 7, 19, 240, 999, 1000, 4100)] == [1, 5, 10, 200, 500, 1000, 2000]


@needs_street_networks
def test_near_piedmont_the_base_is_openstreetmap_streets_with_the_attribution() -> None:
    base = street_base(PIEDMONT, 1500, networks_dir=DEFAULT_STREET_NETWORKS_DIR)
    assert base.kind == "osm"
    assert base.attribution == OSM_ATTRIBUTION
    assert "piedmont" in base.description
    assert len(base.lines) > 100
    assert any(line.name == "Park View Avenue" for line in base.lines)
    nearest = min(haversine_m(PIEDMONT, GeoPoint(lat, lon)) for line in base.lines for lon, lat in line.points)
    assert nearest < 300


@needs_street_networks
def test_a_network_file_is_parsed_once_per_process() -> None:
    path = DEFAULT_STREET_NETWORKS_DIR / "piedmont_ca_drive.graphml"
    assert load_street_network(path) is load_street_network(path)


@needs_street_networks
def test_a_store_outside_every_shipped_network_gets_the_graticule() -> None:
    assert street_base(TALLAHASSEE, 5000, networks_dir=DEFAULT_STREET_NETWORKS_DIR).kind == "graticule"


@needs_street_networks
def test_the_base_keeps_no_more_lines_than_asked_and_says_so() -> None:
    base = street_base(PIEDMONT, 3000, networks_dir=DEFAULT_STREET_NETWORKS_DIR, max_lines=10)
    assert len(base.lines) == 10
    assert base.truncated
