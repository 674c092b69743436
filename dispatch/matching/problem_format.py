"""The `crowdship-match/1` file format of a `MatchProblem`: read strictly, written back.

Parsing is strict and names the offending field (`orders[3].window`), because these files come from
outside the service (benchmarks, other solvers, people) and a silent default would change the answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from crowdship.errors import InvalidInput
from dispatch.matching.acceptance import acceptance_to_json, parse_acceptance
from dispatch.matching.problem import (
    Candidate,
    Compensation,
    Fleet,
    MatchOrder,
    MatchProblem,
    MatchTrip,
    Metric,
    Point,
    Store,
)
from dispatch.matching.reward_rule import parse_reward_terms, reward_terms_to_json

PROBLEM_FORMAT = "crowdship-match/1"


# --- parsing -------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, field: str, *, minimum: float | None = None, strict_minimum: bool = False) -> float:
    if not _is_number(value) or not math.isfinite(float(value)):
        raise InvalidInput(field, f"expected a finite number, got {value!r}")
    number = float(value)
    if minimum is not None and (number < minimum or (strict_minimum and number <= minimum)):
        relation = ">" if strict_minimum else ">="
        raise InvalidInput(field, f"must be {relation} {minimum:g}, got {number:g}")
    return number


def _optional_number(
    data: Mapping[str, Any], key: str, field: str, *, minimum: float | None = None, strict_minimum: bool = False
) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    return _number(value, field, minimum=minimum, strict_minimum=strict_minimum)


def _integer(value: Any, field: str, *, minimum: int) -> int:
    if not _is_number(value) or float(value) != int(value):
        raise InvalidInput(field, f"expected an integer, got {value!r}")
    number = int(value)
    if number < minimum:
        raise InvalidInput(field, f"must be >= {minimum}, got {number}")
    return number


def _optional_integer(data: Mapping[str, Any], key: str, field: str, *, minimum: int) -> int | None:
    value = data.get(key)
    return None if value is None else _integer(value, field, minimum=minimum)


def _boolean(data: Mapping[str, Any], key: str, field: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(field, f"expected true or false, got {value!r}")
    return value


def _identifier(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise InvalidInput(field, f"expected a non-empty string id, got {value!r}")
    return str(value)


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(field, f"expected an object, got {_json_kind(value)}")
    return value


def _list(value: Any, field: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidInput(field, f"expected a list, got {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    """What the file held, in JSON's words ("missing" for a field it did not have)."""
    if value is None:
        return "nothing (missing or null)"
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"), (list | tuple, "a list"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "an object")


def _point(value: Any, field: str, metric: Metric) -> Point:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidInput(field, f"expected a pair of numbers, got {value!r}")
    first = _number(value[0], field)
    second = _number(value[1], field)
    if metric == "haversine" and (abs(first) > 90 or abs(second) > 180):
        raise InvalidInput(field, f"not a valid [lat, lon] (latitude first): {[first, second]}")
    return (first, second)


