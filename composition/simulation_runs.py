"""Simulation runs started from the console: a registry of small JSON status files, and the launcher.

A run is `crowdship simulate` (one day) or `crowdship sweep` (a grid on Ray) started as a child process, so
that the API never spends its event loop or its memory on a simulated day, and the API does not import the
simulator (the layers forbid it: the child runs the `cli`, the top of the house). Each run lives in
`<local_dir>/runs/<id>/`: `status.json` (what was asked, state, progress, start and end, the error),
`output.log` (the child's output), and the command's files (`report.html`, `summary.json`, or a sweep's
`chart.html` and `results.json`). The child writes its state and progress into `status.json` through
`update_status`, the API reads it; both lock the file, so neither loses the other's write. A run asked with a
key (the console's form carries one minted as it is shown) is started once: asked again, it answers that run.

Bounded: at most `MAX_RUNNING` runs at once (a file lock makes the count and the start one step, across
API workers), form values within `RunRequest`'s limits, the scenario one of the files shipped in
`simulations/scenarios/`, and at most `MAX_KEPT_RUNS` runs kept on disk (the oldest finished ones go first).
A run whose process died without saying so is marked failed when next read.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crowdship.errors import DomainError, InvalidInput, NotFound
from crowdship.files import read_toml_file
from crowdship.idempotency import IdempotencyKeyReused
from crowdship.local_servers import process_alive
from crowdship.settings import PROJECT_ROOT

SCENARIO_DIR = PROJECT_ROOT / "simulations" / "scenarios"
"""The scenarios the simulator ships (`simulations.scenario.SCENARIO_DIR`, named from here: the composition root
sits below the simulations and does not import them)."""
"""The scenario and grid files a console run may use (read as files: the API does not import simulations)."""

MAX_RUNNING = 2
MAX_KEPT_RUNS = 200
MAX_HOURS = 24
MAX_SEED = 2**31 - 1
MAX_SWEEP_RUNS = 16
MAX_SCENARIO_FILE_BYTES = 100_000
MAX_ERROR_CHARS = 2_000
STATUS_FILE = "status.json"
OUTPUT_FILE = "output.log"

RunKind = Literal["simulate", "sweep"]
RunState = Literal["queued", "running", "finished", "failed"]
ACTIVE_STATES: frozenset[str] = frozenset({"queued", "running"})
RUN_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{6}$")
SCENARIO_FILE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.toml$")


class TooManyRuns(DomainError):
    """Answered 409: the machine runs at most `MAX_RUNNING` simulations at once."""

    def __init__(self, running: int) -> None:
        super().__init__(f"{running} simulations are running already (at most {MAX_RUNNING}); wait for one to end")


class RunRequest(BaseModel):
    """What the console's form asks for: a scenario file (or a grid, for a sweep), a seed and hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RunKind = "simulate"
    scenario: str = Field(pattern=SCENARIO_FILE.pattern, description="a file of simulations/scenarios/")
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="the scenario's own when absent")
    hours: int | None = Field(default=None, ge=1, le=MAX_HOURS, description="the first hours of the day")

    @model_validator(mode="after")
    def _sweep_takes_its_grid(self) -> RunRequest:
        if self.kind == "sweep" and (self.seed is not None or self.hours is not None):
            raise ValueError("a sweep runs its grid as written: leave seed and hours empty")
        return self


class RunStatus(BaseModel):
    """`status.json`: one run as the console shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: RunKind
    scenario: str
    title: str
    seed: int | None = None
    hours: int | None = None
    state: RunState = "queued"
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    message: str = ""
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    pid: int | None = None
    key: str | None = None
    """The idempotency key it was asked with, if any."""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def request(self) -> RunRequest:
        return RunRequest(kind=self.kind, scenario=self.scenario, seed=self.seed, hours=self.hours)


class ScenarioChoice(BaseModel):
    """A file the form offers: a day (`simulate`) or a grid (`sweep`), with its name and size."""

    model_config = ConfigDict(frozen=True)

    file: str
    kind: RunKind
    title: str
    hours: int | None = None
    """A day's hours (the most a run may ask for)."""
    runs: int | None = None
    """A grid's number of days."""


