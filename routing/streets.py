"""A street base for maps: the lines drawn under a store's drop-offs, routes and shoppers.

No tile server is reachable, so the base is vector lines in (lon, lat). Where one of the OpenStreetMap drive
networks in `<repo>/../shared/data/osm_street_networks/` (OSMnx GraphML) covers the place, its streets are
drawn, with the ODbL attribution. Everywhere else (and on any machine without that folder) the base is a
graticule: a square grid of round metres around the place, so that distances can still be read off the map.
A graticule is not streets and says so in its description; nothing is invented.

Reading a network is the only I/O here; each file is parsed once per process (keyed by its path, size and
modification time) and the caller passes the folder in, so tests can point anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from crowdship.errors import InvalidInput
from crowdship.settings import DEFAULT_STREET_NETWORKS_DIR
from routing.geo import METRES_PER_DEGREE, GeoPoint
from routing.graphml import parse_graphml

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
"""Shown whenever OpenStreetMap data is drawn (the ODbL asks for it)."""


MAX_VIEW_RADIUS_M = 100_000.0
BASE_OVERDRAW = 2.0
"""A base reaches this many times the view's radius on every side, so a map wider than tall is still filled."""
MAX_BASE_LINES = 6_000
"""A base never carries more lines than this, whatever the network or radius."""

BaseKind = Literal["osm", "graticule"]
LonLat = tuple[float, float]


@dataclass(frozen=True, slots=True)
class StreetLine:
    """One street (or grid line) as a polyline of (lon, lat); `kind` is OSM's highway class or "grid"."""

    points: tuple[LonLat, ...]
    name: str = ""
    kind: str = ""


@dataclass(frozen=True, slots=True)
class StreetBase:
    """The lines under a map, where they came from, and the attribution to print (None for our own grid)."""

    kind: BaseKind
    lines: tuple[StreetLine, ...]
    description: str
    attribution: str | None
    truncated: bool = False
    """True when more lines lay in the view than `MAX_BASE_LINES` (the rest were left out)."""


@dataclass(frozen=True, slots=True)
class StreetNetwork:
    """Every street of one GraphML file, each two-way street once, and the box its nodes span."""

    name: str
    lines: tuple[StreetLine, ...]
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def covers(self, point: GeoPoint) -> bool:
        return self.min_lon <= point.lon <= self.max_lon and self.min_lat <= point.lat <= self.max_lat


def street_base(
    center: GeoPoint,
    radius_m: float,
    *,
    networks_dir: Path | None = DEFAULT_STREET_NETWORKS_DIR,
    max_lines: int = MAX_BASE_LINES,
) -> StreetBase:
    """The base for a view of `radius_m` around `center`: OSM streets when a shipped network covers the
    centre, else a graticule. `networks_dir=None` always gives the graticule."""
    _check_radius(radius_m)
    if networks_dir is not None:
        for network in street_networks(networks_dir):
            if network.covers(center):
                return osm_base(network, center, radius_m, max_lines=max_lines)
    return graticule_base(center, radius_m)


def osm_base(
    network: StreetNetwork, center: GeoPoint, radius_m: float, *, max_lines: int = MAX_BASE_LINES
) -> StreetBase:
    """The network's streets whose box meets the square of `radius_m` (times `BASE_OVERDRAW`) around `center`."""
    _check_radius(radius_m)
    half_lat = BASE_OVERDRAW * radius_m / METRES_PER_DEGREE
    half_lon = BASE_OVERDRAW * radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(center.lat)), 1e-6))
    west, east = center.lon - half_lon, center.lon + half_lon
    south, north = center.lat - half_lat, center.lat + half_lat
    inside = [
        line
        for line in network.lines
        if max(p[0] for p in line.points) >= west
        and min(p[0] for p in line.points) <= east
        and max(p[1] for p in line.points) >= south
        and min(p[1] for p in line.points) <= north
    ]
    return StreetBase(
        kind="osm",
        lines=tuple(inside[:max_lines]),
        description=f"OpenStreetMap drive network ({network.name})",
        attribution=OSM_ATTRIBUTION,
        truncated=len(inside) > max_lines,
    )


