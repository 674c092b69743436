"""The occasional-drivers benchmark (Archetti, Savelsbergh and Speranza 2016) in the matcher's format.

Depot = store, customers = orders (size = demand), each occasional driver = a one-order trip whose
`candidates` are its listed customers with their listed compensation, the company fleet = unlimited
vehicles of the instance's capacity at cost 1 per unit distance, no fallback (every order must be served).
Route limits stay null: the listed subsets already encode ζ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crowdship.errors import InvalidInput

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "vrpod-archetti"

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
