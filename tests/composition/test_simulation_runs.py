"""Simulation runs from the console: a registry of status files, child processes, at most two at a time."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from composition.simulation_runs import (
    OUTPUT_FILE,
    SCENARIO_DIR,
    RunRegistry,
    RunRequest,
    RunStatus,
    TooManyRuns,
    scenario_choices,
)
from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import IdempotencyKeyReused

NOW = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
TINY_DAY = """name = "Tiny day"
seed = 3
hours = 2
[[stores]]
name = "Test Store"
location = { lat = 30.4627, lon = -84.2211 }
service_radius_m = 6000
[orders]
per_hour = [6, 4]
[shoppers]
per_hour = [60, 60]
willing_share = 0.2
[dispatch]
batch_cadence_s = 300
"""
BROKEN_DAY = """name = "Needs data that is not there"
hours = 2
[stores_csv]
path = "/nonexistent/stores.csv"
"""
TINY_GRID = """name = "tiny grid"
base = "tiny.toml"
[grid]
"shoppers.willing_share" = [0.1, 0.2]
"""
BIG_GRID = """base = "tiny.toml"
[grid]
"shoppers.willing_share" = [0.1, 0.2, 0.3, 0.4, 0.5]
"dispatch.batch_cadence_s" = [60, 120, 300, 600]
"""


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "tiny.toml").write_text(TINY_DAY)
    (folder / "broken.toml").write_text(BROKEN_DAY)
    (folder / "tiny_grid.toml").write_text(TINY_GRID)
    (folder / "big_grid.toml").write_text(BIG_GRID)
    return folder


def sleeper(_: RunRequest, __: Path, ___: Path) -> Sequence[str]:
    """A child that only occupies its slot."""
    return [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def registries(tmp_path: Path, scenario_dir: Path) -> Iterator[Callable[..., RunRegistry]]:
    """Registries under tmp_path; every child still running at the end is stopped."""
    made: list[RunRegistry] = []

    def make(**options: object) -> RunRegistry:
        registry = RunRegistry(tmp_path / "runs", scenario_dir=scenario_dir, **options)  # type: ignore[arg-type]
        made.append(registry)
        return registry

    yield make
    for registry in made:
        for status in registry.page(100, 0)[0]:
            if status.active and status.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(status.pid, signal.SIGKILL)


def wait_until_done(registry: RunRegistry, run_id: str, timeout_s: float = 120) -> RunStatus:
    deadline = time.monotonic() + timeout_s
    status = registry.get(run_id)
    while status.active and time.monotonic() < deadline:
        time.sleep(0.3)
        status = registry.get(run_id)
    return status


def test_the_shipped_scenarios_are_offered_days_first_with_their_hours_and_grids_with_their_size() -> None:
    choices = {choice.file: choice for choice in scenario_choices(SCENARIO_DIR)}
    assert choices["demo.toml"].kind == "simulate"
    assert choices["demo.toml"].hours == 10
    assert choices["sweep_demo.toml"].kind == "sweep"
    assert choices["sweep_demo.toml"].runs == 16
    assert next(choice.kind for choice in scenario_choices(SCENARIO_DIR)) == "simulate"


def test_a_grid_larger_than_the_console_allows_is_not_offered(scenario_dir: Path) -> None:
    files = [choice.file for choice in scenario_choices(scenario_dir)]
    assert "tiny_grid.toml" in files
    assert "big_grid.toml" not in files  # 20 days


def test_a_file_that_is_not_toml_text_is_not_offered_and_the_others_still_are(scenario_dir: Path) -> None:
    """Offered from the folder as it is: one bad file does not hide the good ones."""
    (scenario_dir / "half_written.toml").write_text('name = "half\n')
    (scenario_dir / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    files = [choice.file for choice in scenario_choices(scenario_dir)]
    assert "half_written.toml" not in files
    assert "latin1.toml" not in files
    assert {"tiny.toml", "tiny_grid.toml"} <= set(files)


def test_a_day_runs_in_a_child_process_reporting_progress_and_leaves_its_report(
    registries: Callable[..., RunRegistry],
) -> None:
    """The real `crowdship simulate … --status`: queued with the child's pid, then finished with the
    report, the figures and a message; the API's process never simulated anything."""
    registry = registries()
    started = registry.start(RunRequest(scenario="tiny.toml", seed=11, hours=1), NOW)
    assert started.state == "queued"
    assert started.pid is not None
    assert started.pid != os.getpid()
    assert (started.title, started.seed, started.hours) == ("Tiny day", 11, 1)
    done = wait_until_done(registry, started.id)
    assert done.state == "finished", (registry.run_dir(started.id) / OUTPUT_FILE).read_text()
    assert done.progress == 1.0
    assert done.started_at is not None
    assert done.finished_at is not None
    assert "orders" in done.message
    report = registry.report_path(started.id)
    assert report is not None
    assert report.name == "report.html"
    summary = registry.summary(started.id)
    assert summary is not None
    assert summary["seed"] == 11
    assert summary["unfinished"] == 0


