"""Detours: the best visiting order of up to four drop-offs, and the distance and minutes it adds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdship.errors import InvalidInput
from routing.detour import MAX_DROPOFFS, NoRoute, best_visiting_order, detour, metric_detour
from routing.distance import haversine_m
from routing.geo import GeoPoint
from routing.travel import RoadGraph, RoadGraphTravel, StraightLineTravel

STORE = GeoPoint(52.5200, 13.4050)
HOME = GeoPoint(52.5200, 13.5500)  # about 9.8 km east


def route_length(matrix: np.ndarray, order: tuple[int, ...]) -> float:
    path = [0, *(stop + 1 for stop in order), matrix.shape[0] - 1]
    return float(sum(matrix[a, b] for a, b in itertools.pairwise(path)))


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, MAX_DROPOFFS),
    seed=st.integers(0, 2**32 - 1),
    symmetric=st.booleans(),
)
def test_best_order_is_no_longer_than_any_other_order(count: int, seed: int, symmetric: bool) -> None:
    """Checked against every permutation on random (also asymmetric, one-way-like) distance matrices."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(0, 10, (count + 2, count + 2))
    if symmetric:
        matrix = (matrix + matrix.T) / 2
    np.fill_diagonal(matrix, 0)
    order, length = best_visiting_order(matrix)
    assert sorted(order) == list(range(count))
    assert length == pytest.approx(route_length(matrix, order))
    for other in itertools.permutations(range(count)):
        assert length <= route_length(matrix, other) + 1e-12


def test_drop_offs_on_the_way_are_visited_in_line_at_no_extra_distance() -> None:
    """Store (0,0) to (10,0) via (8,0), (2,0), (5,0): visit 2, 5, 8 and the detour is zero."""
    order, route, extra = metric_detour("euclidean", 1.0, [0, 0], [[8, 0], [2, 0], [5, 0]], [10, 0])
    assert order == (1, 2, 0)
    assert route == pytest.approx(10.0)
    assert extra == pytest.approx(0.0, abs=1e-12)


def test_metric_detour_applies_the_road_factor() -> None:
    """One drop-off 3 off the middle of a 10-long trip: route 1.3 x 2 x sqrt(34), detour minus 13."""
    order, route, extra = metric_detour("euclidean", 1.3, [0, 0], [[5, 3]], [10, 0])
    assert order == (0,)
    assert route == pytest.approx(1.3 * 2 * math.sqrt(34))
    assert extra == pytest.approx(1.3 * (2 * math.sqrt(34) - 10))


def test_haversine_metric_detour_is_in_km() -> None:
    """A drop-off at the destination adds nothing; the route is the direct great circle in km."""
    order, route, extra = metric_detour("haversine", 1.0, [52.52, 13.405], [[52.52, 13.55]], [52.52, 13.55])
    assert order == (0,)
    assert route == pytest.approx(haversine_m(STORE, HOME) / 1000, rel=1e-9)
    assert extra == pytest.approx(0.0, abs=1e-9)


def test_detour_in_metres_and_minutes_under_the_straight_line_model() -> None:
    """Extra minutes are the extra road metres at the mode's speed; the offer quotes them rounded up."""
    travel = StraightLineTravel(road_factor=1.3, speed_kmh=30.0)
    north = GeoPoint(52.5400, 13.4800)
    south = GeoPoint(52.5000, 13.4800)
    result = detour(STORE, [north, south], HOME, travel)
    assert result.direct_m == pytest.approx(1.3 * haversine_m(STORE, HOME))
    expected_route = min(
        travel.distance_m(STORE, a) + travel.distance_m(a, b) + travel.distance_m(b, HOME)
        for a, b in ((north, south), (south, north))
    )
    assert result.route_m == pytest.approx(expected_route)
    assert result.extra_s == pytest.approx(result.extra_m / (30 / 3.6))
    metres, seconds = result.offer_figures()
    assert metres == math.ceil(result.extra_m)
    assert seconds == math.ceil(result.extra_s)
    assert metres > 0
    assert seconds > 0


def test_no_drop_offs_mean_no_detour() -> None:
    """An empty bundle costs nothing: route equals the direct trip."""
    result = detour(STORE, [], HOME, StraightLineTravel())
    assert result.visiting_order == ()
    assert result.extra_m == 0.0
    assert result.offer_figures() == (0, 0)


def test_detour_on_a_road_graph_uses_its_paths_and_refuses_unreachable_drop_offs() -> None:
    """A one-way street changes the best order; a drop-off on an island raises NoRoute."""
    nodes = {node: (lat, 0.0) for node, lat in (("s", 0.0), ("x", 0.01), ("h", 0.02), ("island", 1.0))}
    step = haversine_m(GeoPoint(0, 0), GeoPoint(0.01, 0))
    travel = RoadGraphTravel(RoadGraph.from_streets(nodes, [("s", "x", step), ("x", "h", step), ("h", "x", step)]))
    store, via, home = GeoPoint(0.0, 0.0), GeoPoint(0.01, 0.0), GeoPoint(0.02, 0.0)
    result = detour(store, [via], home, travel)
    assert result.route_m == pytest.approx(2 * step)
    assert result.extra_m == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(NoRoute):
        detour(store, [GeoPoint(1.0, 0.0)], home, travel)


def test_more_than_four_drop_offs_are_refused() -> None:
    """Five drop-offs raise InvalidInput naming `dropoffs`, in both entry points."""
    five = [HOME] * 5
    with pytest.raises(InvalidInput) as raised:
        detour(STORE, five, HOME, StraightLineTravel())
    assert raised.value.field == "dropoffs"
    with pytest.raises(InvalidInput) as raised:
        metric_detour("euclidean", 1.0, [0, 0], np.ones((5, 2)), [1, 1])
    assert raised.value.field == "dropoffs"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: metric_detour("haversine", 1.0, [95.0, 0.0], [], [0.0, 0.0]), "store[0]"),
        (lambda: metric_detour("haversine", 1.0, [0.0, 0.0], [[0.0, 200.0]], [0.0, 0.0]), "dropoffs[0]"),
        (lambda: metric_detour("euclidean", 1.0, [0.0, 0.0], [], [float("nan"), 0.0]), "destination[0]"),
        (lambda: metric_detour("euclidean", 0.0, [0.0, 0.0], [], [1.0, 0.0]), "road_factor"),
        (lambda: metric_detour("manhattan", 1.0, [0.0, 0.0], [], [1.0, 0.0]), "metric"),  # type: ignore[arg-type]
        (lambda: best_visiting_order(np.ones((2, 3))), "distance"),
        (lambda: best_visiting_order([[0.0, float("nan")], [1.0, 0.0]]), "distance"),
    ],
)
def test_bad_detour_input_names_the_field(call: object, field: str) -> None:
    """Out-of-range or NaN coordinates, bad factors and malformed matrices raise InvalidInput."""
    with pytest.raises(InvalidInput) as raised:
        call()  # type: ignore[operator]
    assert raised.value.field == field
