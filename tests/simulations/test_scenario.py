"""Scenario files: the examples load, bad values are refused naming their field, overrides revalidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crowdship.errors import InvalidInput
from crowdship.settings import SHARED_DATA_DIR
from simulations.city import build_city
from simulations.engine import simulate_day
from simulations.results import summarise
from simulations.scenario import SCENARIO_DIR, Scenario, load_scenario, parse_scenario
from tests.simulations.conftest import ScenarioData

WALMART = SHARED_DATA_DIR / "walmart_stores_2018_snapshot" / "walmart_stores_2018.csv"
LEON_BLOCKS = SHARED_DATA_DIR / "leon_county_fl_census_blocks_2010" / "leon_fl_blocks_2010.csv"


@pytest.mark.parametrize("name", ["demo.toml", "busy_day.toml"])
def test_the_shipped_scenarios_load(name: str) -> None:
    """The example files are valid scenarios with at least one store."""
    scenario = load_scenario(SCENARIO_DIR / name)
    assert scenario.stores
    assert len(scenario.order_rates()) == scenario.hours


def _with(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target = data
    parts = path.split(".")
    for part in parts[:-1]:
        key: Any = int(part) if part.isdigit() else part
        target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
    target[parts[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("stores.0.location.lat", 95.0, "stores[0].location.lat"),
        ("stores.0.location.lon", "east", "stores[0].location.lon"),
        ("stores.0.fallback_cost_cents", 0, "stores[0].fallback_cost_cents"),
        ("shoppers.willing_share", 1.5, "shoppers.willing_share"),
        ("shoppers.capacity_bags", [3, 51], "shoppers.capacity_bags[1]"),
        ("shoppers.max_detour_m", [100_001], "shoppers.max_detour_m[0]"),
        ("shoppers.trust_tier_shares", [0.5, 0.5, 0.5, 0.5], "shoppers.trust_tier_shares"),
        ("orders.per_hour", [1, 2], "orders.per_hour"),
        ("orders.per_hour", -3, "orders.per_hour"),
        ("orders.window_hours", [], "orders.window_hours"),
        ("dispatch.batch_cadence_s", 0, "dispatch.batch_cadence_s"),
        ("dispatch.cadence", 30, "dispatch.cadence"),
        ("travel.road_factor", 0.8, "travel.road_factor"),
        ("timezone", "Mars/Olympus", "timezone"),
        ("timezone", "Europe", "timezone"),
        ("acceptance.model", "probit", "acceptance.model"),
        ("shoppers.per_hour", -1, "shoppers.per_hour"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(tiny_data: ScenarioData, path: str, value: Any, field: str) -> None:
    """The error names the field as the file spells it, e.g. stores[0].location.lat."""
    with pytest.raises(InvalidInput) as raised:
        parse_scenario(_with(tiny_data(), path, value))
    assert raised.value.field == field


@pytest.mark.parametrize(
    "path",
    [
        "orders.ready_minutes",
        "orders.value_cents",
        "shoppers.dwell_minutes",
        "shoppers.response_seconds",
        "shoppers.regular_days_per_week",
    ],
)
def test_a_range_whose_first_bound_exceeds_the_second_is_refused(tiny_data: ScenarioData, path: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_scenario(_with(tiny_data(), path, [5, 4]))
    assert str(raised.value) == f"{path}: the first bound must not exceed the second"


def test_a_scenario_without_stores_is_refused(tiny_data: ScenarioData) -> None:
    """Either stores or stores_csv must give the day somewhere to happen."""
    with pytest.raises(InvalidInput) as raised:
        parse_scenario(tiny_data(stores=[]))
    assert raised.value.field == "stores"


def test_a_file_with_a_bad_value_names_the_field(tmp_path: Path) -> None:
    """Loading a TOML file reports the field, and a broken file is reported as such."""
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[[stores]]\nname = "S"\nlocation = { lat = 30.0, lon = -200.0 }\n')
    with pytest.raises(InvalidInput) as raised:
        load_scenario(path)
    assert raised.value.field == "stores[0].location.lon"
    path.write_text("name = \n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_scenario(path)


def test_overrides_set_dotted_fields_and_are_validated(tiny_scenario: Scenario) -> None:
    """A sweep's override changes one field; a wrong path or value is refused by name."""
    changed = tiny_scenario.with_overrides({"dispatch.batch_cadence_s": 30, "shoppers.willing_share": 0.2})
    assert changed.dispatch.batch_cadence_s == 30
    assert changed.shoppers.willing_share == 0.2
    assert tiny_scenario.dispatch.batch_cadence_s == 120
    with pytest.raises(InvalidInput) as raised:
        tiny_scenario.with_overrides({"dispatch.nope": 1})
    assert raised.value.field == "dispatch.nope"
    with pytest.raises(InvalidInput) as raised:
        tiny_scenario.with_overrides({"shoppers.willing_share": 2})
    assert raised.value.field == "shoppers.willing_share"


