"""`crowdship bench routing`: how fast candidate pruning and distance matrices are, and how curvy real roads are.

The pruning instances are a city: one store, orders within 15 km, trip destinations within 25 km, route
limits 1.1-1.5 x the direct road distance, haversine with road factor 1.3. Times are the best of a few
runs (the machine is shared), measured with `time.perf_counter`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from crowdship.settings import get_settings
from routing.distance import euclidean_matrix, haversine_matrix
from routing.pruning import (
    CandidatePairs,
    PruningProblem,
    candidate_pairs,
    candidate_pairs_brute_force,
    pairwise_distances,
)
from routing.travel import RoadGraphTravel, road_factor_distribution

CITY_CENTRE = (30.4383, -84.2807)
"""Tallahassee, FL: any mid-sized city would do."""

NETWORKS = {
    "Piedmont, CA": "piedmont_ca_drive.graphml",
    "Lower Manhattan, NY": "lower_manhattan_ny_drive.graphml",
}
DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((100, 200), (1_000, 2_000), (5_000, 10_000))


def _disc(rng: np.random.Generator, count: int, radius_km: float) -> np.ndarray:
    """Uniform points in a disc of `radius_km` around the city centre, as [lat, lon]."""
    distance = radius_km * np.sqrt(rng.random(count))
    bearing = rng.uniform(0, 2 * math.pi, count)
    lat0, lon0 = CITY_CENTRE
    km_per_degree = 111.195
    lat = lat0 + distance * np.cos(bearing) / km_per_degree
    lon = lon0 + distance * np.sin(bearing) / (km_per_degree * math.cos(math.radians(lat0)))
    return np.column_stack([lat, lon])


def city_problem(orders: int, trips: int, seed: int = 0, max_extra_km: float | None = None) -> PruningProblem:
    """A realistic store batch with only the route limit binding (the other rules are cheap masks).

    Limits are 1.1-1.5 x the direct road distance, and at most `max_extra_km` more than it when given.
    """
    rng = np.random.default_rng(seed)
    store = np.array(CITY_CENTRE)
    order_locations = _disc(rng, orders, 15.0)
    destinations = _disc(rng, trips, 25.0)
    road_factor = 1.3
    direct = road_factor * pairwise_distances("haversine", np.tile(store, (trips, 1)), destinations)
    return PruningProblem(
        metric="haversine",
        road_factor=road_factor,
        speed=0.5,
        store=store,
        order_locations=order_locations,
        order_sizes=np.ones(orders),
        order_values=np.full(orders, np.nan),
        order_requires_id=np.zeros(orders, dtype=bool),
        order_latest=np.full(orders, np.inf),
        trip_destinations=destinations,
        trip_route_limits=np.minimum(
            direct * rng.uniform(1.1, 1.5, trips), direct + (math.inf if max_extra_km is None else max_extra_km)
        ),
        trip_capacities=np.full(trips, np.inf),
        trip_id_verified=np.ones(trips, dtype=bool),
        trip_value_limits=np.full(trips, np.inf),
        trip_departs=np.zeros(trips),
    )


def best_time(run: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Fastest of `repeats` runs: wall seconds, CPU seconds of this process (less hurt by a busy machine),
    and the last result."""
    best_wall, best_cpu, result = math.inf, math.inf, None
    for _ in range(max(1, repeats)):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, result


def _same_pairs(a: CandidatePairs, b: CandidatePairs) -> bool:
    return bool(np.array_equal(a.trip_index, b.trip_index) and np.array_equal(a.order_index, b.order_index))


@dataclass(frozen=True)
class PruningRow:
    orders: int
    trips: int
    pairs: int
    fast_s: float
    fast_cpu_s: float
    brute_s: float | None
    agree: bool | None


def pruning_rows(
    sizes: Sequence[tuple[int, int]],
    repeats: int,
    brute_max_pairs: int,
    seed: int,
    max_extra_km: float | None = None,
) -> list[PruningRow]:
    rows = []
    for orders, trips in sizes:
        problem = city_problem(orders, trips, seed, max_extra_km)
        fast_s, fast_cpu_s, fast = best_time(partial(candidate_pairs, problem), repeats)
        assert isinstance(fast, CandidatePairs)
        brute_s: float | None = None
        agree: bool | None = None
        if orders * trips <= brute_max_pairs:
            brute_repeats = repeats if orders * trips <= 2_000_000 else 1
            brute_s, _, brute = best_time(partial(candidate_pairs_brute_force, problem), brute_repeats)
            assert isinstance(brute, CandidatePairs)
            agree = _same_pairs(fast, brute)
        rows.append(PruningRow(orders, trips, len(fast), fast_s, fast_cpu_s, brute_s, agree))
    return rows


