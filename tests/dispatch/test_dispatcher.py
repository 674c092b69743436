"""The dispatcher loop survives its backing services being away: a failed round is logged and retried after a
backoff that grows, and the loop goes on. The servers here are really unreachable (nothing listens on the
port); `tests/resilience/` kills and restarts the project's own servers under a running dispatcher."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from psycopg_pool import ConnectionPool

from composition import forgetting_old_idempotency_keys
from crowdship.cache import open_redis
from crowdship.clock import ManualClock
from crowdship.db import open_pool
from crowdship.outages import BACKING_SERVICE_ERRORS as OUTAGES
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.live import RedisLiveState
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.evidence import LocationSample
from dispatch.live import LiveState
from dispatch.model import Shopper, Store, Trip
from dispatch.prospects import ProspectTerms
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.dispatcher import (
    MAX_BACKOFF_S,
    RoundWatch,
    StoresInFlight,
    _await_round,
    backoff_s,
    dispatch_round,
    prune_live_positions,
    run_dispatcher,
)
from routing.areas import circular_area
from routing.geo import GeoPoint

HERE = GeoPoint(30.4627, -84.2211)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _context(pool: ConnectionPool, settings: Settings, live: LiveState | None) -> DispatchContext:
    return DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(pool),
        clock=ManualClock(datetime.now(UTC)),
        config=DispatchConfig.from_settings(settings),
        live=live,
    )


def test_the_backoff_doubles_per_failure_up_to_a_minute_and_resets() -> None:
    assert backoff_s(10.0, 0) == 10.0
    assert backoff_s(10.0, 1, jitter=lambda: 0.0) == 20.0
    assert backoff_s(10.0, 2, jitter=lambda: 0.0) == 40.0
    assert backoff_s(10.0, 9, jitter=lambda: 0.0) == MAX_BACKOFF_S
    assert backoff_s(10.0, 9, jitter=lambda: 1.0) == pytest.approx(0.8 * MAX_BACKOFF_S)


def test_rounds_go_on_while_redis_is_unreachable(db: ConnectionPool, settings: Settings) -> None:
    """Redis unreachable in every round: its live state is left untended (logged), the stores are batched (their
    leases are PostgreSQL's), and the loop runs again; it never raises."""
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    ctx = _context(db, settings, RedisLiveState(open_redis(dead)))
    assert run_dispatcher(ctx, cadence_s=0.001, stop=threading.Event(), max_rounds=3, outages=OUTAGES) == 3


def test_rounds_go_on_while_postgres_is_unreachable(settings: Settings) -> None:
    """The pool cannot connect (nothing listens): each round fails fast and the loop goes on."""
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/crowdship"
    with open_pool(url, name="dead", timeout_s=0.2, connect_timeout_s=1, wait=False) as pool:
        ctx = _context(pool, settings, None)
        assert run_dispatcher(ctx, cadence_s=0.001, stop=threading.Event(), max_rounds=3, outages=OUTAGES) == 3


def test_a_stop_request_ends_the_loop_during_a_backoff(db: ConnectionPool, settings: Settings) -> None:
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    ctx = _context(db, settings, RedisLiveState(open_redis(dead)))
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert run_dispatcher(ctx, cadence_s=5.0, stop=stop, outages=OUTAGES) == 1


def test_positions_of_shoppers_off_trip_are_pruned_once_a_minute(
    db: ConnectionPool, settings: Settings, redis_client: redis.Redis
) -> None:
    """A position left behind (Redis was away when the trip ended) goes at the next prune; one on a trip stays;
    a second dispatcher within the minute does not prune again."""
    clock = ManualClock(datetime.now(UTC))
    on_trip, off_trip = Shopper("On"), Shopper("Off")
    store = Store("Prune store", HERE, circular_area(HERE, 5_000), Cents(899))
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.shoppers.add(on_trip)
        uow.shoppers.add(off_trip)
        uow.trips.add(
            Trip(on_trip.id, store.id, HERE, 2, clock.now(), clock.now() + timedelta(hours=1), max_detour_m=1000)
        )
        uow.commit()
    live = RedisLiveState(redis_client)
    live.rebuild_positions([LocationSample(shopper.id, None, HERE, clock.now()) for shopper in (on_trip, off_trip)])
    ctx = _context(db, settings, live)
    assert prune_live_positions(ctx) == 1
    assert live.position(on_trip.id) is not None
    assert live.position(off_trip.id) is None
    live.rebuild_positions([LocationSample(off_trip.id, None, HERE, clock.now())])
    assert prune_live_positions(ctx) == 0


def test_the_context_is_refreshed_on_its_clock_and_a_failed_refresh_keeps_the_old_one_and_is_tried_again_soon(
    db: ConnectionPool, settings: Settings
) -> None:
    """Rounds every 30 minutes of the context's clock with an hourly refresh: asked at 60 (it fails: the
    rounds go on with the context they had, and it is due again a minute later), at 90 (it succeeds), then an
    hour later, at 150, handed what 90 made."""
    started = datetime.now(UTC)
    clock = ManualClock(started)
    ctx = replace(_context(db, settings, None), clock=clock)
    asked: list[tuple[timedelta, ProspectTerms | None]] = []

    def refresh(current: DispatchContext) -> DispatchContext:
        asked.append((current.clock.now() - started, current.prospects))
        if len(asked) == 1:
            raise RuntimeError("history unreadable")
        return replace(current, prospects=ProspectTerms(take_rate=len(asked) / 10))

    class HalfHourPasses(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:  # noqa: ARG002
            clock.advance(timedelta(minutes=30))
            return False

    rounds = run_dispatcher(ctx, cadence_s=1.0, stop=HalfHourPasses(), max_rounds=7, refresh=refresh)
    assert rounds == 7
    assert asked == [
        (timedelta(minutes=60), None),
        (timedelta(minutes=90), None),
        (timedelta(minutes=150), ProspectTerms(take_rate=0.2)),
    ]


def test_an_acceptance_aware_dispatcher_started_during_an_outage_fits_its_model_a_minute_after_the_return(
    db: ConnectionPool, settings: Settings
) -> None:
    """It starts on the default model without reading; the fit at its first round finds PostgreSQL away (really
    unreachable: nothing listens) and is tried again a minute later, not an hour later, on the database that
    is back; every round in between runs."""
    from composition import acceptance_aware

    started = datetime.now(UTC)
    clock = ManualClock(started)
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/crowdship"
    with open_pool(url, name="away", timeout_s=0.2, connect_timeout_s=1, wait=False) as away:
        ctx = acceptance_aware(replace(_context(away, settings, None), clock=clock), refit="later")
        fitted_at: list[timedelta] = []

        def refit_on_the_database_back_after_40_s(current: DispatchContext) -> DispatchContext:
            if current.clock.now() - started >= timedelta(seconds=40):
                current = replace(current, unit_of_work=lambda: PostgresDispatchUnitOfWork(db))
            refitted = acceptance_aware(current, refit="now")
            fitted_at.append(current.clock.now() - started)
            return refitted

        class TwentySecondsPass(threading.Event):
            def wait(self, timeout: float | None = None) -> bool:  # noqa: ARG002
                clock.advance(timedelta(seconds=20))
                return False

        rounds = run_dispatcher(
            ctx,
            cadence_s=1.0,
            stop=TwentySecondsPass(),
            max_rounds=6,
            outages=OUTAGES,
            refresh=refit_on_the_database_back_after_40_s,
            refresh_at_start=True,
        )
    assert rounds == 6
    assert fitted_at == [timedelta(seconds=60)], "tried at 0 (away), then a minute later, on the database back"


def test_housekeeping_runs_at_the_first_round_then_hourly_and_a_failure_is_tried_again(
    db: ConnectionPool, settings: Settings
) -> None:
    """Rounds every 30 minutes of the context's clock: housekeeping is asked at the first round (it fails, the
    rounds go on, and it is due again a minute later), at 30, then hourly, at 90 and 150, each time with the
    context of the moment; so a dispatcher restarted within the hour still does it."""
    started = datetime.now(UTC)
    clock = ManualClock(started)
    ctx = replace(_context(db, settings, None), clock=clock)
    asked: list[timedelta] = []

    def housekeeping(current: DispatchContext) -> None:
        asked.append(current.clock.now() - started)
        if len(asked) == 1:
            raise OSError("server restarting")

    class HalfHourPasses(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:  # noqa: ARG002
            clock.advance(timedelta(minutes=30))
            return False

    assert run_dispatcher(ctx, cadence_s=1.0, stop=HalfHourPasses(), max_rounds=7, housekeeping=housekeeping) == 7
    assert asked == [timedelta(0), timedelta(minutes=30), timedelta(minutes=90), timedelta(minutes=150)]


def test_the_dispatchers_housekeeping_forgets_idempotency_keys_past_the_setting(
    db: ConnectionPool, settings: Settings
) -> None:
    """What `crowdship dispatcher` wires: keys older than `CROWDSHIP_IDEMPOTENCY_RETENTION_DAYS` go."""
    clock = ManualClock(datetime.now(UTC))
    ctx = replace(_context(db, settings, None), clock=clock)
    with db.connection() as connection:
        for key, age in (("old", timedelta(days=8)), ("young", timedelta(days=6))):
            connection.execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('s', %s, 'h', %s)",
                (key, clock.now() - age),
            )
    forget = forgetting_old_idempotency_keys(db, settings.model_copy(update={"idempotency_retention_days": 7}))
    assert forget(ctx) == 1
    with db.connection() as connection:
        assert connection.execute("SELECT key FROM idempotency_keys").fetchall() == [("young",)]


def _stores(db: ConnectionPool, *names: str) -> list[Store]:
    stores = [Store(name, HERE, circular_area(HERE, 5_000), Cents(899)) for name in names]
    with PostgresDispatchUnitOfWork(db) as uow:
        for store in stores:
            uow.stores.add(store)
        uow.commit()
    return stores


def test_a_round_that_stops_making_progress_is_abandoned_and_starts_no_store_once_unstuck(
    db: ConnectionPool, settings: Settings
) -> None:
    """The first round's first query waits on a server that stopped answering (no timeout ends that): the loop
    gives up on it after the stall time and its next rounds run; once the server answers, the abandoned round
    ends without batching any store, so no store is batched by two rounds at once."""
    _stores(db, "Stalled store")
    answering = threading.Event()
    calls: list[int] = []  # the thread of each unit of work asked for

    def unit_of_work() -> PostgresDispatchUnitOfWork:
        calls.append(threading.get_ident())
        if len(calls) == 1:
            answering.wait(60)
        return PostgresDispatchUnitOfWork(db)

    ctx = replace(_context(db, settings, None), unit_of_work=unit_of_work)
    rounds: list[int] = []
    loop = threading.Thread(
        target=lambda: rounds.append(
            run_dispatcher(ctx, cadence_s=0.01, stop=threading.Event(), max_rounds=3, outages=OUTAGES, stall_s=0.3)
        ),
        daemon=True,
    )
    try:
        loop.start()
        loop.join(timeout=30)
        assert rounds == [3], "the loop waited on the stuck round"
    finally:
        answering.set()
    stuck = calls[0]
    assert any(ident != stuck for ident in calls)  # the later rounds read and batched without it
    _wait_until(lambda: not any(thread.ident == stuck for thread in threading.enumerate()))
    assert calls.count(stuck) == 1  # unstuck, it listed the stores and batched none


def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(300):
        if condition():
            return
        threading.Event().wait(0.1)
    raise AssertionError("gave up waiting")


def test_a_store_an_abandoned_round_is_still_in_is_skipped_by_the_next_round(
    db: ConnectionPool, settings: Settings
) -> None:
    stuck_in, free = _stores(db, "Store a round is stuck in", "Free store")
    in_flight = StoresInFlight()
    assert in_flight.take(stuck_in.id)
    reports = dispatch_round(_context(db, settings, None), outages=OUTAGES, watch=RoundWatch(in_flight))
    assert [report.store_id for report in reports] == [free.id]
    in_flight.give_back(stuck_in.id)
    again = dispatch_round(_context(db, settings, None), outages=OUTAGES, watch=RoundWatch(in_flight))
    assert {report.store_id for report in again} == {stuck_in.id, free.id}


@contextmanager
def _idempotency_keys_locked(db: ConnectionPool) -> Iterator[None]:
    """Another transaction holds the idempotency keys' table: a query on it waits, as on a server that stopped
    answering, until the block ends."""
    with db.connection() as connection, connection.transaction():
        connection.execute("LOCK TABLE idempotency_keys IN ACCESS EXCLUSIVE MODE")
        yield


def _in_a_thread(run: Callable[[], int]) -> tuple[threading.Thread, list[int]]:
    rounds: list[int] = []
    loop = threading.Thread(target=lambda: rounds.append(run()), daemon=True)
    loop.start()
    return loop, rounds


def test_housekeeping_stuck_on_its_query_is_abandoned_and_the_rounds_go_on(
    db: ConnectionPool, settings: Settings
) -> None:
    """The housekeeping's delete waits on the idempotency keys: after the stall time the loop gives up waiting
    for it and runs its rounds; once the table is free, the abandoned housekeeping finishes its work."""
    clock = ManualClock(datetime.now(UTC))
    with db.connection() as connection:
        connection.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('s', 'old', 'h', %s)",
            (clock.now() - timedelta(days=400),),
        )
    listed: list[int] = []

    def unit_of_work() -> PostgresDispatchUnitOfWork:
        listed.append(threading.get_ident())
        return PostgresDispatchUnitOfWork(db)

    ctx = replace(_context(db, settings, None), clock=clock, unit_of_work=unit_of_work)
    forget = forgetting_old_idempotency_keys(db, settings)
    with _idempotency_keys_locked(db):
        loop, rounds = _in_a_thread(
            lambda: run_dispatcher(
                ctx, cadence_s=0.01, stop=threading.Event(), max_rounds=3, housekeeping=forget, stall_s=0.3
            )
        )
        loop.join(timeout=15)
        assert rounds == [3], "the loop waited on the stuck housekeeping"
        assert listed  # the rounds read the stores meanwhile
    _wait_until(lambda: not any(thread.name == "dispatcher-housekeeping" for thread in threading.enumerate()))
    with db.connection() as connection:
        assert connection.execute("SELECT count(*) FROM idempotency_keys").fetchone() == (0,)


def test_a_refresh_stuck_on_its_query_is_abandoned_and_the_rounds_go_on_with_the_context_they_had(
    db: ConnectionPool, settings: Settings
) -> None:
    """Rounds every 30 minutes of the context's clock; the hourly refresh (at 60) reads the idempotency keys,
    which wait: the loop gives up on it after the stall time and its rounds go on with the context they had."""
    started = datetime.now(UTC)
    clock = ManualClock(started)
    seen: list[ProspectTerms | None] = []

    def housekeeping(current: DispatchContext) -> None:
        seen.append(current.prospects)

    def refresh(current: DispatchContext) -> DispatchContext:
        with db.connection() as connection:
            connection.execute("SELECT count(*) FROM idempotency_keys").fetchone()
        return replace(current, prospects=ProspectTerms(take_rate=0.5))

    class HalfHourPasses(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:  # noqa: ARG002
            clock.advance(timedelta(minutes=30))
            return False

    ctx = replace(_context(db, settings, None), clock=clock)
    with _idempotency_keys_locked(db):
        loop, rounds = _in_a_thread(
            lambda: run_dispatcher(
                ctx,
                cadence_s=1.0,
                stop=HalfHourPasses(),
                max_rounds=4,
                refresh=refresh,
                housekeeping=housekeeping,
                refresh_every=timedelta(minutes=60),
                stall_s=0.3,
            )
        )
        loop.join(timeout=15)
        assert rounds == [4], "the loop waited on the stuck refresh"
    assert seen == [None, None]  # housekeeping at 0 and at 60, after the refresh was given up: the old context
    _wait_until(lambda: not any(thread.name == "dispatcher-refresh" for thread in threading.enumerate()))


def test_a_round_is_not_abandoned_for_the_time_its_dispatcher_spent_frozen() -> None:
    """SIGSTOP or a paused VM freezes the loop and its round alike: resumed, the loop saw 45 s without progress
    and abandoned a round that was not stuck (an error logged as 'no progress for 30 s', a failure counted). The
    time the loop itself did not run is not the round's: it gets its `stall_s` again from the resumption."""
    watch = RoundWatch(StoresInFlight(), progress_at=0.0)
    readings = iter([0.0, 45.0, *range(46, 100)])  # each wait of the loop: the second came 45 s late, frozen
    finishing = threading.Timer(2.5, watch.done.set)
    finishing.start()
    try:
        assert _await_round(watch, threading.Event(), stall_s=30, monotonic=lambda: float(next(readings)))
    finally:
        finishing.cancel()
