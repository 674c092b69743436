"""One batch of one store as the matcher sees it: its orders, shoppers' trips, fleet and prices.

Plain frozen values, built by `problem_format.parse_problem` from a `crowdship-match/1` file (or by the
service, through the same parser) and read by every step of the matcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dispatch.matching.acceptance import Acceptance
from dispatch.matching.reward_rule import RewardTerms

Metric = Literal["euclidean", "haversine"]
CompensationRule = Literal["detour", "store_distance", "fixed", "reward"]
Point = tuple[float, float]


@dataclass(frozen=True)
class Compensation:
    """What the company pays a shopper for the orders on their route (see the spec for each rule)."""

    rule: CompensationRule
    rate: float = 0.0
    minimum: float = 0.0
    amount: float = 0.0
    reward: RewardTerms | None = None
    """The `reward` rule's terms (a published reward policy's, see `reward_rule`)."""


@dataclass(frozen=True)
class Candidate:
    order: str
    compensation: float | None = None


@dataclass(frozen=True)
class MatchOrder:
    id: str
    location: Point
    size: float = 1.0
    window: tuple[float, float] | None = None
    fallback_cost: float | None = None
    value_cents: int | None = None
    requires_id_check: bool = False


@dataclass(frozen=True)
class MatchTrip:
    id: str
    destination: Point
    max_orders: int = 1
    capacity: float | None = None
    max_detour_ratio: float | None = None
    max_route: float | None = None
    depart: float = 0.0
    id_verified: bool = True
    value_limit_cents: int | None = None
    compensation: Compensation | None = None
    candidates: tuple[Candidate, ...] | None = None
    wait_at_doors: bool = True
    """False: the shopper never waits at a door for a window to open; they may leave the store later instead,
    and the route is feasible when one departure at or after `depart` reaches every stop inside its window."""


@dataclass(frozen=True)
class Fleet:
    vehicles: int | None = None
    capacity: float | None = None
    cost_per_distance: float = 1.0
    fixed_cost: float = 0.0


@dataclass(frozen=True)
class Store:
    """The store as the match file format knows it: an id and a point in the problem's own coordinates (planar
    or lat/lon), not `dispatch.model.Store`, so that the matcher runs on files with no service behind them."""

    id: str
    location: Point


@dataclass(frozen=True)
class MatchProblem:
    store: Store
    orders: tuple[MatchOrder, ...]
    trips: tuple[MatchTrip, ...]
    metric: Metric = "euclidean"
    road_factor: float = 1.0
    speed: float = 0.5
    fleet: Fleet | None = None
    fallback_cost: float | None = None
    acceptance: Acceptance | None = None
    """Optional: each trip's chance of accepting a route; the objective becomes the expected cost."""

    def order_fallback(self, order: MatchOrder) -> float | None:
        """The order's own fallback cost, else the top-level one (None: no fallback)."""
        return order.fallback_cost if order.fallback_cost is not None else self.fallback_cost
