"""The problem as arrays for the solver, and exact route checks on the solver's side.

Every solver phase works in order and trip indices; ids only come back at the end. Route checks here are
the solver's own (the referee in `evaluate` is separate on purpose): a route produced by any engine is
accepted only after `trip_route` / `fleet_route` say it is feasible in exact arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dispatch.matching.acceptance import AcceptanceArrays, acceptance_arrays
from dispatch.matching.problem import Compensation, MatchProblem
from dispatch.matching.reward_rule import RewardTerms, approximate_rate, route_cost
from routing.distance import EARTH_MEAN_RADIUS_KM, euclidean_matrix, haversine_matrix
from routing.pruning import pairwise_distances

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TOLERANCE = 1e-9

RULE_NONE, RULE_DETOUR, RULE_STORE_DISTANCE, RULE_FIXED, RULE_REWARD = 0, 1, 2, 3, 4


def within(value: float, limit: float) -> bool:
    return value <= limit + TOLERANCE * max(1.0, abs(limit))


@dataclass(frozen=True)
class TripRoute:
    length: float
    detour: float
    compensation: float
    cost: float
    """What the route adds to the objective: its compensation, or its expected cost given acceptance."""


@dataclass
class Instance:
    """Arrays over orders (N) and trips (M); inf marks a limit that does not apply."""

    problem: MatchProblem
    store: FloatArray
    order_xy: FloatArray
    destination_xy: FloatArray
    size: FloatArray
    fallback: FloatArray  # nan: the order has no fallback cost
    must_serve: BoolArray  # no fallback cost and there is a fleet
    earliest: FloatArray
    latest: FloatArray
    store_to_order: FloatArray  # road distance
    direct: FloatArray  # road distance store → destination
    route_limit: FloatArray
    capacity: FloatArray
    max_orders: IntArray
    depart: FloatArray
    wait_at_doors: BoolArray  # False: the trip leaves later rather than wait at a door (the format's rule)
    rule: IntArray
    rate: FloatArray
    minimum: FloatArray
    amount: FloatArray
    explicit: list[dict[int, float] | None]  # per trip: listed order → its compensation (nan: by rule)
    reward_terms: list[RewardTerms | None]  # per trip: the `reward` rule's terms (its rate and minimum: linear)
    acceptance: AcceptanceArrays | None = None  # None: every offer is accepted (cost = compensation)

    @property
    def order_count(self) -> int:
        return int(self.order_xy.shape[0])

    @property
    def trip_count(self) -> int:
        return int(self.destination_xy.shape[0])

    @property
    def has_fleet(self) -> bool:
        return self.problem.fleet is not None

    def distances(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Road distance matrix between rows of a and rows of b."""
        if len(a) == 0 or len(b) == 0:
            return np.zeros((len(a), len(b)))
        matrix = haversine_matrix(a, b) if self.problem.metric == "haversine" else euclidean_matrix(a, b)
        return matrix * self.problem.road_factor

    def skip_cost(self) -> FloatArray:
        """What leaving each order off every trip and fleet costs (0 without fallback; inf if impossible)."""
        cost = np.where(np.isnan(self.fallback), 0.0, self.fallback)
        return np.where(self.must_serve, np.inf, cost)

    # --- exact route checks ------------------------------------------------------------------------

    def leg(self, a: FloatArray, b: FloatArray) -> float:
        """Road distance between two points, in scalar arithmetic (routes are short; numpy would be slower)."""
        if self.problem.metric == "euclidean":
            return math.hypot(float(a[0]) - float(b[0]), float(a[1]) - float(b[1])) * self.problem.road_factor
        lat1, lon1, lat2, lon2 = map(math.radians, (float(a[0]), float(a[1]), float(b[0]), float(b[1])))
        h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        return 2 * EARTH_MEAN_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, h)))) * self.problem.road_factor

    def _arrivals_ok(self, start: float, stops: Sequence[int], *, wait_at_doors: bool = True) -> bool:
        """Whether every stop is reached by its window's end: an early arrival waits at the door, or, without
        `wait_at_doors`, the departure is put off until the latest-opening window is met on arrival (the
        format's `wait_at_doors`), and every stop must still be reached in time."""
        clock = start
        position = self.store
        speed = self.problem.speed
        driven: list[float] = []
        for order in stops:
            clock += self.leg(position, self.order_xy[order]) / speed
            position = self.order_xy[order]
            if not within(clock, float(self.latest[order])):
                return False
            if wait_at_doors:
                clock = max(clock, float(self.earliest[order]))
            driven.append(clock)
        if wait_at_doors or not stops:
            return True
        later = max(0.0, *(float(self.earliest[o]) - arrival for o, arrival in zip(stops, driven, strict=True)))
        return all(within(arrival + later, float(self.latest[o])) for o, arrival in zip(stops, driven, strict=True))

    def pair_distances(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Road distance a[i] → b[i] for each row."""
        legs: FloatArray = pairwise_distances(self.problem.metric, a, b) * self.problem.road_factor
        return legs

    def path_length(self, points: Sequence[FloatArray]) -> float:
        return sum(self.leg(points[i], points[i + 1]) for i in range(len(points) - 1))

    def eligible(self, trip: int, order: int) -> bool:
        """The per-pair rules that do not depend on the route (the candidate pairs already passed them)."""
        listed = self.explicit[trip]
        return listed is None or order in listed

    def trip_route(self, trip: int, stops: Sequence[int]) -> TripRoute | None:
        """Length, detour and compensation of the trip visiting `stops` in order, or None if infeasible."""
        if len(stops) > int(self.max_orders[trip]):
            return None
        if not within(sum(float(self.size[o]) for o in stops), float(self.capacity[trip])):
            return None
        for order in stops:
            if not self.eligible(trip, order):
                return None
        length = self.path_length([self.store, *(self.order_xy[o] for o in stops), self.destination_xy[trip]])
        if not within(length, float(self.route_limit[trip])):
            return None
        if not self._arrivals_ok(float(self.depart[trip]), stops, wait_at_doors=bool(self.wait_at_doors[trip])):
            return None
        detour = max(0.0, length - float(self.direct[trip]))
        compensation = self.compensation(trip, stops, length)
        if self.acceptance is None:
            return TripRoute(length, detour, compensation, compensation)
        size = sum(float(self.size[o]) for o in stops)
        return TripRoute(
            length, detour, compensation, self.acceptance.route_cost(trip, compensation, detour, stops, size)
        )

    def compensation(self, trip: int, stops: Sequence[int], length: float) -> float:
        if not stops:
            return 0.0
        listed = self.explicit[trip]
        if len(stops) == 1 and listed is not None and not math.isnan(listed[stops[0]]):
            return listed[stops[0]]
        rule = int(self.rule[trip])
        if rule == RULE_DETOUR:
            return max(
                float(self.minimum[trip]) * len(stops), float(self.rate[trip]) * (length - float(self.direct[trip]))
            )
        if rule == RULE_STORE_DISTANCE:
            return float(self.rate[trip] * self.store_to_order[list(stops)].sum())
        if rule == RULE_FIXED:
            return float(self.amount[trip]) * len(stops)
        if rule == RULE_REWARD:
            return self.reward_cost(trip, stops, max(0.0, length - float(self.direct[trip])))
        return 0.0

    def reward_cost(self, trip: int, stops: Sequence[int], detour: float) -> float:
        terms = self.reward_terms[trip]
        assert terms is not None
        return route_cost(terms, [float(self.size[o]) for o in stops], detour, self.problem.speed)

    def fleet_route(self, stops: Sequence[int]) -> float | None:
        """Cost of one fleet vehicle visiting `stops`, or None if infeasible."""
        fleet = self.problem.fleet
        if fleet is None:
            return None
        if not stops:
            return 0.0
        if fleet.capacity is not None and not within(float(self.size[list(stops)].sum()), fleet.capacity):
            return None
        if not self._arrivals_ok(0.0, stops):
            return None
        points = [self.store, *(self.order_xy[o] for o in stops), self.store]
        return fleet.fixed_cost + fleet.cost_per_distance * self.path_length(points)


_RULES = {
    None: RULE_NONE,
    "detour": RULE_DETOUR,
    "store_distance": RULE_STORE_DISTANCE,
    "fixed": RULE_FIXED,
    "reward": RULE_REWARD,
}


def _linear(compensation: Compensation | None) -> tuple[float, float]:
    """A rule's rate and per-order minimum; the `reward` rule's linear approximation."""
    if compensation is None:
        return 0.0, 0.0
    if compensation.reward is not None:
        return approximate_rate(compensation.reward)
    return compensation.rate, compensation.minimum


def build_instance(problem: MatchProblem) -> Instance:
    n, m = len(problem.orders), len(problem.trips)
    store = np.asarray(problem.store.location, dtype=np.float64)
    order_xy = np.asarray([o.location for o in problem.orders], dtype=np.float64).reshape(n, 2)
    destination_xy = np.asarray([t.destination for t in problem.trips], dtype=np.float64).reshape(m, 2)
    fallback = np.array(
        [np.nan if (cost := problem.order_fallback(o)) is None else cost for o in problem.orders], dtype=np.float64
    )
    index_of = {order.id: index for index, order in enumerate(problem.orders)}
    instance = Instance(
        problem=problem,
        store=store,
        order_xy=order_xy,
        destination_xy=destination_xy,
        size=np.array([o.size for o in problem.orders], dtype=np.float64),
        fallback=fallback,
        must_serve=np.isnan(fallback) & (problem.fleet is not None),
        earliest=np.array([o.window[0] if o.window else -np.inf for o in problem.orders], dtype=np.float64),
        latest=np.array([o.window[1] if o.window else np.inf for o in problem.orders], dtype=np.float64),
        store_to_order=np.zeros(n),
        direct=np.zeros(m),
        route_limit=np.full(m, np.inf),
        capacity=np.array([np.inf if t.capacity is None else t.capacity for t in problem.trips], dtype=np.float64),
        max_orders=np.array([t.max_orders for t in problem.trips], dtype=np.int64),
        depart=np.array([t.depart for t in problem.trips], dtype=np.float64),
        wait_at_doors=np.array([t.wait_at_doors for t in problem.trips], dtype=np.bool_).reshape(m),
        rule=np.array(
            [_RULES[None if t.compensation is None else t.compensation.rule] for t in problem.trips],
            dtype=np.int64,
        ),
        rate=np.array([_linear(t.compensation)[0] for t in problem.trips], dtype=np.float64),
        minimum=np.array([_linear(t.compensation)[1] for t in problem.trips], dtype=np.float64),
        amount=np.array([t.compensation.amount if t.compensation else 0.0 for t in problem.trips]),
        explicit=[
            None
            if t.candidates is None
            else {index_of[c.order]: np.nan if c.compensation is None else c.compensation for c in t.candidates}
            for t in problem.trips
        ],
        reward_terms=[None if t.compensation is None else t.compensation.reward for t in problem.trips],
    )
    instance.store_to_order = instance.distances(store[None, :], order_xy)[0] if n else np.zeros(0)
    instance.direct = instance.distances(store[None, :], destination_xy)[0] if m else np.zeros(0)
    for t, trip in enumerate(problem.trips):
        limits = [np.inf]
        if trip.max_route is not None:
            limits.append(trip.max_route)
        if trip.max_detour_ratio is not None:
            limits.append(trip.max_detour_ratio * float(instance.direct[t]))
        instance.route_limit[t] = min(limits)
    if problem.acceptance is not None:
        instance.acceptance = acceptance_arrays(
            problem.acceptance, [trip.id for trip in problem.trips], instance.skip_cost()
        )
    return instance
