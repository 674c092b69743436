"""The batch in and out of the matcher's format: the problem carries every rule, and offers built from a
solution re-check them, dropping whatever breaks one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from crowdship.units import Cents
from dispatch.batch_offers import offers_from_solution, route_metrics
from dispatch.batching import BatchParameters, TripCandidate, build_match_problem, compensation_quote
from dispatch.matching import UnassignedReason
from dispatch.matching.reward_rule import RewardTerms
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from dispatch.offer_explanation import pending_reasons
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
STORE = Store("S", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
PARAMETERS = BatchParameters(
    road_factor=1.3,
    speed_km_per_min=0.5,
    max_bundle_orders=3,
    tier_value_caps_cents={0: 5_000, 1: 15_000, 2: 40_000, 3: None},
    own_address_radius_m=100,
    compensation_cents_per_km=60,
    compensation_minimum_cents=150,
    offer_ttl=timedelta(seconds=60),
)


def _order(lat: float, *, value: int = 2_000, size: int = 1, age: bool = False) -> Order:
    return Order(
        store_id=STORE.id,
        external_ref=f"W{uuid4().hex[:6]}",
        dropoff=GeoPoint(lat, -84.2211),
        dropoff_address="1 Main St",
        recipient_name="Jo Doe",
        window_earliest=NOW - timedelta(minutes=5),
        window_latest=NOW + timedelta(hours=2),
        dispatch_deadline=NOW + timedelta(hours=1),
        size_bags=size,
        value_cents=Cents(value),
        created_at=NOW,
        age_restricted=age,
    )


def _candidate(tier: TrustTier = TrustTier.SILVER, *, verified: bool = True, capacity: int = 3) -> TripCandidate:
    shopper = Shopper("A", trust_tier=tier, identity_verified=verified)
    trip = Trip(
        shopper_id=shopper.id,
        store_id=STORE.id,
        destination=GeoPoint(30.50, -84.2211),
        capacity_bags=capacity,
        checked_in_at=NOW,
        leave_by=NOW + timedelta(hours=1),
        max_detour_m=2_000,
    )
    return TripCandidate(trip, shopper, capacity)


def test_the_problem_carries_limits_windows_and_exclusions() -> None:
    """Haversine, minutes from now, route limit = direct + detour, tier cap and id flag; an excluded pair
    turns into a candidate list without it."""
    orders = [_order(30.47), _order(30.48)]
    candidate = _candidate(TrustTier.NEW, verified=False)
    problem = build_match_problem(
        store=STORE, orders=orders, trips=[candidate], excluded={(candidate.trip.id, orders[0].id)}, now=NOW,
        parameters=PARAMETERS,
    )  # fmt: skip
    (trip,) = problem["trips"]
    assert problem["metric"] == "haversine"
    assert problem["orders"][0]["window"] == [0.0, 120.0]
    assert trip["value_limit_cents"] == 5_000
    assert trip["id_verified"] is False
    assert trip["candidates"] == [{"order": str(orders[1].id)}]
    direct = route_metrics(STORE, candidate.trip, [], PARAMETERS).route_km
    assert abs(trip["max_route"] - (direct + 2.0)) < 1e-9


def test_a_shopper_who_can_earn_nothing_more_under_the_caps_is_not_offered_work() -> None:
    """Room 0 under the daily or weekly cap: the route would pay nothing, so the trip is not in the problem
    (the matcher would otherwise prefer it as free); a cent of room keeps it in."""
    capped, fresh = _candidate(), _candidate()
    terms = {
        capped.trip.id: RewardTerms(base=300, per_bag=0, per_km=0, per_minute=0, minimum=0, room=0),
        fresh.trip.id: RewardTerms(base=300, per_bag=0, per_km=0, per_minute=0, minimum=0, room=1),
    }
    problem = build_match_problem(
        store=STORE, orders=[_order(30.47)], trips=[capped, fresh], excluded=set(), now=NOW, parameters=PARAMETERS,
        terms=terms,
    )  # fmt: skip
    assert [trip["id"] for trip in problem["trips"]] == [str(fresh.trip.id)]


def test_a_trip_with_nothing_it_may_carry_is_left_out() -> None:
    """Only an over-cap order: the new shopper's trip is not in the problem at all."""
    problem = build_match_problem(
        store=STORE, orders=[_order(30.47, value=9_000)], trips=[_candidate(TrustTier.NEW)], excluded=set(), now=NOW,
        parameters=PARAMETERS,
    )  # fmt: skip
    assert problem["trips"] == []


