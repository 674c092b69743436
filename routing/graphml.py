"""OSMnx GraphML, read once for both of its uses: the streets drawn under maps and the road graph routed on.

OSMnx writes every attribute as a string, declares each one by a `<key>` (with an optional default), and
stores a node's position as `x` (lon) and `y` (lat). Positions are checked here, so that neither reader
meets a node without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree import ElementTree

from crowdship.errors import InvalidInput
from routing.geo import GeoPoint

_NAMESPACE = "{http://graphml.graphdrawing.org/xmlns}"


@dataclass(frozen=True)
class GraphmlEdge:
    source: str
    target: str
    attributes: Mapping[str, str]
    two_way: bool
    """Stored once for both directions: by the graph's `edgedefault` or the edge's own `directed`."""

    @property
    def field(self) -> str:
        return f"graphml.edges[{self.source},{self.target}]"


@dataclass(frozen=True)
class GraphmlNetwork:
    nodes: Mapping[str, GeoPoint]
    """Every node, in the file's order, at its checked position."""
    edges: tuple[GraphmlEdge, ...]


def parse_graphml(document: bytes) -> GraphmlNetwork:
    """A GraphML network with its attributes by name (declared defaults filled in); an edge that joins a node
    the file does not have is refused, as is a network without nodes."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as error:
        raise InvalidInput("graphml", f"not GraphML: {error}") from error
    names: dict[str, dict[str, str]] = {"node": {}, "edge": {}}
    defaults: dict[str, dict[str, str]] = {"node": {}, "edge": {}}
    for key in root.iter(f"{_NAMESPACE}key"):
        for kind in ("node", "edge"):
            if key.get("for") in (kind, "all"):
                name = key.get("attr.name", "")
                names[kind][key.get("id", "")] = name
                default = key.find(f"{_NAMESPACE}default")
                if default is not None and default.text is not None:
                    defaults[kind][name] = default.text
    graph = root.find(f"{_NAMESPACE}graph")
    if graph is None:
        raise InvalidInput("graphml", "has no graph")

    def attributes(element: ElementTree.Element, kind: str) -> dict[str, str]:
        found = dict(defaults[kind])
        for data in element.findall(f"{_NAMESPACE}data"):
            name = names[kind].get(data.get("key", ""))
            if name is not None:
                found[name] = data.text or ""
        return found

    nodes: dict[str, GeoPoint] = {}
    for element in graph.findall(f"{_NAMESPACE}node"):
        node = element.get("id", "")
        data = attributes(element, "node")
        try:
            lat, lon = float(data["y"]), float(data["x"])
        except (KeyError, ValueError) as error:
            raise InvalidInput(f"graphml.nodes[{node}]", "needs numeric x (lon) and y (lat)") from error
        nodes[node] = GeoPoint.parse(lat, lon, f"graphml.nodes[{node}]")
    if not nodes:
        raise InvalidInput("graphml", "the network has no nodes")
    two_way_default = graph.get("edgedefault", "directed") == "undirected"
    edges: list[GraphmlEdge] = []
    for element in graph.findall(f"{_NAMESPACE}edge"):
        directed = element.get("directed")
        edge = GraphmlEdge(
            source=element.get("source", ""),
            target=element.get("target", ""),
            attributes=attributes(element, "edge"),
            two_way=(two_way_default and directed != "true") or directed == "false",
        )
        if edge.source not in nodes or edge.target not in nodes:
            raise InvalidInput(edge.field, "joins a node that is not in the network")
        edges.append(edge)
    return GraphmlNetwork(nodes, tuple(edges))
