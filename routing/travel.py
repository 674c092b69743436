"""Travel: how far and how long between two places, behind one small interface.

`StraightLineTravel` is the default: the great circle times a road factor (about 1.3 in cities), at a
speed set per mode. `RoadGraphTravel` answers the same questions on a real street network (an OSMnx
GraphML drive network) with shortest paths (scipy's sparse-graph Dijkstra), so it can replace the
straight-line model where a network is available. Both are plain Python: the graph is loaded once at the
edge and passed in.
"""

from __future__ import annotations

import math
import statistics
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from crowdship.errors import InvalidInput
from routing.distance import haversine_m, haversine_matrix, unit_vectors
from routing.geo import GeoPoint
from routing.graphml import parse_graphml

FloatArray = npt.NDArray[np.float64]
Node = TypeVar("Node", bound=Hashable)

SHORTEST_PATH_TREES_KEPT = 256
"""Per-source shortest-path trees cached by a road-graph model (each as large as the graph)."""

DEFAULT_ROAD_FACTOR = 1.3
"""Road distance over straight-line distance; published US figures are 1.2-1.4."""

DEFAULT_SPEED_KMH = 30.0
"""A car's door-to-door urban average, stops and lights included."""


@dataclass(frozen=True)
class TravelMatrices:
    """Distances (m) and durations (s) between every pair of a list of points; inf where no route exists."""

    distance_m: FloatArray
    duration_s: FloatArray


@runtime_checkable
class TravelModel(Protocol):
    """What dispatch needs to know about getting from one place to another."""

    def distance_m(self, origin: GeoPoint, destination: GeoPoint) -> float: ...

    def duration_s(self, origin: GeoPoint, destination: GeoPoint) -> float: ...

    def matrices(self, points: Sequence[GeoPoint]) -> TravelMatrices: ...


def _check_speed(speed_kmh: float, field_name: str) -> None:
    if isinstance(speed_kmh, bool) or not isinstance(speed_kmh, int | float):
        raise InvalidInput(field_name, f"must be a number, got {speed_kmh!r}")
    if not math.isfinite(speed_kmh) or speed_kmh <= 0:
        raise InvalidInput(field_name, f"must be a positive speed in km/h, got {speed_kmh!r}")


def _check_road_factor(road_factor: float) -> None:
    if isinstance(road_factor, bool) or not isinstance(road_factor, int | float):
        raise InvalidInput("road_factor", f"must be a number, got {road_factor!r}")
    if not math.isfinite(road_factor) or road_factor < 1.0:
        raise InvalidInput("road_factor", f"must be finite and at least 1, got {road_factor!r}")


@dataclass(frozen=True)
class StraightLineTravel:
    """Great-circle distance times a road factor, at a constant speed."""

    road_factor: float = DEFAULT_ROAD_FACTOR
    speed_kmh: float = DEFAULT_SPEED_KMH

    def __post_init__(self) -> None:
        _check_road_factor(self.road_factor)
        _check_speed(self.speed_kmh, "speed_kmh")

    def distance_m(self, origin: GeoPoint, destination: GeoPoint) -> float:
        return self.road_factor * haversine_m(origin, destination)

    def duration_s(self, origin: GeoPoint, destination: GeoPoint) -> float:
        return self.distance_m(origin, destination) / (self.speed_kmh / 3.6)

    def matrices(self, points: Sequence[GeoPoint]) -> TravelMatrices:
        coordinates = [[point.lat, point.lon] for point in points]
        distance: FloatArray = self.road_factor * 1000.0 * haversine_matrix(coordinates, coordinates)
        return TravelMatrices(distance, distance / (self.speed_kmh / 3.6))