def test_a_run_that_fails_says_why(registries: Callable[..., RunRegistry]) -> None:
    registry = registries()
    started = registry.start(RunRequest(scenario="broken.toml"), NOW)
    done = wait_until_done(registry, started.id)
    assert done.state == "failed"
    assert done.error is not None
    assert "nonexistent" in done.error
    assert registry.report_path(started.id) is None
    assert registry.summary(started.id) is None


def test_at_most_two_runs_at_once_and_a_slot_frees_when_one_ends(registries: Callable[..., RunRegistry]) -> None:
    registry = registries(command=sleeper)
    first = registry.start(RunRequest(scenario="tiny.toml"), NOW)
    registry.start(RunRequest(scenario="tiny.toml"), NOW)
    with pytest.raises(TooManyRuns, match="at most 2"):
        registry.start(RunRequest(scenario="tiny.toml"), NOW)
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while registry.get(first.id).active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert registry.get(first.id).state == "failed"
    assert registry.active_count() == 1
    assert registry.start(RunRequest(scenario="tiny.toml"), NOW).state == "queued"


def test_a_child_killed_without_a_word_is_read_as_failed(registries: Callable[..., RunRegistry]) -> None:
    registry = registries(command=sleeper)
    started = registry.start(RunRequest(scenario="tiny.toml"), NOW)
    assert started.pid is not None
    os.kill(started.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while registry.get(started.id).active and time.monotonic() < deadline:
        time.sleep(0.1)
    status = registry.get(started.id)
    assert status.state == "failed"
    assert status.error


def test_a_run_asked_again_with_its_key_starts_once_and_answers_with_the_first(
    registries: Callable[..., RunRegistry],
) -> None:
    """A form sent twice (a double click on Start) started two runs, taking both slots. With the key the form was
    shown with, the second answers with the run the first started, even when it finished or failed since."""
    registry = registries(command=sleeper)
    first = registry.start(RunRequest(scenario="tiny.toml", seed=4), NOW, key="console-simulation:k1")
    again = registry.start(RunRequest(scenario="tiny.toml", seed=4), NOW, key="console-simulation:k1")
    assert again.id == first.id
    assert registry.active_count() == 1
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while registry.get(first.id).active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert registry.start(RunRequest(scenario="tiny.toml", seed=4), NOW, key="console-simulation:k1").id == first.id
    assert registry.page(limit=10, offset=0)[1] == 1
    other = registry.start(RunRequest(scenario="tiny.toml", seed=4), NOW, key="console-simulation:k2")
    assert other.id != first.id


def test_a_key_sent_again_with_another_request_is_refused(registries: Callable[..., RunRegistry]) -> None:
    registry = registries(command=sleeper)
    registry.start(RunRequest(scenario="tiny.toml", seed=4), NOW, key="console-simulation:k1")
    with pytest.raises(IdempotencyKeyReused):
        registry.start(RunRequest(scenario="tiny.toml", seed=5), NOW, key="console-simulation:k1")
    assert registry.active_count() == 1


@pytest.mark.parametrize(
    ("request_data", "field"),
    [
        ({"scenario": "other.toml"}, "scenario"),
        ({"scenario": "tiny_grid.toml"}, "scenario"),  # a grid is not a day
        ({"scenario": "tiny.toml", "kind": "sweep"}, "scenario"),  # a day is not a grid
        ({"scenario": "tiny.toml", "hours": 3}, "hours"),  # the day lasts 2
    ],
)
def test_a_request_the_shipped_files_do_not_allow_is_refused_naming_the_field(
    registries: Callable[..., RunRegistry], request_data: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        registries(command=sleeper).start(RunRequest.model_validate(request_data), NOW)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "request_data",
    [
        {"scenario": "../../etc/passwd.toml"},
        {"scenario": "tiny.toml", "seed": -1},
        {"scenario": "tiny.toml", "seed": 2**31},
        {"scenario": "tiny.toml", "hours": 0},
        {"scenario": "tiny.toml", "hours": 25},
        {"scenario": "tiny_grid.toml", "kind": "sweep", "seed": 4},
        {"scenario": "tiny.toml", "extra": 1},
    ],
)
def test_form_values_out_of_bounds_are_refused(request_data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RunRequest.model_validate(request_data)


@pytest.mark.parametrize("run_id", ["../../etc", "20261204T140000-zzzzzz", "", "20261204T140000-abcdef"])
def test_an_unknown_or_malformed_run_id_is_not_found(registries: Callable[..., RunRegistry], run_id: str) -> None:
    with pytest.raises(NotFound):
        registries().get(run_id)


def test_runs_are_listed_newest_first_and_the_oldest_finished_are_pruned(
    registries: Callable[..., RunRegistry],
) -> None:
    registry = registries(command=sleeper, max_running=10, keep=3)
    ids = []
    for minute in range(5):
        status = registry.start(RunRequest(scenario="tiny.toml"), NOW.replace(minute=minute))
        ids.append(status.id)
        assert status.pid is not None
        os.kill(status.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while registry.get(status.id).active and time.monotonic() < deadline:
            time.sleep(0.05)
    listed, total = registry.page(limit=10, offset=0)
    assert total == 3
    assert [status.id for status in listed] == ids[::-1][:3]
    assert registry.page(limit=1, offset=1)[0][0].id == ids[3]
