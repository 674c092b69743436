"""The contract of dispatch's storage: each test runs on PostGIS and in memory, so that the simulator's
repositories keep every promise the live ones make (round trips, state filters, transactions, spatial
queries that agree with shapely and the geodesic, the database's own uniqueness rules)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from psycopg_pool import ConnectionPool
from shapely import Point, Polygon

from crowdship.errors import NotFound
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.errors import AlreadyOffered, AlreadyOnTrip, DuplicateOrder
from dispatch.evidence import DeliveryProof
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip, TripStatus, TrustTier
from dispatch.repositories import LiveUnitOfWork
from routing.areas import circular_area
from routing.distance import geodesic_m
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)


@pytest.fixture(params=["postgres", "memory"])
def uow(request: pytest.FixtureRequest) -> LiveUnitOfWork:
    """A unit of work on an empty store of each kind (enter it with `with uow:`, as often as needed)."""
    if request.param == "memory":
        return MemoryDispatchUnitOfWork(MemoryDispatchDatabase())
    return PostgresDispatchUnitOfWork(request.getfixturevalue("db"))


def a_store(area: Polygon | None = None) -> Store:
    return Store(
        name="Northeast",
        location=STORE_AT,
        service_area=area or circular_area(STORE_AT, 8_000),
        fallback_cost_cents=Cents(899),
    )


def an_order(store: Store, dropoff: GeoPoint, ref: str = "WEB-1") -> Order:
    return Order(
        store_id=store.id,
        external_ref=ref,
        dropoff=dropoff,
        dropoff_address="12 Park Ave",
        recipient_name="Ana",
        window_earliest=NOW + timedelta(hours=1),
        window_latest=NOW + timedelta(hours=3),
        dispatch_deadline=NOW + timedelta(hours=2),
        size_bags=2,
        value_cents=Cents(4_200),
        created_at=NOW,
        age_restricted=True,
        perishable=True,
    )


def a_trip(store: Store, shopper: Shopper, destination: GeoPoint) -> Trip:
    return Trip(
        shopper_id=shopper.id,
        store_id=store.id,
        destination=destination,
        capacity_bags=3,
        checked_in_at=NOW,
        leave_by=NOW + timedelta(minutes=45),
        max_detour_m=3_000,
        max_detour_s=600,
    )


def test_every_aggregate_reads_back_as_written(uow: LiveUnitOfWork) -> None:
    """Store, shopper, order, trip, offer and proof come back equal, field by field."""
    store = a_store()
    shopper = Shopper(
        display_name="Ben",
        trust_tier=TrustTier.SILVER,
        identity_verified=True,
        home_location=GeoPoint(30.5012345, -84.3012345),
    )
    order = an_order(store, GeoPoint(30.47, -84.23))
    trip = a_trip(store, shopper, GeoPoint(30.5, -84.3))
    offer = Offer(
        trip_id=trip.id,
        stops=(order.id,),
        extra_distance_m=1_800,
        extra_duration_s=210,
        reward_quote_cents=Cents(375),
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=60),
    )
    proof = DeliveryProof(
        order_id=order.id,
        trip_id=trip.id,
        position=GeoPoint(30.4701, -84.2301),
        recorded_at=NOW,
        distance_to_dropoff_m=14.2,
        code_matched=True,
        accepted=True,
        photo_ref="s3://proofs/1.jpg",
    )
    with uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.orders.add(order)
        uow.trips.add(trip)
        uow.offers.add(offer)
        uow.proofs.add(proof)
        uow.commit()
    with uow:
        loaded_store = uow.stores.get(store.id)
        assert loaded_store.service_area.equals_exact(store.service_area, 1e-12)
        assert (loaded_store.name, loaded_store.location, loaded_store.fallback_cost_cents) == (
            store.name,
            store.location,
            store.fallback_cost_cents,
        )
        assert uow.shoppers.get(shopper.id) == shopper
        assert uow.orders.get(order.id) == order
        assert uow.trips.get(trip.id) == trip
        assert uow.offers.get(offer.id) == offer
        assert uow.proofs.list_for_order(order.id) == [proof]
        assert uow.stores.list() == [loaded_store]
        assert uow.stores.page(limit=5, offset=0) == Page([loaded_store], 1)
        assert uow.stores.page(limit=5, offset=1) == Page([], 1)


def test_state_changes_are_saved_and_filtered_by_status(uow: LiveUnitOfWork) -> None:
    """Saving writes the new status; listing by status sees it."""
    store = a_store()
    shopper = Shopper(display_name="Chloe")
    orders = [an_order(store, GeoPoint(30.47, -84.23), f"WEB-{n}") for n in range(3)]
    trip = a_trip(store, shopper, GeoPoint(30.5, -84.3))
    with uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        for order in orders:
            uow.orders.add(order)
        uow.trips.add(trip)
        uow.commit()
    offer = Offer(
        trip_id=trip.id,
        stops=(orders[0].id, orders[1].id),
        extra_distance_m=900,
        extra_duration_s=120,
        reward_quote_cents=Cents(300),
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=60),
    )
    with uow:
        for order in orders[:2]:
            loaded = uow.orders.get(order.id, for_update=True)
            loaded.offer()
            uow.orders.save(loaded, at=NOW)
        uow.offers.add(offer)
        offer.accept(NOW + timedelta(seconds=10))
        uow.offers.save(offer)
        shopper.trust_tier = TrustTier.GOLD
        uow.shoppers.save(shopper)
        loaded_trip = uow.trips.get(trip.id, for_update=True)
        loaded_trip.depart()
        uow.trips.save(loaded_trip, at=NOW)
        uow.commit()
    with uow:
        offered = uow.orders.list_for_store(store.id, [OrderStatus.OFFERED])
        assert {order.id for order in offered} == {orders[0].id, orders[1].id}
        assert [o.id for o in uow.orders.list_for_store(store.id, [OrderStatus.PENDING])] == [orders[2].id]
        assert uow.offers.list_for_trip(trip.id, [OfferStatus.ACCEPTED])[0].stops == (
            orders[0].id,
            orders[1].id,
        )
        assert uow.offers.list_for_trip(trip.id, [OfferStatus.OPEN]) == []
        assert uow.shoppers.get(shopper.id).trust_tier is TrustTier.GOLD
        assert uow.trips.list_for_store(store.id, [TripStatus.DEPARTED])[0].id == trip.id


def test_leaving_a_unit_of_work_without_commit_keeps_nothing(uow: LiveUnitOfWork) -> None:
    """Safe by default: an exception or a forgotten commit rolls the whole transaction back."""
    store = a_store()
    with uow:
        uow.stores.add(store)

    def fail_midway() -> None:
        with uow:
            uow.stores.add(a_store())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    with uow, pytest.raises(NotFound):
        uow.stores.get(store.id)
    with uow:
        assert uow.stores.list() == []


def test_missing_rows_raise_not_found(uow: LiveUnitOfWork) -> None:
    """Every repository says which kind of thing it could not find."""
    missing = uuid4()
    with uow:
        for repository, what in ((uow.orders, "order"), (uow.trips, "trip"), (uow.offers, "offer")):
            with pytest.raises(NotFound, match=what):
                repository.get(missing)
        with pytest.raises(NotFound, match="shopper"):
            uow.shoppers.get(missing)


def test_a_long_edge_of_the_area_is_straight_in_lon_lat_as_intake_draws_it(uow: LiveUnitOfWork) -> None:
    """A 150 km edge along the 60th parallel: as a great-circle arc it bows about 300 m north, which would
    leave out a drop-off 200 m inside the straight edge that intake's shapely check accepted (and take in one
    200 m outside the north edge)."""
    corner = GeoPoint(60.0, 0.0)
    area = Polygon([(0.0, 60.0), (2.7, 60.0), (2.7, 60.25), (0.0, 60.25)])
    store = replace(a_store(area), location=GeoPoint(60.12, 1.35))
    inside = an_order(store, GeoPoint(60.002, 1.35), "WEB-IN")
    outside = an_order(store, GeoPoint(60.252, 1.35), "WEB-OUT")
    assert geodesic_m(corner, GeoPoint(60.002, 0.0)) > 200
    with uow:
        uow.stores.add(store)
        uow.orders.add(inside)
        uow.orders.add(outside)
        uow.commit()
    with uow:
        found = [order.external_ref for order in uow.orders.within_service_area(store.id)]
    assert found == ["WEB-IN"]


def test_orders_inside_the_service_area_match_shapely(uow: LiveUnitOfWork) -> None:
    """The store's ST_Covers (PostGIS) or covers (memory) and shapely agree on which of 300 random drop-offs
    lie in a concave area."""
    rng = random.Random(11)
    # An L-shaped (concave) area around the store, in (lon, lat).
    area = Polygon(
        [(-84.30, 30.40), (-84.15, 30.40), (-84.15, 30.45), (-84.22, 30.45), (-84.22, 30.52), (-84.30, 30.52)]
    )
    store = a_store(area)
    orders = [
        an_order(store, GeoPoint(rng.uniform(30.38, 30.54), rng.uniform(-84.32, -84.13)), f"WEB-{n}")
        for n in range(300)
    ]
    with uow:
        uow.stores.add(store)
        for order in orders:
            uow.orders.add(order)
        uow.commit()
    with uow:
        found = {order.id for order in uow.orders.within_service_area(store.id)}
        pending_only = uow.orders.within_service_area(store.id, [OrderStatus.CANCELLED])
    expected = {order.id for order in orders if area.covers(Point(order.dropoff.lon, order.dropoff.lat))}
    assert 50 < len(expected) < 250  # the sample straddles the boundary, so the check means something
    assert found == expected
    assert pending_only == []


def test_open_trips_within_a_radius_match_geodesic_distance(uow: LiveUnitOfWork) -> None:
    """The open trips whose destination is within r metres on the ellipsoid (ST_DWithin on geography, or the
    geodesic in memory)."""
    rng = random.Random(5)
    store = a_store()
    center = GeoPoint(30.48, -84.25)
    radius_m = 4_000.0
    trips = []
    with uow:
        uow.stores.add(store)
        for n in range(200):
            shopper = Shopper(display_name=f"Shopper {n}")
            uow.shoppers.add(shopper)
            trip = a_trip(store, shopper, GeoPoint(rng.uniform(30.42, 30.54), rng.uniform(-84.32, -84.18)))
            if n % 10 == 0:
                trip.cancel()  # closed trips are never "within reach"
            uow.trips.add(trip)
            trips.append(trip)
        uow.commit()
    with uow:
        found = {trip.id for trip in uow.trips.open_within(center, radius_m)}
        other_store = uow.trips.open_within(center, radius_m, store_id=uuid4())
    distances = {trip.id: geodesic_m(center, trip.destination) for trip in trips}
    # Points within a millimetre of the circle could go either way; none fall there with this seed.
    assert all(abs(distance - radius_m) > 0.001 for distance in distances.values())
    expected = {t.id for t in trips if t.status is TripStatus.OPEN and distances[t.id] <= radius_m}
    assert 20 < len(expected) < 150
    assert found == expected
    assert other_store == []


def test_recent_check_ins_are_the_latest_within_the_span_whatever_became_of_them(uow: LiveUnitOfWork) -> None:
    """Trips of the store checked in within [since, until], oldest first, only the last `limit` of them;
    cancelled and expired ones count (they were supply), other stores' and later ones do not."""
    store, elsewhere = a_store(), a_store()
    trips = []
    with uow:
        uow.stores.add(store)
        uow.stores.add(elsewhere)
        for n in range(6):
            shopper = Shopper(display_name=f"Shopper {n}")
            uow.shoppers.add(shopper)
            trip = a_trip(elsewhere if n == 5 else store, shopper, GeoPoint(30.5, -84.3))
            trip = replace(trip, checked_in_at=NOW - timedelta(minutes=10 * n), leave_by=NOW + timedelta(hours=1))
            if n == 1:
                trip.cancel()
            if n == 2:
                trip.expire()
            uow.trips.add(trip)
            trips.append(trip)
        uow.commit()
    with uow:
        within = uow.trips.checked_in_between(store.id, NOW - timedelta(minutes=30), NOW, limit=10)
        latest_two = uow.trips.checked_in_between(store.id, NOW - timedelta(minutes=30), NOW, limit=2)
        before = uow.trips.checked_in_between(store.id, NOW - timedelta(hours=2), NOW - timedelta(minutes=35), 10)
    assert [trip.id for trip in within] == [trips[3].id, trips[2].id, trips[1].id, trips[0].id]
    assert [trip.id for trip in latest_two] == [trips[1].id, trips[0].id]
    assert [trip.id for trip in before] == [trips[4].id]