def print_pruning(console: Console, title: str, rows: Sequence[PruningRow], brute_max_pairs: int) -> None:
    table = Table(title=title)
    for column in (
        "orders",
        "trips",
        "all pairs",
        "candidates",
        "share",
        "pruning ms",
        "pruning CPU ms",
        "brute force ms",
        "speed-up",
        "same pairs",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        everything = row.orders * row.trips
        brute = (
            f"{row.brute_s * 1000:,.1f}"
            if row.brute_s is not None
            else f"skipped (> {brute_max_pairs / 1e6:g} M pairs)"
        )
        table.add_row(
            f"{row.orders:,}",
            f"{row.trips:,}",
            f"{everything:,}",
            f"{row.pairs:,}",
            f"{row.pairs / everything:.1%}",
            f"{row.fast_s * 1000:,.1f}",
            f"{row.fast_cpu_s * 1000:,.1f}",
            brute,
            f"{row.brute_s / row.fast_s:.1f}x" if row.brute_s is not None else "-",
            {True: "yes", False: "NO", None: "-"}[row.agree],
        )
    console.print(table)


def print_distance_throughput(console: Console, repeats: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    origins, destinations = _disc(rng, 1_000, 15.0), _disc(rng, 2_000, 25.0)
    planar_a, planar_b = rng.uniform(0, 100, (1_000, 2)), rng.uniform(0, 100, (2_000, 2))
    pairs = origins.shape[0] * destinations.shape[0]
    table = Table(title=f"Distance matrices, 1,000 x 2,000 = {pairs:,} pairs (best of runs)")
    for column in ("function", "ms", "pairs / s"):
        table.add_column(column, justify="right")
    for name, run in (
        ("haversine_matrix", lambda: haversine_matrix(origins, destinations)),
        ("euclidean_matrix", lambda: euclidean_matrix(planar_a, planar_b)),
    ):
        seconds, _, _ = best_time(run, repeats)
        table.add_row(name, f"{seconds * 1000:,.1f}", f"{pairs / seconds:,.0f}")
    console.print(table)


def print_road_factors(console: Console, sources: int, seed: int, networks_dir: Path) -> None:
    """Road factors of the street networks in `networks_dir` (`CROWDSHIP_STREET_NETWORKS_DIR`)."""
    missing = [name for name in NETWORKS.values() if not (networks_dir / name).is_file()]
    if missing:
        console.print(
            f"road factors: no street network {', '.join(missing)} in CROWDSHIP_STREET_NETWORKS_DIR="
            f"{networks_dir}, skipped"
        )
        return
    table = Table(
        title=f"Road factor = shortest drive path / great circle; {sources} random sources, targets >= 200 m away"
    )
    for column in ("network", "nodes", "edges", "pairs", "mean", "median", "p10", "p90"):
        table.add_column(column, justify="right")
    for label, file_name in NETWORKS.items():
        travel = RoadGraphTravel.from_graphml(networks_dir / file_name)
        summary = road_factor_distribution(travel, sources=sources, seed=seed)
        table.add_row(
            label,
            f"{travel.graph.node_count:,}",
            f"{travel.graph.street_count:,}",
            f"{summary.pairs:,}",
            f"{summary.mean:.2f}",
            f"{summary.median:.2f}",
            f"{summary.p10:.2f}",
            f"{summary.p90:.2f}",
        )
    console.print(table)
    console.print("Map data (c) OpenStreetMap contributors, ODbL 1.0.")


def run_routing_benchmark(
    console: Console,
    *,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    repeats: int = 3,
    brute_max_pairs: int = 10_000_000,
    road_sources: int = 100,
    seed: int = 0,
    networks_dir: Path | None = None,
) -> None:
    """All the tables; brute force is skipped above `brute_max_pairs` pairs to keep the run short. The road
    factors are those of the networks in `networks_dir`, by default `CROWDSHIP_STREET_NETWORKS_DIR`."""
    console.print(f"load average before the run: {', '.join(f'{load:.2f}' for load in os.getloadavg())}")
    print_pruning(
        console,
        "Candidate pruning: haversine, road factor 1.3, limits 1.1-1.5 x direct (best of runs)",
        pruning_rows(sizes, repeats, brute_max_pairs, seed),
        brute_max_pairs,
    )
    print_pruning(
        console,
        "Same, with limits also capped at direct + 2 km (narrower ellipses on long trips)",
        pruning_rows(sizes, repeats, brute_max_pairs, seed, max_extra_km=2.0),
        brute_max_pairs,
    )
    print_distance_throughput(console, repeats, seed)
    print_road_factors(console, road_sources, seed, networks_dir or get_settings().street_networks_dir)
