"""A sweep runs its grid on a local Ray and gathers one row per scenario, in grid order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdship.errors import InvalidInput
from simulations.sweep import TABLE_COLUMNS, load_grid, run_sweep, sweep_chart_html, write_sweep


def _write_base(folder: Path) -> None:
    lines = [
        'name = "tiny base"',
        "seed = 3",
        "hours = 2",
        "[[stores]]",
        'name = "Test Store"',
        "location = { lat = 30.4627, lon = -84.2211 }",
        "service_radius_m = 8000",
        "[orders]",
        "per_hour = 10",
        "[shoppers]",
        "per_hour = 120",
    ]
    (folder / "base.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def _local_ray() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.usefixtures("_local_ray")
def test_a_small_sweep_runs_on_local_ray(tmp_path: Path) -> None:
    """Four tiny days (cadence x willingness) come back as four rows with the varied values in front."""
    _write_base(tmp_path)
    (tmp_path / "grid.toml").write_text(
        'base = "base.toml"\n[grid]\n"dispatch.batch_cadence_s" = [60, 300]\n"shoppers.willing_share" = [0.0, 0.2]\n'
    )
    grid = load_grid(tmp_path / "grid.toml")
    rows = run_sweep(grid)
    assert [(row["dispatch.batch_cadence_s"], row["shoppers.willing_share"]) for row in rows] == [
        (60, 0.0),
        (60, 0.2),
        (300, 0.0),
        (300, 0.2),
    ]
    for row in rows:
        assert row["unfinished"] == 0
        assert row["delivered_by_shoppers"] + row["fallback"] + row["cancelled"] == row["orders"]
        if row["shoppers.willing_share"] == 0.0:
            assert row["delivered_by_shoppers"] == 0
    assert any(row["delivered_by_shoppers"] > 0 for row in rows)
    csv_path, json_path, chart_path = write_sweep(grid, rows, tmp_path / "out")
    assert csv_path.read_text().count("\n") == 5
    assert "savings" in chart_path.read_text()
    assert json_path.exists()


def test_a_grid_with_a_bad_field_is_refused_by_name(tmp_path: Path) -> None:
    """A grid value the scenario refuses names the grid field, before anything runs."""
    _write_base(tmp_path)
    (tmp_path / "grid.toml").write_text('base = "base.toml"\n[grid]\n"shoppers.willing_share" = [0.1, 1.7]\n')
    with pytest.raises(InvalidInput) as raised:
        load_grid(tmp_path / "grid.toml")
    assert raised.value.field == "grid.shoppers.willing_share"
    (tmp_path / "grid.toml").write_text('base = "base.toml"\n[grid]\n"dispatch.nope" = [1]\n')
    with pytest.raises(InvalidInput) as raised:
        load_grid(tmp_path / "grid.toml")
    assert raised.value.field == "grid.dispatch.nope"


def test_the_sweep_chart_numbers_its_runs_and_lists_what_each_varied(tmp_path: Path) -> None:
    """Long labels of varied values used to run over the chart's titles: the axis shows #1..#n and a table
    maps each number to its values."""
    _write_base(tmp_path)
    (tmp_path / "grid.toml").write_text(
        'base = "base.toml"\n[grid]\n"dispatch.batch_cadence_s" = [60, 300]\n"shoppers.willing_share" = [0.0, 0.2]\n'
    )
    grid = load_grid(tmp_path / "grid.toml")
    figures = {key: 0.5 for key, _, _ in TABLE_COLUMNS}
    rows = [{**overrides, **figures} for overrides in grid.runs()]
    page = sweep_chart_html(grid, rows)
    assert '"x":["#1","#2","#3","#4"]' in page
    assert "batch_cadence_s=" not in page.split("<h2>What each run varied</h2>")[0].split("<script")[0]
    table = page.split("<h2>What each run varied</h2>")[1]
    assert table.count("<tr><th>#") == 4
    assert '<th>#4</th><td class="varied">300 s</td><td class="varied">20%</td>' in table
    assert '<th title="dispatch.batch_cadence_s">batch cadence</th>' in table
    assert '<th title="shoppers.willing_share">willing share</th>' in table


def _write_hourly_base(folder: Path) -> None:
    _write_base(folder)
    text = (folder / "base.toml").read_text()
    (folder / "base.toml").write_text(text.replace("per_hour = 10", "per_hour = [10, 30]"))


@pytest.mark.parametrize("grid_file", ["[set]\nhours = 1\n[grid]\nseed = [1, 2]\n", "[grid]\nhours = [1, 2]\n"])
def test_a_grid_that_sets_fewer_hours_cuts_the_base_hourly_rates_as_simulate_hours_does(
    tmp_path: Path, grid_file: str
) -> None:
    """`hours = 1` over a base with a rate per hour is the base's first hour, not a refusal of orders.per_hour."""
    _write_hourly_base(tmp_path)
    (tmp_path / "grid.toml").write_text(f'base = "base.toml"\n{grid_file}')
    grid = load_grid(tmp_path / "grid.toml")
    first_hour = next(grid.scenario(overrides) for overrides in grid.runs() if overrides.get("hours", 1) == 1)
    assert first_hour.hours == 1
    assert first_hour.order_rates() == grid.base.first_hours(1).order_rates() == [10.0]
    assert first_hour.shopper_rates() == [120.0]


