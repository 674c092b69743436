"""Drivers vs fleet, back and forth, for a store whose trips take one order each.

Each round re-matches the orders to trips exactly (`assignment`), pricing each order's fleet alternative by
the current fleet routes' marginal costs (its removal gain, or its cheapest insertion), slightly perturbed
after the first round; the orders left for the fleet are inserted into the routes and re-routed by the
routing solver. A round's plan is kept when its exact cost is lower.
"""

from __future__ import annotations

import numpy as np

from dispatch.matching.assignment import assign_one_per_trip
from dispatch.matching.budget import WorkClock
from dispatch.matching.fleet import fleet_capable, insert_cheapest, insertion_costs, removal_gains
from dispatch.matching.instance import Instance
from dispatch.matching.pairs import Pairs
from dispatch.matching.plan import Plan, plan_cost_exact
from dispatch.matching.routing_search import route_group
from dispatch.matching.tuning import MatcherTuning


def drivers_vs_fleet(
    instance: Instance,
    pairs: Pairs,
    plan: Plan,
    plan_cost: float,
    finish_by: float,
    clock: WorkClock,
    rng: np.random.Generator,
    *,
    tuning: MatcherTuning,
) -> tuple[Plan, float]:
    """Drivers vs fleet, back and forth: reassign with the current routes' marginal costs, re-route the fleet.

    For one-order trips only (then the assignment is exact for the trips' side).
    """
    rounds_tuning = tuning.drivers_vs_fleet
    skip = instance.skip_cost()
    capable = fleet_capable(instance)
    best, best_cost = plan, plan_cost
    rounds = 0
    while clock.now() < finish_by - 0.02 and not clock.expired():
        clock.charge(rounds_tuning.round_seconds + rounds_tuning.round_seconds_per_pair * len(pairs.trip))
        base_routes = best.fleet_routes
        in_fleet = np.zeros(instance.order_count, dtype=np.bool_)
        for route in base_routes:
            in_fleet[route] = True
        estimate = np.full(instance.order_count, np.inf)
        gains = removal_gains(instance, base_routes)
        estimate[in_fleet] = gains[in_fleet]
        outside = capable[~in_fleet[capable]]
        if len(outside):
            estimate[outside] = insertion_costs(instance, base_routes, outside)
        factor = 1.0 if rounds == 0 else float(rng.uniform(*rounds_tuning.perturbation))
        alternative = skip.copy()
        alternative[capable] = np.minimum(skip[capable], factor * estimate[capable])
        assigned = assign_one_per_trip(
            instance.order_count, instance.trip_count, pairs.trip, pairs.order, pairs.cost, alternative
        )
        to_fleet = capable[(assigned[capable] < 0) & (alternative[capable] < skip[capable])]
        to_fleet = np.union1d(to_fleet, np.flatnonzero((assigned < 0) & instance.must_serve))
        keep = np.zeros(instance.order_count, dtype=np.bool_)
        keep[to_fleet] = True
        routes = [[o for o in route if keep[o]] for route in base_routes]
        routes = [r for r in routes if r]
        placed = np.zeros(instance.order_count, dtype=np.bool_)
        for route in routes:
            placed[route] = True
        routes = insert_cheapest(instance, routes, [int(o) for o in to_fleet if not placed[o]])
        candidate = Plan({int(assigned[o]): [o] for o in np.flatnonzero(assigned >= 0).tolist()}, routes)
        left = finish_by - clock.now()
        share = min(
            rounds_tuning.max_reroute_seconds,
            max(rounds_tuning.min_reroute_seconds, rounds_tuning.reroute_share * left),
        )
        rerouted = route_group(
            instance,
            pairs,
            to_fleet,
            np.zeros(0, dtype=np.int64),
            len(routes) + 2,
            Plan({}, routes),
            share,
            clock,
            tuning=tuning.routing,
        )
        if rerouted is not None:
            candidate = Plan(candidate.trip_routes, rerouted.fleet_routes)
        cost = plan_cost_exact(instance, candidate)
        if cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
            best, best_cost = candidate, cost
        rounds += 1
    return best, best_cost