def test_repositories_share_one_transaction_per_unit_of_work(db: ConnectionPool) -> None:
    """Two units of work are isolated: uncommitted rows of one are invisible to the other (PostgreSQL only:
    the in-memory store runs one unit of work at a time)."""
    store = a_store()
    with PostgresDispatchUnitOfWork(db) as writer:
        writer.stores.add(store)
        with PostgresDispatchUnitOfWork(db) as reader, pytest.raises(NotFound):
            reader.stores.get(store.id)
        writer.commit()
    with PostgresDispatchUnitOfWork(db) as reader:
        assert reader.stores.get(store.id).id == store.id


# --- what the use cases rely on the storage to refuse or keep ------------------------------------------

HERE = GeoPoint(30.4627, -84.2211)


def _store() -> Store:
    return Store(name="S", location=HERE, service_area=circular_area(HERE, 5_000), fallback_cost_cents=Cents(899))


def _order(store: Store, ref: str, minutes_ago: int, dropoff: GeoPoint = HERE) -> Order:
    return Order(
        store_id=store.id,
        external_ref=ref,
        dropoff=dropoff,
        dropoff_address="1 Main St",
        recipient_name="Pat",
        window_earliest=NOW,
        window_latest=NOW + timedelta(hours=2),
        dispatch_deadline=NOW + timedelta(hours=1),
        size_bags=1,
        value_cents=Cents(1_000),
        created_at=NOW - timedelta(minutes=minutes_ago),
    )