def scenario_choices(scenario_dir: Path = SCENARIO_DIR) -> list[ScenarioChoice]:
    """The scenario and grid files in the folder, days first; a grid over `MAX_SWEEP_RUNS` is not offered."""
    choices = []
    for path in sorted(scenario_dir.glob("*.toml")):
        if not SCENARIO_FILE.match(path.name) or path.stat().st_size > MAX_SCENARIO_FILE_BYTES:
            continue
        try:
            data = read_toml_file(path, "scenario")
        except InvalidInput:  # not offered: `crowdship simulate` says what is wrong with it
            continue
        title = str(data.get("name", path.stem))[:200]
        if "base" in data:
            runs = 1
            for values in (data.get("grid") or {}).values():
                runs *= len(values) if isinstance(values, list) else 1
            if runs <= MAX_SWEEP_RUNS:
                choices.append(ScenarioChoice(file=path.name, kind="sweep", title=title, runs=runs))
        else:
            hours = data.get("hours", 10)
            choices.append(
                ScenarioChoice(
                    file=path.name, kind="simulate", title=title, hours=hours if isinstance(hours, int) else None
                )
            )
    return sorted(choices, key=lambda choice: (choice.kind != "simulate", choice.file))


def child_command(request: RunRequest, run_dir: Path, scenario_dir: Path) -> list[str]:
    """`crowdship simulate|sweep FILE --out RUN_DIR --status RUN_DIR/status.json [--seed] [--hours]`."""
    command = [sys.executable, "-m", "cli", request.kind, str(scenario_dir / request.scenario), "--out", str(run_dir)]
    command += ["--status", str(run_dir / STATUS_FILE)]
    if request.seed is not None:
        command += ["--seed", str(request.seed)]
    if request.hours is not None:
        command += ["--hours", str(request.hours)]
    return command


CommandBuilder = Callable[[RunRequest, Path, Path], Sequence[str]]


