"""The matcher benchmark's synthetic batches: the same arguments give the same batch on every machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdship.errors import InvalidInput
from simulations import bench_matcher
from simulations.bench_matcher import synthetic_batch


def test_the_built_in_city_gives_the_same_batch_with_or_without_the_shared_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The default city needs no data: removing `../shared/data` changes nothing (no silent switch)."""
    here = synthetic_batch(40, 60, seed=3)
    monkeypatch.setattr(bench_matcher, "LEON_BLOCKS", tmp_path / "missing.csv")
    assert synthetic_batch(40, 60, seed=3) == here
    assert synthetic_batch(40, 60, seed=3, city="built-in") == here


def test_leon_county_without_its_census_blocks_is_refused_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Asked for the real city without its data, the benchmark says so rather than using another city."""
    missing = tmp_path / "missing.csv"
    monkeypatch.setattr(bench_matcher, "LEON_BLOCKS", missing)
    with pytest.raises(InvalidInput, match="city") as refused:
        synthetic_batch(40, 60, seed=3, city="leon-county")
    assert str(missing) in refused.value.message


def test_an_unknown_city_is_refused() -> None:
    """Only the cities the benchmark knows are accepted."""
    with pytest.raises(InvalidInput, match="built-in, leon-county"):
        bench_matcher.check_city("springfield")


@pytest.mark.skipif(not bench_matcher.LEON_BLOCKS.is_file(), reason="Leon County census blocks not present")
def test_leon_county_homes_lie_in_the_county() -> None:
    """With its data, the real city's homes come from Leon County's blocks, not from the built-in city."""
    batch = synthetic_batch(200, 10, seed=1, city="leon-county")
    latitudes = [order["location"][0] for order in batch["orders"]]
    longitudes = [order["location"][1] for order in batch["orders"]]
    assert min(latitudes) > 30.2
    assert max(latitudes) < 30.7
    assert min(longitudes) > -84.8
    assert max(longitudes) < -83.9
    assert batch != synthetic_batch(200, 10, seed=1)


def test_the_fleet_batch_is_the_plain_batch_with_a_fleet_windows_and_orders_the_fleet_must_take() -> None:
    """The same homes and trips; only the fleet, some windows and some missing fallbacks are added."""
    plain = synthetic_batch(40, 60, seed=3)
    with_fleet = synthetic_batch(40, 60, seed=3, fleet=True)
    assert with_fleet["trips"] == plain["trips"]
    assert [o["location"] for o in with_fleet["orders"]] == [o["location"] for o in plain["orders"]]
    assert with_fleet["fleet"] is not None
    assert any("window" in order for order in with_fleet["orders"])
    assert any(order["fallback_cost"] is None for order in with_fleet["orders"])
    assert synthetic_batch(40, 60, seed=3, fleet=True) == with_fleet


def test_without_pyvrp_the_table_says_how_to_install_it_or_to_leave_it_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """'PyVRP not installed (bench extra)' left a new user to find out what the bench extra is and how to get it."""
    from rich.console import Console

    monkeypatch.setattr(bench_matcher, "pyvrp_peer", lambda *_: None)
    console = Console(record=True, width=200)
    bench_matcher.run_synthetic(console, sizes=[(6, 8)], time_limits=[0.05], max_orders=2, peer=True, seed=1)
    said = " ".join(console.export_text().split())
    assert 'CROWDSHIP_EXTRAS="sim bench" scripts/bootstrap.sh' in said
    assert "--no-peer" in said
