"""`crowdship replay --day` mistyped is a usage error, as a mistyped `--store` is: status 2 naming the option
(it was `error: day: …` and status 1, the status of a refused request)."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app

STORE = "a8bb5221-0484-54b1-aeb5-373b78cdb3e3"


def test_a_day_that_is_no_date_is_a_usage_error_naming_the_option() -> None:
    arguments = ["replay", "--store", STORE, "--policy", "docs/examples/policy.json"]
    result = CliRunner().invoke(app, [*arguments, "--day", "2026-13-01"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--day': '2026-13-01' is not a date (YYYY-MM-DD)" in result.stderr
    mistyped_store = CliRunner().invoke(app, [*arguments[:2], "x", *arguments[3:], "--day", "2026-12-01"])
    assert mistyped_store.exit_code == 2


def test_a_time_zone_that_is_none_is_a_usage_error_naming_the_option() -> None:
    """It exited 1 with `error: timezone: …`, as a refused request does, where a mistyped --day exits 2."""
    arguments = ["replay", "--store", STORE, "--policy", "docs/examples/policy.json", "--day", "2026-12-01"]
    result = CliRunner().invoke(app, [*arguments, "--timezone", "Mars/Olympus"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--timezone': 'Mars/Olympus' is no IANA time zone" in result.stderr
