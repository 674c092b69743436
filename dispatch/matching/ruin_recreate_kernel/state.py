"""The kernel's arrays, the state's cost, the random numbers every step draws, and how each function is compiled.

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

jit = nb.njit(cache=True, nogil=True)
"""Compiled on first use (or with the function calling it), cached on disk."""

I2, F2, I1, F1, U1 = nb.int64[:, ::1], nb.float64[:, ::1], nb.int64[::1], nb.float64[::1], nb.uint64[::1]


def compiled_now(signature: object) -> Callable[[Callable[..., Any]], Any]:
    """Compiled at import (from the cache on disk after the first time), not in the first search's time."""
    return nb.njit(signature, cache=True, nogil=True)


@jit
def random_unit(rng: npt.NDArray[np.uint64]) -> float:
    """A float in [0, 1) from the xorshift64* state `rng[0]` (our own generator: reproducible across calls)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@jit
def random_below(rng: npt.NDArray[np.uint64], low: int, high: int) -> int:
    """An integer in [low, high)."""
    value = low + int(random_unit(rng) * (high - low))
    return min(value, high - 1)


@compiled_now(nb.float64(I2, F2, F1, nb.float64))
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
