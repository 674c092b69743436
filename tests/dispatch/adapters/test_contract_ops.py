"""The contract of what operations' console reads and writes, on PostGIS and in memory alike: stores edited
with their opening hours and a MultiPolygon area, shoppers paged, incidents resolved, filtered and claimed,
order histories appended, an order's offers, and orders found by the start of their reference."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from shapely import MultiPolygon

from crowdship.errors import NotFound
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.errors import ClaimExists
from dispatch.history import OrderEvent
from dispatch.hours import DayHours, OpeningHours
from dispatch.incidents import Incident, IncidentKind, IncidentStatus, InsuranceClaim
from dispatch.model import Offer, OrderStatus, Shopper
from dispatch.repositories import LiveUnitOfWork
from routing.areas import circular_area
from routing.geo import GeoPoint
from tests.dispatch.adapters.test_contract import NOW, STORE_AT, a_store, a_trip, an_order

FAR = GeoPoint(30.6, -84.0)


@pytest.fixture(params=["postgres", "memory"])
def uow(request: pytest.FixtureRequest) -> LiveUnitOfWork:
    """A unit of work on an empty store of each kind (as in `test_contract`)."""
    if request.param == "memory":
        return MemoryDispatchUnitOfWork(MemoryDispatchDatabase())
    return PostgresDispatchUnitOfWork(request.getfixturevalue("db"))


def test_an_edited_store_reads_back_with_its_hours_and_a_multipolygon_area(uow: LiveUnitOfWork) -> None:
    """`save` writes name, location, area (here two parts), fallback cost and hours; `list` carries hours too."""
    store = replace(a_store(), opening_hours=OpeningHours({0: DayHours(480, 1320), 6: DayHours(600, 1080)}))
    with uow:
        uow.stores.add(store)
        uow.commit()
    with uow:
        assert uow.stores.get(store.id).opening_hours == store.opening_hours
    area = MultiPolygon([circular_area(STORE_AT, 5_000), circular_area(FAR, 2_000)])
    edited = replace(
        store,
        name="Northeast Supercentre",
        location=GeoPoint(30.4630, -84.2215),
        service_area=area,
        fallback_cost_cents=Cents(1_250),
        opening_hours=OpeningHours({2: DayHours(0, 1440)}),
    )
    with uow:
        uow.stores.save(edited)
        uow.commit()
    with uow:
        loaded = uow.stores.get(store.id)
        assert isinstance(loaded.service_area, MultiPolygon)
        assert loaded.service_area.equals_exact(area, 1e-12)
        assert (loaded.name, loaded.location, loaded.fallback_cost_cents) == (
            "Northeast Supercentre",
            GeoPoint(30.4630, -84.2215),
            1_250,
        )
        assert loaded.opening_hours == OpeningHours({2: DayHours(0, 1440)})
        assert [listed.opening_hours for listed in uow.stores.list()] == [loaded.opening_hours]


def test_an_order_in_either_part_of_a_multipolygon_is_in_the_service_area(uow: LiveUnitOfWork) -> None:
    """The batch's spatial query covers both parts of a MultiPolygon area, and nothing between them."""
    store = a_store(MultiPolygon([circular_area(STORE_AT, 3_000), circular_area(FAR, 2_000)]))
    near, far, between = (
        an_order(store, GeoPoint(30.47, -84.22), "A"),
        an_order(store, GeoPoint(30.601, -84.001), "B"),
        an_order(store, GeoPoint(30.53, -84.11), "C"),
    )
    with uow:
        uow.stores.add(store)
        for order in (near, far, between):
            uow.orders.add(order)
        uow.commit()
    with uow:
        assert sorted(order.external_ref for order in uow.orders.within_service_area(store.id)) == ["A", "B"]


