"""`crowdship match`: solution JSON on stdout; bad files refused with exit code 1 and a one-line message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from matching_builders import problem_json
from typer.testing import CliRunner

from cli.main import app
from dispatch.matching import UnassignedReason, evaluate, parse_problem

runner = CliRunner()


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "problem.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_match_writes_a_solution_the_referee_accepts(tmp_path: Path) -> None:
    """stdout is exactly the solution JSON, and it is feasible with the objective it states."""
    data = problem_json(
        [{"id": "A", "location": [3, 4], "fallback_cost": 20.0}, {"id": "B", "location": [3, -4], "fallback_cost": 2}],
        [{"id": "t", "destination": [6, 0], "max_orders": 2, "compensation": {"rule": "detour", "rate": 1.0}}],
    )
    result = runner.invoke(app, ["match", str(_write(tmp_path, data)), "--time-limit", "0.5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    solution = json.loads(result.stdout)
    assert solution["format"] == "crowdship-match-solution/1"
    assert evaluate(parse_problem(data), solution) == pytest.approx(solution["objective"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (problem_json([{"id": "A", "location": [3, 4], "window": [9, 1]}], []), "orders[0].window"),
        (problem_json([], [{"id": "t", "destination": [1, 1], "max_orders": "two"}]), "trips[0].max_orders"),
        ("{not json", "not JSON"),
        ({}, "store: expected an object, got nothing (missing or null)"),
        ({"store": 5}, "store: expected an object, got a number"),
    ],
)
def test_bad_files_exit_1_with_a_one_line_message_naming_the_field(tmp_path: Path, content: Any, expected: str) -> None:
    """A bad file: exit status 1, one line on stderr naming what is wrong, nothing on stdout, no traceback."""
    result = runner.invoke(app, ["match", str(_write(tmp_path, content))])
    assert result.exit_code == 1
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_missing_file_exits_1(tmp_path: Path) -> None:
    """A path that does not exist is a clear error, not a crash."""
    result = runner.invoke(app, ["match", str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert "nope.json" in result.stderr


def test_the_example_problem_of_the_docs_is_solved_at_its_optimum() -> None:
    """`docs/examples/match-problem.json`, the file a reader of the README tries first: Ana takes both orders on
    her way (two minimum rewards), only Dev, identity checked, may carry the 18+ order, and nobody passes near
    WEB-04, which goes to the courier at its own fallback cost."""
    path = Path(__file__).resolve().parents[3] / "docs" / "examples" / "match-problem.json"
    result = runner.invoke(app, ["match", str(path), "--time-limit", "0.5"])
    assert result.exit_code == 0, result.output
    solution = json.loads(result.stdout)
    assert solution["trips"] == {"ana": ["WEB-01", "WEB-02"], "dev": ["WEB-03"]}
    assert solution["fallback"] == ["WEB-04"]
    assert solution["objective"] == pytest.approx(3.0 + 3.0 + 3.0 + 12.5)
    assert evaluate(parse_problem(json.loads(path.read_text())), solution) == pytest.approx(solution["objective"])


def test_the_format_names_every_reason_an_order_is_left_unassigned() -> None:
    """docs/match-problem.md lists the codes `unassigned` may hold; a new code is documented with it."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "match-problem.md").read_text()
    missing = [reason.value for reason in UnassignedReason if f"`{reason.value}`" not in text]
    assert missing == []
