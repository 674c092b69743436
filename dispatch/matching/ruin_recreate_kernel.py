"""The compiled inner loop of `ruin_recreate`: ruin, recreate and the annealing's acceptance, in numba.

The search lives on the number of steps it makes: in plain Python a step (about 15 orders removed and put
back) took 300 µs and an occasional-drivers instance of 100 orders got 20 000 of them in 10 s, far from
converged (four times the budget halved its gap). Compiled, the same step takes a few microseconds.

Everything here is arrays and scalars, so that numba compiles it once (cached on disk beside this file).
It is one module on purpose, past the usual size: numba checks a cached function against its own file only,
so a compiled helper kept in another module could change without the functions calling it being compiled
again.

- a *problem*: `arc` (local nodes: 0 is the store, i + 1 is order i, priced per distance), `size`, `skip`
  (the fallback's cost, inf where the order must be served), `alone` (a new route for the order alone), each
  order's trips as CSR rows sorted by cost, then by how many orders could take the trip (`option_start`,
  `option_trip`, `option_cost`), `neighbours` (each
  order's nearest orders first, itself included), and `scalars` (`fixed`, `capacity`, `vehicles`).
- a *state*: `ints` rows `NEXT`, `PREV`, `ROUTE` (per order: the next and previous order on its fleet route,
  END at either end, and its route or OUT), `HEAD`, `LENGTH` (per route slot), `TRIP` (per order: its trip
  or OUT); `floats` rows `LOAD`, `ARCS` (per route slot: its load and the cost of its arcs) and `TRIP_COST`
  (per order: the price of its trip); `taker` (per trip: its order or OUT).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np
import numpy.typing as npt

OUT = -1
END = -1

NEXT, PREV, ROUTE, HEAD, LENGTH, TRIP = range(6)
LOAD, ARCS, TRIP_COST = range(3)
INT_ROWS, FLOAT_ROWS = 6, 3

FIXED, CAPACITY, VEHICLES = range(3)
"""Indices of `scalars`."""

MIN_REMOVED, MOST_REMOVED, MAX_STRING, BLINK, TAKE_OVER, PER_STEP, PER_ORDER, PER_SLOT, PER_PAIR = range(9)
"""Indices of `params`: the step's sizes (as floats) and the work clock's charges."""

HOT, COLD, BUDGET, SPENT, CURRENT_COST, BEST_COST, STEPS = range(7)
"""Indices of `run`, the annealing run's schedule and progress, read and written by `anneal`."""

DONE, NEW_BEST, PAUSED = range(3)
"""What `anneal` returns: the budget is spent; the current state is a new best (the caller may improve it
and must then set `run[BEST_COST]`); `max_steps` were made (the caller may check the wall clock)."""

_jit = nb.njit(cache=True, nogil=True)

_I2, _F2, _I1, _F1, _U1 = nb.int64[:, ::1], nb.float64[:, ::1], nb.int64[::1], nb.float64[::1], nb.uint64[::1]


def _compiled_now(signature: object) -> Callable[[Callable[..., Any]], Any]:
    """Compiled at import (from the cache on disk after the first time), not in the first search's time."""
    return nb.njit(signature, cache=True, nogil=True)


