"""The matcher: which pending orders ride with which in-store shoppers, per store and per batch.

`problem` reads and writes the `crowdship-match/1` format, `solve` answers it, `evaluate` is the
independent referee that recomputes a solution's feasibility and objective from the spec alone.
"""

from dispatch.matching.assignment import NoFeasibleMatch
from dispatch.matching.evaluate import InfeasibleSolution, evaluate
from dispatch.matching.problem import (
    Candidate,
    Compensation,
    Fleet,
    MatchOrder,
    MatchProblem,
    MatchTrip,
    Store,
    parse_problem,
    problem_to_json,
)
from dispatch.matching.solution import FleetRoute, MatchSolution, TripAssignment, UnassignedReason, solution_to_json
from dispatch.matching.solver import solve

__all__ = [
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
