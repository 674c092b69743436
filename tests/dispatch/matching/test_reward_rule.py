"""The `reward` compensation rule in the file format: read and written back unchanged, refused field by field
when wrong, and priced by the referee as the policy's arithmetic says on a hand-computed case."""

from __future__ import annotations

from typing import Any

import pytest
from matching_builders import problem_json, solution_json

from crowdship.errors import InvalidInput
from dispatch.matching import evaluate, parse_problem, problem_to_json, solve

# Store at the origin, order A at (3, 4): store → A → D(6, 0) is 10, direct 6, so a detour of 4 units.
A: dict[str, Any] = {"id": "A", "location": [3, 4], "size": 2}
RULE: dict[str, Any] = {
    "rule": "reward", "base": 300, "per_bag": 25, "per_km": 50, "per_minute": 10, "minimum": 250,
    "included_m": 1_000, "included_s": 0, "multiplier_bps": [15_000, 10_000], "room": None, "bonus_bps": 12_000,
    "ceiling": 5_000, "metres_per_unit": 1000.0, "tie_break": 0.0,
}  # fmt: skip


def _problem(rule: dict[str, Any], **top: Any) -> dict[str, Any]:
    return problem_json([A], [{"id": "t", "destination": [6, 0], "compensation": rule}], speed=0.5, **top)


def test_the_rule_reads_and_writes_back_unchanged() -> None:
    data = _problem(RULE)
    assert problem_to_json(parse_problem(data))["trips"][0]["compensation"] == RULE


def test_the_referee_prices_a_route_as_the_policy_would() -> None:
    """4 units = 4 000 m (3 000 beyond the included 1 000) and 480 s at 0.5 units a minute:
    300 + 150 + 80 + 50 = 580, x1.5 = 870, store credit x1.2 = 1 044 cents."""
    assert evaluate(parse_problem(_problem(RULE)), solution_json({"t": ["A"]})) == pytest.approx(1_044)


def test_caps_and_the_tie_break_apply() -> None:
    """Only 500 cents left under the caps: 500 x 1.2 = 600, plus 1e-4 per metre of detour."""
    rule = {**RULE, "room": 500, "tie_break": 1e-4}
    assert evaluate(parse_problem(_problem(rule)), solution_json({"t": ["A"]})) == pytest.approx(600.4)


def test_the_matcher_solves_with_it_and_the_referee_agrees() -> None:
    data = _problem(RULE, fallback_cost=2_000)
    solution = solve(parse_problem(data), time_limit=1.0)
    assert [trip.order_ids for trip in solution.trips] == [("A",)]
    assert solution.objective == pytest.approx(1_044)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base": -1}, "trips[0].compensation.base"),
        ({"per_km": 1.5}, "trips[0].compensation.per_km"),
        ({"multiplier_bps": [1, 2, 3, 4, 5]}, "trips[0].compensation.multiplier_bps"),
        ({"tie_break": float("inf")}, "trips[0].compensation.tie_break"),
        ({"surprise": 1}, "trips[0].compensation.surprise"),
    ],
)
def test_a_wrong_field_is_refused_by_name(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_problem(_problem({**RULE, **change}))
    assert refused.value.field == field