def _solution(assignments: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "format": "crowdship-match-solution/1",
        "objective": 0.0,
        "trips": assignments,
        "fleet_routes": [],
        "fallback": [],
    }


def test_offers_follow_the_solution_with_detour_and_quote() -> None:
    """A feasible assignment becomes an offer: stops in order, extra metres and seconds, a quote, an expiry."""
    orders = [_order(30.47), _order(30.48)]
    candidate = _candidate()
    made = offers_from_solution(
        store=STORE, orders=orders, trips=[candidate], excluded=set(),
        solution=_solution({str(candidate.trip.id): [str(orders[0].id), str(orders[1].id)]}),
        now=NOW, parameters=PARAMETERS, quote=compensation_quote(PARAMETERS),
    )  # fmt: skip
    (offer,) = made.offers
    assert made.dropped == []
    assert offer.stops == (orders[0].id, orders[1].id)
    assert offer.expires_at == NOW + timedelta(seconds=60)
    assert offer.reward_quote_cents >= 2 * 150
    assert offer.extra_duration_s == round(offer.extra_distance_m / 1000 / 0.5 * 60)


def test_assignments_that_break_a_rule_are_dropped() -> None:
    """Over the tier cap, unverified for an 18+ order, twice the same order, over capacity, or a detour too
    long: each is dropped with its reason, never offered."""
    cheap, costly, wine, far = _order(30.47), _order(30.47, value=9_000), _order(30.47, age=True), _order(30.30)
    newbie, unverified, small = _candidate(TrustTier.NEW), _candidate(verified=False), _candidate(capacity=1)
    ok = _candidate()
    big_order = _order(30.48, size=2)
    made = offers_from_solution(
        store=STORE, orders=[cheap, costly, wine, far, big_order], trips=[newbie, unverified, small, ok],
        excluded=set(),
        solution=_solution({
            str(newbie.trip.id): [str(costly.id)],
            str(unverified.trip.id): [str(wine.id)],
            str(small.trip.id): [str(big_order.id)],
            str(ok.trip.id): [str(far.id)],
        }),
        now=NOW, parameters=PARAMETERS, quote=compensation_quote(PARAMETERS),
    )  # fmt: skip
    assert made.offers == []
    assert sorted(d.reason for d in made.dropped) == ["capacity", "detour", "identity", "trust_tier"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(30.40, 30.55), min_size=1, max_size=6), st.integers(0, 5))
def test_no_order_is_offered_twice_whatever_the_solution_says(latitudes: list[float], extra: int) -> None:
    """Even a solution that lists an order under several trips yields each order in at most one offer."""
    orders = [_order(lat) for lat in latitudes]
    candidates = [_candidate() for _ in range(3)]
    assignments = {
        str(c.trip.id): [str(orders[(i + j + extra) % len(orders)].id) for j in range(min(2, len(orders)))]
        for i, c in enumerate(candidates)
    }
    made = offers_from_solution(
        store=STORE, orders=orders, trips=candidates, excluded=set(), solution=_solution(assignments), now=NOW,
        parameters=PARAMETERS, quote=compensation_quote(PARAMETERS),
    )  # fmt: skip
    offered = [order_id for offer in made.offers for order_id in offer.stops]
    assert len(offered) == len(set(offered))


def _windowed(lat: float, opens_in_min: float, closes_in_min: float) -> Order:
    order = _order(lat)
    order.window_earliest = NOW + timedelta(minutes=opens_in_min)
    order.window_latest = NOW + timedelta(minutes=closes_in_min)
    order.dispatch_deadline = order.window_latest
    return order