def test_shoppers_page_by_name(uow: LiveUnitOfWork) -> None:
    """A page of shoppers, by display name, with the total."""
    shoppers = [Shopper(display_name=name) for name in ("Carl", "Ana", "Ben")]
    with uow:
        for shopper in shoppers:
            uow.shoppers.add(shopper)
        uow.commit()
    with uow:
        page = uow.shoppers.page(limit=2, offset=1)
    assert ([shopper.display_name for shopper in page.items], page.total) == (["Ben", "Carl"], 3)


def test_shoppers_are_found_by_the_start_of_their_name_in_any_case(uow: LiveUnitOfWork) -> None:
    """`%` and `_` are letters here, not wildcards."""
    with uow:
        for name in ("Anabel", "ana", "Bana", "50% Off", "5_0", "500"):
            uow.shoppers.add(Shopper(display_name=name))
        uow.commit()
    with uow:
        assert [s.display_name for s in uow.shoppers.named("AN", limit=10)] == ["Anabel", "ana"]
        assert [s.display_name for s in uow.shoppers.named("an", limit=1)] == ["Anabel"]
        assert [s.display_name for s in uow.shoppers.named("50%", limit=10)] == ["50% Off"]
        assert [s.display_name for s in uow.shoppers.named("5_", limit=10)] == ["5_0"]
        assert uow.shoppers.named("zz", limit=10) == []


def test_a_shopper_is_locked_for_a_change_and_an_unknown_one_is_not_found(uow: LiveUnitOfWork) -> None:
    shopper = Shopper(display_name="Ana")
    with uow:
        uow.shoppers.add(shopper)
        uow.commit()
    with uow:
        uow.shoppers.lock(shopper.id)
        with pytest.raises(NotFound):
            uow.shoppers.lock(uuid4())


def _incident_world(unit: LiveUnitOfWork) -> tuple[list[Incident], Shopper, Shopper]:
    store, other_store = a_store(), a_store()
    ana, ben = Shopper(display_name="Ana"), Shopper(display_name="Ben")
    order, other_order = an_order(store, GeoPoint(30.47, -84.23)), an_order(other_store, GeoPoint(30.47, -84.23))
    trip, other_trip = a_trip(store, ana, FAR), a_trip(other_store, ben, FAR)
    incidents = [
        Incident(order.id, trip.id, ana.id, IncidentKind.DAMAGE, "torn bag", NOW),
        Incident(order.id, trip.id, ana.id, IncidentKind.THEFT, "bag gone", NOW + timedelta(minutes=5)),
        Incident(other_order.id, other_trip.id, ben.id, IncidentKind.DAMAGE, "eggs", NOW + timedelta(minutes=9)),
    ]
    with unit:
        for row in (store, other_store):
            unit.stores.add(row)
        for shopper in (ana, ben):
            unit.shoppers.add(shopper)
        for placed in (order, other_order):
            unit.orders.add(placed)
        for started in (trip, other_trip):
            unit.trips.add(started)
        for incident in incidents:
            unit.incidents.add(incident)
        unit.commit()
    return incidents, ana, ben


def test_incidents_are_resolved_and_filtered(uow: LiveUnitOfWork) -> None:
    """Get, save a resolution, and page newest first filtered by status, kind, store and shopper."""
    incidents, ana, ben = _incident_world(uow)
    staff = None  # resolved by nobody in particular: the column is nullable
    with uow:
        loaded = uow.incidents.get(incidents[0].id, for_update=True)
        assert loaded == incidents[0]
        uow.incidents.save(loaded.resolve(resolution="refunded", by=staff, now=NOW + timedelta(hours=1)))
        uow.commit()
    with uow:
        resolved = uow.incidents.get(incidents[0].id)
        assert (resolved.status, resolved.resolution, resolved.resolved_at) == (
            IncidentStatus.RESOLVED,
            "refunded",
            NOW + timedelta(hours=1),
        )
        everything = uow.incidents.page(limit=10, offset=0)
        assert [i.id for i in everything.items] == [incidents[2].id, incidents[1].id, incidents[0].id]
        assert everything.total == 3
        open_ones = uow.incidents.page(statuses=[IncidentStatus.OPEN], limit=10, offset=0)
        assert [i.id for i in open_ones.items] == [incidents[2].id, incidents[1].id]
        damage_at_ana = uow.incidents.page(kinds=[IncidentKind.DAMAGE], shopper_id=ana.id, limit=10, offset=0)
        assert [i.id for i in damage_at_ana.items] == [incidents[0].id]
        by_store = uow.incidents.page(store_id=uow.orders.get(incidents[2].order_id).store_id, limit=10, offset=0)
        assert ([i.shopper_id for i in by_store.items], by_store.total) == ([ben.id], 1)
        second_page = uow.incidents.page(limit=1, offset=1)
        assert ([i.id for i in second_page.items], second_page.total) == ([incidents[1].id], 3)


