"""Step 3 of `solve`: improve the initial plan, by the strategy that fits the store's shape.

- Without a fleet and with multi-order trips: bundles of up to three orders per trip (`bundles`): the set
  packing's LP relaxation by GLOP, rounded greedily (nearly integral on store batches), then CP-SAT from
  the best packing unless the LP bound proves it optimal.
- With a fleet, one-order trips and no windows on the fleet's side: mostly ruin and recreate with simulated
  annealing (`ruin_recreate`), where the routing solver stalls; the routing solver gets the rest.
- With a fleet otherwise (windows, multi-order trips) on a store small enough for one routing group: first
  the same ruin and recreate with every route priced by the exact checks (`ruin_recreate_exact`), then:
- With a fleet and one-order trips otherwise: two starts, the better kept: the routing solver straight
  from the plan, and the same after moving orders between drivers and fleet (`drivers_vs_fleet`).
- Everywhere else, and after the above: the routing solver over groups of orders (`routing_passes`).
"""

from __future__ import annotations

import math

import numpy as np

from dispatch.matching import ruin_recreate, ruin_recreate_exact
from dispatch.matching.budget import WorkClock
from dispatch.matching.bundles import (
    choose_bundles,
    enumerate_bundles,
    estimated_bundles,
    greedy_packing,
    relaxed_packing,
)
from dispatch.matching.drivers_vs_fleet import drivers_vs_fleet
from dispatch.matching.fleet import fleet_capable
from dispatch.matching.instance import Instance
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.routing_passes import routing_passes
from dispatch.matching.tuning import BundleTuning, MatcherTuning


def improvable(instance: Instance, pairs: Pairs) -> bool:
    """Whether anything can beat the initial plan: a fleet, or a trip that may take several candidates."""
    if instance.has_fleet and instance.problem.fleet is not None and instance.problem.fleet.vehicles != 0:
        return True
    counts = np.bincount(pairs.trip, minlength=instance.trip_count)
    return bool(((instance.max_orders >= 2) & (counts >= 2)).any())


def improve(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    plan_cost: float,
    finish_by: float,
    clock: WorkClock,
    seed: int,
    *,
    tuning: MatcherTuning,
) -> tuple[Plan, float, int]:
    """The best plan found from `plan` until the work clock reaches `finish_by`, its cost and the routing
    passes made."""
    best, best_cost = plan, plan_cost
    fleet = instance.problem.fleet
    useful = np.zeros(instance.order_count, dtype=np.bool_)
    useful[pairs.order] = True
    if fleet is not None:
        useful[fleet_capable(instance)] = True
    considered = np.flatnonzero(useful)
    if len(considered) == 0:
        return best, best_cost, 0
    routing = tuning.routing
    sector_count = max(1, math.ceil(len(considered) / routing.small_group_orders))
    rng = np.random.default_rng(seed)
    multi_trips = int((instance.max_orders[np.unique(pairs.trip)] >= 2).sum()) if len(pairs.trip) else 0
    if fleet is None and multi_trips > 0:
        bundles = tuning.bundles
        work = bundles.share * (finish_by - clock.now())
        # above max_multi_order_trips only when the bundles and their LP surely fit (the estimate is an upper
        # bound, 1.6 times the count at 1 000 x 2 000): CP-SAT alone could not start there
        per_bundle = bundles.enumerate_seconds_per_bundle + bundles.lp_seconds_per_bundle
        relaxation = per_bundle * estimated_bundles(instance, pairs, bundles)
        if multi_trips <= bundles.max_multi_order_trips or relaxation <= work:
            began = clock.now()
            best, best_cost = _bundle_step(instance, pairs, best, best_cost, work, clock, seed, bundles)
            # What the bundles leave of their share (the LP often proves its packing optimal in a moment) is
            # not handed to the routing after them, which rarely gains there: a batch comes back sooner
            # (measured on the busy day: matcher p50 65 ms this way, 264 ms with routing taking the rest).
            clock.charge(max(0.0, work - (clock.now() - began)))
    if fleet is not None and sector_count == 1 and ruin_recreate.applies(instance, pairs, considered):
        share = tuning.ruin_recreate.share * (finish_by - clock.now())
        found = ruin_recreate.ruin_and_recreate(
            instance, pairs, considered, best, share, clock, seed, tuning=tuning.ruin_recreate
        )
        best, best_cost = _cheaper(instance, found, best, best_cost)
        return routing_passes(
            instance, pairs, best, best_cost, considered, sector_count, finish_by, clock, rng, tuning=routing
        )
    if fleet is not None and sector_count == 1 and ruin_recreate_exact.applies(instance, considered):
        share = tuning.ruin_recreate.exact_share * (finish_by - clock.now())
        found = ruin_recreate_exact.ruin_and_recreate_exact(
            instance, pairs, considered, best, share, clock, seed, tuning=tuning.ruin_recreate
        )
        best, best_cost = _cheaper(instance, found, best, best_cost)
    if fleet is not None and sector_count == 1 and _single_order_trips(instance, pairs):
        # Two starts, the better kept: the routing solver straight from the plan, and the same after moving
        # orders back and forth between drivers and fleet (each wins on some instances, by a lot).
        starts = tuning.drivers_vs_fleet
        now = clock.now()
        first_by = now + starts.direct_share * (finish_by - now)
        direct, direct_cost, _ = routing_passes(
            instance, pairs, best, best_cost, considered, 1, first_by, clock, rng, tuning=routing
        )
        now = clock.now()
        alternate_by = now + starts.alternate_share * (finish_by - now)
        best, best_cost = drivers_vs_fleet(instance, pairs, best, best_cost, alternate_by, clock, rng, tuning=tuning)
        best, best_cost, passes = routing_passes(
            instance, pairs, best, best_cost, considered, 1, finish_by, clock, rng, tuning=routing
        )
        return (direct, direct_cost, passes + 1) if direct_cost < best_cost else (best, best_cost, passes + 1)
    return routing_passes(
        instance, pairs, best, best_cost, considered, sector_count, finish_by, clock, rng, tuning=routing
    )