def _trip(store: Store, shopper: Shopper) -> Trip:
    return Trip(
        shopper_id=shopper.id,
        store_id=store.id,
        destination=HERE,
        capacity_bags=2,
        checked_in_at=NOW,
        leave_by=NOW + timedelta(minutes=20),
        max_detour_m=2_000,
    )


def _offer(trip: Trip, *orders: Order) -> Offer:
    return Offer(
        trip_id=trip.id,
        stops=tuple(order.id for order in orders),
        extra_distance_m=100,
        extra_duration_s=10,
        reward_quote_cents=Cents(300),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
    )


def test_nothing_is_kept_without_commit(uow: LiveUnitOfWork) -> None:
    """Adds and status changes of a unit of work that did not commit are undone, indexes included."""
    store = _store()
    order = _order(store, "A", 5)
    with uow:
        uow.stores.add(store)
        uow.orders.add(order)
        uow.commit()
    with uow:
        loaded = uow.orders.get(order.id)
        loaded.offer()
        uow.orders.save(loaded, at=NOW)
        uow.orders.add(_order(store, "B", 1))
        assert len(uow.orders.list_for_store(store.id, [OrderStatus.OFFERED])) == 1
    with uow:
        assert uow.orders.get(order.id).status is OrderStatus.PENDING
        assert [o.external_ref for o in uow.orders.list_for_store(store.id)] == ["A"]
        assert uow.orders.list_for_store(store.id, [OrderStatus.OFFERED]) == []


