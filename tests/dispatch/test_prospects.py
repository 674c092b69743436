"""An order's prospects: the recent check-ins that could have taken it say how likely a later trip is, and
leaving it costs accordingly; a batch hands that cost to the matcher, so a scarce order gets the trip."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from crowdship.units import Cents
from dispatch.batching import BatchParameters, TripCandidate, build_match_problem
from dispatch.matching import parse_problem, solve
from dispatch.model import Order, Shopper, Store, Trip
from dispatch.prospects import ProspectTerms, order_prospects
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
STORE = Store("S", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
PARAMETERS = BatchParameters(
    road_factor=1.3,
    speed_km_per_min=0.5,
    max_bundle_orders=1,
    tier_value_caps_cents={0: None},
    own_address_radius_m=100,
    compensation_cents_per_km=60,
    compensation_minimum_cents=150,
    offer_ttl=timedelta(seconds=60),
)
NORTH = GeoPoint(30.50, -84.2211)
"""A home 4 km due north of the store: orders on the way there are on a passing trip's way."""
TERMS = ProspectTerms(lookback=timedelta(hours=1), take_rate=0.5, later_reward_cents=300)


def _order(at: GeoPoint, *, deadline_in: timedelta = timedelta(hours=2), size: int = 1) -> Order:
    return Order(
        store_id=STORE.id,
        external_ref=f"W{uuid4().hex[:6]}",
        dropoff=at,
        dropoff_address="1 Main St",
        recipient_name="Jo Doe",
        window_earliest=NOW - timedelta(minutes=5),
        window_latest=NOW + deadline_in + timedelta(minutes=30),
        dispatch_deadline=NOW + deadline_in,
        size_bags=size,
        value_cents=Cents(2_000),
        created_at=NOW,
    )


def _trip(home: GeoPoint, *, minutes_ago: float = 10, capacity: int = 3, detour_m: int = 1_500) -> Trip:
    checked_in = NOW - timedelta(minutes=minutes_ago)
    return Trip(
        shopper_id=uuid4(),
        store_id=STORE.id,
        destination=home,
        capacity_bags=capacity,
        checked_in_at=checked_in,
        leave_by=checked_in + timedelta(hours=1),
        max_detour_m=detour_m,
    )


ON_THE_WAY = GeoPoint(30.48, -84.2211)
"""Straight between the store and NORTH: no detour for a trip home there."""
FAR_EAST = GeoPoint(30.4627, -84.10)
"""12 km east: no trip home to the north passes within its detour."""


def test_an_order_on_the_way_of_recent_check_ins_is_likely_taken_later_and_waiting_costs_less() -> None:
    """Four passing check-ins in the last hour, two hours left: 8 expected, q = 1 - exp(-0.5 * 8)."""
    near, far = _order(ON_THE_WAY), _order(FAR_EAST)
    recent = [_trip(NORTH, minutes_ago=m) for m in (5, 20, 35, 50)]
    prospects = order_prospects(
        store=STORE, orders=[near, far], recent_trips=recent, now=NOW, parameters=PARAMETERS, terms=TERMS
    )
    q = 1 - math.exp(-0.5 * 8)
    assert prospects[near.id].passing_per_hour == pytest.approx(4.0)
    assert prospects[near.id].expected_passing == pytest.approx(8.0)
    assert prospects[near.id].chance_taken_later == pytest.approx(q)
    assert prospects[near.id].waiting_cost_cents == pytest.approx(q * 300 + (1 - q) * 899)
    assert prospects[far.id].chance_taken_later == 0.0
    assert prospects[far.id].waiting_cost_cents == pytest.approx(899.0)


def test_only_check_ins_within_the_look_back_that_could_carry_the_order_count() -> None:
    """Too old, in the future, too small for the bags or with too short a detour limit: not supply."""
    order = _order(GeoPoint(30.48, -84.23), size=2)  # ~0.85 km off the straight way north: ~0.45 km detour
    recent = [
        _trip(NORTH, minutes_ago=10),
        _trip(NORTH, minutes_ago=70),
        _trip(NORTH, minutes_ago=-5),
        _trip(NORTH, capacity=1),
        _trip(NORTH, detour_m=200),
    ]
    prospects = order_prospects(
        store=STORE, orders=[order], recent_trips=recent, now=NOW, parameters=PARAMETERS, terms=TERMS
    )
    assert prospects[order.id].passing_per_hour == pytest.approx(1.0)


