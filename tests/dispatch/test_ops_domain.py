"""The plain domain behind operations' pages: opening hours, an order's timeline, why an order waits, and an
incident's resolution. No storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from crowdship.errors import InvalidInput, InvalidInputs
from crowdship.units import Cents
from dispatch.batching import BatchParameters, TripCandidate
from dispatch.evidence import DeliveryProof
from dispatch.history import OrderEvent, timeline
from dispatch.hours import DayHours, OpeningHours, parse_clock
from dispatch.incidents import Incident, IncidentAlreadyResolved, IncidentKind, IncidentStatus
from dispatch.model import Offer, Order, OrderStatus, Shopper, Store, Trip, TrustTier
from dispatch.unassigned import why_unassigned
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
NEAR = GeoPoint(30.4800, -84.2190)
HOME = GeoPoint(30.5000, -84.2211)
PARAMETERS = BatchParameters(
    road_factor=1.3,
    speed_km_per_min=0.5,
    max_bundle_orders=3,
    tier_value_caps_cents={0: 5_000, 1: 10_000, 2: 25_000, 3: None},
    own_address_radius_m=100,
    compensation_cents_per_km=50,
    compensation_minimum_cents=150,
    offer_ttl=timedelta(seconds=60),
)


# --- Opening hours -----------------------------------------------------------------------------------------


def test_opening_hours_read_by_weekday_name_with_midnight_as_24_00() -> None:
    hours = OpeningHours.from_named({"Monday": ("07:00", "23:00"), "sunday": ("09:30", "24:00"), "friday": None})
    assert hours.days == {0: DayHours(420, 1380), 6: DayHours(570, 1440)}
    assert hours.named()["sunday"] == DayHours(570, 1440)
    assert hours.named()["sunday"].closes == "24:00"  # type: ignore[union-attr]
    assert hours.named()["friday"] is None


@pytest.mark.parametrize(
    ("named", "field"),
    [
        ({"monday": ("8:00", "18:00")}, "opening_hours.monday.opens"),
        ({"monday": ("08:00", "24:01")}, "opening_hours.monday.closes"),
        ({"monday": ("22:00", "02:00")}, "opening_hours.monday.closes"),
        ({"monday": ("10:00", "10:00")}, "opening_hours.monday.closes"),
        ({"someday": ("08:00", "18:00")}, "opening_hours.someday"),
    ],
)
def test_bad_hours_name_the_day_and_the_end(named: dict[str, tuple[str, str]], field: str) -> None:
    """An overnight interval is two days' intervals, not one that closes before it opens."""
    with pytest.raises(InvalidInput) as raised:
        OpeningHours.from_named(named)
    assert raised.value.field == field


def test_every_bad_day_is_told_at_once() -> None:
    """Friday's malformed time and Monday's backward hours in one refusal, so that one submission fixes both."""
    with pytest.raises(InvalidInputs) as raised:
        OpeningHours.from_named({"monday": ("08:00", "07:00"), "tuesday": ("08:00", "18:00"), "friday": ("9", "17:00")})
    assert [error.field for error in raised.value.errors] == [
        "opening_hours.monday.closes",
        "opening_hours.friday.opens",
    ]


def test_a_clock_is_hh_mm_up_to_24_00() -> None:
    assert [parse_clock(text, "t") for text in ("00:00", "12:34", "24:00")] == [0, 754, 1440]
    for bad in ("24:30", "1:00", "12:60", "noon", ""):
        with pytest.raises(InvalidInput):
            parse_clock(bad, "t")


# --- Timeline ----------------------------------------------------------------------------------------------


def _order(**changes: object) -> Order:
    fields: dict[str, object] = {
        "store_id": uuid4(),
        "external_ref": "WEB-1",
        "dropoff": NEAR,
        "dropoff_address": "1 Main St",
        "recipient_name": "Jade Moreau",
        "window_earliest": NOW,
        "window_latest": NOW + timedelta(hours=3),
        "dispatch_deadline": NOW + timedelta(hours=2),
        "size_bags": 1,
        "value_cents": Cents(4_000),
        "created_at": NOW,
    }
    fields.update(changes)
    return Order(**fields)  # type: ignore[arg-type]


