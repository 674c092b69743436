"""The simulation commands: a day written to a folder, and a bad scenario reported by field, not a trace."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

SCENARIO = """
name = "cli day"
hours = 1
[[stores]]
name = "Store"
location = { lat = 30.4627, lon = -84.2211 }
[orders]
per_hour = 10
[shoppers]
per_hour = 100
"""


def test_simulate_writes_the_report_and_prints_the_headline(tmp_path: Path) -> None:
    """`crowdship simulate` prints the figures and the report's path, and writes the files there."""
    scenario = tmp_path / "day.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "savings" in result.output
    assert str(out / "report.html") in result.output.replace("\n", "")
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert summary["scenario"] == "cli day"
    assert summary["unfinished"] == 0


def test_simulate_names_the_bad_field(tmp_path: Path) -> None:
    """A latitude of 91 is refused as stores[0].location.lat: `error: ...` on stderr, exit status 1."""
    scenario = tmp_path / "bad.toml"
    scenario.write_text(SCENARIO.replace("lat = 30.4627", "lat = 91"))
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "stores[0].location.lat" in result.stderr
    assert not (tmp_path / "out").exists()