def test_a_change_not_saved_changes_nothing(uow: LiveUnitOfWork) -> None:
    """Reads are copies: only `save` writes, as with a database row."""
    store = _store()
    order = _order(store, "A", 5)
    with uow:
        uow.stores.add(store)
        uow.orders.add(order)
        uow.orders.get(order.id).cancel()
        uow.commit()
    with uow:
        assert uow.orders.get(order.id).status is OrderStatus.PENDING
        with pytest.raises(NotFound):
            uow.orders.get(_order(store, "X", 1).id)


def test_lists_come_in_creation_order_and_filter_the_service_area(uow: LiveUnitOfWork) -> None:
    """Oldest first, as the PostGIS adapter sorts; a drop-off outside the area is not within it."""
    store = _store()
    far = GeoPoint(HERE.lat + 0.2, HERE.lon)
    with uow:
        uow.stores.add(store)
        uow.orders.add(_order(store, "new", 1))
        uow.orders.add(_order(store, "old", 30))
        uow.orders.add(_order(store, "far", 10, far))
        uow.commit()
        assert [o.external_ref for o in uow.orders.list_for_store(store.id)] == ["old", "far", "new"]
        assert [o.external_ref for o in uow.orders.within_service_area(store.id)] == ["old", "new"]
        with pytest.raises(DuplicateOrder):
            uow.orders.add(_order(store, "old", 3))