class RunRegistry:
    """The runs under `root` (`<local_dir>/runs`): start one, read one, list them, find their files."""

    def __init__(
        self,
        root: Path,
        *,
        scenario_dir: Path = SCENARIO_DIR,
        max_running: int = MAX_RUNNING,
        keep: int = MAX_KEPT_RUNS,
        command: CommandBuilder = child_command,
    ) -> None:
        self.root = root
        self.scenario_dir = scenario_dir
        self.max_running = max_running
        self.keep = keep
        self.command = command

    # --- starting -----------------------------------------------------------------------------------------

    def start(self, request: RunRequest, now: datetime, *, key: str | None = None) -> RunStatus:
        """Checks the request against the shipped files, then starts the child; `TooManyRuns` when
        `max_running` are active. Returns the run as first written (queued, with the child's pid), or the run
        started with `key` as it is now (`IdempotencyKeyReused` when that one asked for something else)."""
        choice = next((c for c in scenario_choices(self.scenario_dir) if c.file == request.scenario), None)
        if choice is None:
            raise InvalidInput("scenario", f"{request.scenario!r} is not one of the scenarios offered")
        if choice.kind != request.kind:
            wanted = "a grid (sweep)" if request.kind == "sweep" else "a single day"
            raise InvalidInput("scenario", f"{request.scenario} is not {wanted}")
        if request.hours is not None and choice.hours is not None and request.hours > choice.hours:
            raise InvalidInput("hours", f"{request.scenario} lasts {choice.hours} hours; ask for at most that")
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / ".lock"):
            if key is not None and (asked := next((run for run in self._all() if run.key == key), None)):
                if asked.request != request:
                    raise IdempotencyKeyReused(key)
                return asked
            running = self.active_count()
            if running >= self.max_running:
                raise TooManyRuns(running)
            self._prune()
            run_id = f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
            run_dir = self.root / run_id
            run_dir.mkdir()
            status = RunStatus(
                id=run_id,
                kind=request.kind,
                scenario=request.scenario,
                title=choice.title,
                seed=request.seed,
                hours=request.hours,
                created_at=now,
                message="starting the simulator",
                key=key,
            )
            _write(run_dir / STATUS_FILE, status)
            try:
                pid = self._spawn(request, run_dir)
            except OSError as error:
                return update_status(
                    run_dir / STATUS_FILE, state="failed", error=f"could not start: {error}", finished_at=now
                )
            return update_status(run_dir / STATUS_FILE, pid=pid)

    def _spawn(self, request: RunRequest, run_dir: Path) -> int:
        with (run_dir / OUTPUT_FILE).open("wb") as output:
            child = subprocess.Popen(
                list(self.command(request, run_dir, self.scenario_dir)),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
                start_new_session=True,
                env={**os.environ, "CROWDSHIP_LOG_LEVEL": "WARNING"},
            )
        threading.Thread(target=child.wait, name=f"reap-{run_dir.name}", daemon=True).start()
        return child.pid

    # --- reading ------------------------------------------------------------------------------------------

    def get(self, run_id: str) -> RunStatus:
        return self._checked(self._read(self.run_dir(run_id)))

    def page(self, limit: int, offset: int) -> tuple[list[RunStatus], int]:
        """Newest first."""
        everything = self._all()
        return everything[offset : offset + limit], len(everything)

    def active_count(self) -> int:
        """Runs queued or running: what `start` holds against `max_running`."""
        return sum(1 for status in self._all() if status.active)

    def run_dir(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise NotFound(f"no simulation run {run_id!r}")
        run_dir = self.root / run_id
        if not (run_dir / STATUS_FILE).is_file():
            raise NotFound(f"no simulation run {run_id!r}")
        return run_dir

    def report_path(self, run_id: str) -> Path | None:
        """The run's HTML report (a day's `report.html`, a sweep's `chart.html`) once written."""
        status = self.get(run_id)
        path = self.run_dir(run_id) / ("chart.html" if status.kind == "sweep" else "report.html")
        return path if status.state == "finished" and path.is_file() else None

    def summary(self, run_id: str) -> dict[str, Any] | None:
        """A finished day's figures (`summary.json`'s `summary`); None for a sweep or an unfinished run."""
        path = self.run_dir(run_id) / "summary.json"
        if self.get(run_id).state != "finished" or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        summary = data.get("summary") if isinstance(data, dict) else None
        return summary if isinstance(summary, dict) else None

    def _all(self) -> list[RunStatus]:
        if not self.root.is_dir():
            return []
        found = []
        for run_dir in sorted(self.root.iterdir(), reverse=True):
            if RUN_ID.match(run_dir.name) and (run_dir / STATUS_FILE).is_file():
                try:
                    found.append(self._checked(self._read(run_dir)))
                except InvalidInput:
                    continue
        return found

    def _read(self, run_dir: Path) -> RunStatus:
        return read_status(run_dir / STATUS_FILE)

    def _checked(self, status: RunStatus) -> RunStatus:
        """An active run whose process is gone failed (killed, out of memory) without writing so."""
        if status.active and status.pid is not None and not _alive(status.pid):
            path = self.root / status.id / STATUS_FILE
            current = read_status(path)
            if current.active:  # it may have finished since it was read
                return update_status(
                    path,
                    state="failed",
                    error=_tail(self.root / status.id / OUTPUT_FILE) or "the run's process ended without a result",
                    finished_at=current.started_at or current.created_at,
                )
            return current
        return status

    def _prune(self) -> None:
        everything = self._all()
        done = [status for status in everything if not status.active]
        excess = len(everything) - self.keep + 1
        for status in reversed(done):  # oldest first
            if excess <= 0:
                break
            shutil.rmtree(self.root / status.id, ignore_errors=True)
            excess -= 1


# --- The status file, for the registry and the child alike ------------------------------------------------


def read_status(path: Path) -> RunStatus:
    try:
        return RunStatus.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as error:
        raise InvalidInput("status", f"{path} is not a readable run status file") from error


def update_status(path: Path, **changes: Any) -> RunStatus:
    """Read, change and write the status under its lock (the child and the API both write it)."""
    if "error" in changes and isinstance(changes["error"], str):
        changes["error"] = changes["error"][-MAX_ERROR_CHARS:]
    with _locked(path.with_suffix(".lock")):
        current = read_status(path)
        updated = RunStatus.model_validate({**current.model_dump(), **changes})
        _write(path, updated)
        return updated


def _write(path: Path, status: RunStatus) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(status.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    """True while the process runs. A zombie, ended but not yet reaped, counts as gone: a child killed while the
    API that started it still runs stays one until reaped, and would otherwise hold its slot as running."""
    if not process_alive(pid):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _tail(path: Path, limit: int = 600) -> str:
    """The end of the child's output: the last error line is usually what went wrong."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", errors="replace").strip()
    except OSError:
        return ""
