"""A plan: which trip carries which orders in which sequence, and the fleet's routes; and its exact price.

Every step of the pipeline hands plans to the next; a plan found by any engine is kept only once
`plan_cost_exact` (the instance's exact route checks) says it is feasible and cheaper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dispatch.matching.instance import Instance


@dataclass
class Plan:
    """Who serves which order: trip index → stops, fleet routes; every other order is left out."""

    trip_routes: dict[int, list[int]] = field(default_factory=dict)
    fleet_routes: list[list[int]] = field(default_factory=list)

    def copy(self) -> Plan:
        return Plan({t: list(s) for t, s in self.trip_routes.items()}, [list(r) for r in self.fleet_routes])


def plan_cost_exact(instance: Instance, plan: Plan) -> float:
    """The plan's objective in exact arithmetic; inf if any route breaks a rule."""
    served = np.zeros(instance.order_count, dtype=np.bool_)
    total = 0.0
    for trip, stops in plan.trip_routes.items():
        route = instance.trip_route(trip, stops)
        if route is None:
            return math.inf
        total += route.cost
        served[stops] = True
    fleet = instance.problem.fleet
    used = [r for r in plan.fleet_routes if r]
    if used and (fleet is None or (fleet.vehicles is not None and len(used) > fleet.vehicles)):
        return math.inf
    for stops in used:
        cost = instance.fleet_route(stops)
        if cost is None:
            return math.inf
        total += cost
        served[stops] = True
    return total + float(instance.skip_cost()[~served].sum())
