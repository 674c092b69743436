"""Travel models: straight line times a road factor, and shortest paths on an OpenStreetMap drive network."""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pytest

from crowdship.errors import InvalidInput
from crowdship.settings import DEFAULT_STREET_NETWORKS_DIR
from routing import travel as travel_module
from routing.distance import haversine_m
from routing.geo import GeoPoint
from routing.travel import (
    RoadGraph,
    RoadGraphTravel,
    StraightLineTravel,
    TravelModel,
    load_road_graph,
    road_factor_distribution,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
needs_street_networks = pytest.mark.skipif(
    not DEFAULT_STREET_NETWORKS_DIR.is_dir(), reason=f"street networks not found at {DEFAULT_STREET_NETWORKS_DIR}"
)

BERLIN = GeoPoint(52.5200, 13.4050)
POTSDAM = GeoPoint(52.3906, 13.0645)


def test_straight_line_distance_is_the_great_circle_times_the_road_factor() -> None:
    """Default factor 1.3; a store's own factor replaces it."""
    direct = haversine_m(BERLIN, POTSDAM)
    assert StraightLineTravel().distance_m(BERLIN, POTSDAM) == pytest.approx(1.3 * direct)
    assert StraightLineTravel(road_factor=1.15).distance_m(BERLIN, POTSDAM) == pytest.approx(1.15 * direct)


def test_duration_follows_the_speed() -> None:
    """A 13 km road trip: 26 min at 30 km/h, 52 at 15."""
    a, b = GeoPoint(0.0, 0.0), GeoPoint(0.0, 13.0 / 111.19508)
    assert StraightLineTravel(road_factor=1.0, speed_kmh=30.0).duration_s(a, b) == pytest.approx(26 * 60, rel=1e-4)
    assert StraightLineTravel(road_factor=1.0, speed_kmh=15.0).duration_s(a, b) == pytest.approx(52 * 60, rel=1e-4)


def test_straight_line_matrices_agree_with_single_pairs() -> None:
    """The matrix cell (i, j) is distance_m(points[i], points[j]) and its duration."""
    points = [BERLIN, POTSDAM, GeoPoint(52.45, 13.30)]
    model = StraightLineTravel(road_factor=1.25, speed_kmh=20.0)
    matrices = model.matrices(points)
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            assert matrices.distance_m[i, j] == pytest.approx(model.distance_m(a, b), rel=1e-9, abs=1e-6)
            assert matrices.duration_s[i, j] == pytest.approx(model.duration_s(a, b), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: StraightLineTravel(road_factor=0.9), "road_factor"),
        (lambda: StraightLineTravel(road_factor=float("nan")), "road_factor"),
        (lambda: StraightLineTravel(speed_kmh=0.0), "speed_kmh"),
        (lambda: StraightLineTravel(speed_kmh=float("inf")), "speed_kmh"),
        (lambda: RoadGraphTravel(RoadGraph.from_streets({}, [])), "graph"),
    ],
)
def test_bad_travel_settings_name_the_field(make: object, field: str) -> None:
    """Road factors below 1, non-positive or non-finite speeds and empty graphs are refused."""
    with pytest.raises(InvalidInput) as raised:
        make()  # type: ignore[operator]
    assert raised.value.field == field


def small_town() -> RoadGraph:
    """A square of four nodes 0.01 degrees apart with one one-way street (a -> b) and an island e."""
    corners: dict[Hashable, tuple[float, float]] = {
        "a": (0.0, 0.0), "b": (0.0, 0.01), "c": (0.01, 0.01), "d": (0.01, 0.0), "e": (1.0, 1.0),
    }  # fmt: skip

    def street(u: str, v: str) -> float:
        return haversine_m(GeoPoint(*corners[u]), GeoPoint(*corners[v]))

    streets = [("a", "b", street("a", "b"))]
    for u, v in [("b", "c"), ("c", "d"), ("d", "a")]:
        streets += [(u, v, street(u, v)), (v, u, street(u, v))]
    return RoadGraph.from_streets(corners, streets)


