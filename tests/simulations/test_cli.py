"""The simulation commands: a day written to a folder, and a bad scenario reported by field, not a trace."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from cli.main import app
from composition.simulation_runs import RunStatus, read_status
from crowdship.settings import get_settings

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

NOW = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)


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


def test_simulate_prints_each_written_file_whole_on_a_line_of_its_own(tmp_path: Path) -> None:
    """The paths are there to be copied: however long, none is folded at the console's width, and every file
    written is named (summary.csv was not)."""
    scenario = tmp_path / "day.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / ("results-of-a-day-" + "x" * 150)
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("report.html", "summary.json", "summary.csv", "orders.csv", "batches.csv"):
        assert (out / name).is_file()
        assert any(line.strip().endswith(str(out / name)) for line in lines), name


def test_simulate_without_out_writes_under_the_configured_local_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no --out the results go to `CROWDSHIP_LOCAL_DIR`/simulations/<the file's name>, wherever that
    setting points, not to the clone's own `.local`."""
    scenario = tmp_path / "elsewhere_day.toml"
    scenario.write_text(SCENARIO)
    local = tmp_path / "local"
    monkeypatch.setenv("CROWDSHIP_LOCAL_DIR", str(local))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["simulate", str(scenario)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (local / "simulations" / "elsewhere_day" / "summary.json").is_file()


def test_simulate_names_the_bad_field(tmp_path: Path) -> None:
    """A latitude of 91 is refused as stores[0].location.lat: `error: ...` on stderr, exit status 1."""
    scenario = tmp_path / "bad.toml"
    scenario.write_text(SCENARIO.replace("lat = 30.4627", "lat = 91"))
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "stores[0].location.lat" in result.stderr
    assert not (tmp_path / "out").exists()


def _status_file(folder: Path) -> Path:
    status = RunStatus(
        id="20261204T140000-abcdef", kind="simulate", scenario="day.toml", title="cli day", created_at=NOW
    )
    path = folder / "status.json"
    path.write_text(status.model_dump_json())
    return path


def test_simulate_with_another_seed_and_fewer_hours_reports_into_a_status_file(tmp_path: Path) -> None:
    """What the console's child runs: the seed and hours asked for, and the run's status finished at 100 %."""
    scenario = tmp_path / "day.toml"
    scenario.write_text(SCENARIO.replace("hours = 1", "hours = 2"))
    status = _status_file(tmp_path)
    out = tmp_path / "out"
    arguments = ["simulate", str(scenario), "--out", str(out), "--seed", "9", "--hours", "1", "--status", str(status)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "summary.json").read_text())
    assert saved["summary"]["seed"] == 9
    assert saved["scenario"]["hours"] == 1
    reported = read_status(status)
    assert (reported.state, reported.progress) == ("finished", 1.0)
    assert reported.started_at is not None
    assert reported.finished_at is not None


def test_a_refused_scenario_is_reported_as_failed_with_its_field(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(SCENARIO.replace("lat = 30.4627", "lat = 91"))
    status = _status_file(tmp_path)
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--status", str(status)])
    assert result.exit_code == 1
    reported = read_status(status)
    assert reported.state == "failed"
    assert reported.error is not None
    assert "stores[0].location.lat" in reported.error


def test_a_status_file_that_is_not_there_is_refused_before_simulating(tmp_path: Path) -> None:
    scenario = tmp_path / "day.toml"
    scenario.write_text(SCENARIO)
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--status", str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    assert "--status" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_results_folder_that_cannot_be_made_is_refused_before_simulating(tmp_path: Path) -> None:
    """`--out` naming a file: one error line and status 1 at once, not a traceback after the whole day."""
    scenario = tmp_path / "day.toml"
    scenario.write_text(SCENARIO)
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(taken)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: out: {taken} cannot hold the results")
    assert taken.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["match", "{file}"], "error: {file}: not UTF-8 text (byte 0x80 at offset 0)"),
        (["simulate", "{file}"], "error: scenario: {file}: not UTF-8 text"),
        (["sweep", "{file}"], "error: grid: {file}: not UTF-8 text"),
        (["replay", "--store", str(uuid4()), "--day", "2026-12-04", "--policy", "{file}"], "error: policy: {file}: "),
        (["rewards", "policy-create", "{file}", "--actor", "ops@example.org"], "error: {file}: not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_utf8_text_is_one_error_line_and_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], said: str
) -> None:
    """Bytes that are no text (`printf '\\x80\\x81'`) are refused like any bad file, not with a traceback."""
    monkeypatch.setenv("CROWDSHIP_ACTOR_PASSWORD", "not asked for")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\x80\x81")
    result = CliRunner().invoke(app, [argument.replace("{file}", str(binary)) for argument in arguments])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(said.replace("{file}", str(binary)))
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_sweep_on_a_ray_address_that_refuses_is_one_error_line_and_status_1(tmp_path: Path) -> None:
    """Not half a minute of Ray's warnings and a traceback: the address is tried first, briefly."""
    import importlib
    import socket
    import time

    (tmp_path / "day.toml").write_text(SCENARIO)
    grid = tmp_path / "grid.toml"
    grid.write_text('base = "day.toml"\n[grid]\nseed = [1, 2]\n')
    with socket.socket() as reserved:  # bound, never listening: connections to it are refused
        reserved.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{reserved.getsockname()[1]}"
        importlib.import_module("ray")  # loading Ray takes seconds of its own, many on a busy machine: not timed
        started = time.monotonic()
        result = CliRunner().invoke(app, ["sweep", str(grid), "--address", address, "--out", str(tmp_path / "out")])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: cannot reach the Ray cluster at {address}: Connection refused\n"


SCENARIOS = Path(__file__).resolve().parents[2] / "simulations" / "scenarios"


def test_simulate_on_a_grid_file_says_to_run_it_with_sweep() -> None:
    """sweep_demo.toml sits beside the scenarios; simulate on it said only `base: Extra inputs are not permitted`."""
    result = CliRunner().invoke(app, ["simulate", str(SCENARIOS / "sweep_demo.toml"), "--hours", "1"])
    assert result.exit_code == 1
    assert "is a grid of scenarios" in result.stderr
    assert "crowdship sweep" in result.stderr


def test_sweep_on_a_scenario_file_says_to_run_it_with_simulate(tmp_path: Path) -> None:
    """A day's scenario given to sweep said only that its first key `acceptance` is not a grid field."""
    result = CliRunner().invoke(app, ["sweep", str(SCENARIOS / "demo.toml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "is one day's scenario, not a grid" in result.stderr
    assert "crowdship simulate" in result.stderr
    assert not (tmp_path / "out").exists()