@_jit
def random_unit(rng: npt.NDArray[np.uint64]) -> float:
    """A float in [0, 1) from the xorshift64* state `rng[0]` (our own generator: reproducible across calls)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@_jit
def random_below(rng: npt.NDArray[np.uint64], low: int, high: int) -> int:
    """An integer in [low, high)."""
    value = low + int(random_unit(rng) * (high - low))
    return min(value, high - 1)


@_compiled_now(nb.float64(_I2, _F2, _F1, nb.float64))
def total_cost(ints, floats, skip, fixed):  # type: ignore[no-untyped-def]
    count = ints.shape[1]
    total = 0.0
    for i in range(count):
        if ints[LENGTH, i] > 0:
            total += fixed + floats[ARCS, i]
        if ints[TRIP, i] != OUT:
            total += floats[TRIP_COST, i]
        elif ints[ROUTE, i] == OUT:
            total += skip[i]
    return total


@_compiled_now(nb.void(_I2, _F2, _F2, _F1, nb.int64))
def unlink(ints, floats, arc, size, node):  # type: ignore[no-untyped-def]
    route = ints[ROUTE, node]
    before, after = ints[PREV, node], ints[NEXT, node]
    if before == END:
        ints[HEAD, route] = after
    else:
        ints[NEXT, before] = after
    if after != END:
        ints[PREV, after] = before
    a, b = before + 1, after + 1  # END + 1 is the store, node 0
    floats[ARCS, route] += arc[a, b] - arc[a, node + 1] - arc[node + 1, b]
    floats[LOAD, route] -= size[node]
    ints[LENGTH, route] -= 1
    if ints[LENGTH, route] == 0:
        floats[ARCS, route] = 0.0
        floats[LOAD, route] = 0.0
    ints[ROUTE, node] = OUT
    ints[NEXT, node] = END
    ints[PREV, node] = END


@_compiled_now(nb.void(_I2, _F2, _F2, _F1, nb.int64, nb.int64, nb.int64))
def link_after(ints, floats, arc, size, route, before, node):  # type: ignore[no-untyped-def]
    """Put `node` on `route` after `before` (END: first)."""
    after = ints[HEAD, route] if before == END else ints[NEXT, before]
    if before == END:
        ints[HEAD, route] = node
    else:
        ints[NEXT, before] = node
    if after != END:
        ints[PREV, after] = node
    ints[PREV, node], ints[NEXT, node] = before, after
    a, b = before + 1, after + 1
    floats[ARCS, route] += arc[a, node + 1] + arc[node + 1, b] - arc[a, b]
    floats[LOAD, route] += size[node]
    ints[LENGTH, route] += 1
    ints[ROUTE, node] = route


@_jit
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


@_jit
def _reinsertion_order(removed, taken, arc, size, rng):  # type: ignore[no-untyped-def]
    """One of four orders, at random: random, farthest first, largest first, nearest first."""
    how = random_below(rng, 0, 4)
    if how == 0:
        for i in range(taken - 1, 0, -1):
            j = random_below(rng, 0, i + 1)
            removed[i], removed[j] = removed[j], removed[i]
        return
    keys = np.empty(taken)
    for i in range(taken):
        node = removed[i]
        if how == 1:
            keys[i] = -arc[0, node + 1]
        elif how == 2:
            keys[i] = -size[node]
        else:
            keys[i] = arc[0, node + 1]
    order = np.argsort(keys, kind="mergesort")
    sorted_nodes = removed[:taken][order]
    removed[:taken] = sorted_nodes


_SKIP, _TRIP, _NEW_ROUTE, _INTO_ROUTE, _TAKE_OVER = range(5)


@_jit
def _cheapest_free_trip(taker, option_start, option_trip, option_cost, order):  # type: ignore[no-untyped-def]
    """The order's cheapest trip no other order holds (options are sorted by cost): (its price, the trip)."""
    for j in range(option_start[order], option_start[order + 1]):
        if taker[option_trip[j]] == OUT:
            return option_cost[j], option_trip[j]
    return math.inf, OUT


@_jit
def _cheapest_take_over(  # type: ignore[no-untyped-def]
    floats, taker, option_start, option_trip, option_cost, order, best, looked, counters
):
    """The cheapest way, if under `best`, for `order` to take one of its `looked` cheapest held trips while
    the order holding it moves to its own cheapest free trip (an ejection chain of one): (the change in
    cost, the trip, the order moved); trip OUT if none. Greedy insertion alone cannot undo who took which
    driver first, and a rule that pays by the order makes many drivers equal."""
    trip, moved, seen = OUT, OUT, 0
    for j in range(option_start[order], option_start[order + 1]):
        holder = taker[option_trip[j]]
        if holder == OUT:
            continue
        if holder == order:
            continue
        seen += 1
        if seen > looked:
            break
        price, _ = _cheapest_free_trip(taker, option_start, option_trip, option_cost, holder)
        counters[0] += option_start[holder + 1] - option_start[holder]
        change = option_cost[j] + price - floats[TRIP_COST, holder]
        if change < best:
            best, trip, moved = change, option_trip[j], holder
    return best, trip, moved


@_jit
def _cheapest_slot(ints, floats, arc, node, room, best, blink, counters, rng):  # type: ignore[no-untyped-def]
    """The fleet slot cheaper than `best` where `node` costs least (a slot passed over with probability
    `blink`), on a route with `room` left: (its extra cost, the route, the order before it); route OUT if none."""
    route, after = OUT, END
    for r in range(ints.shape[1]):
        if ints[LENGTH, r] == 0 or floats[LOAD, r] > room:
            continue
        previous, at = END, ints[HEAD, r]
        while True:
            a, b = previous + 1, at + 1
            extra = arc[a, node] + arc[node, b] - arc[a, b]
            if extra < best and (blink <= 0.0 or random_unit(rng) >= blink):
                best, route, after = extra, r, previous
            if at == END:
                break
            previous, at = at, ints[NEXT, at]
        counters[0] += ints[LENGTH, r] + 1
    return best, route, after


@_jit
def _place(  # type: ignore[no-untyped-def]
    ints, floats, taker, arc, size, option_start, option_trip, option_cost, order, kind, price, trip, route, after
):
    """Put `order` where `_cheapest_*` said (`kind`; for _TAKE_OVER `route` is the order moved off `trip`);
    the fleet route it went on, or OUT."""
    if kind == _TAKE_OVER:
        moved = route
        moved_price, moved_to = _cheapest_free_trip(taker, option_start, option_trip, option_cost, moved)
        ints[TRIP, moved] = moved_to
        floats[TRIP_COST, moved] = moved_price
        taker[moved_to] = moved
        for j in range(option_start[order], option_start[order + 1]):
            if option_trip[j] == trip:
                price = option_cost[j]
        kind = _TRIP
    if kind == _TRIP:
        ints[TRIP, order] = trip
        floats[TRIP_COST, order] = price
        taker[trip] = order
        return OUT
    if kind == _NEW_ROUTE:
        route = 0
        while ints[LENGTH, route] > 0:
            route += 1
        ints[HEAD, route] = END
        after = END
    if kind == _SKIP:
        return OUT
    link_after(ints, floats, arc, size, route, after, order)
    return route


