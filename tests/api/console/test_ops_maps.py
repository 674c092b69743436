"""The console's store map draws the street networks of the configured folder (`street_networks_dir`) where
one covers the store, and a grid where none does or the folder is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.console.ops_maps import store_map_svg
from crowdship.settings import DEFAULT_STREET_NETWORKS_DIR, Settings
from crowdship.units import Cents
from dispatch.model import Store
from routing.areas import circular_area
from routing.geo import GeoPoint
from routing.streets import OSM_ATTRIBUTION

PIEDMONT = GeoPoint(37.8244, -122.2312)
STORE = Store("Piedmont", PIEDMONT, circular_area(PIEDMONT, 1_500), Cents(899))


def test_the_setting_defaults_to_the_networks_beside_the_repository() -> None:
    assert Settings().street_networks_dir == DEFAULT_STREET_NETWORKS_DIR


def test_an_absent_folder_gives_the_grid(tmp_path: Path) -> None:
    svg = store_map_svg(STORE, networks_dir=tmp_path / "absent")
    assert OSM_ATTRIBUTION not in svg
    assert "grid" in svg


@pytest.mark.skipif(not DEFAULT_STREET_NETWORKS_DIR.is_dir(), reason="shared data not present")
def test_a_folder_with_a_network_covering_the_store_gives_its_streets(tmp_path: Path) -> None:
    moved = tmp_path / "networks"
    moved.mkdir()
    for network in DEFAULT_STREET_NETWORKS_DIR.glob("*.graphml"):
        (moved / network.name).symlink_to(network)
    assert OSM_ATTRIBUTION in store_map_svg(STORE, networks_dir=moved)
