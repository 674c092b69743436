"""The compiled inner loop of `ruin_recreate`: ruin, recreate and the annealing's acceptance, in numba.

The search lives on the number of steps it makes: in plain Python a step (about 15 orders removed and put
back) took 300 µs and an occasional-drivers instance of 100 orders got 20 000 of them in 10 s, far from
converged (four times the budget halved its gap). Compiled, the same step takes a few microseconds.

Everything here is arrays and scalars (`state` says what each holds), so that numba compiles it once, cached
on disk: `state` (the arrays' layout, the state's cost, the random numbers), `routes` (a fleet route's
linked list and its 2-opt), `insertion` (recreate: where each removed order costs least), `search` (ruin and
the annealing loop, `anneal`, which the caller drives). numba checks a cached function against its own file
only, and these call each other across files: the cache of the whole package is dropped when any of its
files changes (`compiled_cache`), before they are imported.
"""

from pathlib import Path

from dispatch.matching.compiled_cache import cache_directory, forget_stale_compilations


def _anchor() -> None:
    """A function of this folder, for numba to say where it caches the folder's compiled functions."""


forget_stale_compilations(Path(__file__).parent, cache_directory(_anchor))

# Imported only now: the functions compiled at import must not be loaded from a stale cache.
from dispatch.matching.ruin_recreate_kernel.insertion import recreate  # noqa: E402
from dispatch.matching.ruin_recreate_kernel.routes import link_after, two_opt, unlink  # noqa: E402
from dispatch.matching.ruin_recreate_kernel.search import (  # noqa: E402
    BEST_COST,
    BLINK,
    BUDGET,
    COLD,
    CURRENT_COST,
    DONE,
    HOT,
    MAX_STRING,
    MIN_REMOVED,
    MOST_REMOVED,
    NEW_BEST,
    PAUSED,
    PER_ORDER,
    PER_PAIR,
    PER_SLOT,
    PER_STEP,
    SPENT,
    STEPS,
    TAKE_OVER,
    anneal,
    ruin,
)
from dispatch.matching.ruin_recreate_kernel.state import (  # noqa: E402
    ARCS,
    CAPACITY,
    END,
    FIXED,
    FLOAT_ROWS,
    HEAD,
    INT_ROWS,
    LENGTH,
    LOAD,
    NEXT,
    OUT,
    PREV,
    ROUTE,
    TRIP,
    TRIP_COST,
    VEHICLES,
    random_below,
    random_unit,
    total_cost,
)

__all__ = [
    "ARCS",
    "BEST_COST",
    "BLINK",
    "BUDGET",
    "CAPACITY",
    "COLD",
    "CURRENT_COST",
    "DONE",
    "END",
    "FIXED",
    "FLOAT_ROWS",
    "HEAD",
    "HOT",
    "INT_ROWS",
    "LENGTH",
    "LOAD",
    "MAX_STRING",
    "MIN_REMOVED",
    "MOST_REMOVED",
    "NEW_BEST",
    "NEXT",
    "OUT",
    "PAUSED",
    "PER_ORDER",
    "PER_PAIR",
    "PER_SLOT",
    "PER_STEP",
    "PREV",
    "ROUTE",
    "SPENT",
    "STEPS",
    "TAKE_OVER",
    "TRIP",
    "TRIP_COST",
    "VEHICLES",
    "anneal",
    "link_after",
    "random_below",
    "random_unit",
    "recreate",
    "ruin",
    "total_cost",
    "two_opt",
    "unlink",
]