def test_insurance_claims_are_kept_per_incident_and_their_reference_is_unique(uow: LiveUnitOfWork) -> None:
    """Claims read back in time order; a second claim with a reference already used is `ClaimExists`."""
    incidents, _, _ = _incident_world(uow)
    first = InsuranceClaim(incidents[1].id, "CLM-1", Cents(4_200), NOW)
    second = InsuranceClaim(incidents[1].id, "CLM-2", Cents(800), NOW + timedelta(minutes=1))
    with uow:
        uow.incidents.add_claim(second)
        uow.incidents.add_claim(first)
        with pytest.raises(ClaimExists):
            uow.incidents.add_claim(InsuranceClaim(incidents[0].id, "CLM-1", Cents(1), NOW))
        uow.commit()
    with uow:
        assert uow.incidents.claims_for(incidents[1].id) == [first, second]
        assert uow.incidents.claims_for(incidents[0].id) == []


def test_an_order_history_reads_back_in_time_order(uow: LiveUnitOfWork) -> None:
    """Events come back oldest first; two of one instant in the order they were added; per order."""
    store = a_store()
    order, other = an_order(store, GeoPoint(30.47, -84.23), "A"), an_order(store, GeoPoint(30.47, -84.23), "B")
    actor = None
    events = [
        OrderEvent(order.id, NOW + timedelta(minutes=1), OrderStatus.OFFERED, "offered to trip x"),
        OrderEvent(order.id, NOW + timedelta(minutes=2), OrderStatus.PENDING, "offer expired"),
        OrderEvent(order.id, NOW + timedelta(minutes=2), OrderStatus.CANCELLED, "cancelled", actor),
    ]
    with uow:
        uow.stores.add(store)
        uow.orders.add(order)
        uow.orders.add(other)
        uow.history.add(events[2])
        uow.history.add(events[0])
        uow.history.add(OrderEvent(other.id, NOW, OrderStatus.FALLBACK))
        uow.commit()
    with uow:
        uow.history.add(events[1])  # not committed: gone
    with uow:
        assert uow.history.for_order(order.id) == [events[0], events[2]]
        assert [event.status for event in uow.history.for_order(other.id)] == [OrderStatus.FALLBACK]


def test_the_order_history_table_refuses_changes(db: ConnectionPool) -> None:
    """Append-only in the database itself: an UPDATE or DELETE of an event raises."""
    unit = PostgresDispatchUnitOfWork(db)
    store = a_store()
    order = an_order(store, GeoPoint(30.47, -84.23))
    with unit:
        unit.stores.add(store)
        unit.orders.add(order)
        unit.history.add(OrderEvent(order.id, NOW, OrderStatus.CANCELLED))
        unit.commit()
    for statement in ("UPDATE order_events SET note = 'x'", "DELETE FROM order_events"):
        with db.connection() as connection, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            connection.execute(statement)


