"""The occasional-drivers benchmark (Archetti, Savelsbergh and Speranza 2016) in the matcher's format.

Depot = store, customers = orders (size = demand), each occasional driver = a one-order trip whose
`candidates` are its listed customers with their listed compensation, the company fleet = unlimited
vehicles of the instance's capacity at cost 1 per unit distance, no fallback (every order must be served).
Route limits stay null: the listed subsets already encode ζ.

Also the benchmark's run over the set (`run_archetti`, shown by `crowdship bench matcher`): the selection, the
split into a tuning and a report part, one instance solved and checked by the referee, the tables.
"""

from __future__ import annotations

import csv
import re
import statistics
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from crowdship.errors import InvalidInput
from crowdship.settings import SHARED_DATA_DIR
from dispatch.matching import evaluate, parse_problem, solution_to_json, solve
from dispatch.matching.tuning import DEFAULT_TUNING, MatcherTuning

DEFAULT_DATA_DIR = SHARED_DATA_DIR / "vrpod-archetti"

Part = Literal["tuning", "report"]
TUNING_BASES_AND_ZETAS: frozenset[tuple[str, float]] = frozenset({("C101", 1.1), ("R201", 1.3), ("RC101", 1.5)})
"""The tuning part of the set: every instance on these (base, zeta), i.e. 3 of the 30 per (K, rho), 42 of
420, spread over K, rho, the three kinds of base (clustered, random, mixed), both capacities and three
values of zeta. The matcher's constants are tuned on this part only; its figures are reported on the rest
(the `report` part, 378 instances), so that they are not measured on what they were fitted to."""

_NAME = re.compile(r"od(?P<k>\d+)rho(?P<rho>[\d.]+)zeta(?P<zeta>[\d.]+)_(?P<base>\w+)\.txt$")


@dataclass(frozen=True)
class ArchettiInstance:
    name: str
    drivers: int
    rho: float
    zeta: float
    base: str
    problem: dict[str, Any]

    @property
    def part(self) -> Part:
        """`tuning` for the instances the matcher's constants may be tuned on, `report` for the rest."""
        return "tuning" if (self.base, self.zeta) in TUNING_BASES_AND_ZETAS else "report"

    @property
    def group(self) -> str:
        """od{K} with the compensation scheme: the rows of the benchmark table."""
        scheme = 1 if self.rho < 1 else 2
        return f"od{self.drivers} scheme {scheme}"


def _header(lines: list[str], key: str, path: Path) -> str:
    for line in lines:
        if line.startswith(key):
            return line.split(":", 1)[1].strip()
    raise InvalidInput(str(path), f"missing {key!r}")


def read_instance(path: Path) -> ArchettiInstance:
    """One instance file, converted to a `crowdship-match/1` problem (as parsed JSON)."""
    match = _NAME.search(path.name)
    if match is None:
        raise InvalidInput(str(path), "file name is not od{K}rho{rho}zeta{zeta}_{BASE}.txt")
    lines = [line.strip() for line in path.read_text().splitlines()]
    dimension = int(_header(lines, "DIMENSION", path))
    capacity = float(_header(lines, "VEHICLE CAPACITY", path))
    driver_count = int(_header(lines, "NUMBER OF OCCASIONAL DRIVERS", path))
    start = next(i for i, line in enumerate(lines) if line.startswith("VERTEX_ID")) + 1
    vertices: list[tuple[str, float, float, float, float | None]] = []
    for line in lines[start : start + dimension]:
        fields = line.split()
        profit = float(fields[4]) if len(fields) > 4 else None
        vertices.append((fields[0], float(fields[1]), float(fields[2]), float(fields[3]), profit))
    depot, customers = vertices[0], vertices[1:]
    orders = [{"id": vid, "location": [x, y], "size": demand} for vid, x, y, demand, _ in customers]
    profit_of = {vid: profit for vid, _, _, _, profit in customers}
    trips: list[dict[str, Any]] = []
    line_no = next(i for i, line in enumerate(lines) if line.startswith("OCCASIONAL DRIVERS DATA")) + 1
    while line_no < len(lines):
        if not lines[line_no].startswith("OCCASIONAL DRIVER "):
            line_no += 1
            continue
        number = lines[line_no].split()[-1]
        x = float(lines[line_no + 1].split(":")[1])
        y = float(lines[line_no + 2].split(":")[1])
        line_no += 5  # driver, x, y, number of customers, "Subset of customers:"
        candidates: list[dict[str, Any]] = []
        while line_no < len(lines) and not lines[line_no].startswith("OCCASIONAL DRIVER"):
            line = lines[line_no]
            if line.startswith("Customer"):
                _, vid, _, listed = line.split()
                candidates.append({"order": vid, "compensation": float(listed)})
            elif line:
                for vid in line.split():
                    listed_profit = profit_of[vid]
                    if listed_profit is None:
                        raise InvalidInput(str(path), f"customer {vid} has no profit for scheme 1")
                    candidates.append({"order": vid, "compensation": listed_profit})
            line_no += 1
        trips.append(
            {
                "id": f"od{number}",
                "destination": [x, y],
                "max_orders": 1,
                "capacity": None,
                "max_detour_ratio": None,
                "max_route": None,
                "candidates": candidates,
            }
        )
    if len(trips) != driver_count:
        raise InvalidInput(str(path), f"expected {driver_count} drivers, read {len(trips)}")
    problem = {
        "format": "crowdship-match/1",
        "metric": "euclidean",
        "store": {"id": depot[0], "location": [depot[1], depot[2]]},
        "orders": orders,
        "trips": trips,
        "fleet": {"vehicles": None, "capacity": capacity, "cost_per_distance": 1.0, "fixed_cost": 0.0},
        "fallback_cost": None,
    }
    return ArchettiInstance(
        name=path.name,
        drivers=int(match["k"]),
        rho=float(match["rho"]),
        zeta=float(match["zeta"]),
        base=match["base"],
        problem=problem,
    )


