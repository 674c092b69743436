"""The child's side of a console run: `crowdship simulate|sweep ... --status FILE` reports into the run's
status file (`composition.simulation_runs`, which the API reads) as it goes: running, the share done,
finished or failed with the reason.

Writes are throttled (at most one per `MIN_INTERVAL_S` unless the state changes), so a day of thousands
of events does not spend its time on the disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from composition.simulation_runs import update_status
from crowdship.clock import Clock
from crowdship.errors import InvalidInput

MIN_INTERVAL_S = 0.5


class StatusReporter:
    """Reports one run's state into its `status.json`; every method is a no-op without a file."""

    def __init__(self, path: Path | None, clock: Clock) -> None:
        if path is not None and not path.is_file():
            raise InvalidInput("--status", f"{path} is not a run's status file (the console writes it first)")
        self.path = path
        self.clock = clock
        self._last_write = 0.0

    def started(self, message: str) -> None:
        self._write(state="running", started_at=self.clock.now(), progress=0.0, message=message)

    def progress(self, share: float, message: str) -> None:
        if time.monotonic() - self._last_write >= MIN_INTERVAL_S:
            self._write(progress=max(0.0, min(1.0, share)), message=message)

    def finished(self, message: str) -> None:
        self._write(state="finished", finished_at=self.clock.now(), progress=1.0, message=message)

    def failed(self, error: str) -> None:
        self._write(state="failed", finished_at=self.clock.now(), error=error, message="failed")

    def _write(self, **changes: object) -> None:
        if self.path is None:
            return
        update_status(self.path, pid=os.getpid(), **changes)
        self._last_write = time.monotonic()
