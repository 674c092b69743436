"""Travel models: straight line times a road factor, and shortest paths on an OpenStreetMap drive network."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from crowdship.errors import InvalidInput
from routing import travel as travel_module
from routing.distance import haversine_m
from routing.geo import GeoPoint
from routing.travel import (
    RoadGraphTravel,
    StraightLineTravel,
    TravelMode,
    TravelModel,
    TravelSettings,
    load_road_graph,
    road_factor_distribution,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
STREET_NETWORKS = REPOSITORY_ROOT.parent / "shared" / "data" / "osm_street_networks"
needs_street_networks = pytest.mark.skipif(
    not STREET_NETWORKS.is_dir(), reason=f"street networks not found at {STREET_NETWORKS}"
)

BERLIN = GeoPoint(52.5200, 13.4050)
POTSDAM = GeoPoint(52.3906, 13.0645)


def test_straight_line_distance_is_the_great_circle_times_the_road_factor() -> None:
    """Default factor 1.3; a store's own factor replaces it."""
    direct = haversine_m(BERLIN, POTSDAM)
    assert StraightLineTravel().distance_m(BERLIN, POTSDAM) == pytest.approx(1.3 * direct)
    assert StraightLineTravel(road_factor=1.15).distance_m(BERLIN, POTSDAM) == pytest.approx(1.15 * direct)


def test_duration_follows_the_speed_of_each_mode() -> None:
    """A 13 km road trip: 26 min by car at 30 km/h, 52 by bike at 15, 156 on foot at 5."""
    settings = TravelSettings(road_factor=1.0)
    a, b = GeoPoint(0.0, 0.0), GeoPoint(0.0, 13.0 / 111.19508)
    assert settings.model(TravelMode.CAR).duration_s(a, b) == pytest.approx(26 * 60, rel=1e-4)
    assert settings.model(TravelMode.BIKE).duration_s(a, b) == pytest.approx(52 * 60, rel=1e-4)
    assert settings.model(TravelMode.WALK).duration_s(a, b) == pytest.approx(156 * 60, rel=1e-4)


def test_settings_take_speeds_per_scenario() -> None:
    """A scenario with fast bikes uses its own speed and road factor."""
    settings = TravelSettings(road_factor=1.4, speeds_kmh={TravelMode.BIKE: 20.0})
    model = settings.model(TravelMode.BIKE)
    assert (model.road_factor, model.speed_kmh) == (1.4, 20.0)
    with pytest.raises(InvalidInput) as raised:
        settings.model(TravelMode.CAR)
    assert raised.value.field == "mode"


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
        (lambda: TravelSettings(speeds_kmh={TravelMode.WALK: -5.0}), "speeds_kmh.walk"),
        (lambda: RoadGraphTravel(nx.DiGraph()), "graph"),
    ],
)
def test_bad_travel_settings_name_the_field(make: object, field: str) -> None:
    """Road factors below 1, non-positive or non-finite speeds and empty graphs are refused."""
    with pytest.raises(InvalidInput) as raised:
        make()  # type: ignore[operator]
    assert raised.value.field == field


def small_town() -> nx.DiGraph:
    """A square of four nodes 0.01 degrees apart with one one-way street (a -> b) and an island e."""
    graph = nx.DiGraph()
    corners = {"a": (0.0, 0.0), "b": (0.0, 0.01), "c": (0.01, 0.01), "d": (0.01, 0.0), "e": (1.0, 1.0)}
    for node, (lat, lon) in corners.items():
        graph.add_node(node, y=lat, x=lon)

    def street(u: str, v: str) -> float:
        return haversine_m(GeoPoint(*corners[u]), GeoPoint(*corners[v]))

    graph.add_edge("a", "b", length=street("a", "b"))
    for u, v in [("b", "c"), ("c", "d"), ("d", "a")]:
        graph.add_edge(u, v, length=street(u, v))
        graph.add_edge(v, u, length=street(u, v))
    return graph


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


def test_both_models_satisfy_the_travel_protocol() -> None:
    """The road-graph model is a drop-in replacement for the straight-line one."""
    assert isinstance(StraightLineTravel(), TravelModel)
    assert isinstance(RoadGraphTravel(small_town()), TravelModel)


@needs_street_networks
def test_manhattan_network_shortest_paths_match_networkx_and_exceed_the_straight_line() -> None:
    """Random node pairs: equal to networkx's Dijkstra (inf without a path), never below the crow's flight."""
    graph = load_road_graph(STREET_NETWORKS / "lower_manhattan_ny_drive.graphml")
    assert graph.number_of_nodes() == 2196
    travel = RoadGraphTravel(graph)
    rng = np.random.default_rng(5)
    asymmetric = reached = 0
    for _ in range(25):
        i, j = rng.choice(len(travel.nodes), 2, replace=False)
        a, b = (GeoPoint(*travel.node_coordinates[k]) for k in (i, j))
        road = travel.distance_m(a, b)
        if not nx.has_path(graph, travel.nodes[i], travel.nodes[j]):
            assert math.isinf(road)
            continue
        expected = nx.shortest_path_length(graph, travel.nodes[i], travel.nodes[j], weight="length")
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
        summary = road_factor_distribution(RoadGraphTravel.from_graphml(STREET_NETWORKS / name), sources=20)
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