def best_known_values(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, float]:
    """MinKnownVal.tsv: instance file name → best-known objective."""
    values: dict[str, float] = {}
    for line in (data_dir / "MinKnownVal.tsv").read_text().splitlines():
        if line.strip():
            name, value = line.split("\t")[:2]
            values[name.strip()] = float(value)
    return values


def instance_paths(data_dir: Path = DEFAULT_DATA_DIR) -> list[Path]:
    return sorted((data_dir / "instances").glob("*.txt"))


# --- the benchmark run ------------------------------------------------------------------------------


def select_archetti(
    groups: list[str], per_group: int, limit: int | None, part: Part | Literal["all"] = "all"
) -> list[ArchettiInstance]:
    """`per_group` instances of each group (od{K} x scheme) of `part` (`archetti.TUNING_BASES_AND_ZETAS`),
    spread evenly over bases, zeta and rho."""
    by_group: dict[str, list[ArchettiInstance]] = defaultdict(list)
    for path in instance_paths(DEFAULT_DATA_DIR):
        instance = read_instance(path)
        if groups and not any(instance.group.split()[0] == g or instance.group == g for g in groups):
            continue
        if part not in ("all", instance.part):
            continue
        by_group[instance.group].append(instance)
    chosen: list[ArchettiInstance] = []
    for group in sorted(by_group, key=lambda g: (int(g.split()[0][2:]), g)):
        members = sorted(by_group[group], key=lambda i: (i.zeta, i.rho, i.base))
        if per_group >= len(members):
            chosen.extend(members)
            continue
        # evenly spaced through (zeta, rho, base), shifted by one each time so that the bases vary too
        picks = [members[((k * len(members)) // per_group + k) % len(members)] for k in range(per_group)]
        chosen.extend({pick.name: pick for pick in picks}.values())
    return chosen[:limit] if limit is not None else chosen


@dataclass(frozen=True)
class ArchettiRun:
    """One instance solved: the referee's objective and what the detail table shows."""

    objective: float
    seconds: float
    orders: int
    drivers: int
    trips_used: int
    fleet_routes: int
    deadline_hit: bool


def same_work_tuning(time_limit: float, wall_factor: float) -> MatcherTuning:
    """The tuning under which `solve` given wall_factor x time_limit plans the same work as with time_limit
    (the same search, finishing at the same work-clock time) and only its wall-clock safety net is later.

    On a loaded machine the search then gives what it gives on an idle one at `time_limit` (unless the net
    fires even so); the pruning's and the initial repair's own wall-clock shares grow too (only a huge batch
    or a fleet with too few vehicles uses them: not the occasional-drivers set)."""
    if wall_factor == 1.0:
        return DEFAULT_TUNING
    wall = wall_factor * time_limit
    share = (DEFAULT_TUNING.work_share * time_limit + DEFAULT_TUNING.finish_reserve_share * (wall - time_limit)) / wall
    return replace(DEFAULT_TUNING, work_share=share)


def solve_archetti(instance: ArchettiInstance, time_limit: float, seed: int, wall_factor: float = 1.0) -> ArchettiRun:
    """Solve one instance and recompute its objective with the referee (runs in a worker process too)."""
    problem = parse_problem(instance.problem)
    tuning = same_work_tuning(time_limit, wall_factor)
    started = time.perf_counter()
    solution = solve(problem, time_limit=wall_factor * time_limit, seed=seed, tuning=tuning)
    seconds = time.perf_counter() - started
    return ArchettiRun(
        objective=evaluate(problem, solution_to_json(solution)),
        seconds=seconds,
        orders=len(problem.orders),
        drivers=len(problem.trips),
        trips_used=len(solution.trips),
        fleet_routes=len(solution.fleet_routes),
        deadline_hit=bool(solution.stats.get("deadline_hit")),
    )


def run_archetti(
    console: Console,
    *,
    time_limit: float,
    groups: list[str],
    per_group: int,
    limit: int | None,
    seed: int,
    part: Part | Literal["all"] = "all",
    jobs: int = 1,
    csv_path: Path | None = None,
    wall_factor: float = 1.0,
) -> list[dict[str, Any]]:
    """The selected instances against their best-known values, per instance and per group. `jobs` > 1 solves
    that many at once, in processes of their own (the figures are the same unless the matcher's wall-clock
    safety net fires, which the `deadline` column shows); `csv_path` also writes the rows there.
    `wall_factor` > 1: the same work as at `time_limit` within that many times the time (`same_work_tuning`),
    for a loaded machine."""
    if not (DEFAULT_DATA_DIR / "instances").is_dir():
        console.print(f"[yellow]skipped[/yellow]: no occasional-drivers data at {DEFAULT_DATA_DIR}")
        return []
    best_known = best_known_values(DEFAULT_DATA_DIR)
    selected = select_archetti(groups, per_group, limit, part)
    rows: list[dict[str, Any]] = []
    walls = f" (its work within {wall_factor:g} x that)" if wall_factor != 1.0 else ""
    detail = Table(
        "instance", "orders", "drivers", "best known", "matcher", "gap %", "seconds", "trips used", "fleet routes",
        "deadline",
        title=f"Occasional drivers (Archetti et al. 2016), {time_limit:g} s per instance{walls}, part {part}",
    )  # fmt: skip
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            count = len(selected)
            runs = list(pool.map(solve_archetti, selected, [time_limit] * count, [seed] * count, [wall_factor] * count))
    else:
        runs = [solve_archetti(instance, time_limit, seed, wall_factor) for instance in selected]
    for instance, run in zip(selected, runs, strict=True):
        known = best_known[instance.name]
        gap = 100.0 * (run.objective - known) / known
        rows.append(
            {"name": instance.name, "group": instance.group, "part": instance.part, "best_known": known,
             "objective": run.objective, "gap": gap, "seconds": run.seconds, "deadline_hit": run.deadline_hit}
        )  # fmt: skip
        detail.add_row(
            instance.name, str(run.orders), str(run.drivers), f"{known:.3f}", f"{run.objective:.3f}",
            f"{gap:+.2f}", f"{run.seconds:.2f}", str(run.trips_used), str(run.fleet_routes),
            "hit" if run.deadline_hit else "",
        )  # fmt: skip
    console.print(detail)
    summary = Table(
        "group", "instances", "mean gap %", "max gap %", "min gap %", "mean s", "max s", "deadline hits",
        title=f"Per group (part {part})",
    )  # fmt: skip
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["group"]].append(row)
    for group, members in [*grouped.items(), ("all", rows)]:
        if not members:
            continue
        gaps = [m["gap"] for m in members]
        times = [m["seconds"] for m in members]
        summary.add_row(
            group, str(len(members)), f"{statistics.fmean(gaps):+.2f}", f"{max(gaps):+.2f}", f"{min(gaps):+.2f}",
            f"{statistics.fmean(times):.2f}", f"{max(times):.2f}", str(sum(m["deadline_hit"] for m in members)),
        )  # fmt: skip
    console.print(summary)
    if csv_path is not None and rows:
        with csv_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return rows