def test_a_timeline_merges_status_changes_with_their_offer_and_proof() -> None:
    """One line per thing that happened: the offer's terms on its status change, the proof on the delivery;
    a refused attempt and an incident on lines of their own; oldest first."""
    order = _order()
    trip_id = uuid4()
    offered_at, accepted_at, delivered_at = (
        NOW + timedelta(minutes=1),
        NOW + timedelta(seconds=90),
        NOW + timedelta(minutes=30),
    )
    offer = Offer(trip_id, (order.id,), 900, 120, Cents(375), offered_at, offered_at + timedelta(seconds=60))
    offer.accept(accepted_at)
    events = [
        OrderEvent(order.id, offered_at, OrderStatus.OFFERED, "offered to trip x"),
        OrderEvent(order.id, accepted_at, OrderStatus.ACCEPTED, "offer accepted"),
        OrderEvent(order.id, delivered_at, OrderStatus.DELIVERED, "delivered"),
    ]
    refused = DeliveryProof(order.id, trip_id, NEAR, delivered_at - timedelta(minutes=1), 12.0, False, False)
    accepted = DeliveryProof(order.id, trip_id, NEAR, delivered_at, 8.0, True, True, photo_ref="p/1.jpg")
    incident = Incident(order.id, trip_id, uuid4(), IncidentKind.DAMAGE, "torn bag", NOW + timedelta(minutes=20))
    lines = timeline(order, events, [offer], [accepted, refused], [incident])
    assert [(line.what, line.status) for line in lines] == [
        ("status", OrderStatus.PENDING),
        ("status", OrderStatus.OFFERED),
        ("status", OrderStatus.ACCEPTED),
        ("incident", None),
        ("delivery attempt", None),
        ("status", OrderStatus.DELIVERED),
    ]
    assert lines[1].detail == f"offered to trip {str(trip_id)[:8]} for $3.75, 900 m out of the way"
    assert lines[4].detail == "refused: code did not match, 12 m from the drop-off"
    assert (lines[5].detail, lines[5].photo_ref) == ("delivered: code matched, 8 m from the drop-off", "p/1.jpg")


def test_an_order_from_before_the_history_still_has_its_offers() -> None:
    """No events stored: intake, the offer and its end come from the order and the offer themselves."""
    order = _order()
    offer = Offer(uuid4(), (order.id, uuid4()), 900, 120, Cents(375), NOW, NOW + timedelta(seconds=60))
    offer.expire(NOW + timedelta(seconds=60))
    lines = timeline(order, [], [offer], [], [])
    assert [line.what for line in lines] == ["status", "offer", "offer resolved"]
    assert "with 1 other order" in lines[1].detail
    assert lines[2].detail == "offer expired"


# --- Why an order waits ------------------------------------------------------------------------------------


def _store() -> Store:
    return Store("Northeast", STORE_AT, circular_area(STORE_AT, 8_000), Cents(899))


def _candidate(store: Store, **shopper: object) -> TripCandidate:
    person = Shopper("Ana", **shopper)  # type: ignore[arg-type]
    trip = Trip(person.id, store.id, HOME, 3, NOW - timedelta(minutes=5), NOW + timedelta(hours=1), max_detour_m=3_000)
    return TripCandidate(trip, person, trip.capacity_bags)


def test_a_waiting_order_says_why_no_trip_takes_it() -> None:
    """Per open trip, the batch's own rule that refuses it; a trip that could take it means 'next batch'."""
    store = _store()
    order = _order(store_id=store.id, value_cents=Cents(20_000), age_restricted=True)
    trips = [
        _candidate(store, trust_tier=TrustTier.NEW, identity_verified=True),
        _candidate(store, trust_tier=TrustTier.SILVER, identity_verified=False),
        _candidate(store, trust_tier=TrustTier.GOLD, identity_verified=True),
        _candidate(store, trust_tier=TrustTier.GOLD, identity_verified=True),
        _candidate(store, trust_tier=TrustTier.GOLD, identity_verified=True, home_location=NEAR),
        _candidate(store, trust_tier=TrustTier.GOLD, identity_verified=True),
    ]
    busy, offered_before = trips[2].trip.id, trips[3].trip.id
    answer = why_unassigned(
        order=order,
        store=store,
        trips=trips,
        busy_trips={busy},
        barred_pairs={(offered_before, order.id)},
        now=NOW,
        parameters=PARAMETERS,
    )
    assert answer is not None
    assert [verdict.reason for verdict in answer.trips] == [
        "trust_tier",
        "identity",
        "busy",
        "offered before",
        "own_address",
        None,
    ]
    assert answer.summary.startswith("a checked-in trip could take it")
    assert answer.trips[0].explanation.startswith("its shopper's trust tier")