def test_without_recent_check_ins_or_time_left_an_order_costs_its_full_fallback() -> None:
    """A store's first hour, or an order at its deadline: nothing to wait for."""
    order, due = _order(ON_THE_WAY), _order(ON_THE_WAY, deadline_in=timedelta(0))
    none = order_prospects(store=STORE, orders=[order], recent_trips=[], now=NOW, parameters=PARAMETERS, terms=TERMS)
    at_deadline = order_prospects(
        store=STORE, orders=[due], recent_trips=[_trip(NORTH)], now=NOW, parameters=PARAMETERS, terms=TERMS
    )
    assert none[order.id].waiting_cost_cents == pytest.approx(899.0)
    assert at_deadline[due.id].waiting_cost_cents == pytest.approx(899.0)


def test_a_later_reward_above_the_fallback_never_makes_waiting_dearer_than_the_fallback() -> None:
    order = _order(ON_THE_WAY)
    terms = ProspectTerms(take_rate=5.0, later_reward_cents=5_000)
    prospects = order_prospects(
        store=STORE, orders=[order], recent_trips=[_trip(NORTH)], now=NOW, parameters=PARAMETERS, terms=terms
    )
    assert prospects[order.id].waiting_cost_cents == pytest.approx(899.0)


@pytest.mark.parametrize("bad", [{"lookback": timedelta(0)}, {"take_rate": -1.0}, {"later_reward_cents": -1}])
def test_terms_out_of_range_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ProspectTerms(**bad)  # type: ignore[arg-type]


def test_the_batch_gives_the_one_trip_to_the_scarce_order_once_waiting_is_priced() -> None:
    """One trip home to the north can take either order for the same price (both within the reward's
    minimum); both cost the full fallback alone, so either will do. With prospects, the order that many
    recent check-ins pass waits for them and the one nobody else passes rides now."""
    plentiful = _order(ON_THE_WAY)
    scarce = _order(GeoPoint(30.48, -84.2311))  # ~1 km west of the way north: only a generous detour
    shopper = Shopper("A")
    trip = _trip(NORTH, minutes_ago=0, detour_m=2_500)
    candidate = TripCandidate(trip, shopper, 3)
    recent = [_trip(NORTH, minutes_ago=m, detour_m=500) for m in (5, 15, 25, 35, 45, 55)]
    orders = [plentiful, scarce]
    prospects = order_prospects(
        store=STORE, orders=orders, recent_trips=recent, now=NOW, parameters=PARAMETERS, terms=TERMS
    )
    assert prospects[scarce.id].chance_taken_later == 0.0
    assert prospects[plentiful.id].chance_taken_later > 0.99

    def taken(waiting: dict[object, float] | None) -> list[str]:
        problem = build_match_problem(
            store=STORE, orders=orders, trips=[candidate], excluded=set(), now=NOW, parameters=PARAMETERS,
            waiting_costs=waiting,  # type: ignore[arg-type]
        )  # fmt: skip
        solution = solve(parse_problem(problem), time_limit=0.5)
        return [order_id for assignment in solution.trips for order_id in assignment.order_ids]

    with_prospects = taken({order_id: p.waiting_cost_cents for order_id, p in prospects.items()})
    assert with_prospects == [str(scarce.id)]
    problem = build_match_problem(
        store=STORE, orders=orders, trips=[candidate], excluded=set(), now=NOW, parameters=PARAMETERS,
        waiting_costs={plentiful.id: 420.0},
    )  # fmt: skip
    fallbacks = {order["id"]: order.get("fallback_cost") for order in problem["orders"]}
    assert fallbacks == {str(plentiful.id): 420.0, str(scarce.id): None}
    assert problem["fallback_cost"] == 899
