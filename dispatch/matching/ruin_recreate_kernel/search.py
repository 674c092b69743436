"""Ruin, and the annealing loop: each step ruins a copy of the state, recreates it, charges the work clock and
keeps the result by the annealing's acceptance rule."""

from __future__ import annotations

import math

import numba as nb

from dispatch.matching.ruin_recreate_kernel.insertion import recreate
from dispatch.matching.ruin_recreate_kernel.routes import unlink
from dispatch.matching.ruin_recreate_kernel.state import (
    F1,
    F2,
    FIXED,
    HEAD,
    I1,
    I2,
    LENGTH,
    NEXT,
    OUT,
    ROUTE,
    TRIP,
    TRIP_COST,
    U1,
    compiled_now,
    jit,
    random_below,
    random_unit,
    total_cost,
)

MIN_REMOVED, MOST_REMOVED, MAX_STRING, BLINK, TAKE_OVER, PER_STEP, PER_ORDER, PER_SLOT, PER_PAIR = range(9)
"""Indices of `params`: the step's sizes (as floats) and the work clock's charges."""

HOT, COLD, BUDGET, SPENT, CURRENT_COST, BEST_COST, STEPS = range(7)
"""Indices of `run`, the annealing run's schedule and progress, read and written by `anneal`."""

DONE, NEW_BEST, PAUSED = range(3)
"""What `anneal` returns: the budget is spent; the current state is a new best (the caller may improve it
and must then set `run[BEST_COST]`); `max_steps` were made (the caller may check the wall clock)."""


@jit
def ruin(ints, floats, taker, arc, size, neighbours, how_many, max_string, removed, stamp, step, rng):  # type: ignore[no-untyped-def]
    """Remove about `how_many` orders near a random one: a string of consecutive stops from each fleet route
    met (after Christiaens & Vanden Berghe), single orders from trips. Returns how many are in `removed`.

    `stamp` (per order, then per route slot) marks what this step already took, by its number `step`."""
    count = ints.shape[1]
    seed = random_below(rng, 0, count)
    taken = 0
    for k in range(neighbours.shape[1]):
        if taken >= how_many:
            break
        candidate = neighbours[seed, k]
        if stamp[candidate] == step:
            continue
        route = ints[ROUTE, candidate]
        if route == OUT:
            trip = ints[TRIP, candidate]
            if trip != OUT:
                taker[trip] = OUT
                ints[TRIP, candidate] = OUT
                floats[TRIP_COST, candidate] = 0.0
            stamp[candidate] = step
            removed[taken] = candidate
            taken += 1
            continue
        if stamp[count + route] == step:
            continue
        stamp[count + route] = step
        length = ints[LENGTH, route]
        longest = min(max_string, length, how_many - taken)
        string = random_below(rng, 1, longest + 1)
        at = 0
        node = ints[HEAD, route]
        while node != candidate:
            node = ints[NEXT, node]
            at += 1
        first = random_below(rng, max(0, at - string + 1), min(at, length - string) + 1)
        node = ints[HEAD, route]
        for _ in range(first):
            node = ints[NEXT, node]
        for _ in range(string):
            following = ints[NEXT, node]
            unlink(ints, floats, arc, size, node)
            stamp[node] = step
            removed[taken] = node
            taken += 1
            node = following
    return taken


@compiled_now(
    nb.int64(
        I2,
        F2,
        I1,
        I2,
        F2,
        I1,
        F2,
        F1,
        F1,
        F1,
        I1,
        I1,
        F1,
        I2,
        F1,
        F1,
        F1,
        nb.int64,
        I1,
        I1,
        I1,
        U1,
    )
)
def anneal(  # type: ignore[no-untyped-def]
    ints, floats, taker, trial_ints, trial_floats, trial_taker,
    arc, size, skip, alone, option_start, option_trip, option_cost, neighbours, scalars, params,
    run, max_steps, removed, stamp, counters, rng,
):  # fmt: skip
    """Simulated annealing from the state (`ints`, `floats`, `taker`), cooling from `run[HOT]` to `run[COLD]`
    over `run[BUDGET]` work seconds, until DONE, NEW_BEST or PAUSED (after `max_steps` steps).

    `counters` gains the work done, which the work clock is charged by: slots priced, 2-opt pairs tried,
    orders put back, steps."""
    hot, cold, budget = run[HOT], run[COLD], run[BUDGET]
    fixed = scalars[FIXED]
    min_removed, most = int(params[MIN_REMOVED]), int(params[MOST_REMOVED])
    max_string, blink, take_over = int(params[MAX_STRING]), params[BLINK], int(params[TAKE_OVER])
    for _ in range(max_steps):
        if run[SPENT] >= budget:
            return DONE
        temperature = hot * (cold / hot) ** (run[SPENT] / budget)
        trial_ints[:, :] = ints
        trial_floats[:, :] = floats
        trial_taker[:] = taker
        step = int(run[STEPS]) + 1
        run[STEPS] = step
        slots, pairs = counters[0], counters[1]
        taken = ruin(
            trial_ints, trial_floats, trial_taker, arc, size, neighbours,
            random_below(rng, min_removed, most + 1), max_string, removed, stamp, step, rng,
        )  # fmt: skip
        recreated = recreate(
            trial_ints, trial_floats, trial_taker, arc, size, skip, alone, option_start, option_trip,
            option_cost, scalars, blink, take_over, removed, taken, stamp, step, counters, rng,
        )  # fmt: skip
        counters[2] += taken
        counters[3] += 1
        run[SPENT] += (
            params[PER_STEP]
            + params[PER_ORDER] * taken
            + params[PER_SLOT] * (counters[0] - slots)
            + params[PER_PAIR] * (counters[1] - pairs)
        )
        if not recreated:
            continue
        cost = total_cost(trial_ints, trial_floats, skip, fixed)
        if cost < run[CURRENT_COST] - temperature * math.log(random_unit(rng) + 1e-300):
            ints[:, :] = trial_ints
            floats[:, :] = trial_floats
            taker[:] = trial_taker
            run[CURRENT_COST] = cost
            if cost < run[BEST_COST] - 1e-9 * max(1.0, abs(run[BEST_COST])):
                return NEW_BEST
    return PAUSED
