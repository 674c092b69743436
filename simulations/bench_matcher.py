"""Benchmarks of the matcher: the occasional-drivers set against its best-known values (run by `archetti`),
and synthetic store batches against PyVRP (an optional reference peer from the `bench` extra, never on the
product path).

Every objective printed here is recomputed by the independent referee `dispatch.matching.evaluate`, for
the matcher and for the peer alike.
"""

from __future__ import annotations

import csv
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from rich.console import Console
from rich.table import Table

from crowdship.errors import InvalidInput
from crowdship.settings import SHARED_DATA_DIR
from dispatch.matching import MatchProblem, evaluate, parse_problem, solution_to_json, solve
from dispatch.matching.instance import FloatArray, build_instance
from dispatch.matching.pairs import find_pairs
from dispatch.matching.tuning import DEFAULT_TUNING
from routing.distance import EARTH_MEAN_RADIUS_KM
from simulations.archetti import run_archetti, select_archetti

__all__ = [
    "BATCH_CITIES", "LEON_BLOCKS", "STORE_LAT_LON", "BatchCity", "PeerResult", "check_city",
    "one_order_timing", "pyvrp_peer", "run_archetti", "run_synthetic", "select_archetti", "synthetic_batch",
]  # fmt: skip
"""The occasional-drivers run lives with the set's reader (`archetti`); it is exported from here too."""

LEON_BLOCKS = SHARED_DATA_DIR / "leon_county_fl_census_blocks_2010" / "leon_fl_blocks_2010.csv"
STORE_LAT_LON = (30.428141, -84.214661)
"""Walmart Supercenter, 3535 Apalachee Pkwy, Tallahassee (walmart_stores_2018_snapshot)."""

BatchCity = Literal["built-in", "leon-county"]
"""Where the homes of a synthetic batch are: `built-in` needs no data (a dense core and a wide suburb
around the store); `leon-county` draws them from Leon County census blocks in `../shared/data`, and is
refused when that file is missing. Never one in place of the other: the same arguments give the same
batch on every machine, or none."""
BATCH_CITIES: tuple[BatchCity, ...] = get_args(BatchCity)


# --- synthetic store batches ---------------------------------------------------------------------------


def check_city(city: str) -> None:
    """Refuse an unknown city, or one whose data is missing (before any long run starts)."""
    if city not in BATCH_CITIES:
        raise InvalidInput("city", f"must be one of {', '.join(BATCH_CITIES)}, got {city!r}")
    if city == "leon-county" and not LEON_BLOCKS.is_file():
        raise InvalidInput("city", f"leon-county needs the census blocks at {LEON_BLOCKS}, which are missing")


def _homes(rng: np.random.Generator, count: int, city: BatchCity) -> FloatArray:
    """[lat, lon] of `count` homes in `city` (see BatchCity), jittered ~50 m."""
    check_city(city)
    if city == "leon-county":
        with LEON_BLOCKS.open() as handle:
            rows = [(float(r["INTPTLAT"]), float(r["INTPTLON"]), float(r["HU100"])) for r in csv.DictReader(handle)]
        table = np.array(rows)
        weights = table[:, 2] / table[:, 2].sum()  # census blocks weighted by housing units
        picked = table[rng.choice(len(table), size=count, p=weights), :2]
    else:  # built-in: 60 % in a dense core, the rest in a wide suburb around the store
        spread = np.where(rng.random(count) < 0.6, 0.03, 0.1)
        picked = np.array(STORE_LAT_LON) + rng.normal(size=(count, 2)) * spread[:, None]
    jitter = rng.normal(scale=0.0005, size=picked.shape)
    homes: FloatArray = picked + jitter
    return homes


def synthetic_batch(
    order_count: int,
    trip_count: int,
    seed: int,
    max_orders: int = 3,
    city: BatchCity = "built-in",
    *,
    fleet: bool = False,
) -> dict[str, Any]:
    """One store's batch around a Tallahassee store (haversine, road factor 1.3): courier fallback,
    detour-paid shoppers. The same arguments give the same batch whether or not `../shared/data` is there."""
    rng = np.random.default_rng(seed)
    order_xy = _homes(rng, order_count, city)
    trip_xy = _homes(rng, trip_count, city)
    store = np.array(STORE_LAT_LON)
    road_factor = 1.3
    lat0 = math.radians(store[0])

    def km(points: FloatArray) -> FloatArray:
        d_lat = np.radians(points[:, 0] - store[0])
        d_lon = np.radians(points[:, 1] - store[1]) * math.cos(lat0)
        rough: FloatArray = np.hypot(d_lat, d_lon) * EARTH_MEAN_RADIUS_KM * road_factor
        return rough

    order_km = km(order_xy)
    trip_km = km(trip_xy)
    sizes = rng.choice([1, 1, 1, 1, 1, 1, 1, 2, 2, 3], size=order_count)
    orders = [
        {
            "id": f"o{i}",
            "location": [round(float(order_xy[i, 0]), 6), round(float(order_xy[i, 1]), 6)],
            "size": int(sizes[i]),
            "fallback_cost": round(6.0 + 0.6 * float(order_km[i]), 2),
        }
        for i in range(order_count)
    ]
    trips = [
        {
            "id": f"t{j}",
            "destination": [round(float(trip_xy[j, 0]), 6), round(float(trip_xy[j, 1]), 6)],
            "max_orders": max_orders,
            "capacity": int(rng.integers(2, 7)),
            "max_detour_ratio": 1.3,
            "max_route": round(float(trip_km[j]) + 5.0, 3),
            "compensation": {"rule": "detour", "rate": 0.5, "minimum": 0.0},
        }
        for j in range(trip_count)
    ]
    batch = {
        "format": "crowdship-match/1",
        "metric": "haversine",
        "road_factor": road_factor,
        "speed": 0.5,
        "store": {"id": "tallahassee-apalachee", "location": [float(store[0]), float(store[1])]},
        "orders": orders,
        "trips": trips,
        "fleet": None,
        "fallback_cost": None,
    }
    return _with_fleet(batch, seed) if fleet else batch