def _cheaper(instance: Instance, found: Plan | None, best: Plan, best_cost: float) -> tuple[Plan, float]:
    """`found` with its exact cost where a search found one cheaper than `best`; else `best`."""
    if found is None:
        return best, best_cost
    cost = plan_cost_exact(instance, found)
    return (found, cost) if cost < best_cost else (best, best_cost)


def _bundle_step(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    plan_cost: float,
    work: float,
    clock: WorkClock,
    seed: int,
    tuning: BundleTuning,
) -> tuple[Plan, float]:
    """The cheapest of `plan`, a greedy packing of the bundles, the LP relaxation's rounding and CP-SAT's
    packing from the best of those; CP-SAT is skipped when the LP's bound proves the rounding optimal."""
    began = clock.now()
    bundles = enumerate_bundles(instance, pairs, plan, tuning=tuning)
    clock.charge(tuning.enumerate_seconds_per_bundle * len(bundles.trip))
    candidates = [greedy_packing(instance, bundles)]
    relaxed = relaxed_packing(instance, bundles, tuning.lp_share * work, clock, tuning=tuning)
    if relaxed is not None:
        candidates.append(relaxed.plan)
    for candidate in candidates:
        cost = plan_cost_exact(instance, candidate)
        if cost < plan_cost:
            plan, plan_cost = candidate, cost
    bound = None if relaxed is None else relaxed.bound
    if bound is not None and plan_cost <= bound + 1e-9 * max(1.0, abs(bound)):
        return plan, plan_cost  # optimal over these bundles: nothing for CP-SAT to find
    chosen = choose_bundles(instance, bundles, plan, work - (clock.now() - began), clock, seed, tuning=tuning)
    if chosen is None:
        return plan, plan_cost
    cost = plan_cost_exact(instance, chosen)
    return (chosen, cost) if cost < plan_cost else (plan, plan_cost)


def _single_order_trips(instance: Instance, pairs: Pairs) -> bool:
    return bool((instance.max_orders[np.unique(pairs.trip)] <= 1).all())
