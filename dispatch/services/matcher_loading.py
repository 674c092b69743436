"""The matcher loaded before a service's batches need it: OR-Tools, SciPy and the compiled search take seconds on
a quiet machine and more than a minute on a busy one (numba's cache cold), and a batch that loads them does so
while it holds its store's lease: one that outlives the lease writes nothing, and its round's work is lost."""

from __future__ import annotations

import threading
import time

from crowdship.logging import get_logger
from dispatch.services.batch import Solver, load_solver, matcher_solver

log = get_logger(__name__)


def warm_up(solver: Solver) -> threading.Thread | None:
    """Loads the project's matcher on a thread of its own, so that a service's start does not wait for it (a
    batch that comes sooner waits on the same import), and logs `matcher ready` once it is loaded. Another
    solver (a test's) has nothing to load."""
    if solver is not matcher_solver:
        return None

    def load() -> None:
        started = time.monotonic()
        load_solver(solver)
        log.info("matcher ready", load_s=round(time.monotonic() - started, 1))

    loading = threading.Thread(target=load, name="warm-up-matcher", daemon=True)
    loading.start()
    return loading


def load_before_batching(solver: Solver, stop: threading.Event) -> bool:
    """The dispatcher's start: loads the matcher before the first round takes any lease, so that no batch loads
    it under one; False when a stop was asked meanwhile."""
    loading = warm_up(solver)
    while loading is not None and loading.is_alive():
        if stop.wait(0.2):
            return False
    return True