def test_the_synthetic_city_puts_homes_around_the_store(tiny_scenario: Scenario) -> None:
    """Every population point lies within reach of the store, and the weights sum to one."""
    city = build_city(tiny_scenario, np.random.default_rng(0))
    assert len(city.stores) == 1
    reach = tiny_scenario.stores[0].service_radius_m * tiny_scenario.shoppers.home_radius_factor
    assert (city.distance_to_store_m[:, 0] <= reach).all()
    assert abs(city.weights.sum() - 1.0) < 1e-9


@pytest.mark.skipif(not (WALMART.exists() and LEON_BLOCKS.exists()), reason="shared data not present")
def test_tallahassee_loads_from_real_stores_and_census_blocks() -> None:
    """Walmart stores in Tallahassee and Leon County blocks weighted by population make a real city."""
    scenario = parse_scenario(
        {
            "name": "Tallahassee",
            "stores_csv": {"path": str(WALMART), "city": "Tallahassee", "state": "FL", "limit": 2},
            "population": {"kind": "csv", "path": str(LEON_BLOCKS)},
        }
    )
    city = build_city(scenario, np.random.default_rng(0))
    assert len(city.stores) == 2
    assert all("Tallahassee" in store.name for store in city.stores)
    assert all(30.2 < store.location.lat < 30.7 and -84.6 < store.location.lon < -84.0 for store in city.stores)
    # Leon County's 2010 population is 275,487; the blocks within reach of the stores hold most of it.
    assert len(city.homes) > 1000
    assert (city.distance_to_store_m.min(axis=1) <= 12_000 * 1.2).all()


@pytest.mark.skipif(not WALMART.exists(), reason="shared data not present")
def test_a_store_filter_that_matches_nothing_is_refused() -> None:
    """No store in the list for the city: the error names stores_csv."""
    scenario = parse_scenario(
        {"name": "nowhere", "stores_csv": {"path": str(WALMART), "city": "Atlantis", "state": "FL"}}
    )
    with pytest.raises(InvalidInput) as raised:
        build_city(scenario, np.random.default_rng(0))
    assert raised.value.field == "stores_csv"


@pytest.mark.skipif(not (WALMART.exists() and LEON_BLOCKS.exists()), reason="shared data not present")
def test_a_short_day_in_tallahassee_runs_on_real_data() -> None:
    """The shipped Tallahassee scenario simulates: orders go to both stores and all of them end somewhere."""
    scenario = load_scenario(SCENARIO_DIR / "tallahassee.toml").with_overrides({"hours": 2})
    result = simulate_day(scenario)
    summary = summarise(result)
    assert len({record.store for record in result.orders}) == 2
    assert summary.orders > 20
    assert summary.unfinished == 0
    assert summary.delivered_by_shoppers + summary.fallback + summary.cancelled == summary.orders


def test_the_first_hours_of_a_day_cut_its_hourly_profiles() -> None:
    """A console run of the demo's first 3 hours keeps those hours' rates; more hours than the day is refused."""
    demo = load_scenario(SCENARIO_DIR / "demo.toml")
    short = demo.first_hours(3)
    assert short.hours == 3
    assert isinstance(demo.orders.per_hour, list)
    assert short.orders.per_hour == demo.orders.per_hour[:3]
    assert short.order_rates() == demo.order_rates()[:3]
    with pytest.raises(InvalidInput) as raised:
        demo.first_hours(demo.hours + 1)
    assert raised.value.field == "hours"