def test_one_open_offer_per_order_and_per_trip(uow: LiveUnitOfWork) -> None:
    """A second open offer for an order or a trip is refused; once the first closes, it is allowed."""
    store = _store()
    first, second = Shopper(display_name="A"), Shopper(display_name="B")
    order, other = _order(store, "A", 5), _order(store, "B", 4)
    with uow:
        uow.stores.add(store)
        for shopper in (first, second):
            uow.shoppers.add(shopper)
        trip_a, trip_b = _trip(store, first), _trip(store, second)
        uow.trips.add(trip_a)
        uow.trips.add(trip_b)
        uow.orders.add(order)
        uow.orders.add(other)
        offer = _offer(trip_a, order)
        uow.offers.add(offer)
        with pytest.raises(AlreadyOffered):
            uow.offers.add(_offer(trip_b, order))
        with pytest.raises(AlreadyOffered):
            uow.offers.add(_offer(trip_a, other))
        offer.decline(NOW)
        uow.offers.save(offer)
        uow.offers.add(_offer(trip_b, order))
        uow.commit()
        assert {(p.trip_id, p.order_id, p.status) for p in uow.offers.pair_offers([order.id])} == {
            (trip_a.id, order.id, OfferStatus.DECLINED),
            (trip_b.id, order.id, OfferStatus.OPEN),
        }
        assert [o.status for o in uow.offers.list_for_trip(trip_a.id)] == [OfferStatus.DECLINED]


def test_carrying_trips_name_the_trip_of_each_accepted_order_only(uow: LiveUnitOfWork) -> None:
    """Orders of accepted offers map to their trip in one read, and each trip to its orders in stop order; an
    order only declined, or never offered, is on no trip."""
    store = _store()
    first, second = Shopper(display_name="A"), Shopper(display_name="B")
    bundled, alone, declined, never = (_order(store, ref, 2) for ref in ("A", "B", "C", "D"))
    with uow:
        uow.stores.add(store)
        for shopper in (first, second):
            uow.shoppers.add(shopper)
        trip_a, trip_b = _trip(store, first), _trip(store, second)
        uow.trips.add(trip_a)
        uow.trips.add(trip_b)
        for order in (bundled, alone, declined, never):
            uow.orders.add(order)
        both, refused = _offer(trip_a, bundled, alone), _offer(trip_b, declined)
        uow.offers.add(both)
        uow.offers.add(refused)
        both.accept(NOW)
        refused.decline(NOW)
        uow.offers.save(both)
        uow.offers.save(refused)
        uow.commit()
    with uow:
        ids = [bundled.id, alone.id, declined.id, never.id]
        assert uow.orders.carrying_trips(ids) == {bundled.id: trip_a.id, alone.id: trip_a.id}
        assert uow.orders.carrying_trips([]) == {}
        carried = uow.orders.on_trips([trip_a.id, trip_b.id])
        assert {trip_id: [order.id for order in orders] for trip_id, orders in carried.items()} == {
            trip_a.id: [bundled.id, alone.id],
            trip_b.id: [],
        }
        assert uow.orders.on_trips([trip_a.id], [OrderStatus.DELIVERED]) == {trip_a.id: []}
        unknown = uuid4()
        assert uow.trips.shoppers_of([trip_a.id, trip_b.id, unknown]) == {trip_a.id: first.id, trip_b.id: second.id}
        assert uow.trips.shoppers_of([]) == {}


