"""Parsing the crowdship-match/1 format: defaults, round trips, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from matching_builders import problem_json, small_problems

from crowdship.errors import InvalidInput
from dispatch.matching import Compensation, Fleet, parse_problem, problem_to_json


def test_defaults_follow_precise_reading_4() -> None:
    """Missing keys take the spec's defaults: euclidean, road factor 1, speed 0.5, size 1, depart 0, ..."""
    problem = parse_problem(
        problem_json(
            [{"id": "o1", "location": [1, 2]}],
            [{"id": "t1", "destination": [3, 4], "compensation": {"rule": "detour", "rate": 2}}],
            fleet={},
        )
    )
    assert (problem.metric, problem.road_factor, problem.speed) == ("euclidean", 1.0, 0.5)
    order, trip = problem.orders[0], problem.trips[0]
    assert (order.size, order.window, order.value_cents, order.requires_id_check) == (1.0, None, None, False)
    assert (trip.max_orders, trip.depart, trip.id_verified, trip.capacity) == (1, 0.0, True, None)
    assert trip.wait_at_doors is True
    assert trip.compensation == Compensation("detour", rate=2.0, minimum=0.0)
    assert problem.fleet == Fleet(vehicles=None, capacity=None, cost_per_distance=1.0, fixed_cost=0.0)
    assert problem.fallback_cost is None


@settings(max_examples=60, deadline=None)
@given(small_problems())
def test_problem_to_json_round_trips(data: dict[str, Any]) -> None:
    """Serialising a parsed problem and parsing it again gives the same problem."""
    problem = parse_problem(data)
    assert parse_problem(problem_to_json(problem)) == problem


def _base() -> dict[str, Any]:
    return problem_json(
        [{"id": "o1", "location": [1, 2]}, {"id": "o2", "location": [2, 2]}],
        [{"id": "t1", "destination": [3, 4]}],
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(format="other/2"), "format"),
        (lambda d: d.update(metric="manhattan"), "metric"),
        (lambda d: d.update(speed=0), "speed"),
        (lambda d: d.pop("store"), "store"),
        (lambda d: d["orders"][1].update(window=[50, 10]), "orders[1].window"),
        (lambda d: d["orders"][1].update(size=-1), "orders[1].size"),
        (lambda d: d["orders"][1].update(id="o1"), "orders[1].id"),
        (lambda d: d["orders"][0].update(location=[1]), "orders[0].location"),
        (lambda d: d["orders"][0].update(value_cents=12.5), "orders[0].value_cents"),
        (lambda d: d["orders"][0].update(requires_id_check="yes"), "orders[0].requires_id_check"),
        (lambda d: d["orders"][0].update(colour="red"), "orders[0].colour"),
        (lambda d: d["trips"][0].update(max_orders=-1), "trips[0].max_orders"),
        (lambda d: d["trips"][0].update(max_detour_ratio=0.5), "trips[0].max_detour_ratio"),
        (lambda d: d["trips"][0].update(wait_at_doors="no"), "trips[0].wait_at_doors"),
        (lambda d: d["trips"][0].update(compensation={"rule": "tip"}), "trips[0].compensation.rule"),
        (lambda d: d["trips"][0].update(compensation={"rule": "detour"}), "trips[0].compensation.rate"),
        (lambda d: d["trips"][0].update(candidates=[{"order": "o9"}]), "trips[0].candidates[0].order"),
        (
            lambda d: d["trips"][0].update(candidates=[{"order": "o1", "compensation": "x"}]),
            "trips[0].candidates[0].compensation",
        ),
        (lambda d: d.update(fleet={"vehicles": -2}), "fleet.vehicles"),
        (lambda d: d.update(fallback_cost=float("nan")), "fallback_cost"),
    ],
)
def test_bad_input_names_the_field(change: Any, field: str) -> None:
    """Each malformed value is refused with InvalidInput naming exactly its field."""
    data = _base()
    change(data)
    with pytest.raises(InvalidInput) as raised:
        parse_problem(data)
    assert raised.value.field == field


def test_haversine_locations_are_latitude_first() -> None:
    """Under haversine a latitude beyond 90 is refused, naming the location."""
    data = _base()
    data["metric"] = "haversine"
    data["orders"][0]["location"] = [120.0, 30.4]
    with pytest.raises(InvalidInput) as raised:
        parse_problem(data)
    assert raised.value.field == "orders[0].location"


def test_a_file_that_is_not_a_problem_at_all_is_told_so() -> None:
    """A reward policy handed to `crowdship match` by mistake: not "base_cents: unknown field"."""
    with pytest.raises(InvalidInput, match="not a crowdship-match/1 problem") as raised:
        parse_problem({"base_cents": 150, "per_km_cents": 60})
    assert raised.value.field == "format"
