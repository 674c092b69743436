"""Candidate pruning: the KD-tree version finds exactly the pairs of the brute force and of the contract."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdship.errors import InvalidInput
from routing import pruning
from routing.distance import EARTH_MEAN_RADIUS_KM
from routing.pruning import (
    CandidatePairs,
    Metric,
    PruningProblem,
    candidate_pairs,
    candidate_pairs_brute_force,
    pairwise_distances,
)
from simulations.bench_routing import city_problem


def make_problem(
    metric: Metric = "euclidean",
    *,
    store: Any = (0.0, 0.0),
    orders: Any = ((5.0, 3.0),),
    destinations: Any = ((10.0, 0.0),),
    route_limits: Any = None,
    road_factor: float = 1.0,
    speed: float = 1.0,
    **overrides: Any,
) -> PruningProblem:
    """A problem where every rule but the route limit passes unless overridden."""
    n, m = len(orders), len(destinations)
    fields: dict[str, Any] = {
        "order_sizes": np.ones(n),
        "order_values": np.full(n, np.nan),
        "order_requires_id": np.zeros(n, dtype=bool),
        "order_latest": np.full(n, np.inf),
        "trip_route_limits": np.full(m, np.inf) if route_limits is None else np.asarray(route_limits, float),
        "trip_capacities": np.full(m, np.inf),
        "trip_id_verified": np.ones(m, dtype=bool),
        "trip_value_limits": np.full(m, np.inf),
        "trip_departs": np.zeros(m),
    }
    fields.update(overrides)
    return PruningProblem(
        metric=metric,
        road_factor=road_factor,
        speed=speed,
        store=np.asarray(store, dtype=float),
        order_locations=np.asarray(orders, dtype=float),
        trip_destinations=np.asarray(destinations, dtype=float),
        **fields,
    )


def pair_set(pairs: CandidatePairs) -> set[tuple[int, int]]:
    return set(zip(pairs.trip_index.tolist(), pairs.order_index.tolist(), strict=True))


def scalar_distance(metric: Metric, a: np.ndarray, b: np.ndarray) -> float:
    """An independent, one-pair-at-a-time reading of the metric (plain math, no numpy vectors)."""
    if metric == "euclidean":
        return math.hypot(float(a[0] - b[0]), float(a[1] - b[1]))
    lat1, lon1, lat2, lon2 = map(math.radians, (float(a[0]), float(a[1]), float(b[0]), float(b[1])))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_KM * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))


def contract_pairs(problem: PruningProblem, margin: float) -> set[tuple[int, int]]:
    """The contract's definition, pair by pair, with limits widened (or narrowed) by a relative margin."""
    result: set[tuple[int, int]] = set()
    rf = problem.road_factor
    for t in range(problem.trip_count):
        for o in range(problem.order_count):
            to_order = rf * scalar_distance(problem.metric, problem.store, problem.order_locations[o])
            route = to_order + rf * scalar_distance(
                problem.metric, problem.order_locations[o], problem.trip_destinations[t]
            )
            value = problem.order_values[o]
            latest = float(problem.order_latest[o])
            latest_with_margin = latest if math.isinf(latest) else latest + margin * abs(latest)
            if (
                route <= problem.trip_route_limits[t] * (1 + margin)
                and problem.order_sizes[o] <= problem.trip_capacities[t]
                and (not problem.order_requires_id[o] or problem.trip_id_verified[t])
                and (math.isnan(value) or value <= problem.trip_value_limits[t])
                and problem.trip_departs[t] + to_order / problem.speed <= latest_with_margin
            ):
                result.add((t, o))
    return result


