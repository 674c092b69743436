"""The matcher's optional acceptance input: each trip's chance of saying yes, and the expected cost of a route.

Shoppers decline. With an `acceptance` section in the problem, the cost of offering route r to trip t is
what the company expects to pay, not what it pays if the shopper says yes:

    p(t, r) * compensation(r) + (1 - p(t, r)) * sum over orders i of r of (skip cost of i + decline_penalty)

A declined order is back where it would have been had it not been offered (its skip cost: the fallback,
or waiting for the next batch), plus a penalty for the time lost and the trip tied up meanwhile.

With `decline: "reoffer"` a declined route is instead expected to be re-offered and paid about the same
later, so it costs its compensation plus the penalty per order: `compensation + (1 - p) * penalty * |r|`.
A likely "no" then costs a bounded extra instead of scaling down the whole saving of the route, which
would push orders that only a few unlikely shoppers can reach to the back of every batch. p is
logistic in the route's own figures, so the search can weigh every route it builds:

    p = sigmoid(intercept + per_reward * compensation + per_detour * detour + per_extra_stop * (|r| - 1)
          + per_size * total size)

Trips the section does not list accept for certain (p = 1), so their cost is the compensation, exactly as
without the section; without the section nothing here runs and every solution is the same as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from crowdship.errors import InvalidInput

DeclineRule = Literal["fallback", "reoffer"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_COEFFICIENT = 1e6
"""Coefficients beyond this are refused: no real model needs them, and they only overflow."""


@dataclass(frozen=True)
class TripAcceptance:
    """One trip's logistic acceptance over a route's compensation, detour, extra stops and total size."""

    trip: str
    intercept: float
    per_reward: float = 0.0
    per_detour: float = 0.0
    per_extra_stop: float = 0.0
    per_size: float = 0.0


@dataclass(frozen=True)
class Acceptance:
    trips: tuple[TripAcceptance, ...]
    decline_penalty: float = 0.0
    """Per order of a declined offer, on top of its skip cost (problem money units)."""
    decline: DeclineRule = "fallback"
    """What a declined route costs: its orders' skip costs (`fallback`) or its compensation (`reoffer`),
    plus the penalty per order either way."""

    def for_trip(self, trip_id: str) -> TripAcceptance | None:
        return next((item for item in self.trips if item.trip == trip_id), None)


def sigmoid(score: FloatArray | float) -> FloatArray:
    """1 / (1 + exp(-score)) without overflow for large |score|."""
    value = np.asarray(score, dtype=np.float64)
    result: FloatArray = np.where(
        value >= 0, 1.0 / (1.0 + np.exp(-np.abs(value))), np.exp(-np.abs(value)) / (1.0 + np.exp(-np.abs(value)))
    )
    return result


def acceptance_probability(terms: TripAcceptance, compensation: float, detour: float, stops: int, size: float) -> float:
    """p of one trip accepting one route (the referee's scalar form of `AcceptanceArrays.probability`)."""
    score = (
        terms.intercept
        + terms.per_reward * compensation
        + terms.per_detour * detour
        + terms.per_extra_stop * max(0, stops - 1)
        + terms.per_size * size
    )
    return float(sigmoid(score))


def expected_route_cost(probability: float, compensation: float, decline_cost: float) -> float:
    """`decline_cost`: what the route's orders cost when the shopper says no (see the module)."""
    return probability * compensation + (1.0 - probability) * decline_cost


@dataclass(frozen=True)
class AcceptanceArrays:
    """The section as arrays over trips (index order of the problem); unlisted trips accept for certain."""

    listed: npt.NDArray[np.bool_]
    intercept: FloatArray
    per_reward: FloatArray
    per_detour: FloatArray
    per_extra_stop: FloatArray
    per_size: FloatArray
    decline_per_order: FloatArray
    """Per order: its skip cost (0 when it has none; not counted when re-offered) plus the decline penalty."""
    reoffer: bool = False
    """A declined route costs its compensation again (plus the penalties), not its orders' skip costs."""

    def probability(
        self, trip: IntArray, compensation: FloatArray, detour: FloatArray, stops: IntArray, size: FloatArray
    ) -> FloatArray:
        score = (
            self.intercept[trip]
            + self.per_reward[trip] * compensation
            + self.per_detour[trip] * detour
            + self.per_extra_stop[trip] * np.maximum(0, stops - 1)
            + self.per_size[trip] * size
        )
        probability: FloatArray = np.where(self.listed[trip], sigmoid(score), 1.0)
        return probability

    def expected_cost(
        self,
        trip: IntArray,
        compensation: FloatArray,
        detour: FloatArray,
        stops: IntArray,
        size: FloatArray,
        decline: FloatArray,
    ) -> FloatArray:
        """p * compensation + (1 - p) * decline, per route; `decline` is the sum of `decline_per_order`."""
        p = self.probability(trip, compensation, detour, stops, size)
        if self.reoffer:
            decline = decline + compensation
        cost: FloatArray = np.where(self.listed[trip], p * compensation + (1.0 - p) * decline, compensation)
        return cost

    def route_cost(self, trip: int, compensation: float, detour: float, stops: Sequence[int], size: float) -> float:
        """The exact (scalar) expected cost of one route; its compensation when the trip is not listed."""
        if not stops or not bool(self.listed[trip]):
            return compensation
        score = (
            float(self.intercept[trip])
            + float(self.per_reward[trip]) * compensation
            + float(self.per_detour[trip]) * detour
            + float(self.per_extra_stop[trip]) * (len(stops) - 1)
            + float(self.per_size[trip]) * size
        )
        p = float(sigmoid(score))
        decline = float(sum(float(self.decline_per_order[o]) for o in stops))
        return expected_route_cost(p, compensation, decline + (compensation if self.reoffer else 0.0))


def acceptance_arrays(acceptance: Acceptance, trip_ids: Sequence[str], skip_cost: FloatArray) -> AcceptanceArrays:
    """`skip_cost`: each order's cost of being left out (inf for must-serve orders, counted as 0 here)."""
    m = len(trip_ids)
    by_trip = {item.trip: item for item in acceptance.trips}
    rows = [by_trip.get(trip_id) for trip_id in trip_ids]

    def column(name: str) -> FloatArray:
        return np.array([0.0 if row is None else float(getattr(row, name)) for row in rows], dtype=np.float64)

    finite_skip = np.where(np.isfinite(skip_cost), skip_cost, 0.0)
    return AcceptanceArrays(
        listed=np.array([row is not None for row in rows], dtype=np.bool_).reshape(m),
        intercept=column("intercept"),
        per_reward=column("per_reward"),
        per_detour=column("per_detour"),
        per_extra_stop=column("per_extra_stop"),
        per_size=column("per_size"),
        decline_per_order=(np.zeros_like(finite_skip) if acceptance.decline == "reoffer" else finite_skip)
        + acceptance.decline_penalty,
        reoffer=acceptance.decline == "reoffer",
    )


# --- the file format -----------------------------------------------------------------------------------

_TERMS = ("intercept", "per_reward", "per_detour", "per_extra_stop", "per_size")


def _coefficient(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise InvalidInput(field, f"expected a finite number, got {value!r}")
    if abs(float(value)) > MAX_COEFFICIENT:
        raise InvalidInput(field, f"must be within ±{MAX_COEFFICIENT:g}, got {float(value):g}")
    return float(value)


def parse_acceptance(value: Any, trip_ids: set[str]) -> Acceptance | None:
    """The problem's `acceptance` section, or `InvalidInput` naming the bad field (None: no section)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("acceptance", f"expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - {"trips", "decline_penalty", "decline"})
    if unknown:
        raise InvalidInput(f"acceptance.{unknown[0]}", "unknown field")
    penalty = value.get("decline_penalty")
    decline_penalty = 0.0 if penalty is None else _coefficient(penalty, "acceptance.decline_penalty")
    if decline_penalty < 0:
        raise InvalidInput("acceptance.decline_penalty", f"must be >= 0, got {decline_penalty:g}")
    decline = value.get("decline", "fallback")
    if decline not in ("fallback", "reoffer"):
        raise InvalidInput("acceptance.decline", f"expected fallback or reoffer, got {decline!r}")
    raw_trips = value.get("trips", [])
    if not isinstance(raw_trips, list | tuple):
        raise InvalidInput("acceptance.trips", f"expected a list, got {type(raw_trips).__name__}")
    trips: list[TripAcceptance] = []
    seen: set[str] = set()
    for index, item in enumerate(raw_trips):
        field = f"acceptance.trips[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(field, f"expected an object, got {type(item).__name__}")
        extra = sorted(set(item) - {"trip", *_TERMS})
        if extra:
            raise InvalidInput(f"{field}.{extra[0]}", "unknown field")
        trip = item.get("trip")
        if isinstance(trip, bool) or not isinstance(trip, str | int) or str(trip) not in trip_ids:
            raise InvalidInput(f"{field}.trip", f"unknown trip {trip!r}")
        if str(trip) in seen:
            raise InvalidInput(f"{field}.trip", f"trip {trip!r} listed twice")
        seen.add(str(trip))
        if "intercept" not in item:
            raise InvalidInput(f"{field}.intercept", "required")
        terms = {name: _coefficient(item.get(name, 0.0), f"{field}.{name}") for name in _TERMS}
        trips.append(TripAcceptance(trip=str(trip), **terms))
    return Acceptance(trips=tuple(trips), decline_penalty=decline_penalty, decline=decline)


def acceptance_to_json(acceptance: Acceptance) -> dict[str, Any]:
    return {
        "decline_penalty": acceptance.decline_penalty,
        "decline": acceptance.decline,
        "trips": [{"trip": item.trip, **{name: getattr(item, name) for name in _TERMS}} for item in acceptance.trips],
    }
