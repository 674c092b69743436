"""The batch use case and the dispatcher on real PostGIS and Redis: offers made through the real matcher,
no double offer when dispatchers race with or without a lease, leases (PostgreSQL's) that only their holder frees
and that Redis being away does not stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.adapters.leases import PostgresLeases
from dispatch.adapters.live import RedisLiveState
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.evidence import LocationSample
from dispatch.leases import StoreLeases
from dispatch.live import LiveState
from dispatch.model import Order, OrderStatus, Shopper, Store, Trip, TrustTier
from dispatch.services.batch import matcher_solver, run_batch
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.dispatcher import dispatch_round, run_dispatcher
from routing.areas import circular_area
from routing.geo import GeoPoint

pytestmark = pytest.mark.usefixtures("matcher_loaded")  # a batch's lease is not spent loading it

STORE_AT = GeoPoint(30.4627, -84.2211)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


def _context(
    db: ConnectionPool,
    settings: Settings,
    clock: ManualClock,
    live: LiveState | None,
    leases: StoreLeases | None = None,
) -> DispatchContext:
    return DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=clock,
        config=DispatchConfig.from_settings(settings.model_copy(update={"matcher_time_limit_s": 1.0})),
        live=live,
        leases=leases,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def _store_with(db: ConnectionPool, clock: ManualClock, *, orders: int, trips: int) -> Store:
    now = clock.now()
    store = Store("Batch store", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        for index in range(orders):
            uow.orders.add(
                Order(
                    store_id=store.id,
                    external_ref=f"W{index}",
                    dropoff=GeoPoint(30.47 + 0.004 * index, -84.2211 + 0.001 * (index % 3)),
                    dropoff_address=f"{index} Main St",
                    recipient_name="Jo Doe",
                    window_earliest=now,
                    window_latest=now + timedelta(hours=3),
                    dispatch_deadline=now + timedelta(hours=2),
                    size_bags=1,
                    value_cents=Cents(2_000),
                    created_at=now,
                )
            )
        for index in range(trips):
            shopper = Shopper(f"S{index}", trust_tier=TrustTier.GOLD, identity_verified=True)
            uow.shoppers.add(shopper)
            uow.trips.add(
                Trip(
                    shopper_id=shopper.id,
                    store_id=store.id,
                    destination=GeoPoint(30.50, -84.2211),
                    capacity_bags=1,
                    checked_in_at=now,
                    leave_by=now + timedelta(hours=1),
                    max_detour_m=3_000,
                )
            )
        uow.commit()
    return store


def _open_offers(db: ConnectionPool) -> tuple[Counter[object], Counter[object]]:
    with db.connection() as connection:
        rows = connection.execute(
            """SELECT f.trip_id, oo.order_id FROM offers f JOIN offer_orders oo ON oo.offer_id = f.id
               WHERE f.status = 'open'"""
        ).fetchall()
    return Counter(row[0] for row in rows), Counter(row[1] for row in rows)


def test_a_batch_offers_orders_to_open_trips_through_the_matcher(
    db: ConnectionPool, settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """Three orders, three one-bag trips: three offers, every order offered, the lease released after."""
    store = _store_with(db, clock, orders=3, trips=3)
    leases = PostgresLeases(db)
    report = run_batch(_context(db, settings, clock, RedisLiveState(redis_client), leases), store_id=store.id)
    assert len(report.offers) == 3
    assert report.dropped == []
    with PostgresDispatchUnitOfWork(db) as uow:
        assert {o.status for o in uow.orders.list_for_store(store.id)} == {OrderStatus.OFFERED}
    assert leases.acquire(store.id, 5) is not None


def test_a_trip_leaving_before_an_offer_could_be_answered_gets_none(
    db: ConnectionPool, settings: Settings, clock: ManualClock
) -> None:
    """A trip whose leave-by comes sooner than an offer's answer time is no candidate (an hour ahead, the same
    trip is: `test_a_batch_offers_orders_to_open_trips_through_the_matcher`)."""
    store = _store_with(db, clock, orders=1, trips=1)
    context = _context(db, settings, clock, None)
    clock.advance(timedelta(hours=1) - context.config.batch.offer_ttl + timedelta(seconds=1))
    report = run_batch(context, store_id=store.id)
    assert (report.pending_orders, report.eligible_trips, report.offers) == (1, 0, [])


def test_an_open_trip_of_a_deactivated_account_gets_no_offer(
    db: ConnectionPool, settings: Settings, clock: ManualClock
) -> None:
    """A trip left open for an account deactivated under it (as a check-in racing the deactivation once could)
    is no candidate; the order waits for a trip of an active account."""
    store = _store_with(db, clock, orders=1, trips=1)
    with PostgresDispatchUnitOfWork(db) as uow:
        (trip,) = uow.trips.list_for_store(store.id)
        uow.users.add(
            User(
                email="gone@example.org",
                password_hash="-",
                role=Role.SHOPPER,
                shopper_id=trip.shopper_id,
                created_at=clock.now(),
                active=False,
            )
        )
        uow.commit()
    report = run_batch(_context(db, settings, clock, None), store_id=store.id)
    assert (report.pending_orders, report.eligible_trips, report.offers) == (1, 0, [])


def test_an_order_left_unanswered_goes_back_to_the_same_trip_after_the_cooling_off(
    db: ConnectionPool, settings: Settings, clock: ManualClock
) -> None:
    """The offer expires unanswered: the next batches leave the order pending (it was offered to that trip a
    moment ago), and once `CROWDSHIP_REOFFER_AFTER_S` has passed the same trip gets it again."""
    store = _store_with(db, clock, orders=1, trips=1)
    context = _context(db, settings, clock, None)
    first = run_batch(context, store_id=store.id).offers
    assert len(first) == 1
    clock.advance(context.config.batch.offer_ttl + timedelta(seconds=1))
    assert run_batch(context, store_id=store.id).offers == []
    clock.advance(context.config.batch.reoffer_after)
    again = run_batch(context, store_id=store.id).offers
    assert [(offer.trip_id, offer.stops) for offer in again] == [(first[0].trip_id, first[0].stops)]
    assert again[0].id != first[0].id


def test_racing_batches_without_the_lease_still_never_double_offer(
    db: ConnectionPool, settings: Settings, clock: ManualClock
) -> None:
    """Six batches of one store at once with no lease between them (as when batches outlive theirs): the
    database keeps every order and every trip in at most one open offer."""
    store = _store_with(db, clock, orders=6, trips=4)
    context = _context(db, settings, clock, None)
    with ThreadPoolExecutor(6) as pool:
        reports = list(pool.map(lambda _: run_batch(context, store_id=store.id), range(6)))
    per_trip, per_order = _open_offers(db)
    assert sum(len(r.offers) for r in reports) == sum(per_trip.values())
    assert per_trip
    assert max(per_trip.values()) == 1
    assert max(per_order.values()) == 1


def test_a_held_lease_makes_another_dispatcher_skip_and_only_its_token_frees_it(
    db: ConnectionPool, settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """While someone holds the store's lease the batch is skipped; a wrong token cannot free it."""
    store = _store_with(db, clock, orders=1, trips=1)
    leases = PostgresLeases(db)
    context = _context(db, settings, clock, RedisLiveState(redis_client), leases)
    token = leases.acquire(store.id, 30)
    assert token is not None
    assert run_batch(context, store_id=store.id).skipped
    assert not leases.release(store.id, "not-the-token")
    assert leases.release(store.id, token)
    assert not run_batch(context, store_id=store.id).skipped