def random_points(
    draw: st.DrawFn, rng: np.random.Generator, metric: Metric, n: int, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Store, orders and destinations in a city, on a continent or over the globe (or the plane)."""
    if metric == "euclidean":
        spread = draw(st.sampled_from([1.0, 100.0, 1e5]))
        return (
            rng.uniform(-spread, spread, 2),
            rng.uniform(-spread, spread, (n, 2)),
            rng.uniform(-spread, spread, (m, 2)),
        )
    spread_deg = draw(st.sampled_from([0.05, 2.0, 180.0]))
    centre = np.array([draw(st.floats(-90, 90)), draw(st.floats(-180, 180))])

    def around(count: int) -> np.ndarray:
        points = centre + rng.uniform(-spread_deg, spread_deg, (count, 2))
        points[:, 0] = np.clip(points[:, 0], -90, 90)
        points[:, 1] = (points[:, 1] + 180.0) % 360.0 - 180.0
        return points

    return around(1)[0], around(n), around(m)


def random_route_limits(
    draw: st.DrawFn,
    rng: np.random.Generator,
    metric: Metric,
    road_factor: float,
    points: tuple[np.ndarray, ...],
) -> np.ndarray:
    """Ratio limits, absolute ones, none, a mix, limits exactly on some order's route (on the ellipse), or
    barely above the direct route (thin ellipses, covered by rows of balls)."""
    store, orders, destinations = points
    n, m = len(orders), len(destinations)
    direct = road_factor * pairwise_distances(metric, np.tile(store, (m, 1)), destinations)
    kind = draw(st.sampled_from(["ratio", "absolute", "infinite", "mixed", "tight", "thin"]))
    if kind == "thin":
        return direct * (1.0 + 10.0 ** rng.uniform(-7, -1, m))
    if kind == "ratio":
        return direct * rng.uniform(1.0, 1.6, m)
    if kind == "absolute":
        return rng.uniform(0, 2, m) * (float(direct.max(initial=0.0)) + 1.0)
    if kind == "mixed":
        return np.where(rng.random(m) < 0.4, np.inf, direct * rng.uniform(1.0, 1.6, m))
    if kind == "tight" and n:
        chosen = rng.integers(0, n, m)
        return road_factor * (
            pairwise_distances(metric, np.tile(store, (m, 1)), orders[chosen])
            + pairwise_distances(metric, orders[chosen], destinations)
        )
    return np.full(m, np.inf)


def random_rules(draw: st.DrawFn, rng: np.random.Generator, to_order_minutes: np.ndarray, m: int) -> dict[str, Any]:
    """Capacities, id checks, value limits and windows, each switched on or off."""
    n = len(to_order_minutes)
    rules: dict[str, Any] = {}
    if draw(st.booleans()):
        rules["order_sizes"] = rng.integers(1, 4, n).astype(float)
        rules["trip_capacities"] = np.where(rng.random(m) < 0.3, np.inf, rng.integers(1, 4, m))
    if draw(st.booleans()):
        rules["order_requires_id"] = rng.random(n) < 0.4
        rules["trip_id_verified"] = rng.random(m) < 0.5
    if draw(st.booleans()):
        rules["order_values"] = np.where(rng.random(n) < 0.3, np.nan, rng.integers(100, 10_000, n))
        rules["trip_value_limits"] = np.where(rng.random(m) < 0.3, np.inf, rng.integers(100, 10_000, m))
    if draw(st.booleans()) and n:
        rules["trip_departs"] = rng.uniform(0, 60, m)
        latest = rng.uniform(0, 60, n) + to_order_minutes
        if m and draw(st.booleans()):
            # An order reached exactly at its latest minute by the first trip.
            latest[0] = rules["trip_departs"][0] + to_order_minutes[0]
        rules["order_latest"] = np.where(rng.random(n) < 0.3, np.inf, latest)
    return rules


@st.composite
def problems(draw: st.DrawFn) -> PruningProblem:
    """Random instances of both metrics, with duplicated points and limits often on the boundary."""
    metric: Metric = draw(st.sampled_from(["euclidean", "haversine"]))
    n = draw(st.integers(0, 14))
    m = draw(st.integers(0, 9))
    road_factor = draw(st.sampled_from([1.0, 1.3, 2.0]))
    speed = draw(st.sampled_from([0.5, 1.0, 3.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    store, orders, destinations = random_points(draw, rng, metric, n, m)
    # Duplicated points: an order at the store or at a destination, a trip going nowhere.
    if n and draw(st.booleans()):
        orders[0] = store
    if n and m and draw(st.booleans()):
        orders[-1] = destinations[0]
    if m and draw(st.booleans()):
        destinations[-1] = store
    limits = random_route_limits(draw, rng, metric, road_factor, (store, orders, destinations))
    to_order_minutes = road_factor * pairwise_distances(metric, np.tile(store, (n, 1)), orders) / speed
    return make_problem(
        metric,
        store=store,
        orders=orders,
        destinations=destinations,
        route_limits=limits,
        road_factor=road_factor,
        speed=speed,
        **random_rules(draw, rng, to_order_minutes, m),
    )


@settings(max_examples=400, deadline=None)
@given(problems())
def test_fast_pruning_returns_exactly_the_brute_force_pairs(problem: PruningProblem) -> None:
    """Same pairs in the same order with the same route lengths and detours, for every kind of instance."""
    assert_same_pairs(candidate_pairs(problem), candidate_pairs_brute_force(problem))


def assert_same_pairs(fast: CandidatePairs, brute: CandidatePairs) -> None:
    np.testing.assert_array_equal(fast.trip_index, brute.trip_index)
    np.testing.assert_array_equal(fast.order_index, brute.order_index)
    np.testing.assert_allclose(fast.route_length, brute.route_length, rtol=1e-12)
    np.testing.assert_allclose(fast.detour, brute.detour, rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(problems(), st.integers(1, 4), st.booleans())
def test_blocks_of_trips_join_into_the_same_sorted_pairs(problem: PruningProblem, block: int, radix: bool) -> None:
    """Cut into blocks of a few trips (as large batches are), with or without the radix sort (used up to
    65 536 orders), the fast search still equals the brute force."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pruning, "_TRIP_CHUNK", block)
        patch.setattr(pruning, "_PAIRS_PER_BLOCK", 1)
        if not radix:
            patch.setattr(pruning, "_RADIX_LIMIT", 0)
        fast = candidate_pairs(problem)
    brute = candidate_pairs_brute_force(problem)
    np.testing.assert_array_equal(fast.trip_index, brute.trip_index)
    np.testing.assert_array_equal(fast.order_index, brute.order_index)
    np.testing.assert_allclose(fast.route_length, brute.route_length, rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(problems())
def test_brute_force_follows_the_contract_rules(problem: PruningProblem) -> None:
    """Pairs the contract admits with room to spare are found; pairs found are admitted up to rounding."""
    found = pair_set(candidate_pairs_brute_force(problem))
    assert contract_pairs(problem, margin=-1e-7) <= found <= contract_pairs(problem, margin=1e-7)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_pairs_are_sorted_and_detours_consistent(problem: PruningProblem) -> None:
    """Sorted by trip then order, detour = route - direct >= 0, route within the trip's limit."""
    pairs = candidate_pairs(problem)
    keys = pairs.trip_index * max(problem.order_count, 1) + pairs.order_index
    assert np.all(np.diff(keys) > 0)
    assert np.all(pairs.detour >= 0)
    direct = problem.road_factor * pairwise_distances(
        problem.metric,
        np.tile(problem.store, (len(pairs), 1)),
        problem.trip_destinations[pairs.trip_index],
    )
    np.testing.assert_allclose(pairs.detour, np.maximum(pairs.route_length - direct, 0), atol=1e-9)
    assert np.all(pairs.route_length <= problem.trip_route_limits[pairs.trip_index] * (1 + 1e-9))


def test_order_inside_the_ellipse_is_a_candidate_and_outside_is_not() -> None:
    """Store (0,0), destination (10,0), limit 12: (5,3) has route 11.66, (5,5) has 14.14."""
    problem = make_problem(orders=[(5.0, 3.0), (5.0, 5.0), (0.0, 0.0)], route_limits=[12.0])
    pairs = candidate_pairs(problem)
    assert pair_set(pairs) == {(0, 0), (0, 2)}
    np.testing.assert_allclose(pairs.route_length, [2 * math.hypot(5, 3), 10.0])
    np.testing.assert_allclose(pairs.detour, [2 * math.hypot(5, 3) - 10.0, 0.0])


def test_road_factor_scales_routes_and_shrinks_the_ellipse() -> None:
    """With road factor 1.3 the route of (5,3) is 15.16 road units, over a limit of 15 but under 15.2."""
    orders = [(5.0, 3.0)]
    assert not pair_set(candidate_pairs(make_problem(orders=orders, route_limits=[15.0], road_factor=1.3)))
    pairs = candidate_pairs(make_problem(orders=orders, route_limits=[15.2], road_factor=1.3))
    np.testing.assert_allclose(pairs.route_length, [1.3 * 2 * math.hypot(5, 3)])


def test_each_hard_rule_excludes_a_pair_on_its_own() -> None:
    """Capacity, id check, value limit and window each remove just the pair that breaks them."""
    orders = [(5.0, 0.0)] * 5
    problem = make_problem(
        orders=orders,
        route_limits=[20.0],
        order_sizes=[1, 3, 1, 1, 1],
        trip_capacities=[2],
        order_requires_id=[False, False, True, False, False],
        trip_id_verified=[False],
        order_values=[np.nan, 100, 100, 5000, 100],
        trip_value_limits=[1000],
        order_latest=[np.inf, np.inf, np.inf, np.inf, 14.0],
        trip_departs=[10.0],
    )
    # Order 4 is 5 units away at speed 1: arrival 15 > latest 14.
    assert pair_set(candidate_pairs(problem)) == {(0, 0)}
    assert pair_set(candidate_pairs_brute_force(problem)) == {(0, 0)}


def test_arrival_exactly_at_the_latest_minute_is_on_time() -> None:
    """The window limit is inclusive: depart 10 + 5 units at speed 1 reaches a latest-15 order."""
    problem = make_problem(orders=[(5.0, 0.0)], order_latest=[15.0], trip_departs=[10.0])
    assert pair_set(candidate_pairs(problem)) == {(0, 0)}


def test_haversine_pairs_in_a_city_include_only_orders_near_the_way() -> None:
    """Store in Berlin, destination 10 km east: an order 1 km off the way qualifies, one 8 km off does not."""
    store = (52.52, 13.40)
    destination = (52.52, 13.40 + 10 / (111.32 * math.cos(math.radians(52.52))))
    near = (52.52 + 1 / 111.2, 13.40 + 5 / (111.32 * math.cos(math.radians(52.52))))
    far = (52.52 + 8 / 111.2, 13.40 + 5 / (111.32 * math.cos(math.radians(52.52))))
    problem = make_problem(
        "haversine", store=store, orders=[near, far], destinations=[destination], route_limits=[13.0]
    )
    pairs = candidate_pairs(problem)
    assert pair_set(pairs) == {(0, 0)}
    assert 10.1 < pairs.route_length[0] < 10.3


def test_no_orders_or_no_trips_give_no_pairs() -> None:
    """Empty inputs are valid and yield empty arrays of the right types."""
    for problem in (
        make_problem(orders=np.zeros((0, 2))),
        make_problem(destinations=np.zeros((0, 2))),
        make_problem("haversine", store=(10.0, 10.0), orders=np.zeros((0, 2)), destinations=np.zeros((0, 2))),
    ):
        for find in (candidate_pairs, candidate_pairs_brute_force):
            pairs = find(problem)
            assert len(pairs) == 0
            assert pairs.trip_index.dtype == np.int64
            assert pairs.route_length.dtype == np.float64


def test_infinite_limits_admit_every_order_that_passes_the_other_rules() -> None:
    """With no route limit, capacity alone decides."""
    problem = make_problem(
        orders=[(1e6, 1e6), (-3.0, 2.0), (0.0, 0.0)],
        destinations=[(1.0, 1.0), (50.0, 0.0)],
        order_sizes=[1, 2, 1],
        trip_capacities=[1, np.inf],
    )
    assert pair_set(candidate_pairs(problem)) == {(0, 0), (0, 2), (1, 0), (1, 1), (1, 2)}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"orders": [(float("nan"), 1.0)]}, "order_locations[0]"),
        ({"metric": "haversine", "orders": [(10.0, 10.0), (91.0, 0.0)]}, "order_locations[1]"),
        ({"metric": "haversine", "destinations": [(0.0, 181.0)]}, "trip_destinations[0]"),
        ({"metric": "haversine", "store": (-90.5, 0.0)}, "store"),
        ({"store": (0.0, float("inf"))}, "store"),
        ({"road_factor": 0.0}, "road_factor"),
        ({"speed": float("nan")}, "speed"),
        ({"metric": "manhattan"}, "metric"),
        ({"route_limits": [float("nan")]}, "trip_route_limits[0]"),
        ({"route_limits": [-1.0]}, "trip_route_limits[0]"),
        ({"order_sizes": [1.0, 2.0]}, "order_sizes"),
        ({"order_sizes": [float("inf")]}, "order_sizes[0]"),
        ({"trip_departs": [float("nan")]}, "trip_departs[0]"),
        ({"orders": [(1.0, 2.0, 3.0)]}, "order_locations"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, Any], field: str) -> None:
    """Out-of-range, NaN, negative or wrongly shaped inputs raise InvalidInput naming the field."""
    with pytest.raises(InvalidInput) as raised:
        make_problem(**overrides)
    assert raised.value.field == field