def _reject_unknown(data: Mapping[str, Any], known: frozenset[str], field: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(f"{field}.{unknown[0]}" if field else unknown[0], "unknown field")


_PROBLEM_KEYS = frozenset(
    {
        "format",
        "metric",
        "road_factor",
        "speed",
        "store",
        "orders",
        "trips",
        "fleet",
        "fallback_cost",
        "name",
        "acceptance",
    }
)
_ORDER_KEYS = frozenset({"id", "location", "size", "window", "fallback_cost", "value_cents", "requires_id_check"})
_TRIP_KEYS = frozenset(
    {
        "id", "destination", "max_orders", "capacity", "max_detour_ratio", "max_route", "depart",
        "id_verified", "value_limit_cents", "compensation", "candidates", "wait_at_doors",
    }
)  # fmt: skip
_FLEET_KEYS = frozenset({"vehicles", "capacity", "cost_per_distance", "fixed_cost"})


def _parse_compensation(value: Any, field: str) -> Compensation | None:
    if value is None:
        return None
    data = _mapping(value, field)
    rule = data.get("rule")
    if rule == "detour":
        _reject_unknown(data, frozenset({"rule", "rate", "minimum"}), field)
        return Compensation(
            "detour",
            rate=_number(data.get("rate"), f"{field}.rate", minimum=0),
            minimum=_optional_number(data, "minimum", f"{field}.minimum", minimum=0) or 0.0,
        )
    if rule == "store_distance":
        _reject_unknown(data, frozenset({"rule", "rate"}), field)
        return Compensation("store_distance", rate=_number(data.get("rate"), f"{field}.rate", minimum=0))
    if rule == "fixed":
        _reject_unknown(data, frozenset({"rule", "amount"}), field)
        return Compensation("fixed", amount=_number(data.get("amount"), f"{field}.amount", minimum=0))
    if rule == "reward":
        return Compensation("reward", reward=parse_reward_terms(data, field))
    raise InvalidInput(f"{field}.rule", f"expected detour, store_distance, fixed or reward, got {rule!r}")


def _parse_order(value: Any, field: str, metric: Metric) -> MatchOrder:
    data = _mapping(value, field)
    _reject_unknown(data, _ORDER_KEYS, field)
    window: tuple[float, float] | None = None
    if data.get("window") is not None:
        raw = data["window"]
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            raise InvalidInput(f"{field}.window", f"expected [earliest, latest], got {raw!r}")
        earliest = _number(raw[0], f"{field}.window")
        latest = _number(raw[1], f"{field}.window")
        if earliest > latest:
            raise InvalidInput(f"{field}.window", f"earliest {earliest:g} is after latest {latest:g}")
        window = (earliest, latest)
    size = data.get("size")
    return MatchOrder(
        id=_identifier(data.get("id"), f"{field}.id"),
        location=_point(data.get("location"), f"{field}.location", metric),
        size=1.0 if size is None else _number(size, f"{field}.size", minimum=0),
        window=window,
        fallback_cost=_optional_number(data, "fallback_cost", f"{field}.fallback_cost", minimum=0),
        value_cents=_optional_integer(data, "value_cents", f"{field}.value_cents", minimum=0),
        requires_id_check=_boolean(data, "requires_id_check", f"{field}.requires_id_check", False),
    )


def _parse_candidates(value: Any, field: str, order_ids: set[str]) -> tuple[Candidate, ...] | None:
    if value is None:
        return None
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for index, item in enumerate(_list(value, field)):
        item_field = f"{field}[{index}]"
        data = _mapping(item, item_field)
        _reject_unknown(data, frozenset({"order", "compensation"}), item_field)
        order = _identifier(data.get("order"), f"{item_field}.order")
        if order not in order_ids:
            raise InvalidInput(f"{item_field}.order", f"unknown order {order!r}")
        if order in seen:
            raise InvalidInput(f"{item_field}.order", f"order {order!r} listed twice")
        seen.add(order)
        compensation = _optional_number(data, "compensation", f"{item_field}.compensation", minimum=0)
        candidates.append(Candidate(order, compensation))
    return tuple(candidates)


def _parse_trip(value: Any, field: str, metric: Metric, order_ids: set[str]) -> MatchTrip:
    data = _mapping(value, field)
    _reject_unknown(data, _TRIP_KEYS, field)
    max_orders = _optional_integer(data, "max_orders", f"{field}.max_orders", minimum=0)
    return MatchTrip(
        id=_identifier(data.get("id"), f"{field}.id"),
        destination=_point(data.get("destination"), f"{field}.destination", metric),
        max_orders=1 if max_orders is None else max_orders,
        capacity=_optional_number(data, "capacity", f"{field}.capacity", minimum=0),
        max_detour_ratio=_optional_number(data, "max_detour_ratio", f"{field}.max_detour_ratio", minimum=1),
        max_route=_optional_number(data, "max_route", f"{field}.max_route", minimum=0),
        depart=_optional_number(data, "depart", f"{field}.depart") or 0.0,
        id_verified=_boolean(data, "id_verified", f"{field}.id_verified", True),
        value_limit_cents=_optional_integer(data, "value_limit_cents", f"{field}.value_limit_cents", minimum=0),
        compensation=_parse_compensation(data.get("compensation"), f"{field}.compensation"),
        candidates=_parse_candidates(data.get("candidates"), f"{field}.candidates", order_ids),
        wait_at_doors=_boolean(data, "wait_at_doors", f"{field}.wait_at_doors", True),
    )


def _parse_fleet(value: Any) -> Fleet | None:
    if value is None:
        return None
    data = _mapping(value, "fleet")
    _reject_unknown(data, _FLEET_KEYS, "fleet")
    cost = _optional_number(data, "cost_per_distance", "fleet.cost_per_distance", minimum=0)
    fixed = _optional_number(data, "fixed_cost", "fleet.fixed_cost", minimum=0)
    return Fleet(
        vehicles=_optional_integer(data, "vehicles", "fleet.vehicles", minimum=0),
        capacity=_optional_number(data, "capacity", "fleet.capacity", minimum=0),
        cost_per_distance=1.0 if cost is None else cost,
        fixed_cost=0.0 if fixed is None else fixed,
    )


def parse_problem(data: Mapping[str, Any]) -> MatchProblem:
    """The problem in `data` (parsed JSON), or `InvalidInput` naming the first bad field."""
    data = _mapping(data, "problem")
    if set(data) - _PROBLEM_KEYS and not {"format", "store", "orders", "trips"} & set(data):  # another file
        raise InvalidInput("format", f"not a {PROBLEM_FORMAT} problem: it has no format, store, orders or trips")
    _reject_unknown(data, _PROBLEM_KEYS, "")
    if data.get("format", PROBLEM_FORMAT) != PROBLEM_FORMAT:
        raise InvalidInput("format", f"expected {PROBLEM_FORMAT!r}, got {data.get('format')!r}")
    metric = data.get("metric", "euclidean")
    if metric not in ("euclidean", "haversine"):
        raise InvalidInput("metric", f"expected euclidean or haversine, got {metric!r}")
    road_factor = _optional_number(data, "road_factor", "road_factor", minimum=0, strict_minimum=True)
    speed = _optional_number(data, "speed", "speed", minimum=0, strict_minimum=True)
    store_data = _mapping(data.get("store"), "store")
    _reject_unknown(store_data, frozenset({"id", "location"}), "store")
    store = Store(
        id=_identifier(store_data.get("id", "store"), "store.id"),
        location=_point(store_data.get("location"), "store.location", metric),
    )
    orders: list[MatchOrder] = []
    order_ids: set[str] = set()
    for index, item in enumerate(_list(data.get("orders", []), "orders")):
        order = _parse_order(item, f"orders[{index}]", metric)
        if order.id in order_ids:
            raise InvalidInput(f"orders[{index}].id", f"duplicate order id {order.id!r}")
        order_ids.add(order.id)
        orders.append(order)
    trips: list[MatchTrip] = []
    trip_ids: set[str] = set()
    for index, item in enumerate(_list(data.get("trips", []), "trips")):
        trip = _parse_trip(item, f"trips[{index}]", metric, order_ids)
        if trip.id in trip_ids:
            raise InvalidInput(f"trips[{index}].id", f"duplicate trip id {trip.id!r}")
        trip_ids.add(trip.id)
        trips.append(trip)
    return MatchProblem(
        store=store,
        orders=tuple(orders),
        trips=tuple(trips),
        metric=metric,
        road_factor=1.0 if road_factor is None else road_factor,
        speed=0.5 if speed is None else speed,
        fleet=_parse_fleet(data.get("fleet")),
        fallback_cost=_optional_number(data, "fallback_cost", "fallback_cost", minimum=0),
        acceptance=parse_acceptance(data.get("acceptance"), trip_ids),
    )


# --- serialising ---------------------------------------------------------------------------------------


def _compensation_to_json(compensation: Compensation | None) -> dict[str, Any] | None:
    if compensation is None:
        return None
    if compensation.rule == "detour":
        return {"rule": "detour", "rate": compensation.rate, "minimum": compensation.minimum}
    if compensation.rule == "store_distance":
        return {"rule": "store_distance", "rate": compensation.rate}
    if compensation.reward is not None:
        return reward_terms_to_json(compensation.reward)
    return {"rule": "fixed", "amount": compensation.amount}


def problem_to_json(problem: MatchProblem) -> dict[str, Any]:
    """The problem in the spec's format; `parse_problem(problem_to_json(p)) == p`."""
    fleet = problem.fleet
    written = {
        "format": PROBLEM_FORMAT,
        "metric": problem.metric,
        "road_factor": problem.road_factor,
        "speed": problem.speed,
        "store": {"id": problem.store.id, "location": list(problem.store.location)},
        "orders": [
            {
                "id": order.id,
                "location": list(order.location),
                "size": order.size,
                "window": None if order.window is None else list(order.window),
                "fallback_cost": order.fallback_cost,
                "value_cents": order.value_cents,
                "requires_id_check": order.requires_id_check,
            }
            for order in problem.orders
        ],
        "trips": [
            {
                "id": trip.id,
                "destination": list(trip.destination),
                "max_orders": trip.max_orders,
                "capacity": trip.capacity,
                "max_detour_ratio": trip.max_detour_ratio,
                "max_route": trip.max_route,
                "depart": trip.depart,
                "id_verified": trip.id_verified,
                "value_limit_cents": trip.value_limit_cents,
                "compensation": _compensation_to_json(trip.compensation),
                "candidates": None
                if trip.candidates is None
                else [
                    {"order": c.order, "compensation": c.compensation}
                    if c.compensation is not None
                    else {"order": c.order}
                    for c in trip.candidates
                ],
                "wait_at_doors": trip.wait_at_doors,
            }
            for trip in problem.trips
        ],
        "fleet": None
        if fleet is None
        else {
            "vehicles": fleet.vehicles,
            "capacity": fleet.capacity,
            "cost_per_distance": fleet.cost_per_distance,
            "fixed_cost": fleet.fixed_cost,
        },
        "fallback_cost": problem.fallback_cost,
    }
    if problem.acceptance is not None:
        written["acceptance"] = acceptance_to_json(problem.acceptance)
    return written