def graticule_base(center: GeoPoint, radius_m: float, spacing_m: float | None = None) -> StreetBase:
    """North-south and east-west lines every `spacing_m` (a round 1-2-5 step giving about 10-25 lines across
    the view when not given), through the centre, out to `radius_m` (times `BASE_OVERDRAW`) on every side."""
    _check_radius(radius_m)
    spacing = round_step(2 * radius_m / 12) if spacing_m is None else spacing_m
    if isinstance(spacing, bool) or not isinstance(spacing, int | float) or not math.isfinite(spacing) or spacing <= 0:
        raise InvalidInput("spacing_m", f"must be a positive number of metres, got {spacing!r}")
    count = min(math.ceil(BASE_OVERDRAW * radius_m / spacing), MAX_BASE_LINES // 4)
    shrink = max(math.cos(math.radians(center.lat)), 1e-6)

    def lon_at(east_m: float) -> float:
        return center.lon + east_m / (METRES_PER_DEGREE * shrink)

    def lat_at(north_m: float) -> float:
        return max(-90.0, min(90.0, center.lat + north_m / METRES_PER_DEGREE))

    extent = count * spacing
    lines = []
    for step in range(-count, count + 1):
        offset = step * spacing
        lines.append(StreetLine(((lon_at(offset), lat_at(-extent)), (lon_at(offset), lat_at(extent))), kind="grid"))
        lines.append(StreetLine(((lon_at(-extent), lat_at(offset)), (lon_at(extent), lat_at(offset))), kind="grid"))
    return StreetBase(
        kind="graticule",
        lines=tuple(lines),
        description=f"grid of {format_metres(spacing)} squares (no street data for this place)",
        attribution=None,
    )


def round_step(metres: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above `metres` (at least 1 m)."""
    if not math.isfinite(metres) or metres <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(metres))
    for factor in (5.0, 2.0, 1.0):
        if factor * power <= metres:
            return factor * power
    return power


def format_metres(metres: float) -> str:
    """`500 m`, `1 km`, `2.5 km`."""
    if metres >= 1000:
        return f"{metres / 1000:g} km"
    return f"{metres:g} m"


# --------------------------------------------------------------------------------------------------
# Reading the OSMnx GraphML networks


def street_networks(networks_dir: Path) -> list[StreetNetwork]:
    """Every `*.graphml` network in the folder, in name order; none when the folder is absent."""
    if not networks_dir.is_dir():
        return []
    return [load_street_network(path) for path in sorted(networks_dir.glob("*.graphml"))]


def load_street_network(path: Path) -> StreetNetwork:
    """The streets of one file, parsed once per process while the file stays the same."""
    stat = path.stat()
    return _load_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, size: int, mtime_ns: int) -> StreetNetwork:
    del size, mtime_ns  # part of the cache key only: a changed file is read again
    return parse_street_network(Path(path).read_bytes(), Path(path).stem)


def parse_street_network(document: bytes, name: str) -> StreetNetwork:
    """Streets from OSMnx GraphML: an edge's WKT `geometry` when it has one, else the straight segment between
    its nodes. A street stored both ways is kept once."""
    network = parse_graphml(document)
    nodes: dict[str, LonLat] = {node: (point.lon, point.lat) for node, point in network.nodes.items()}
    lines: list[StreetLine] = []
    seen: set[tuple[LonLat, ...]] = set()
    for edge in network.edges:
        geometry = edge.attributes.get("geometry")
        if geometry:
            points = parse_wkt_linestring(geometry, f"{edge.field}.geometry")
        else:
            points = (nodes[edge.source], nodes[edge.target])
        drawn_once = min(points, points[::-1])
        if drawn_once in seen:
            continue
        seen.add(drawn_once)
        attributes = edge.attributes
        lines.append(
            StreetLine(points, name=_first(attributes.get("name", "")), kind=_first(attributes.get("highway", "")))
        )
    lons = [lon for lon, _ in nodes.values()]
    lats = [lat for _, lat in nodes.values()]
    return StreetNetwork(name, tuple(lines), min(lons), min(lats), max(lons), max(lats))


def parse_wkt_linestring(text: str, field: str = "geometry") -> tuple[LonLat, ...]:
    """`LINESTRING (lon lat, lon lat, ...)` as (lon, lat) pairs, each checked."""
    body = text.strip()
    head, _, rest = body.partition("(")
    if head.strip().upper() != "LINESTRING" or not rest.endswith(")"):
        raise InvalidInput(field, "expected a WKT LINESTRING")
    points: list[LonLat] = []
    for index, pair in enumerate(rest[:-1].split(",")):
        parts = pair.split()
        if len(parts) not in (2, 3):
            raise InvalidInput(f"{field}[{index}]", f"expected 'lon lat', got {pair.strip()!r}")
        try:
            lon, lat = float(parts[0]), float(parts[1])
        except ValueError as error:
            raise InvalidInput(f"{field}[{index}]", f"not numbers: {pair.strip()!r}") from error
        GeoPoint.parse(lat, lon, f"{field}[{index}]")
        points.append((lon, lat))
    if len(points) < 2:
        raise InvalidInput(field, "a line needs at least two points")
    return tuple(points)


def _first(value: str) -> str:
    """OSMnx writes merged attributes as a Python list's text ("['Oak Road', 'Elm Road']"); keep the first."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].split(",")[0].strip().strip("'\"")
    return text


def _check_radius(radius_m: float) -> None:
    if isinstance(radius_m, bool) or not isinstance(radius_m, int | float) or not math.isfinite(radius_m):
        raise InvalidInput("radius_m", f"must be a finite number of metres, got {radius_m!r}")
    if not 0 < radius_m <= MAX_VIEW_RADIUS_M:
        raise InvalidInput("radius_m", f"must lie in (0, {MAX_VIEW_RADIUS_M:g}] metres, got {radius_m!r}")


def lines_in_order(lines: Iterable[StreetLine]) -> Sequence[StreetLine]:
    """Major roads last, so that they are drawn over the minor ones."""
    return sorted(lines, key=lambda line: ROAD_RANK.get(line.kind, 0))


ROAD_RANK = {
    "motorway": 6,
    "trunk": 5,
    "primary": 4,
    "secondary": 3,
    "tertiary": 2,
    "unclassified": 1,
    "residential": 1,
}