def test_busy_trips_and_shoppers_are_read_together_for_a_batch(uow: LiveUnitOfWork) -> None:
    """A trip holding an open or accepted offer is busy, one whose offer was declined is not; shoppers come by
    id, and an unknown id is left out."""
    store = _store()
    shoppers = [Shopper(display_name=name) for name in ("A", "B", "C")]
    orders = [_order(store, ref, 2) for ref in ("X", "Y", "Z")]
    with uow:
        uow.stores.add(store)
        for shopper in shoppers:
            uow.shoppers.add(shopper)
        trips = [_trip(store, shopper) for shopper in shoppers]
        for trip in trips:
            uow.trips.add(trip)
        for order in orders:
            uow.orders.add(order)
        open_offer, accepted, declined = (_offer(trip, order) for trip, order in zip(trips, orders, strict=True))
        for offer in (open_offer, accepted, declined):
            uow.offers.add(offer)
        accepted.accept(NOW)
        declined.decline(NOW)
        uow.offers.save(accepted)
        uow.offers.save(declined)
        uow.commit()
    with uow:
        assert uow.offers.busy_trips([trip.id for trip in trips]) == {trips[0].id, trips[1].id}
        assert uow.offers.busy_trips([]) == set()
        found = uow.shoppers.get_many([shoppers[0].id, shoppers[2].id, uuid4()])
        assert {shopper_id: shopper.display_name for shopper_id, shopper in found.items()} == {
            shoppers[0].id: "A",
            shoppers[2].id: "C",
        }


def test_a_batch_reads_the_open_trips_of_active_accounts_only(uow: LiveUnitOfWork) -> None:
    """A deactivated account's open trip is left out, an active account's and an account-less shopper's (the
    simulator's) are in, by check-in time; trips that are not open never are, whoever holds them."""
    store = _store()
    active, deactivated, simulated, departed = (Shopper(display_name=name) for name in ("A", "B", "C", "D"))
    with uow:
        uow.stores.add(store)
        for shopper in (active, deactivated, simulated, departed):
            uow.shoppers.add(shopper)
        for shopper, is_active in ((active, True), (deactivated, False), (departed, True)):
            uow.users.add(
                User(
                    email=f"{shopper.display_name.lower()}@example.org",
                    password_hash="-",
                    role=Role.SHOPPER,
                    shopper_id=shopper.id,
                    created_at=NOW,
                    active=is_active,
                )
            )
        trips = {
            shopper.id: replace(_trip(store, shopper), checked_in_at=NOW - timedelta(minutes=minutes))
            for shopper, minutes in ((active, 1), (deactivated, 3), (simulated, 2), (departed, 4))
        }
        for trip in trips.values():
            uow.trips.add(trip)
        trips[departed.id].depart()
        uow.trips.save(trips[departed.id], at=NOW)
        uow.commit()
    with uow:
        found = uow.trips.open_of_active_accounts(store.id)
        assert [trip.id for trip in found] == [trips[simulated.id].id, trips[active.id].id]
        assert uow.trips.open_of_active_accounts(uuid4()) == []


def test_a_shopper_has_one_active_trip(uow: LiveUnitOfWork) -> None:
    """A second open trip is refused until the first one ends."""
    store, shopper = _store(), Shopper(display_name="A")
    with uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        trip = _trip(store, shopper)
        uow.trips.add(trip)
        with pytest.raises(AlreadyOnTrip):
            uow.trips.add(_trip(store, shopper))
        trip.cancel()
        uow.trips.save(trip, at=NOW)
        assert uow.trips.active_for_shopper(shopper.id) is None
        uow.trips.add(_trip(store, shopper))
        uow.commit()
        assert len(uow.trips.list_for_store(store.id, [TripStatus.OPEN])) == 1
        assert len(uow.trips.past_leave_by(store.id, NOW + timedelta(hours=1))) == 1


def test_reasons_are_recorded_on_pending_orders_only_and_counted_in_the_summary(uow: LiveUnitOfWork) -> None:
    """`record_unassigned` sets the code and its instant on orders still pending (an offered one keeps none),
    reads back with the order, is counted by reason in the store summary (`none`: no batch saw it yet),
    and offering the order clears it."""
    store = _store()
    waiting, offered, unseen = _order(store, "A", 3), _order(store, "B", 2), _order(store, "C", 1)
    with uow:
        uow.stores.add(store)
        for order in (waiting, offered, unseen):
            uow.orders.add(order)
        moved = uow.orders.get(offered.id, for_update=True)
        moved.offer()
        uow.orders.save(moved, at=NOW)
        uow.orders.record_unassigned({waiting.id: "no_trip_within_detour", offered.id: "window"}, NOW)
        uow.commit()
    with uow:
        assert uow.orders.get(waiting.id).unassigned_reason == "no_trip_within_detour"
        assert uow.orders.get(waiting.id).unassigned_at == NOW
        assert uow.orders.get(offered.id).unassigned_reason is None
        assert dict(uow.orders.summary(store.id, NOW).pending_by_reason) == {"no_trip_within_detour": 1, "none": 1}
        again = uow.orders.get(waiting.id, for_update=True)
        again.offer()
        uow.orders.save(again, at=NOW)
        uow.commit()
    with uow:
        assert uow.orders.get(waiting.id).unassigned_reason is None
        assert uow.orders.get(waiting.id).unassigned_at is None


