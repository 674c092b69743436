"""Simulated annealing over any ruin-and-recreate search, in Python: each step ruins a copy of the current
state and recreates it, the work clock is charged by the work the search counts, and the result replaces the
current state by the annealing's acceptance rule, cooling from `hot` to `cooling` x `hot` over the budget.

`ruin_recreate_exact` runs it (every route priced by the exact checks); `ruin_recreate` runs the same loop
compiled (`ruin_recreate_kernel.search.anneal`).
"""

from __future__ import annotations

import math
from typing import Protocol, Self, TypeVar

import numpy as np

from dispatch.matching.budget import WorkClock
from dispatch.matching.tuning import RuinRecreateTuning


class _Copyable(Protocol):
    def copy(self) -> Self: ...


StateT = TypeVar("StateT", bound=_Copyable)


def most_removed(count: int, tuning: RuinRecreateTuning) -> int:
    """The most orders one step of either search removes, of `count`."""
    return max(tuning.min_removed, min(count, 3 + int(tuning.removal_share * count)))


class AnnealingSearch(Protocol[StateT]):
    """What `anneal` needs of a search: its moves, its costs and the work counters it is charged by."""

    rng: np.random.Generator
    tuning: RuinRecreateTuning
    count: int

    def ruin(self, state: StateT, how_many: int) -> list[int]: ...
    def recreate(self, state: StateT, removed: list[int]) -> bool: ...
    def cost(self, state: StateT) -> float: ...
    def counters(self) -> tuple[int, int]: ...
    def step_seconds(self, removed: int, before: tuple[int, int], after: tuple[int, int]) -> float:
        """Work-clock seconds of one ruin and recreate that moved the counters from `before` to `after`."""
        ...

    def improved(self, state: StateT, cost: float) -> tuple[StateT, float]:
        """A new best state, or a better one found from it (a rematch)."""
        ...


def anneal(
    search: AnnealingSearch[StateT], current: StateT, current_cost: float, hot: float, budget: float, clock: WorkClock
) -> tuple[StateT, float, float]:
    """Simulated annealing from `current` at temperature `hot` cooling to `cooling` x `hot`, for `budget`
    work seconds: the best state, its cost, the work spent."""
    best, best_cost = current.copy(), current_cost
    tuning = search.tuning
    most = most_removed(search.count, tuning)
    cold = tuning.cooling * hot
    spent = 0.0
    while spent < budget:
        if clock.past_safety("ruin and recreate"):
            break
        temperature = hot * (cold / hot) ** (spent / budget)
        trial = current.copy()
        before = search.counters()
        removed = search.ruin(trial, int(search.rng.integers(tuning.min_removed, most + 1)))
        recreated = search.recreate(trial, removed)
        charge = search.step_seconds(len(removed), before, search.counters())
        spent += charge
        clock.charge(charge)
        if not recreated:
            continue
        cost = search.cost(trial)
        if cost < current_cost - temperature * math.log(float(search.rng.random()) + 1e-300):
            current, current_cost = trial, cost
            if cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
                current, current_cost = search.improved(trial, cost)
                best, best_cost = current.copy(), current_cost
    return best, best_cost, spent