@_jit
def _cheapest_place(  # type: ignore[no-untyped-def]
    ints, floats, taker, arc, size, skip, alone, option_start, option_trip, option_cost, scalars, blink, take_over,
    order, may_open, counters, rng,
):  # fmt: skip
    """Where `order` costs least now: (the cost, the kind of place, the trip, the route or the order moved
    off the trip, the order before it on the route)."""
    best, kind, route, after = skip[order], _SKIP, OUT, END
    price, trip = _cheapest_free_trip(taker, option_start, option_trip, option_cost, order)
    if price < best:
        best, kind = price, _TRIP
    if may_open and alone[order] < best:
        best, kind = alone[order], _NEW_ROUTE
    room = scalars[CAPACITY] - size[order]
    extra, slot_route, slot_after = _cheapest_slot(ints, floats, arc, order + 1, room, best, blink, counters, rng)
    if slot_route != OUT:
        best, kind, route, after = extra, _INTO_ROUTE, slot_route, slot_after
    if take_over > 0:
        change, held, moved = _cheapest_take_over(
            floats, taker, option_start, option_trip, option_cost, order, best, take_over, counters
        )
        if held != OUT:
            best, kind, trip, route = change, _TAKE_OVER, held, moved
    return best, kind, trip, route, after


@_jit
def recreate(  # type: ignore[no-untyped-def]
    ints, floats, taker, arc, size, skip, alone, option_start, option_trip, option_cost, scalars, blink, take_over,
    removed, taken, stamp, step, counters, rng,
):  # fmt: skip
    """Put each removed order where it costs least now (a fleet slot, a new route, its cheapest free trip,
    the fallback), passing over a slot with probability `blink`; then 2-opt the routes that grew. False if an
    order must be served and cannot be. `counters[0]` gains the slots priced, `counters[1]` the 2-opt pairs."""
    count = ints.shape[1]
    _reinsertion_order(removed, taken, arc, size, rng)
    routes_used = 0
    for r in range(count):
        if ints[LENGTH, r] > 0:
            routes_used += 1
    touched = stamp[2 * count :]
    for k in range(taken):
        order = removed[k]
        best, kind, trip, route, after = _cheapest_place(
            ints, floats, taker, arc, size, skip, alone, option_start, option_trip, option_cost, scalars, blink,
            take_over, order, routes_used < scalars[VEHICLES], counters, rng,
        )  # fmt: skip
        if kind == _SKIP and not math.isfinite(best):
            return False
        route = _place(
            ints, floats, taker, arc, size, option_start, option_trip, option_cost,
            order, kind, best, trip, route, after,
        )  # fmt: skip
        if kind == _NEW_ROUTE:
            routes_used += 1
        if route != OUT:
            touched[route] = step
    for r in range(count):
        if touched[r] == step and ints[LENGTH, r] >= 3:
            counters[1] += two_opt(ints, floats, arc, r)
    return True


@_jit
def two_opt(ints, floats, arc, route):  # type: ignore[no-untyped-def]
    """Reverse segments of `route` while that shortens it (best move first); the pairs of arcs tried."""
    length = ints[LENGTH, route]
    nodes = np.empty(length + 2, dtype=np.int64)
    nodes[0] = 0
    at = ints[HEAD, route]
    for i in range(length):
        nodes[i + 1] = at + 1
        at = ints[NEXT, at]
    nodes[length + 1] = 0
    last = length + 1
    tried = 0
    improved = False
    for _ in range(length):
        tried += (last - 1) * (last - 2) // 2
        best_gain, best_i, best_j = -1e-9, -1, -1
        for i in range(last - 1):
            a, b = nodes[i], nodes[i + 1]
            ab = arc[a, b]
            for j in range(i + 2, last):
                c, d = nodes[j], nodes[j + 1]
                gain = arc[a, c] + arc[b, d] - ab - arc[c, d]
                if gain < best_gain:
                    best_gain, best_i, best_j = gain, i, j
        if best_i < 0:
            break
        improved = True
        nodes[best_i + 1 : best_j + 1] = nodes[best_i + 1 : best_j + 1][::-1].copy()
    if improved:
        cost = 0.0
        previous = END
        for i in range(1, last):
            order = nodes[i] - 1
            ints[PREV, order] = previous
            if previous == END:
                ints[HEAD, route] = order
            else:
                ints[NEXT, previous] = order
            previous = order
            cost += arc[nodes[i - 1], nodes[i]]
        ints[NEXT, previous] = END
        floats[ARCS, route] = cost + arc[nodes[last - 1], 0]
    return tried


@_compiled_now(
    nb.int64(
        _I2,
        _F2,
        _I1,
        _I2,
        _F2,
        _I1,
        _F2,
        _F1,
        _F1,
        _F1,
        _I1,
        _I1,
        _F1,
        _I2,
        _F1,
        _F1,
        _F1,
        nb.int64,
        _I1,
        _I1,
        _I1,
        _U1,
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
