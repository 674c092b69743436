"""The matcher: which pending orders ride with which in-store shoppers, per store and per batch.

The file format: `problem` is a batch, `problem_format` reads and writes it as `crowdship-match/1`, `solution`
the answer; `evaluate` is the independent referee that recomputes a solution's feasibility and objective from
the spec alone.

`solve` (in `solver`) runs one pipeline, every step sized by a deterministic work budget (`budget`):

1. `instance`: the problem as arrays, with the exact route checks every result must pass;
   `pairs`: the candidate (trip, order) pairs, pruned by `routing.pruning` and priced for one order.
2. `initial_plan`: one order per trip by an exact assignment (`assignment`) against each order's fallback
   or what the fleet saves without it (`fleet`: savings routes, marginal costs); always feasible.
3. `improve`: the strategy for the store's shape: bundles of up to three orders per trip by LP and CP-SAT
   (`bundles`); ruin and recreate (`ruin_recreate`, its steps compiled in `ruin_recreate_kernel`;
   `ruin_recreate_exact` with windows or multi-order trips, on the annealing loop of `annealing`); drivers vs
   fleet (`drivers_vs_fleet`); the OR-Tools routing solver over groups of orders (`routing_passes` around
   `routing_search`). Plans (`plan`) are kept only when their exact cost is lower.
4. `polish`: an exact local search over single orders.
5. `answer`: the plan as a `MatchSolution`, each order on no trip with the reason.

Every budget, rate, threshold and search parameter is a field of one frozen `tuning.MatcherTuning`,
passed to `solve` (`DEFAULT_TUNING` unless a caller says otherwise) and down to each step.
"""

from typing import TYPE_CHECKING

from dispatch.matching.evaluate import InfeasibleSolution, evaluate
from dispatch.matching.problem import (
    Candidate,
    Compensation,
    Fleet,
    MatchOrder,
    MatchProblem,
    MatchTrip,
    Store,
)
from dispatch.matching.problem_format import parse_problem, problem_to_json
from dispatch.matching.solution import (
    REASON_TEXT,
    FleetRoute,
    MatchSolution,
    TripAssignment,
    UnassignedReason,
    solution_to_json,
)

if TYPE_CHECKING:
    from dispatch.matching.assignment import NoFeasibleMatch
    from dispatch.matching.solver import solve


def __getattr__(name: str) -> object:
    # `solve` loads OR-Tools, SciPy and the compiled search (seconds, and memory): only for those who solve,
    # not for every import of the format's types or of `reward_rule` (the CLI, the rewards side).
    if name == "solve":
        from dispatch.matching.solver import solve

        return solve
    if name == "NoFeasibleMatch":
        from dispatch.matching.assignment import NoFeasibleMatch

        return NoFeasibleMatch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REASON_TEXT",
    "Candidate",
    "Compensation",
    "Fleet",
    "FleetRoute",
    "InfeasibleSolution",
    "MatchOrder",
    "MatchProblem",
    "MatchSolution",
    "MatchTrip",
    "NoFeasibleMatch",
    "Store",
    "TripAssignment",
    "UnassignedReason",
    "evaluate",
    "parse_problem",
    "problem_to_json",
    "solution_to_json",
    "solve",
]