def test_benchmark_city_instance_agrees_with_brute_force() -> None:
    """The benchmark's realistic geometry (600 orders x 1 200 trips, haversine, factor 1.3) loses no pair."""
    for max_extra_km in (None, 2.0):
        problem = city_problem(600, 1_200, seed=4, max_extra_km=max_extra_km)
        fast = candidate_pairs(problem)
        brute = candidate_pairs_brute_force(problem)
        assert len(fast) > 10_000
        np.testing.assert_array_equal(fast.trip_index, brute.trip_index)
        np.testing.assert_array_equal(fast.order_index, brute.order_index)
        np.testing.assert_array_equal(fast.route_length, brute.route_length)


@st.composite
def thin_problems(draw: st.DrawFn) -> PruningProblem:
    """Orders strewn along the ways home, limits barely above the direct route or exactly on an order's."""
    metric: Metric = draw(st.sampled_from(["euclidean", "haversine"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    store, _, destinations = random_points(draw, rng, metric, 0, draw(st.integers(1, 5)))
    n, m = draw(st.integers(1, 30)), len(destinations)
    along = rng.uniform(-0.05, 1.05, n)
    way = rng.integers(0, m, n)
    noise = 10.0 ** draw(st.sampled_from([-5, -3, -2])) * np.abs(destinations[way] - store).max(axis=1)[:, None]
    orders = store + along[:, None] * (destinations[way] - store) + rng.normal(size=(n, 2)) * noise
    if metric == "haversine":
        orders[:, 0] = np.clip(orders[:, 0], -90, 90)
        orders[:, 1] = (orders[:, 1] + 180.0) % 360.0 - 180.0
    road_factor = draw(st.sampled_from([1.0, 1.3]))
    direct = road_factor * pairwise_distances(metric, np.tile(store, (m, 1)), destinations)
    limits = direct * (1.0 + 10.0 ** rng.uniform(-6, -1, m))
    on_boundary = rng.integers(0, n, m)
    exact = road_factor * (
        pairwise_distances(metric, np.tile(store, (m, 1)), orders[on_boundary])
        + pairwise_distances(metric, orders[on_boundary], destinations)
    )
    limits = np.where(rng.random(m) < 0.5, exact, limits)
    return make_problem(metric, store=store, orders=orders, destinations=destinations, route_limits=limits,
                        road_factor=road_factor)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(thin_problems())
def test_thin_ellipses_covered_by_rows_of_balls_lose_no_pair(problem: PruningProblem) -> None:
    assert_same_pairs(candidate_pairs(problem), candidate_pairs_brute_force(problem))