# --------------------------------------------------------------------------------------------------
# Road network


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A directed street network: nodes at [lat, lon], streets as a sparse matrix of lengths in metres.

    `lengths[i, j]` is the street from node i to node j (the shortest, where a network holds several);
    a street of length 0 is a stored zero, not a missing street.
    """

    nodes: tuple[Hashable, ...]
    coordinates: FloatArray
    """(N, 2) lat, lon of each node, in the order of `nodes`."""
    lengths: sparse.csr_array

    @classmethod
    def from_streets(
        cls, nodes: Mapping[Node, tuple[float, float]], streets: Iterable[tuple[Node, Node, float]]
    ) -> RoadGraph:
        """Nodes by id with their (lat, lon), and one-way streets (from, to, metres); parallel streets keep
        the shortest. A two-way street is two one-way streets."""
        order = list(nodes)
        index = {node: position for position, node in enumerate(order)}
        best: dict[tuple[int, int], float] = {}
        for source, target, length in streets:
            if source not in index or target not in index:
                raise InvalidInput(f"streets[{source},{target}]", "joins a node that is not in the network")
            if not math.isfinite(length) or length < 0:
                raise InvalidInput(f"streets[{source},{target}]", f"bad length {length!r}")
            key = (index[source], index[target])
            if key not in best or best[key] > length:
                best[key] = length
        count = len(order)
        rows = np.fromiter((i for i, _ in best), dtype=np.int64, count=len(best))
        columns = np.fromiter((j for _, j in best), dtype=np.int64, count=len(best))
        values = np.fromiter(best.values(), dtype=np.float64, count=len(best))
        coordinates = np.array([nodes[node] for node in order], dtype=np.float64).reshape(count, 2)
        return cls(tuple(order), coordinates, sparse.csr_array((values, (rows, columns)), shape=(count, count)))

    @property
    def node_count(self) -> int:
        return len(self.nodes)

    @property
    def street_count(self) -> int:
        return int(self.lengths.nnz)


class RoadGraphTravel:
    """Shortest paths on a street network; points are snapped to the nearest graph node.

    The snap legs (point to node, node to point) count as straight lines. Unreachable pairs (one-way
    dead ends, a network in pieces) are inf. Shortest-path trees (Dijkstra, scipy's csgraph) are cached per
    source node.
    """

    def __init__(self, graph: RoadGraph, speed_kmh: float = DEFAULT_SPEED_KMH) -> None:
        _check_speed(speed_kmh, "speed_kmh")
        if graph.node_count == 0:
            raise InvalidInput("graph", "the road network has no nodes")
        self.graph = graph
        self.speed_kmh = speed_kmh
        self.nodes: list[Hashable] = list(graph.nodes)
        self.node_coordinates = graph.coordinates
        self._index = {node: position for position, node in enumerate(self.nodes)}
        self._tree = cKDTree(unit_vectors(self.node_coordinates))
        self._trees_by_source: OrderedDict[Hashable, FloatArray] = OrderedDict()

    @classmethod
    def from_graphml(cls, path: Path, speed_kmh: float = DEFAULT_SPEED_KMH) -> RoadGraphTravel:
        return cls(load_road_graph(path), speed_kmh)

    def nearest_node(self, point: GeoPoint) -> tuple[Hashable, float]:
        """The closest graph node and the straight-line metres to it."""
        _, index = self._tree.query(unit_vectors([[point.lat, point.lon]])[0])
        node = self.nodes[int(index)]
        lat, lon = self.node_coordinates[int(index)]
        return node, haversine_m(point, GeoPoint(float(lat), float(lon)))

    def network_distance_m(self, source: Hashable, target: Hashable) -> float:
        """Shortest path length between two graph nodes; inf when there is none."""
        return float(self.shortest_lengths_from(source)[self._index[target]])

    def distance_m(self, origin: GeoPoint, destination: GeoPoint) -> float:
        if origin == destination:
            return 0.0
        source, snap_out = self.nearest_node(origin)
        target, snap_in = self.nearest_node(destination)
        return snap_out + self.network_distance_m(source, target) + snap_in

    def duration_s(self, origin: GeoPoint, destination: GeoPoint) -> float:
        return self.distance_m(origin, destination) / (self.speed_kmh / 3.6)

    def matrices(self, points: Sequence[GeoPoint]) -> TravelMatrices:
        snapped = [self.nearest_node(point) for point in points]
        targets = np.array([self._index[node] for node, _ in snapped], dtype=np.int64)
        snaps = np.array([snap for _, snap in snapped], dtype=np.float64)
        distance = np.zeros((len(points), len(points)))
        for i, (source, snap_out) in enumerate(snapped):
            distance[i] = snap_out + self.shortest_lengths_from(source)[targets] + snaps
            distance[i, i] = 0.0
        return TravelMatrices(distance, distance / (self.speed_kmh / 3.6))

    def shortest_lengths_from(self, source: Hashable) -> FloatArray:
        """Metres from a node to every node, in the order of `nodes` (inf where unreachable); the trees of
        the most recently used sources are kept."""
        if source in self._trees_by_source:
            self._trees_by_source.move_to_end(source)
            return self._trees_by_source[source]
        lengths: FloatArray = np.asarray(
            csgraph.dijkstra(self.graph.lengths, directed=True, indices=self._index[source]), dtype=np.float64
        )
        lengths.setflags(write=False)
        self._trees_by_source[source] = lengths
        if len(self._trees_by_source) > SHORTEST_PATH_TREES_KEPT:
            self._trees_by_source.popitem(last=False)
        return lengths


def load_road_graph(path: Path) -> RoadGraph:
    """An OSMnx GraphML drive network: street `length` (metres) between positioned nodes.

    OSMnx may hold parallel streets; the shortest of those is kept. Streets are one-way unless the graph
    (`edgedefault`) or the street (`directed`) says otherwise.
    """
    network = parse_graphml(path.read_bytes())
    streets: list[tuple[str, str, float]] = []
    for edge in network.edges:
        try:
            length = float(edge.attributes["length"])
        except (KeyError, ValueError) as error:
            raise InvalidInput(edge.field, "needs a numeric length") from error
        streets.append((edge.source, edge.target, length))
        if edge.two_way:
            streets.append((edge.target, edge.source, length))
    nodes = {node: (point.lat, point.lon) for node, point in network.nodes.items()}
    return RoadGraph.from_streets(nodes, streets)


@dataclass(frozen=True)
class RoadFactorSummary:
    """Road distance over straight-line distance, for random node pairs of a network."""

    pairs: int
    mean: float
    median: float
    p10: float
    p90: float


def road_factor_distribution(
    travel: RoadGraphTravel, sources: int = 60, min_straight_m: float = 200.0, seed: int = 0
) -> RoadFactorSummary:
    """Ratios from random source nodes to every node they reach at least `min_straight_m` away."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(travel.nodes), size=min(sources, len(travel.nodes)), replace=False)
    ratios: list[FloatArray] = []
    for source_index in chosen.tolist():
        lengths = travel.shortest_lengths_from(travel.nodes[source_index])
        targets = np.flatnonzero(np.isfinite(lengths))
        road = lengths[targets]
        straight = 1000.0 * haversine_matrix(travel.node_coordinates[source_index], travel.node_coordinates[targets])[0]
        far_enough = straight >= min_straight_m
        ratios.append(road[far_enough] / straight[far_enough])
    values = np.concatenate(ratios) if ratios else np.zeros(0)
    if values.size == 0:
        raise InvalidInput("min_straight_m", "no reachable node pair is that far apart")
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return RoadFactorSummary(int(values.size), statistics.fmean(values.tolist()), float(median), float(p10), float(p90))
