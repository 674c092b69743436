"""Recreate: put each removed order back where it costs least now (a fleet slot, a new route, its cheapest
free trip, a trip taken over from another order, the fallback), counting the work done."""

from __future__ import annotations

import math

import numpy as np

from dispatch.matching.ruin_recreate_kernel.routes import link_after, two_opt
from dispatch.matching.ruin_recreate_kernel.state import (
    CAPACITY,
    END,
    HEAD,
    LENGTH,
    LOAD,
    NEXT,
    OUT,
    TRIP,
    TRIP_COST,
    VEHICLES,
    jit,
    random_below,
    random_unit,
)


@jit
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


@jit
def _cheapest_free_trip(taker, option_start, option_trip, option_cost, order):  # type: ignore[no-untyped-def]
    """The order's cheapest trip no other order holds (options are sorted by cost): (its price, the trip)."""
    for j in range(option_start[order], option_start[order + 1]):
        if taker[option_trip[j]] == OUT:
            return option_cost[j], option_trip[j]
    return math.inf, OUT


@jit
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


@jit
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


@jit
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


@jit
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


@jit
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