def test_the_problem_departs_once_the_offer_is_answered_and_leaves_out_windows_opening_after_the_leave_by() -> None:
    """Trips leave at the offer's expiry at the earliest (minute 1: the shopper may answer that late, and
    leaves once they accept; windows still count from the batch time); a window that opens 15 minutes after
    the shopper must leave (later than they could get there) is no candidate, one they can reach by leaving
    later is."""
    candidate = _candidate()  # must leave within the hour
    late = _windowed(30.47, 60 + 15 + 10, 60 + 15 + 60)
    reachable = _windowed(30.47, 30, 90)
    problem = build_match_problem(
        store=STORE, orders=[late, reachable], trips=[candidate], excluded=set(), now=NOW, parameters=PARAMETERS
    )
    (trip,) = problem["trips"]
    assert trip["depart"] == 1.0
    assert trip["candidates"] == [{"order": str(reachable.id)}]
    assert [order["window"] for order in problem["orders"]] == [[85.0, 135.0], [30.0, 90.0]]


def _offer_for(order: Order, candidate: TripCandidate) -> Any:
    return offers_from_solution(
        store=STORE, orders=[order], trips=[candidate], excluded=set(),
        solution=_solution({str(candidate.trip.id): [str(order.id)]}), now=NOW, parameters=PARAMETERS,
        quote=compensation_quote(PARAMETERS),
    )  # fmt: skip


def test_an_order_whose_window_opens_after_the_leave_by_allows_is_never_offered() -> None:
    """Even if the matcher assigns it: leaving at the leave-by at the latest, the shopper would reach it
    before it opens (they do not wait at the door), so the assignment is dropped as `leave_by`."""
    made = _offer_for(_windowed(30.47, 60 + 15, 60 + 75), _candidate())
    assert made.offers == []
    assert [d.reason for d in made.dropped] == ["leave_by"]


def test_arrival_must_fall_inside_the_window_at_both_ends() -> None:
    """A window that closes before the shopper can get there is dropped as `window`; one that opens in
    20 minutes is offered (the shopper leaves later, before their leave-by); one open now is offered."""
    candidate = _candidate()
    closed = _offer_for(_windowed(30.50, -30, 1), candidate)
    assert [d.reason for d in closed.dropped] == ["window"]
    later = _offer_for(_windowed(30.47, 20, 80), _candidate())
    assert len(later.offers) == 1
    now = _offer_for(_windowed(30.47, -5, 80), _candidate())
    assert len(now.offers) == 1


def test_a_window_that_closes_before_an_answer_at_the_expiry_could_reach_it_is_not_offered() -> None:
    """The shopper has the offer's whole time (60 s) to answer and leaves once they accept: a window that
    closes 30 s after the arrival of a shopper leaving at the batch time is missed by one who answers at the
    last second, so it is dropped as `window` (it was offered); one that closes 90 s after is offered."""
    candidate = _candidate()
    arrival = route_metrics(STORE, candidate.trip, (_order(30.47),), PARAMETERS).arrival_minutes[0]
    tight = _offer_for(_windowed(30.47, -5, arrival + 0.5), candidate)
    assert tight.offers == []
    assert [d.reason for d in tight.dropped] == ["window"]
    roomy = _offer_for(_windowed(30.47, -5, arrival + 1.5), _candidate())
    assert len(roomy.offers) == 1


