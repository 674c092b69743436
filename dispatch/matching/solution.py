"""What the matcher decided, with the reasons a person (shopper, operator) would ask for."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dispatch.matching.evaluate import SOLUTION_FORMAT


class UnassignedReason(StrEnum):
    """Why an order did not go to any shopper trip in this batch."""

    NO_TRIP_WITHIN_DETOUR = "no_trip_within_detour"
    CAPACITY = "capacity"
    WINDOW = "window"
    ID_CHECK = "id_check"
    VALUE_LIMIT = "value_limit"
    NOT_A_CANDIDATE = "not_a_candidate"
    NO_TRIP_TAKES_ORDERS = "no_trip_takes_orders"
    BETTER_LEFT_FOR_FLEET = "better_left_for_fleet"
    BETTER_LEFT_FOR_FALLBACK = "better_left_for_fallback"
    NOT_EXAMINED = "not_examined_in_time"
    """A batch too large for the time limit: not every trip was checked against this order."""


REASON_TEXT: dict[UnassignedReason, str] = {
    UnassignedReason.NO_TRIP_WITHIN_DETOUR: "no trip passes close enough (every detour is too long)",
    UnassignedReason.CAPACITY: "no trip that passes has room for its bags",
    UnassignedReason.WINDOW: "no trip that passes reaches it within its delivery window or before its leave-by",
    UnassignedReason.ID_CHECK: "age-restricted, and no shopper that passes has had their identity checked",
    UnassignedReason.VALUE_LIMIT: "worth more than the trust tier of any shopper that passes allows",
    UnassignedReason.NOT_A_CANDIDATE: "no trip of the batch was a candidate for it",
    UnassignedReason.NO_TRIP_TAKES_ORDERS: "no shopper trip was open for orders",
    UnassignedReason.BETTER_LEFT_FOR_FLEET: "cheaper on the store's own fleet than with any shopper",
    UnassignedReason.BETTER_LEFT_FOR_FALLBACK: "cheaper with the courier fallback than with any shopper",
    UnassignedReason.NOT_EXAMINED: "the batch ran out of time before checking every trip against it",
}
"""Each reason in words, for the people who read it (operations, the console)."""


@dataclass(frozen=True)
class TripAssignment:
    """One shopper's offer: the stops in visiting order, the extra distance and what it pays."""

    trip_id: str
    order_ids: tuple[str, ...]
    route_length: float
    detour: float
    compensation: float


@dataclass(frozen=True)
class FleetRoute:
    order_ids: tuple[str, ...]
    length: float
    cost: float


@dataclass(frozen=True)
class MatchSolution:
    objective: float
    trips: tuple[TripAssignment, ...]
    fleet_routes: tuple[FleetRoute, ...]
    fallback: tuple[str, ...]
    unassigned: dict[str, UnassignedReason]
    stats: dict[str, Any] = field(default_factory=dict)


def solution_to_json(solution: MatchSolution) -> dict[str, Any]:
    """The spec's solution format; `assignments` and `unassigned` are the explanations on top."""
    return {
        "format": SOLUTION_FORMAT,
        "objective": solution.objective,
        "trips": {trip.trip_id: list(trip.order_ids) for trip in solution.trips},
        "fleet_routes": [list(route.order_ids) for route in solution.fleet_routes],
        "fallback": list(solution.fallback),
        "assignments": {
            trip.trip_id: {
                "orders": list(trip.order_ids),
                "route_length": trip.route_length,
                "detour": trip.detour,
                "compensation": trip.compensation,
            }
            for trip in solution.trips
        },
        "unassigned": {order_id: str(reason) for order_id, reason in solution.unassigned.items()},
        "stats": dict(solution.stats),
    }
