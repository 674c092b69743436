"""Fixtures of the simulator's tests: small scenarios (a few hours, a few dozen orders), quick to run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulations.scenario import Scenario, parse_scenario

ScenarioData = Callable[..., dict[str, Any]]


def _tiny_scenario_data(**overrides: Any) -> dict[str, Any]:
    """A three-hour day at one store with about 40 orders and 50 willing shoppers."""
    data: dict[str, Any] = {
        "name": "tiny day",
        "seed": 3,
        "hours": 3,
        "stores": [{"name": "Test Store", "location": {"lat": 30.4627, "lon": -84.2211}, "service_radius_m": 8000}],
        "orders": {"per_hour": 14, "window_hours": [2, 3], "cancel_share": 0.1},
        "shoppers": {"per_hour": 160, "willing_share": 0.1},
        "dispatch": {"batch_cadence_s": 120},
    }
    data.update(overrides)
    return data


@pytest.fixture
def tiny_data() -> ScenarioData:
    """Makes the raw data of a tiny scenario; keyword arguments replace top-level fields."""
    return _tiny_scenario_data


@pytest.fixture
def tiny_scenario() -> Scenario:
    return parse_scenario(_tiny_scenario_data())