def reference_shortest_paths(graph: RoadGraph, source: int) -> list[float]:
    """Metres from node index `source` to every node: a plain Dijkstra with a heap over the graph's streets,
    written here so that the code under test is checked against something it does not share."""
    streets = graph.lengths.tocoo()
    neighbours: dict[int, list[tuple[int, float]]] = {}
    for i, j, length in zip(streets.row.tolist(), streets.col.tolist(), streets.data.tolist(), strict=True):
        neighbours.setdefault(i, []).append((j, length))
    best = [math.inf] * graph.node_count
    best[source] = 0.0
    queue = [(0.0, source)]
    while queue:
        so_far, node = heapq.heappop(queue)
        if so_far > best[node]:
            continue
        for neighbour, length in neighbours.get(node, []):
            if so_far + length < best[neighbour]:
                best[neighbour] = so_far + length
                heapq.heappush(queue, (so_far + length, neighbour))
    return best


def test_road_graph_follows_one_way_streets_and_reports_unreachable_as_infinite() -> None:
    """a -> b is one side; b -> a goes round the other three; nothing reaches the island."""
    travel = RoadGraphTravel(small_town())
    side = haversine_m(GeoPoint(0, 0), GeoPoint(0, 0.01))
    a, b, e = GeoPoint(0.0, 0.0), GeoPoint(0.0, 0.01), GeoPoint(1.0, 1.0)
    assert travel.distance_m(a, b) == pytest.approx(side, rel=1e-3)
    assert travel.distance_m(b, a) == pytest.approx(3 * side, rel=1e-3)
    assert math.isinf(travel.distance_m(a, e))
    assert travel.matrices([a, b]).distance_m[1, 0] == pytest.approx(3 * side, rel=1e-3)


def test_points_snap_to_the_nearest_node_and_the_snap_leg_counts() -> None:
    """A point 50 m east of `a` snaps to `a`; its distance includes the 50 m walk to the node."""
    travel = RoadGraphTravel(small_town())
    near_a = GeoPoint(0.0, 50 / 111_195.08)
    node, snap = travel.nearest_node(near_a)
    assert node == "a"
    assert snap == pytest.approx(50.0, rel=1e-3)
    assert travel.distance_m(near_a, GeoPoint(0.0, 0.01)) == pytest.approx(
        50.0 + travel.network_distance_m("a", "b"), rel=1e-9
    )


GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="length" attr.type="string" for="edge" id="d2" />
  <key attr.name="x" attr.type="string" for="node" id="d1" />
  <key attr.name="y" attr.type="string" for="node" id="d0" />
  <graph edgedefault="{default}">
    <node id="1"><data key="d0">0.0</data><data key="d1">0.0</data></node>
    <node id="2"><data key="d0">0.0</data><data key="d1">0.01</data></node>
    <node id="3"><data key="d0">0.01</data><data key="d1">0.01</data></node>
    <edge source="1" target="2" id="0"><data key="d2">1200.5</data></edge>
    <edge source="1" target="2" id="1"><data key="d2">1112.0</data></edge>
    <edge source="2" target="3" directed="false"><data key="d2">1113.2</data></edge>
    <edge source="3" target="1"><data key="d2">{last}</data></edge>
  </graph>
</graphml>
"""


def test_graphml_streets_keep_the_shortest_of_parallels_and_their_direction(tmp_path: Path) -> None:
    """Two links 1 -> 2: the shorter counts; 2 - 3 is two-way by its own mark; 3 -> 1 one way only; the node
    ids and their [lat, lon] come through in the file's order."""
    path = tmp_path / "town.graphml"
    path.write_text(GRAPHML.format(default="directed", last="1570.0"))
    graph = load_road_graph(path)
    assert graph.nodes == ("1", "2", "3")
    assert graph.coordinates.tolist() == [[0.0, 0.0], [0.0, 0.01], [0.01, 0.01]]
    assert graph.lengths.toarray().tolist() == [[0.0, 1112.0, 0.0], [0.0, 0.0, 1113.2], [1570.0, 1113.2, 0.0]]
    travel = RoadGraphTravel(graph)
    assert travel.network_distance_m("2", "1") == pytest.approx(1113.2 + 1570.0)
    path.write_text(GRAPHML.format(default="undirected", last="1570.0"))
    assert RoadGraphTravel(load_road_graph(path)).network_distance_m("2", "1") == pytest.approx(1112.0)


