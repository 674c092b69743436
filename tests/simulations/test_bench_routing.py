"""`crowdship bench routing` measures the road factors of the street networks in the configured folder
(`CROWDSHIP_STREET_NETWORKS_DIR`), and says which setting to change when they are not there."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from crowdship.settings import DEFAULT_STREET_NETWORKS_DIR, get_settings
from simulations.bench_routing import NETWORKS, print_road_factors, run_routing_benchmark


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=400), out


def test_the_benchmark_reads_the_networks_folder_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty folder set in CROWDSHIP_STREET_NETWORKS_DIR is the one looked in, and the skip names the
    setting and the folder."""
    empty = tmp_path / "networks"
    empty.mkdir()
    monkeypatch.setenv("CROWDSHIP_STREET_NETWORKS_DIR", str(empty))
    get_settings.cache_clear()
    console, out = _console()
    try:
        run_routing_benchmark(console, sizes=((20, 40),), repeats=1, brute_max_pairs=1_000, road_sources=1)
    finally:
        get_settings.cache_clear()
    skipped = " ".join(out.getvalue().split())
    assert f"CROWDSHIP_STREET_NETWORKS_DIR={empty}, skipped" in skipped
    assert "Road factor =" not in skipped


@pytest.mark.skipif(not DEFAULT_STREET_NETWORKS_DIR.is_dir(), reason="shared data not present")
def test_the_road_factors_come_from_the_folder_given(tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    moved.mkdir()
    for file_name in NETWORKS.values():
        (moved / file_name).symlink_to(DEFAULT_STREET_NETWORKS_DIR / file_name)
    console, out = _console()
    print_road_factors(console, sources=2, seed=0, networks_dir=moved)
    assert "Road factor =" in out.getvalue()
    assert "skipped" not in out.getvalue()