def test_a_reason_is_not_overwritten_by_an_older_batchs(uow: LiveUnitOfWork) -> None:
    """Two batches of one store may write their reasons out of order (one outlived its lease): an order
    keeps the reason of the newest batch that saw it pending. One of the same time replaces it (a batch
    rewrites what its own tidy-up said), a newer one too, an older one does not."""
    store = _store()
    order, other = _order(store, "A", 3), _order(store, "B", 2)
    with uow:
        uow.stores.add(store)
        uow.orders.add(order)
        uow.orders.add(other)
        uow.orders.record_unassigned({order.id: "window"}, NOW + timedelta(seconds=10))
        uow.commit()
    with uow:
        uow.orders.record_unassigned({order.id: "capacity", other.id: "capacity"}, NOW)
        uow.commit()
    with uow:
        assert (uow.orders.get(order.id).unassigned_reason, uow.orders.get(order.id).unassigned_at) == (
            "window",
            NOW + timedelta(seconds=10),
        )
        assert (uow.orders.get(other.id).unassigned_reason, uow.orders.get(other.id).unassigned_at) == ("capacity", NOW)
        uow.orders.record_unassigned({order.id: "no_trip_within_detour"}, NOW + timedelta(seconds=10))
        uow.orders.record_unassigned({other.id: "window"}, NOW + timedelta(seconds=20))
        uow.commit()
    with uow:
        assert uow.orders.get(order.id).unassigned_reason == "no_trip_within_detour"
        assert (uow.orders.get(other.id).unassigned_reason, uow.orders.get(other.id).unassigned_at) == (
            "window",
            NOW + timedelta(seconds=20),
        )


def test_an_offer_keeps_its_breakdown(uow: LiveUnitOfWork) -> None:
    """The breakdown is stored as written and read back by `get`, by trip and by page."""
    store, shopper = _store(), Shopper("Sam")
    order, trip = _order(store, "A", 1), _trip(store, shopper)
    breakdown = {"detour_m": 100, "stops": 1, "reward_cents": {"base": 300, "total": 300}, "best_alternative": "none"}
    offer = Offer(**{**_offer(trip, order).__dict__, "breakdown": breakdown})
    plain = _offer(trip, order)
    with uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.orders.add(order)
        uow.trips.add(trip)
        uow.offers.add(offer)
        uow.commit()
    with uow:
        assert uow.offers.get(offer.id).breakdown == breakdown
        (listed,) = uow.offers.list_for_trip(trip.id)
        assert listed.breakdown == breakdown
        assert uow.offers.page(store_id=store.id, statuses=None, limit=5, offset=0).items[0].breakdown == breakdown
    assert plain.breakdown is None


def test_an_account_keeps_when_its_tokens_last_stopped(uow: LiveUnitOfWork) -> None:
    """A deactivation's instant reads back, so that reactivating the account does not revive older tokens."""
    user = User(email="kim@example.org", password_hash="-", role=Role.OPS, created_at=NOW)
    with uow:
        uow.users.add(user)
        uow.commit()
    with uow:
        assert uow.users.get(user.id).earliest_token_accepted() == 0
        stored = uow.users.get(user.id, for_update=True)
        stored.active, stored.tokens_valid_from = False, NOW + timedelta(microseconds=1500)
        uow.users.save(stored)
        uow.commit()
    with uow:
        assert uow.users.get(user.id).earliest_token_accepted() is None
        stored = uow.users.get(user.id, for_update=True)
        stored.active = True
        uow.users.save(stored)
        uow.commit()
    with uow:
        reread = uow.users.get(user.id)
        assert reread.tokens_valid_from == NOW + timedelta(microseconds=1500)
        assert reread.earliest_token_accepted() == int(NOW.timestamp()) * 1000 + 2  # the millisecond after