def test_with_redis_away_a_batch_still_holds_its_stores_lease_and_offers(
    db: ConnectionPool, settings: Settings, clock: ManualClock
) -> None:
    """Redis refusing connections: the batch takes its store's lease all the same (nobody else can take the store
    while its matcher works), writes its offers and frees the store after."""
    store = _store_with(db, clock, orders=2, trips=2)
    leases = PostgresLeases(db)
    taken_meanwhile: list[str | None] = []

    def watched_matcher(problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        taken_meanwhile.append(leases.acquire(store.id, 30))
        return matcher_solver(problem, time_limit_s)

    redis_away = redis.Redis(
        host="127.0.0.1", port=_closed_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    context = _context(db, settings, clock, RedisLiveState(redis_away), leases)
    report = run_batch(context, store_id=store.id, solver=watched_matcher)
    redis_away.close()
    assert taken_meanwhile == [None], "another dispatcher took the store while Redis was away"
    assert (report.skipped, report.lost_lease, len(report.offers)) == (False, False, 2)
    assert leases.acquire(store.id, 5) is not None


def test_a_batch_that_outlived_its_lease_writes_no_offer(
    db: ConnectionPool, settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """The matcher ran past the lease's time and another dispatcher took the store meanwhile: the late batch
    writes nothing (the other one batches from fresher state), says so in its report and leaves the other's
    lease alone; the orders stay pending for the lease's holder."""
    store = _store_with(db, clock, orders=2, trips=2)
    leases = PostgresLeases(db)

    other: list[str] = []

    def overtaken_matcher(problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        time.sleep(0.3)  # the lease (0.1 s here) runs out while the matcher works ...
        token = leases.acquire(store.id, 30)  # ... and another dispatcher takes the store
        assert token is not None
        other.append(token)
        return matcher_solver(problem, time_limit_s)

    context = _context(db, settings, clock, RedisLiveState(redis_client), leases)
    context = replace(context, config=replace(context.config, lease_ttl_s=0.1))
    report = run_batch(context, store_id=store.id, solver=overtaken_matcher)
    assert (report.lost_lease, report.offers) == (True, [])
    assert _open_offers(db) == (Counter(), Counter())
    with PostgresDispatchUnitOfWork(db) as uow:
        assert {o.status for o in uow.orders.list_for_store(store.id)} == {OrderStatus.PENDING}
    assert leases.release(store.id, other[0])  # the other dispatcher's lease is still its own


def test_two_dispatchers_running_side_by_side_make_no_double_offers(
    db: ConnectionPool, settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """Two dispatcher loops over the same stores for three rounds each: invariants hold, offers are made."""
    _store_with(db, clock, orders=5, trips=3)
    _store_with(db, clock, orders=2, trips=2)
    context = _context(db, settings, clock, RedisLiveState(redis_client), PostgresLeases(db))
    stop = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        rounds = list(pool.map(lambda _: run_dispatcher(context, cadence_s=0.01, stop=stop, max_rounds=3), range(2)))
    assert rounds == [3, 3]
    per_trip, per_order = _open_offers(db)
    assert sum(per_trip.values()) >= 4
    assert max(per_trip.values()) == 1
    assert max(per_order.values()) == 1


def test_a_dispatch_round_rebuilds_positions_after_redis_lost_them(
    db: ConnectionPool, settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """The last PostGIS sample of an active shopper is back in Redis after a flush and one round."""
    store = _store_with(db, clock, orders=0, trips=1)
    with PostgresDispatchUnitOfWork(db) as uow:
        (trip,) = uow.trips.list_for_store(store.id)
        uow.locations.add(LocationSample(trip.shopper_id, trip.id, GeoPoint(30.47, -84.22), clock.now()))
        uow.commit()
    live = RedisLiveState(redis_client)
    redis_client.flushdb()
    dispatch_round(_context(db, settings, clock, live))
    position = live.position(trip.shopper_id)
    assert position is not None
    assert abs(position.lat - 30.47) < 1e-5


def test_the_matcher_is_loaded_ahead_of_a_batch_and_before_its_lease_and_nothing_is_for_another_solver() -> None:
    """In a fresh interpreter (this one has loaded it already): importing the batch leaves the matcher unloaded;
    a test's solver loads nothing; warming up loads it on its own thread, and a batch that comes meanwhile (an ops
    user's, just after the API started) waits on that load before it takes its store's lease, so that the load
    (up to a minute on a busy machine) is not spent out of the lease."""
    script = """
import sys
from datetime import UTC, datetime
from uuid import uuid4
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.services.batch import matcher_solver, run_batch
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.matcher_loading import warm_up

loaded_at_acquire = []

class Leases:
    def acquire(self, store_id, ttl_s):
        loaded_at_acquire.append("dispatch.matching.solver" in sys.modules)
        return None  # held by another: the batch skips the store

    def release(self, store_id, token):
        return True

context = DispatchContext(
    unit_of_work=lambda: None,
    clock=ManualClock(datetime.now(UTC)),
    config=DispatchConfig.from_settings(Settings(environment="test")),
    leases=Leases(),
)
test_solver = lambda problem, limit: {}
assert "dispatch.matching.solver" not in sys.modules
assert warm_up(test_solver) is None
assert run_batch(context, store_id=uuid4(), solver=test_solver).skipped
assert loaded_at_acquire == [False], loaded_at_acquire
loading = warm_up(matcher_solver)
assert loading is not None and loading.daemon
assert run_batch(context, store_id=uuid4()).skipped
assert loaded_at_acquire == [False, True], loaded_at_acquire
loading.join()
"""
    # The load's time is the machine's (seconds when quiet, a minute or more when busy): not what this pins.
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