def test_an_orders_offers_and_the_search_by_reference(uow: LiveUnitOfWork) -> None:
    """`offers.for_order` lists every offer holding the order; `orders.page(external_ref=...)` matches the start
    of the reference in any case, with % and _ taken literally."""
    store = a_store()
    shopper = Shopper(display_name="Dee")
    trip = a_trip(store, shopper, FAR)
    orders = [an_order(store, GeoPoint(30.47, -84.23), ref) for ref in ("WEB-100", "web-101", "WEB_2", "SHOP-1")]
    offer = Offer(
        trip_id=trip.id,
        stops=(orders[1].id, orders[0].id),
        extra_distance_m=500,
        extra_duration_s=60,
        reward_quote_cents=Cents(300),
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=60),
    )
    with uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        for order in orders:
            uow.orders.add(order)
        uow.trips.add(trip)
        uow.offers.add(offer)
        uow.commit()
    with uow:
        assert uow.offers.for_order(orders[0].id) == [offer]
        assert uow.offers.for_order(orders[3].id) == []
        found = uow.orders.page(store_id=None, statuses=None, limit=10, offset=0, external_ref="web-10")
        assert sorted(order.external_ref for order in found.items) == ["WEB-100", "web-101"]
        assert found.total == 2
        literal = uow.orders.page(store_id=store.id, statuses=None, limit=10, offset=0, external_ref="WEB_")
        assert [order.external_ref for order in literal.items] == ["WEB_2"]
        wildcard = uow.orders.page(store_id=None, statuses=None, limit=10, offset=0, external_ref="%")
        assert wildcard.total == 0
        assert uow.orders.page(store_id=None, statuses=None, limit=10, offset=0, external_ref=str(uuid4())).total == 0


def test_account_emails_are_read_together_and_unknown_ids_are_left_out(uow: LiveUnitOfWork) -> None:
    """The console names every account a page mentions with one read; an id of no account is not an error."""
    ops = User(email="Ops@Example.com", password_hash="x", role=Role.OPS, created_at=NOW)
    finance = User(email="fin@example.com", password_hash="x", role=Role.FINANCE, created_at=NOW)
    with uow:
        uow.users.add(ops)
        uow.users.add(finance)
        uow.commit()
    with uow:
        assert uow.users.emails([ops.id, finance.id, uuid4()]) == {
            ops.id: "ops@example.com",
            finance.id: "fin@example.com",
        }
        assert uow.users.emails([]) == {}


def test_the_database_keeps_service_areas_polygonal(db: ConnectionPool) -> None:
    """The column takes any geometry since migration 0008, but a CHECK refuses what is not a (Multi)Polygon."""
    with db.connection() as connection, pytest.raises(psycopg.errors.CheckViolation, match="polygonal"):
        connection.execute(
            """INSERT INTO stores (id, name, location, service_area, fallback_cost_cents)
               VALUES (%s, 'Dot', ST_MakePoint(-84.2, 30.4)::geography, ST_MakePoint(-84.2, 30.4)::geography, 1)""",
            (uuid4(),),
        )


def test_shopper_names_and_order_references_are_read_together(uow: LiveUnitOfWork) -> None:
    """A page names the shoppers and orders of its rows with one read each; an unknown id is left out."""
    store = a_store()
    ana, ben = Shopper(display_name="Ana"), Shopper(display_name="Ben")
    first, second = (an_order(store, GeoPoint(30.47, -84.23), ref) for ref in ("WEB-1", "WEB-2"))
    with uow:
        uow.stores.add(store)
        for shopper in (ana, ben):
            uow.shoppers.add(shopper)
        for order in (first, second):
            uow.orders.add(order)
        uow.commit()
    with uow:
        found = uow.shoppers.get_many([ana.id, ben.id, uuid4()])
        assert {shopper_id: shopper.display_name for shopper_id, shopper in found.items()} == {
            ana.id: "Ana",
            ben.id: "Ben",
        }
        assert uow.orders.references([second.id, uuid4()]) == {second.id: "WEB-2"}
        assert uow.shoppers.get_many([]) == {}
        assert uow.orders.references([]) == {}