def test_a_waiting_order_without_trips_past_its_deadline_or_outside_the_area() -> None:
    store = _store()
    ask = {"store": store, "busy_trips": set(), "barred_pairs": set(), "now": NOW, "parameters": PARAMETERS}
    assert "no shopper is checked in" in why_unassigned(order=_order(store_id=store.id), trips=[], **ask).summary  # type: ignore[arg-type, union-attr]
    late = _order(store_id=store.id, dispatch_deadline=NOW)
    assert "dispatch deadline" in why_unassigned(order=late, trips=[], **ask).summary  # type: ignore[arg-type, union-attr]
    far = _order(store_id=store.id, dropoff=GeoPoint(30.7, -84.2))
    assert "outside the store's service area" in why_unassigned(order=far, trips=[], **ask).summary  # type: ignore[arg-type, union-attr]
    offered = _order(store_id=store.id, status=OrderStatus.OFFERED)
    assert why_unassigned(order=offered, trips=[], **ask) is None  # type: ignore[arg-type]


def test_a_far_drop_off_is_a_detour_and_a_big_one_does_not_fit() -> None:
    store = _store()
    trip = _candidate(store, trust_tier=TrustTier.GOLD, identity_verified=True)
    ask = {"store": store, "busy_trips": set(), "barred_pairs": set(), "now": NOW, "parameters": PARAMETERS}
    detour = _order(store_id=store.id, dropoff=GeoPoint(30.44, -84.17))
    assert why_unassigned(order=detour, trips=[trip], **ask).trips[0].reason == "detour"  # type: ignore[arg-type, union-attr]
    bulky = _order(store_id=store.id, size_bags=5)
    assert why_unassigned(order=bulky, trips=[trip], **ask).trips[0].reason == "capacity"  # type: ignore[arg-type, union-attr]


def test_a_window_opening_after_the_trips_leave_by_is_not_one_it_could_take() -> None:
    """The batch offers no trip an order whose window opens only after its shopper has left (they would
    wait at the door): the order's page says so, rather than 'waiting for the next batch' forever."""
    store = _store()
    trip = _candidate(store, trust_tier=TrustTier.GOLD, identity_verified=True)  # leaves by NOW + 1 h
    ask = {"store": store, "busy_trips": set(), "barred_pairs": set(), "now": NOW, "parameters": PARAMETERS}
    later = _order(store_id=store.id, window_earliest=NOW + timedelta(hours=3), window_latest=NOW + timedelta(hours=5))
    answer = why_unassigned(order=later, trips=[trip], **ask)  # type: ignore[arg-type]
    assert answer is not None
    assert [verdict.reason for verdict in answer.trips] == ["leave_by"]
    assert answer.summary.startswith("no open trip may take it now")
    soon = _order(store_id=store.id, window_earliest=NOW + timedelta(minutes=50))  # reachable leaving at 1 h
    assert why_unassigned(order=soon, trips=[trip], **ask).trips[0].reason is None  # type: ignore[arg-type, union-attr]


# --- Incidents ---------------------------------------------------------------------------------------------


def test_an_incident_is_resolved_once_with_what_was_done() -> None:
    incident = Incident(uuid4(), uuid4(), uuid4(), IncidentKind.THEFT, "bag taken", NOW)
    staff = uuid4()
    resolved = incident.resolve(resolution="  police report filed ", by=staff, now=NOW + timedelta(hours=1))
    assert (resolved.status, resolved.resolution, resolved.resolved_by) == (
        IncidentStatus.RESOLVED,
        "police report filed",
        staff,
    )
    with pytest.raises(IncidentAlreadyResolved):
        resolved.resolve(resolution="again", by=staff, now=NOW)
    with pytest.raises(InvalidInput, match="resolution"):
        incident.resolve(resolution="  ", by=staff, now=NOW)
    assert incident.status is IncidentStatus.OPEN  # the original is untouched
