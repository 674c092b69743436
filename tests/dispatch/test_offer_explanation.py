"""Why no offer and why this price, as plain functions: the reason codes a batch leaves on pending orders,
and the compensation rule's components when no policy is in force."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

from crowdship.units import Cents
from dispatch.batch_offers import DroppedAssignment
from dispatch.batching import build_match_problem, compensation_components
from dispatch.model import Offer
from dispatch.offer_explanation import CHANGED_BEFORE_OFFERED, best_alternatives, latest_departure, pending_reasons
from tests.dispatch.test_batching import NOW, PARAMETERS, STORE, _candidate, _order


def test_pending_orders_get_the_matchers_code_or_the_code_of_the_check_that_dropped_them() -> None:
    """The matcher's own code passes through; an assignment the batch dropped for its leave-by or detour
    takes the matcher's code for that rule; an order placed whose offer the batch could not write (another
    batch beat it, its trip or bundle changed) says so."""
    far, late, detour, beaten = uuid4(), uuid4(), uuid4(), uuid4()
    solution = {"unassigned": {str(far): "no_trip_within_detour"}, "trips": {"t": [str(late)], "v": [str(beaten)]}}
    dropped = [DroppedAssignment("t", (str(late),), "leave_by"), DroppedAssignment("u", (str(detour),), "detour")]
    assert pending_reasons([far, late, detour, beaten], solution, dropped, unwritten={beaten}) == {
        far: "no_trip_within_detour",
        late: "window",
        detour: "no_trip_within_detour",
        beaten: CHANGED_BEFORE_OFFERED,
    }


def test_the_compensation_rules_components_add_up_to_its_price() -> None:
    """60 cents a km: 1.2 km pays 72, below the 150 minimum, so the minimum tops it up by 78."""
    assert compensation_components(PARAMETERS, 1, 1_200) == {"distance": 72, "minimum": 78, "total": 150}
    assert compensation_components(PARAMETERS, 2, 9_000) == {"distance": 540, "minimum": 0, "total": 540}


def test_the_compensation_rule_rounds_half_a_cent_up_as_the_policies_do() -> None:
    """60 cents a km over 2 075 m is 124.5 cents: 125, not the 124 of rounding halves to even."""
    parameters = replace(PARAMETERS, compensation_minimum_cents=100)
    assert compensation_components(parameters, 1, 2_075) == {"distance": 125, "minimum": 0, "total": 125}


def test_the_best_alternative_says_when_that_trip_got_an_offer_of_its_own() -> None:
    """Two trips, two orders: each offer's alternative is the other trip, which carries the other offer; with
    only one offer made, the other trip is a plain alternative."""
    orders, trips = [_order(30.47), _order(30.48)], [_candidate(), _candidate()]
    problem = build_match_problem(
        store=STORE, orders=orders, trips=trips, excluded=set(), now=NOW, parameters=PARAMETERS
    )

    def offer(trip: int, order: int) -> Offer:
        return Offer(trips[trip].trip.id, (orders[order].id,), 100, 60, Cents(150), NOW, NOW + timedelta(minutes=1))

    first, second = offer(0, 0), offer(1, 1)
    both = best_alternatives(problem, [first, second])
    assert both[first.id] == {"trip_id": str(trips[1].trip.id), "cost_cents": 150, "carries_another_offer": True}
    alone = best_alternatives(problem, [first])
    assert alone[first.id] == {"trip_id": str(trips[1].trip.id), "cost_cents": 150, "carries_another_offer": False}


def test_the_latest_departure_of_an_offer_is_what_its_breakdown_says_or_none() -> None:
    """What the simulator's and the replay's shoppers leave by: the breakdown's `leave_before`, read back as an
    instant; none when it says none (the leave-by is the limit) or the offer has no breakdown."""
    offer = Offer(uuid4(), (uuid4(),), 100, 60, Cents(150), NOW, NOW + timedelta(minutes=1))
    said = NOW + timedelta(minutes=17, seconds=3)
    assert latest_departure(offer) is None
    assert latest_departure(replace(offer, breakdown={"leave_before": None})) is None
    assert latest_departure(replace(offer, breakdown={"leave_before": said.isoformat()})) == said
