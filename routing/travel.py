"""Travel: how far and how long between two places, behind one small interface.

`StraightLineTravel` is the default: the great circle times a road factor (about 1.3 in cities), at a
speed set per mode. `RoadGraphTravel` answers the same questions on a real street network (an OSMnx
GraphML drive network) with shortest paths, so it can replace the straight-line model where a network is
available. Both are plain Python: the graph is loaded once at the edge and passed in.
"""

from __future__ import annotations

import math
import statistics
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from crowdship.errors import InvalidInput
from routing.distance import haversine_m, haversine_matrix, unit_vectors
from routing.geo import GeoPoint

FloatArray = npt.NDArray[np.float64]

SHORTEST_PATH_TREES_KEPT = 256
"""Per-source shortest-path trees cached by a road-graph model (each as large as the graph)."""

DEFAULT_ROAD_FACTOR = 1.3
"""Road distance over straight-line distance; published US figures are 1.2-1.4."""


class TravelMode(StrEnum):
    CAR = "car"
    BIKE = "bike"
    WALK = "walk"


DEFAULT_SPEEDS_KMH: Mapping[TravelMode, float] = {
    TravelMode.CAR: 30.0,
    TravelMode.BIKE: 15.0,
    TravelMode.WALK: 5.0,
}
"""Door-to-door urban averages, stops and lights included."""


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
    speed_kmh: float = DEFAULT_SPEEDS_KMH[TravelMode.CAR]

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


@dataclass(frozen=True)
class TravelSettings:
    """The travel assumptions of a store or a scenario: one road factor, a speed per mode."""

    road_factor: float = DEFAULT_ROAD_FACTOR
    speeds_kmh: Mapping[TravelMode, float] = field(default_factory=lambda: dict(DEFAULT_SPEEDS_KMH))

    def __post_init__(self) -> None:
        _check_road_factor(self.road_factor)
        for mode, speed in self.speeds_kmh.items():
            _check_speed(speed, f"speeds_kmh.{TravelMode(mode).value}")

    def speed_kmh(self, mode: TravelMode) -> float:
        if mode not in self.speeds_kmh:
            raise InvalidInput("mode", f"no speed configured for {mode!s}")
        return self.speeds_kmh[mode]

    def model(self, mode: TravelMode) -> StraightLineTravel:
        return StraightLineTravel(self.road_factor, self.speed_kmh(mode))


# --------------------------------------------------------------------------------------------------
# Road network


class RoadGraphTravel:
    """Shortest paths on a street network; points are snapped to the nearest graph node.

    The snap legs (point to node, node to point) count as straight lines. Unreachable pairs (one-way
    dead ends, a network in pieces) are inf. Shortest-path trees are cached per source node.
    """

    def __init__(self, graph: nx.DiGraph, speed_kmh: float = DEFAULT_SPEEDS_KMH[TravelMode.CAR]) -> None:
        _check_speed(speed_kmh, "speed_kmh")
        if graph.number_of_nodes() == 0:
            raise InvalidInput("graph", "the road network has no nodes")
        self.graph = graph
        self.speed_kmh = speed_kmh
        self.nodes: list[Any] = list(graph.nodes)
        self.node_coordinates = np.array(
            [[graph.nodes[node]["y"], graph.nodes[node]["x"]] for node in self.nodes], dtype=np.float64
        )
        self._tree = cKDTree(unit_vectors(self.node_coordinates))
        self._trees_by_source: OrderedDict[Any, Mapping[Any, float]] = OrderedDict()

    @classmethod
    def from_graphml(cls, path: Path, speed_kmh: float = DEFAULT_SPEEDS_KMH[TravelMode.CAR]) -> RoadGraphTravel:
        return cls(load_road_graph(path), speed_kmh)

    def nearest_node(self, point: GeoPoint) -> tuple[Any, float]:
        """The closest graph node and the straight-line metres to it."""
        _, index = self._tree.query(unit_vectors([[point.lat, point.lon]])[0])
        node = self.nodes[int(index)]
        lat, lon = self.node_coordinates[int(index)]
        return node, haversine_m(point, GeoPoint(float(lat), float(lon)))

    def network_distance_m(self, source: Any, target: Any) -> float:
        """Shortest path length between two graph nodes; inf when there is none."""
        return float(self.shortest_lengths_from(source).get(target, math.inf))

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
        distance = np.zeros((len(points), len(points)))
        for i, (source, snap_out) in enumerate(snapped):
            lengths = self.shortest_lengths_from(source)
            for j, (target, snap_in) in enumerate(snapped):
                if i != j:
                    distance[i, j] = snap_out + lengths.get(target, math.inf) + snap_in
        return TravelMatrices(distance, distance / (self.speed_kmh / 3.6))

    def shortest_lengths_from(self, source: Any) -> Mapping[Any, float]:
        """Metres from a node to every node it reaches (the most recently used sources are kept)."""
        if source in self._trees_by_source:
            self._trees_by_source.move_to_end(source)
            return self._trees_by_source[source]
        lengths: Mapping[Any, float] = nx.single_source_dijkstra_path_length(self.graph, source, weight="length")
        self._trees_by_source[source] = lengths
        if len(self._trees_by_source) > SHORTEST_PATH_TREES_KEPT:
            self._trees_by_source.popitem(last=False)
        return lengths


def load_road_graph(path: Path) -> nx.DiGraph:
    """An OSMnx GraphML drive network as a directed graph with float `x`, `y` and `length` (metres).

    OSMnx writes every attribute as a string and may hold parallel edges; the shortest of those is kept.
    """
    raw = nx.read_graphml(path)
    graph = nx.DiGraph()
    for node, data in raw.nodes(data=True):
        try:
            lat, lon = float(data["y"]), float(data["x"])
        except (KeyError, ValueError) as error:
            raise InvalidInput(f"graphml.nodes[{node}]", "needs numeric x (lon) and y (lat)") from error
        GeoPoint.parse(lat, lon, f"graphml.nodes[{node}]")
        graph.add_node(node, y=lat, x=lon)
    for source, target, data in raw.edges(data=True):
        try:
            length = float(data["length"])
        except (KeyError, ValueError) as error:
            raise InvalidInput(f"graphml.edges[{source},{target}]", "needs a numeric length") from error
        if not math.isfinite(length) or length < 0:
            raise InvalidInput(f"graphml.edges[{source},{target}]", f"bad length {length!r}")
        if not graph.has_edge(source, target) or graph[source][target]["length"] > length:
            graph.add_edge(source, target, length=length)
    return graph


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
    index_of = {node: index for index, node in enumerate(travel.nodes)}
    ratios: list[FloatArray] = []
    for source_index in chosen.tolist():
        lengths = travel.shortest_lengths_from(travel.nodes[source_index])
        targets = np.array([index_of[node] for node in lengths])
        road = np.array(list(lengths.values()), dtype=np.float64)
        straight = 1000.0 * haversine_matrix(travel.node_coordinates[source_index], travel.node_coordinates[targets])[0]
        far_enough = straight >= min_straight_m
        ratios.append(road[far_enough] / straight[far_enough])
    values = np.concatenate(ratios) if ratios else np.zeros(0)
    if values.size == 0:
        raise InvalidInput("min_straight_m", "no reachable node pair is that far apart")
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return RoadFactorSummary(int(values.size), statistics.fmean(values.tolist()), float(median), float(p10), float(p90))
