"""The one GraphML reader behind the drawn streets and the routed road graph."""

from __future__ import annotations

import pytest

from crowdship.errors import InvalidInput
from routing.geo import GeoPoint
from routing.graphml import parse_graphml


def _network(edges: str, *, edgedefault: str = "directed", nodes: str | None = None) -> bytes:
    nodes = (
        nodes
        if nodes is not None
        else """
    <node id="a"><data key="y">10.0</data><data key="x">20.0</data></node>
    <node id="b"><data key="y">10.5</data><data key="x">20.5</data></node>"""
    )
    return f"""<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="x" attr.type="string" for="node" id="x" />
  <key attr.name="y" attr.type="string" for="node" id="y" />
  <key attr.name="highway" attr.type="string" for="edge" id="h"><default>residential</default></key>
  <key attr.name="length" attr.type="string" for="all" id="l" />
  <graph edgedefault="{edgedefault}">{nodes}
    {edges}
  </graph>
</graphml>""".encode()


def test_nodes_come_with_their_positions_in_the_files_order() -> None:
    network = parse_graphml(_network(""))
    assert list(network.nodes.items()) == [("a", GeoPoint(10.0, 20.0)), ("b", GeoPoint(10.5, 20.5))]


def test_an_attribute_the_edge_leaves_out_takes_its_declared_default() -> None:
    network = parse_graphml(
        _network(
            '<edge source="a" target="b"><data key="l">12.5</data></edge><edge source="b" target="a">'
            '<data key="h">primary</data></edge>'
        )
    )
    assert [dict(edge.attributes) for edge in network.edges] == [
        {"highway": "residential", "length": "12.5"},
        {"highway": "primary"},
    ]


@pytest.mark.parametrize(
    ("edgedefault", "directed", "two_way"),
    [
        ("directed", None, False),
        ("directed", "false", True),
        ("undirected", None, True),
        ("undirected", "true", False),
    ],
)
def test_an_edge_is_two_way_by_the_graphs_default_unless_it_says_otherwise(
    edgedefault: str, directed: str | None, two_way: bool
) -> None:
    mark = f' directed="{directed}"' if directed else ""
    network = parse_graphml(_network(f'<edge source="a" target="b"{mark} />', edgedefault=edgedefault))
    assert network.edges[0].two_way is two_way


def test_an_edge_to_a_node_the_file_does_not_have_is_refused_naming_the_edge() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_graphml(_network('<edge source="a" target="z" />'))
    assert raised.value.field == "graphml.edges[a,z]"


@pytest.mark.parametrize(
    ("nodes", "field"),
    [
        ("", "graphml"),
        ('<node id="n"><data key="y">north</data><data key="x">20</data></node>', "graphml.nodes[n]"),
        ('<node id="n"><data key="x">20</data></node>', "graphml.nodes[n]"),
        ('<node id="n"><data key="y">91</data><data key="x">20</data></node>', "graphml.nodes[n].lat"),
    ],
)
def test_a_network_without_nodes_or_with_a_node_out_of_place_is_refused(nodes: str, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_graphml(_network("", nodes=nodes))
    assert raised.value.field == field


@pytest.mark.parametrize("document", [b"not xml at all", b"<graphml xmlns='http://graphml.graphdrawing.org/xmlns'/>"])
def test_a_document_that_is_not_a_graph_is_refused(document: bytes) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_graphml(document)
    assert raised.value.field == "graphml"
