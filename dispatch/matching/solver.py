"""`solve`: prune, assign exactly, improve, polish, explain; the time plan and the stats live here.

1. Candidate pairs (`pairs`, over `routing.pruning`), intersected with explicit candidate lists, priced
   per rule; on a huge batch within a share of the time.
2. The initial plan (`initial_plan`): one order per trip by an exact assignment; always feasible, so it is
   what a cut-short search falls back to.
3. Improvement (`improve`): bundles (`bundles`), ruin and recreate (`ruin_recreate`), drivers vs fleet
   (`drivers_vs_fleet`), and the OR-Tools routing solver over groups of orders (`routing_passes`),
   each where it fits the store's shape; a new plan replaces the old only when its exact cost is lower.
4. Polish (`polish`): exact single-order moves; on a small store alternated with more routing passes while
   the budget lasts.
5. The answer (`answer`): ids, route figures and the reason each order is on no trip.

Deterministic for a given seed: every step is sized by a work budget read off a `WorkClock` (routing
limit checks, CP-SAT deterministic time, exact moves priced), derived from `time_limit`, the problem's size
and the rates in `tuning` (one `MatcherTuning`, passed down explicitly), never from the wall clock. The
wall clock is a safety net only (it stops a search when the machine is far slower than calibrated);
`stats["deadline_hit"]` says whether it fired. When it did not, the same problem and seed give the same
solution.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from dispatch.matching.answer import to_solution
from dispatch.matching.budget import WorkClock
from dispatch.matching.fleet import fleet_capable
from dispatch.matching.improve import improvable, improve
from dispatch.matching.initial_plan import initial_plan
from dispatch.matching.instance import Instance, build_instance
from dispatch.matching.pairs import Pairs, find_pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.polish import polish
from dispatch.matching.problem import MatchProblem
from dispatch.matching.routing_passes import routing_passes
from dispatch.matching.solution import MatchSolution, UnassignedReason
from dispatch.matching.tuning import DEFAULT_TUNING, MatcherTuning


def solve(
    problem: MatchProblem, time_limit: float = 5.0, seed: int = 0, *, tuning: MatcherTuning = DEFAULT_TUNING
) -> MatchSolution:
    """The best plan found within `time_limit` seconds (plus a small slack); always feasible.

    `tuning`: every budget, rate and search parameter (`tuning.work_share` is the share of the limit the
    deterministic work budget is sized for: a smaller share leaves more room before the wall-clock safety
    net, i.e. reproducibility on a slow or loaded machine, for less search).
    """
    started = time.perf_counter()
    time_limit = max(0.0, time_limit)
    deadline = started + time_limit
    clock = WorkClock(
        safety_deadline=deadline - tuning.finish_reserve_seconds - tuning.finish_reserve_share * time_limit
    )
    instance = build_instance(problem)
    pairs, pruning_complete = find_pairs(
        instance,
        stop_at=started + tuning.pairs.pruning_share * time_limit,
        max_pairs=max(tuning.pairs.min_pair_budget, int(tuning.pairs.pairs_per_second * time_limit)),
        tuning=tuning.pairs,
        report_complete=True,
    )
    if not pruning_complete:
        clock.trip("pruning")
    timings: dict[str, float] = {"pruning": time.perf_counter() - started}
    setup = _setup_seconds(instance, pairs, tuning)
    clock.charge(setup)
    plan = initial_plan(instance, pairs, clock, tuning.initial_plan.repair_share * time_limit, tuning=tuning)
    timings["plan"] = time.perf_counter() - started
    clock.record("setup", setup, timings["plan"])
    plan_cost = plan_cost_exact(instance, plan)
    best, best_cost = plan, plan_cost
    passes = 0
    if improvable(instance, pairs) and not clock.expired():
        finish_by = (
            tuning.work_share * time_limit - tuning.finish_reserve_seconds - tuning.finish_reserve_share * time_limit
        )
        search_by = finish_by
        search_by -= min(
            tuning.polish.max_reserve_seconds, tuning.polish.reserve_share * max(0.0, finish_by - clock.now())
        )
        best, best_cost, passes = improve(instance, pairs, plan, plan_cost, search_by, clock, seed, tuning=tuning)
        best, best_cost, more = _polish(instance, pairs, best, best_cost, finish_by, clock, seed, tuning)
        passes += more
    timings["search"] = time.perf_counter() - started
    solution = to_solution(instance, pairs, best, deadline)
    if any(reason is UnassignedReason.NOT_EXAMINED for reason in solution.unassigned.values()):
        clock.trip("explanations")
    stats: dict[str, Any] = {
        "solve_seconds": round(time.perf_counter() - started, 4),
        "plan_objective": round(plan_cost, 6),  # a sum of floats: no 27.490000000000002
        "candidate_pairs": len(pairs.trip),
        "search_passes": passes,
        "phase_seconds": {k: round(v, 4) for k, v in timings.items()},
        "work_seconds": round(clock.now(), 4),
        "deadline_hit": clock.deadline_hit,
        "deadline_hit_in": list(clock.tripped_by),
        "work_vs_wall_seconds": {k: [round(w, 4), round(s, 4)] for k, (w, s) in clock.ledger.items()},
    }
    return MatchSolution(
        objective=solution.objective,
        trips=solution.trips,
        fleet_routes=solution.fleet_routes,
        fallback=solution.fallback,
        unassigned=solution.unassigned,
        stats=stats,
    )


def _polish(
    instance: Instance,
    pairs: Pairs,
    best: Plan,
    best_cost: float,
    finish_by: float,
    clock: WorkClock,
    seed: int,
    tuning: MatcherTuning,
) -> tuple[Plan, float, int]:
    """Exact single-order moves until `finish_by`; a large store moves only the orders nothing serves, a
    small one alternates polishing with more routing passes while the budget lasts. Also the passes made."""
    rng = np.random.default_rng(seed + 1)
    passes = 0
    small = instance.order_count <= tuning.polish.max_orders
    if not small:
        polished = polish(instance, pairs, best, clock, finish_by, only_unserved=True, tuning=tuning.polish)
        polished_cost = plan_cost_exact(instance, polished)
        if polished_cost < best_cost:
            best, best_cost = polished, polished_cost
    while small and not clock.expired():
        polished = polish(instance, pairs, best, clock, finish_by, tuning=tuning.polish)
        polished_cost = plan_cost_exact(instance, polished)
        if polished_cost < best_cost:
            best, best_cost = polished, polished_cost
        if finish_by - clock.now() < tuning.polish.min_seconds_for_another_pass or clock.expired():
            break
        # the local optimum came early: spend what is left on another routing pass, then polish again
        considered = np.unique(np.concatenate([pairs.order, fleet_capable(instance)]))
        sectors = max(1, math.ceil(len(considered) / tuning.routing.small_group_orders))
        again_by = finish_by - min(
            tuning.polish.max_again_reserve_seconds, tuning.polish.again_reserve_share * (finish_by - clock.now())
        )
        best, best_cost, more = routing_passes(
            instance, pairs, best, best_cost, considered, sectors, again_by, clock, rng, tuning=tuning.routing
        )
        passes += more
    return best, best_cost, passes


def _setup_seconds(instance: Instance, pairs: Pairs, tuning: MatcherTuning) -> float:
    """What the pruning and the initial plan are charged on the work clock (a size-based estimate)."""
    cells = min(instance.order_count * instance.trip_count, 4 * tuning.pairs.min_pair_budget * 100)
    fleet_orders = len(fleet_capable(instance))
    return (
        tuning.setup_seconds_per_cell * cells
        + tuning.setup_seconds_per_pair * len(pairs.trip)
        + tuning.setup_seconds_per_fleet_order * fleet_orders
    )