def test_a_bundle_whose_windows_need_a_wait_between_stops_is_cut_to_the_part_that_keeps_them() -> None:
    """Two stops whose windows no single departure fits without waiting at a door: the stop with the shorter
    detour is offered alone, and the other waits for the next batch as `window`."""
    candidate = _candidate()
    first, second = _windowed(30.47, -5, 10), _windowed(30.48, 50, 80)
    made = offers_from_solution(
        store=STORE, orders=[first, second], trips=[candidate], excluded=set(),
        solution=_solution({str(candidate.trip.id): [str(first.id), str(second.id)]}), now=NOW,
        parameters=PARAMETERS, quote=compensation_quote(PARAMETERS),
    )  # fmt: skip
    (offer,) = made.offers
    (dropped,) = made.dropped
    assert len(offer.stops) == 1
    assert {*offer.stops, *(UUID(key) for key in dropped.order_ids)} == {first.id, second.id}
    assert dropped.reason == "window"
    kept = first if offer.stops == (first.id,) else second
    assert offer.extra_distance_m == round(route_metrics(STORE, candidate.trip, (kept,), PARAMETERS).detour_km * 1000)


def test_each_order_cut_from_a_bundle_carries_the_rule_it_breaks_added_to_the_part_offered() -> None:
    """The matcher bundles A (a little aside), B (on the way, its window closing soon after a shopper going
    straight there arrives) and C (too far aside for the trip alone). The whole breaks the detour; the part
    offered is B alone. With B, A breaks B's window (its detour makes B late), and C the detour: each says so.
    Both were said to be `detour` (the whole bundle's first broken rule), though the trip could carry A alone
    and what keeps it off is B's window."""
    candidate = _candidate()
    aside = _order(30.47)
    aside.dropoff = GeoPoint(30.47, -84.2211 + 0.006)
    on_the_way = _windowed(30.48, -5, 6.4)  # reached at minute 5 straight, 5.84 after A; left at minute 1
    far = _order(30.475)
    far.dropoff = GeoPoint(30.475, -84.2211 - 0.02)
    made = offers_from_solution(
        store=STORE, orders=[aside, on_the_way, far], trips=[candidate], excluded=set(),
        solution=_solution({str(candidate.trip.id): [str(aside.id), str(on_the_way.id), str(far.id)]}), now=NOW,
        parameters=PARAMETERS, quote=compensation_quote(PARAMETERS),
    )  # fmt: skip
    (offer,) = made.offers
    assert offer.stops == (on_the_way.id,)
    assert pending_reasons([aside.id, far.id], _solution({}), made.dropped) == {
        aside.id: str(UnassignedReason.WINDOW),
        far.id: str(UnassignedReason.NO_TRIP_WITHIN_DETOUR),
    }


def test_each_order_of_a_bundle_none_of_whose_parts_keeps_the_rules_carries_its_own_broken_rule() -> None:
    """A too far aside for the trip, B closed before anyone could get there: the whole breaks the detour
    first, and so did B, said to be out of every trip's way though its window is what keeps it."""
    candidate = _candidate()
    far = _order(30.475)
    far.dropoff = GeoPoint(30.475, -84.2211 - 0.02)
    closed = _windowed(30.48, -30, 1)
    made = offers_from_solution(
        store=STORE, orders=[far, closed], trips=[candidate], excluded=set(),
        solution=_solution({str(candidate.trip.id): [str(far.id), str(closed.id)]}), now=NOW,
        parameters=PARAMETERS, quote=compensation_quote(PARAMETERS),
    )  # fmt: skip
    assert made.offers == []
    assert pending_reasons([far.id, closed.id], _solution({}), made.dropped) == {
        far.id: str(UnassignedReason.NO_TRIP_WITHIN_DETOUR),
        closed.id: str(UnassignedReason.WINDOW),
    }


def test_a_bundle_none_of_whose_parts_keeps_the_windows_is_dropped_whole() -> None:
    candidate = _candidate()
    first, second = _windowed(30.47, -30, 1), _windowed(30.48, -30, 1)  # both closed before they are reached
    made = offers_from_solution(
        store=STORE, orders=[first, second], trips=[candidate], excluded=set(),
        solution=_solution({str(candidate.trip.id): [str(first.id), str(second.id)]}), now=NOW,
        parameters=PARAMETERS, quote=compensation_quote(PARAMETERS),
    )  # fmt: skip
    assert made.offers == []
    assert [(d.order_ids, d.reason) for d in made.dropped] == [
        ((str(first.id),), "window"),
        ((str(second.id),), "window"),
    ]