def test_graphml_without_a_numeric_street_length_is_refused_naming_the_street(tmp_path: Path) -> None:
    """A length that is not a number is an error that says which street, not a silent gap in the network."""
    path = tmp_path / "town.graphml"
    path.write_text(GRAPHML.format(default="directed", last="unknown"))
    with pytest.raises(InvalidInput) as raised:
        load_road_graph(path)
    assert raised.value.field == "graphml.edges[3,1]"


def test_a_street_of_no_length_is_a_street() -> None:
    """A zero-length link (two OSM nodes at one spot) still connects them: it is not a missing street."""
    graph = RoadGraph.from_streets(
        {"a": (0.0, 0.0), "b": (0.0, 0.0), "c": (0.0, 0.01)}, [("a", "b", 0.0), ("b", "c", 5.0)]
    )
    travel = RoadGraphTravel(graph)
    assert travel.network_distance_m("a", "c") == pytest.approx(5.0)
    assert reference_shortest_paths(graph, 0) == [0.0, 0.0, 5.0]


def test_both_models_satisfy_the_travel_protocol() -> None:
    """The road-graph model is a drop-in replacement for the straight-line one."""
    assert isinstance(StraightLineTravel(), TravelModel)
    assert isinstance(RoadGraphTravel(small_town()), TravelModel)


@needs_street_networks
def test_manhattan_network_shortest_paths_match_a_plain_dijkstra_and_exceed_the_straight_line() -> None:
    """Random node pairs: equal to a heap Dijkstra written in this test (inf without a path), never below
    the crow's flight. 2 196 intersections and 4 448 one-way street links once parallel links are merged."""
    graph = load_road_graph(DEFAULT_STREET_NETWORKS_DIR / "lower_manhattan_ny_drive.graphml")
    assert graph.node_count == 2196
    assert graph.street_count == 4448
    travel = RoadGraphTravel(graph)
    rng = np.random.default_rng(5)
    asymmetric = reached = 0
    for _ in range(25):
        i, j = rng.choice(len(travel.nodes), 2, replace=False)
        a, b = (GeoPoint(*travel.node_coordinates[k]) for k in (i, j))
        road = travel.distance_m(a, b)
        expected = reference_shortest_paths(graph, int(i))[int(j)]
        if math.isinf(expected):
            assert math.isinf(road)
            continue
        assert road == pytest.approx(expected, rel=1e-9)
        assert road >= 0.995 * haversine_m(a, b)
        reached += 1
        asymmetric += abs(road - travel.distance_m(b, a)) > 1.0
    assert reached >= 15
    assert asymmetric > 0, "one-way streets make some trips longer one way than the other"


@needs_street_networks
def test_road_factor_distribution_of_both_networks_is_plausible() -> None:
    """Median circuity between 1.1 and 1.6 (published US figures are 1.2-1.4), p10 <= median <= p90."""
    for name in ("piedmont_ca_drive.graphml", "lower_manhattan_ny_drive.graphml"):
        summary = road_factor_distribution(RoadGraphTravel.from_graphml(DEFAULT_STREET_NETWORKS_DIR / name), sources=20)
        assert summary.pairs > 1000
        assert 1.0 <= summary.p10 <= summary.median <= summary.p90
        assert 1.1 < summary.median < 1.6


def test_shortest_path_cache_is_bounded_and_answers_stay_right(monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for two trees, a third source evicts the oldest; re-asking recomputes the same answer."""
    monkeypatch.setattr(travel_module, "SHORTEST_PATH_TREES_KEPT", 2)
    travel = RoadGraphTravel(small_town())
    first = travel.network_distance_m("b", "a")
    travel.network_distance_m("c", "a")
    travel.network_distance_m("d", "a")
    assert len(travel._trees_by_source) == 2
    assert "b" not in travel._trees_by_source
    assert travel.network_distance_m("b", "a") == first


def test_a_point_to_itself_is_no_distance() -> None:
    """Even off the network, the same point twice is 0 m and 0 s apart."""
    travel = RoadGraphTravel(small_town())
    off_network = GeoPoint(0.005, 0.005)
    assert travel.distance_m(off_network, off_network) == 0.0
    assert travel.duration_s(off_network, off_network) == 0.0
