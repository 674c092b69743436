"""The matcher's clock: a deterministic work budget, with the wall clock as a safety net only.

Every search is sized in *work* (routing limit checks, CP-SAT deterministic time, exact moves priced,
assignment rounds), converted from seconds by rates calibrated on the development machine (the fields of
`tuning.MatcherTuning`) so that the work normally finishes well inside the time limit. Decisions ("how
much is left for this step?") read the work clock, never the wall clock, so the same problem and seed give
the same answer on any machine and under any load. The wall clock only cuts a search short when the
machine is much slower than calibrated; then `deadline_hit` is set and the answer, still feasible and on
time, may differ from run to run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class WorkClock:
    """Virtual seconds of budgeted work spent so far, and the wall-clock safety deadline (perf_counter)."""

    safety_deadline: float
    spent: float = 0.0
    deadline_hit: bool = False
    tripped_by: list[str] = field(default_factory=list)
    ledger: dict[str, list[float]] = field(default_factory=dict)
    """Per kind of step: [work seconds budgeted, wall seconds taken], to re-calibrate the rates."""

    def now(self) -> float:
        """The work clock: budgeted seconds charged so far (deterministic)."""
        return self.spent

    def charge(self, seconds: float) -> None:
        self.spent += max(0.0, seconds)

    def record(self, kind: str, work: float, wall: float) -> None:
        """Book a step's budgeted work against the wall time it took (for stats, never for decisions)."""
        entry = self.ledger.setdefault(kind, [0.0, 0.0])
        entry[0] += work
        entry[1] += wall

    def wall_left(self) -> float:
        """Wall-clock seconds left before the safety net fires."""
        return self.safety_deadline - time.perf_counter()

    def past_safety(self, where: str) -> bool:
        """True (and remembered) once the wall clock passed the safety deadline."""
        if time.perf_counter() >= self.safety_deadline:
            self.trip(where)
            return True
        return False

    def expired(self) -> bool:
        """The safety deadline has passed: stop searching (recorded as `deadline_hit`)."""
        return self.past_safety("search")

    def trip(self, where: str) -> None:
        """Record that the safety net cut `where` short: determinism is no longer promised."""
        self.deadline_hit = True
        if where not in self.tripped_by:
            self.tripped_by.append(where)