def test_more_hours_than_the_base_rates_cover_are_refused_naming_the_grids_hours(tmp_path: Path) -> None:
    _write_hourly_base(tmp_path)
    (tmp_path / "grid.toml").write_text('base = "base.toml"\n[grid]\nhours = [2, 3]\n')
    with pytest.raises(InvalidInput) as raised:
        load_grid(tmp_path / "grid.toml")
    assert raised.value.field == "grid.hours"
    assert "orders.per_hour has rates for 2 hours" in raised.value.message
    (tmp_path / "grid.toml").write_text('base = "base.toml"\n[set]\n"orders.per_hour" = 12\n[grid]\nhours = [2, 3]\n')
    assert load_grid(tmp_path / "grid.toml").scenario({"hours": 3}).order_rates() == [12.0] * 3


def test_the_sweep_chart_says_money_in_dollars_and_ranges_in_their_units(tmp_path: Path) -> None:
    """No cents, no raw lists in the page: a reward rate in dollars, detour limits in km, order values as a
    range of dollars, the figures' money in dollars; results.csv and results.json keep cents."""
    _write_base(tmp_path)
    (tmp_path / "grid.toml").write_text(
        'base = "base.toml"\n[grid]\n"rewards.per_extra_km_cents" = [40, 90]\n'
        '"shoppers.max_detour_m" = [[1500, 2500], [800]]\n"orders.value_cents" = [[1500, 2500]]\n'
    )
    grid = load_grid(tmp_path / "grid.toml")
    figures = {key: 0.25 for key, _, _ in TABLE_COLUMNS} | {
        "cost_per_order_cents": 512.5,
        "reward_per_delivery_cents": 388,
    }
    rows = [{**overrides, **figures} for overrides in grid.runs()]
    page = sweep_chart_html(grid, rows)
    table = page.split("<h2>What each run varied</h2>")[1]
    assert '<th title="rewards.per_extra_km_cents">per extra km</th>' in table
    # detour limits are choices drawn for each shopper; order values a range from one bound to the other
    first = ["$0.40", "1.5 km, 2.5 km", "$15.00\N{EN DASH}$25.00"]
    assert "<th>#1</th>" + "".join(f'<td class="varied">{said}</td>' for said in first) in table
    assert '<th>#2</th><td class="varied">$0.40</td><td class="varied">800 m</td>' in table
    assert '<th class="num">cost/order</th>' in table
    assert '<td class="num">$5.13</td>' in table  # 512.5 cents, halves up
    assert '<td class="num">$3.88</td>' in table
    shown = re.sub(r' title="[^"]*"', "", table)  # a column's title keeps its field's name
    for unreadable in ("¢", "cents", "[1500", "(cents)"):
        assert unreadable not in shown, unreadable
    assert "per extra km $0.40" in page  # what each run varied, when pointing at its bar
    csv_path, json_path, _ = write_sweep(grid, rows, tmp_path / "out")
    assert "cost_per_order_cents" in csv_path.read_text()
    assert ",512.5," in csv_path.read_text()
    assert '"reward_per_delivery_cents": 388' in json_path.read_text()
