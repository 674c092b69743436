"""Regular shoppers in the simulator: drawn from commute profiles made through the live use case, coming on
their profile's days at its time, the same people on every date of a seed; and a day without regulars drawn
exactly as before."""

from __future__ import annotations

import datetime as dt

import pytest

from crowdship.errors import InvalidInput
from dispatch.adapters.memory import MemoryDispatchUnitOfWork
from dispatch.profiles import Weekday
from simulations.engine import DaySimulation
from simulations.scenario import Scenario, parse_scenario
from tests.simulations.conftest import ScenarioData


def _run(scenario: Scenario) -> DaySimulation:
    simulation = DaySimulation(scenario)
    simulation.run()
    return simulation


def _regular_scenario(tiny_data: ScenarioData, date: dt.date) -> Scenario:
    data = tiny_data(date=date.isoformat())
    data["shoppers"] = {**data["shoppers"], "regular_share": 0.5, "regular_days_per_week": [2, 4]}
    data["dispatch"] = {**data["dispatch"], "matcher_time_limit_s": 0.0}
    return parse_scenario(data)


def test_regulars_check_in_from_their_profiles_on_their_days(tiny_data: ScenarioData) -> None:
    """Every regular has a profile; exactly those whose profile runs on the date come, each leaving at the
    profile's time; on the next day the same regulars exist and those of that weekday come."""
    friday = dt.date(2026, 6, 5)
    came_on: dict[dt.date, set[object]] = {}
    profiles_on: dict[dt.date, dict[object, tuple[Weekday, ...]]] = {}
    for date in (friday, friday + dt.timedelta(days=1)):
        simulation = _run(_regular_scenario(tiny_data, date))
        with MemoryDispatchUnitOfWork(simulation.db) as uow:
            profiles = {shopper_id: uow.profiles.list_for_shopper(shopper_id) for shopper_id in simulation.db.shoppers}
        regular_profiles = {shopper_id: found[0] for shopper_id, found in profiles.items() if found}
        regular_trips = [trip for trip in simulation.trips if trip.regular]
        assert len(regular_profiles) > 10
        assert {trip.shopper_id for trip in regular_trips} == {
            shopper_id for shopper_id, profile in regular_profiles.items() if profile.runs_on(date)
        }
        for trip in regular_trips:
            assert trip.leave_by == regular_profiles[trip.shopper_id].departure_on(date)
        assert any(not trip.regular for trip in simulation.trips)
        came_on[date] = {trip.shopper_id for trip in regular_trips}
        profiles_on[date] = {shopper_id: profile.days for shopper_id, profile in regular_profiles.items()}
    saturday = friday + dt.timedelta(days=1)
    assert profiles_on[friday] == profiles_on[saturday]
    assert came_on[friday] != came_on[saturday]


def test_regulars_do_not_change_the_days_orders(tiny_data: ScenarioData) -> None:
    """The regulars draw from a stream of their own: the day's orders are the same with or without them."""
    with_regulars = _run(_regular_scenario(tiny_data, dt.date(2026, 6, 5)))
    data = tiny_data(date="2026-06-05")
    data["dispatch"] = {**data["dispatch"], "matcher_time_limit_s": 0.0}
    without = _run(parse_scenario(data))
    assert [(o.external_ref, o.placed_at, o.dropoff) for o in with_regulars.orders] == [
        (o.external_ref, o.placed_at, o.dropoff) for o in without.orders
    ]
    assert not any(trip.regular for trip in without.trips)


def test_regular_days_per_week_must_be_an_ordered_range(tiny_data: ScenarioData) -> None:
    data = tiny_data()
    data["shoppers"] = {**data["shoppers"], "regular_days_per_week": [5, 3]}
    with pytest.raises(InvalidInput, match="regular_days_per_week"):
        parse_scenario(data)