def _with_fleet(batch: dict[str, Any], seed: int) -> dict[str, Any]:
    """The batch with the store's own fleet (capacity 12, 0.8 per km, 5 per vehicle used), a 60-minute window
    on about 40 % of the orders and no fallback on about half (the fleet must take those nobody else does):
    the shape where the matcher searches with every route priced by the exact checks."""
    rng = np.random.default_rng(seed + 100)
    batch["fleet"] = {"vehicles": None, "capacity": 12, "cost_per_distance": 0.8, "fixed_cost": 5.0}
    for order in batch["orders"]:
        if rng.random() < 0.4:
            start = float(rng.integers(0, 60))
            order["window"] = [start, start + 60.0]
        if rng.random() < 0.5:
            order["fallback_cost"] = None
    return batch


@dataclass(frozen=True)
class PeerResult:
    objective: float
    seconds: float
    note: str = ""


def pyvrp_peer(problem: MatchProblem, time_limit: float, seed: int) -> PeerResult | None:
    """PyVRP (HGS) on the same batch: trips as vehicle types store → destination, orders as optional clients.

    Exact for the synthetic batches (detour rule with no minimum, no windows, no fleet): a trip costs
    rate x route length, and a zero-size client at its destination carrying a prize of rate x direct length,
    which only that trip can collect, cancels the direct part. Orders without any candidate pair (the same
    pruning as the matcher's) are left out of the peer's model and go to the fallback, which only helps the
    peer's speed. None: PyVRP is not installed.
    """
    try:
        import pyvrp
        from pyvrp.stop import MaxRuntime
    except ImportError:
        return None
    started = time.perf_counter()
    instance = build_instance(problem)
    pairs = find_pairs(instance, tuning=DEFAULT_TUNING.pairs)
    orders = np.unique(pairs.order)
    trips = np.unique(pairs.trip)
    if len(orders) == 0:
        return PeerResult(float(instance.skip_cost().sum()), time.perf_counter() - started, "nothing to route")
    points = np.vstack([instance.store[None, :], instance.destination_xy[trips], instance.order_xy[orders]])
    distance = np.rint(instance.distances(points, points) * 1000.0).astype(np.int64)  # metres
    cost_scale = 1e4  # objective units per currency unit
    locations = [pyvrp.Location(float(p[1]), float(p[0])) for p in points]
    depots = [pyvrp.Depot(0)] + [pyvrp.Depot(1 + k) for k in range(len(trips))]
    clients = [
        pyvrp.Client(
            1 + len(trips) + i,
            delivery=[round(instance.size[o]), 1],
            prize=round(float(instance.skip_cost()[o]) * cost_scale),
            required=False,
        )
        for i, o in enumerate(orders.tolist())
    ]
    # Trip t's offset client must be collectable by trip t alone: give it a constant-weight binary code
    # as its load in extra dimensions and make that code trip t's capacity there; any other trip's code
    # (same weight, different) then overloads some dimension.
    bits = 2
    while math.comb(bits, bits // 2) < len(trips):
        bits += 1
    codes = list(itertools.islice(itertools.combinations(range(bits), bits // 2), len(trips)))

    def code(k: int) -> list[int]:
        vector = [0] * bits
        for position in codes[k]:
            vector[position] = 1
        return vector

    for client in range(len(clients)):
        clients[client] = pyvrp.Client(
            clients[client].location, delivery=[*clients[client].delivery, *([0] * bits)],
            prize=clients[client].prize, required=False,
        )  # fmt: skip
    vehicle_types = []
    for k, t in enumerate(trips.tolist()):
        per_metre = float(instance.rate[t]) * cost_scale / 1000.0
        if abs(per_metre - round(per_metre)) > 1e-9:
            return PeerResult(math.nan, 0.0, "rate not representable")
        capacity = instance.capacity[t]
        limit = instance.route_limit[t]
        vehicle_types.append(
            pyvrp.VehicleType(
                1,
                capacity=[int(capacity) if math.isfinite(capacity) else 10**9, int(instance.max_orders[t]), *code(k)],
                start_depot=0,
                end_depot=1 + k,
                max_distance=math.floor(limit * 1000.0) if math.isfinite(limit) else 2**62,
                unit_distance_cost=round(per_metre),
            )
        )
        clients.append(
            pyvrp.Client(1 + k, delivery=[0, 0, *code(k)], prize=round(per_metre * distance[0, 1 + k]), required=False)
        )
    matrices: list[Any] = [distance]
    durations: list[Any] = [np.zeros_like(distance)]
    data = pyvrp.ProblemData(locations, clients, depots, vehicle_types, matrices, durations)
    # Start from the empty (feasible) plan: otherwise, on larger batches, the search can end without ever
    # holding a feasible solution.
    empty = pyvrp.Solution(data, [])
    result = pyvrp.solve(data, stop=MaxRuntime(time_limit), seed=seed, display=False, initial_solution=empty)
    seconds = time.perf_counter() - started
    best = result.best
    if not best.is_feasible():
        return PeerResult(math.nan, seconds, "no feasible solution")
    ids = [o.id for o in problem.orders]
    trip_routes: dict[str, list[str]] = {}
    served: set[int] = set()
    for route in best.routes():
        trip = int(trips[route.vehicle_type()])
        stops = [int(orders[a.idx]) for a in route if a.is_client() and a.idx < len(orders)]
        if stops:
            trip_routes[problem.trips[trip].id] = [ids[o] for o in stops]
            served.update(stops)
    solution = {
        "format": "crowdship-match-solution/1",
        "trips": trip_routes,
        "fleet_routes": [],
        "fallback": [ids[o] for o in range(len(ids)) if o not in served],
    }
    return PeerResult(evaluate(problem, solution), seconds)


def run_synthetic(
    console: Console,
    *,
    sizes: list[tuple[int, int]],
    time_limits: list[float],
    max_orders: int,
    peer: bool,
    seed: int,
    city: BatchCity = "built-in",
    fleet: bool = False,
) -> list[dict[str, Any]]:
    """`fleet`: the batches with a fleet and windows (`_with_fleet`); PyVRP is not run on them (its model
    here has no fleet)."""
    rows: list[dict[str, Any]] = []
    table = Table(
        "orders x trips", "limit s", "matcher", "matcher s", "PyVRP", "PyVRP s", "matcher vs PyVRP %", "note",
        title=f"Synthetic store batches (Tallahassee store, {city} city, haversine, max_orders {max_orders}"
        + (", a fleet and windows)" if fleet else ")"),
    )  # fmt: skip
    peer_missing = False
    for order_count, trip_count in sizes:
        problem = parse_problem(synthetic_batch(order_count, trip_count, seed, max_orders, city, fleet=fleet))
        for limit in time_limits:
            started = time.perf_counter()
            solution = solve(problem, time_limit=limit, seed=seed)
            seconds = time.perf_counter() - started
            objective = evaluate(problem, solution_to_json(solution))
            peer_result: PeerResult | None = None
            note = ""
            if peer and not peer_missing and not fleet:
                if (order_count + trip_count) > 6000:
                    note = "peer skipped: dense matrices too large"
                else:
                    peer_result = pyvrp_peer(problem, limit, seed)
                    if peer_result is None:
                        peer_missing = True
            if peer_missing:
                note = "PyVRP not installed (bench extra): skipped"
            if peer_result is not None:
                note = peer_result.note
            relative = (
                f"{100.0 * (objective - peer_result.objective) / peer_result.objective:+.2f}"
                if peer_result is not None and math.isfinite(peer_result.objective) and peer_result.objective
                else ""
            )
            table.add_row(
                f"{order_count} x {trip_count}", f"{limit:g}", f"{objective:.2f}", f"{seconds:.2f}",
                "" if peer_result is None else f"{peer_result.objective:.2f}",
                "" if peer_result is None else f"{peer_result.seconds:.2f}", relative, note,
            )  # fmt: skip
            rows.append({"size": (order_count, trip_count), "limit": limit, "objective": objective, "seconds": seconds})
    console.print(table)
    if peer_missing:
        console.print(
            'PyVRP comes with the bench extra: `CROWDSHIP_EXTRAS="sim bench" scripts/bootstrap.sh` installs it (as'
            " `make bench` does); --no-peer leaves it out."
        )
    return rows


def one_order_timing(
    console: Console, order_count: int = 1000, trip_count: int = 2000, seed: int = 0, city: BatchCity = "built-in"
) -> float:
    """End-to-end seconds of the one-order-per-trip case (parse + solve + JSON), the assignment-only path."""
    data = synthetic_batch(order_count, trip_count, seed, max_orders=1, city=city)
    started = time.perf_counter()
    problem = parse_problem(data)
    solution = solve(problem, time_limit=5.0, seed=seed)
    solution_to_json(solution)
    seconds = time.perf_counter() - started
    console.print(
        f"one order per trip, {order_count} x {trip_count}: {seconds:.3f} s end to end, objective "
        f"{solution.objective:.2f}, {len(solution.trips)} trips used"
    )
    return seconds
