"""A dispatcher frozen (SIGSTOP) while it holds a store's lease, with Redis away as when the lease was a
session's advisory lock that a frozen process kept for ever: another dispatcher takes the store once the lease
runs out, and the frozen one, resumed (SIGCONT), writes no offer for it: its lease is fenced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from psycopg_pool import ConnectionPool

from crowdship.db import open_pool
from crowdship.units import Cents
from dispatch.adapters.leases import WRITER_IDLE_LIMIT_S
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from routing.areas import circular_area
from tests.resilience.conftest import HOME, ON_THE_WAY, STORE_AT, Servers, wait_for

pytestmark = pytest.mark.slow

LEASE_S = 4.0
MATCHER_S = 2.0


def _add_store(pool: ConnectionPool, name: str, *, orders: int) -> tuple[Store, list[UUID]]:
    """A store with as many pending orders as one-bag trips of checked-in shoppers: each can be offered."""
    now = datetime.now(UTC)
    store = Store(name, STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    made = []
    with PostgresDispatchUnitOfWork(pool) as uow:
        uow.stores.add(store)
        for index in range(orders):
            shopper = Shopper(f"{name} {index}", trust_tier=TrustTier.GOLD, identity_verified=True)
            uow.shoppers.add(shopper)
            uow.trips.add(
                Trip(shopper.id, store.id, HOME, 1, now - timedelta(minutes=5), now + timedelta(hours=1), 4000)
            )
            order = Order(
                store_id=store.id,
                external_ref=f"{name}-{index}",
                dropoff=ON_THE_WAY,
                dropoff_address="1200 Magnolia Dr",
                recipient_name="Jade Moreau",
                window_earliest=now - timedelta(hours=1),
                window_latest=now + timedelta(hours=3),
                dispatch_deadline=now + timedelta(hours=2),
                size_bags=1,
                value_cents=Cents(2500),
                created_at=now - timedelta(hours=1),
            )
            uow.orders.add(order)
            made.append(order.id)
        uow.commit()
    return store, made


def _open_offers(pool: ConnectionPool, order_ids: list[UUID]) -> int:
    with pool.connection() as connection:
        row = connection.execute(
            "SELECT count(*) FROM offer_orders oo JOIN offers f ON f.id = oo.offer_id"
            " WHERE oo.order_id = ANY(%s) AND f.status = 'open'",
            [order_ids],
        ).fetchone()
    return int(row[0]) if row else 0


def _held_fence(pool: ConnectionPool, store_id: UUID) -> int | None:
    """The fence of the store's lease while someone holds it; None when it is free."""
    with pool.connection() as connection:
        row = connection.execute(
            "SELECT fence FROM store_leases WHERE store_id = %s AND expires_at > clock_timestamp()", [store_id]
        ).fetchone()
    return None if row is None else int(row[0])


def _batches(log: Path, store_id: UUID, *, after: int = 0, failed_too: bool = False) -> list[dict[str, object]]:
    """The store's batches in the log, in order; `failed_too`, with those that ended in an error and the rounds
    that did (a database error in a batch ends its round)."""
    text = log.read_bytes()[after:].decode(errors="replace")
    events = (json.loads(line) for line in text.splitlines() if line.startswith("{"))
    return [
        event
        for event in events
        if (event.get("event") == "batch" and event.get("store_id") == str(store_id))
        or (failed_too and event.get("event") == "batch failed" and event.get("store_id") == str(store_id))
        or (failed_too and event.get("event") == "dispatch round failed")
    ]


def test_a_frozen_dispatchers_store_is_taken_over_and_the_frozen_one_resumed_writes_no_offer(
    servers: Servers, tmp_path: Path
) -> None:
    """Dispatcher A batches alone (its matcher loaded on a first store); a second store's orders come in and A is
    frozen while it holds that store's lease, its offers unwritten. B starts and takes the store once A's lease
    ran out (bounded by the lease, the writer's idle limit and B's start) and offers its orders; A, resumed, ends
    the batch it was in without writing an offer, and neither dispatcher had an offer refused by the database."""
    servers.kill_redis()
    with open_pool(servers.database_url, max_size=2) as pool, _dispatcher(servers, tmp_path, "a") as (a, a_log):
        warm_store, warm_orders = _add_store(pool, "Warm-up store", orders=1)
        wait_for(lambda: _open_offers(pool, warm_orders) == 1, timeout=120, what="A's first offer (matcher loaded)")

        store, orders, fence = _freeze_while_holding(pool, a)
        frozen_at = time.monotonic()
        try:
            with _dispatcher(servers, tmp_path, "b") as (_, b_log):
                wait_for(
                    lambda: (_held_fence(pool, store.id) or 0) > fence,
                    timeout=90,
                    every=0.05,
                    what="B to take the frozen dispatcher's store",
                )
                took_over_s = time.monotonic() - frozen_at
                wait_for(lambda: _open_offers(pool, orders) == 3, timeout=90, what="B's offers")
                resumed_from = a_log.stat().st_size
                os.kill(a.pid, signal.SIGCONT)
                a_batch = wait_for(
                    lambda: _batches(a_log, store.id, after=resumed_from, failed_too=True),
                    timeout=30,
                    what="A's batch in flight to end",
                )[0]
                # Frozen inside a transaction, A found its session ended by PostgreSQL (the idle limit): the batch,
                # or the round, failed on it. Frozen between two, it found its lease taken at its next write
                # (`lost_lease`), or, frozen before it read the orders, none left pending by B.
                if a_batch["event"] == "batch":
                    assert a_batch["offers"] == 0, f"A, resumed, wrote offers under a lease taken over: {a_batch}"
                assert _open_offers(pool, orders) == 3
        finally:
            with suppress(ProcessLookupError):
                os.kill(a.pid, signal.SIGCONT)
        print(f"took over {took_over_s:.1f} s after the freeze (lease {LEASE_S:g} s)")
        assert took_over_s >= LEASE_S - 1, "the store was taken while A's lease still ran"
        for log in (a_log, b_log):
            every = [event for event in _batches(log, store.id) + _batches(log, warm_store.id)]
            assert not [event for event in every if event["conflicts"]], "two dispatchers batched one store at once"
            assert "Traceback" not in log.read_text(errors="replace")
        assert WRITER_IDLE_LIMIT_S < LEASE_S * 2


def _freeze_while_holding(pool: ConnectionPool, process: subprocess.Popen[bytes]) -> tuple[Store, list[UUID], int]:
    """A store whose orders come in, and SIGSTOP to the dispatcher as soon as it holds the store's lease (it runs
    alone), before it wrote an offer: the store, its orders and the fence held. A small batch can end in a moment
    (the matcher stops once it proves its plan optimal), so a freeze that came too late is undone and tried again
    on another store, rather than timed to the matcher's budget."""
    for attempt in range(10):
        store, orders = _add_store(pool, f"Frozen store {attempt}", orders=3)
        deadline = time.monotonic() + 30
        while (fence := _held_fence(pool, store.id)) is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if fence is None:
            continue
        os.kill(process.pid, signal.SIGSTOP)
        if _held_fence(pool, store.id) == fence and _open_offers(pool, orders) == 0:
            return store, orders, fence
        os.kill(process.pid, signal.SIGCONT)  # the batch ended, or wrote its offers, before the stop: again
    raise AssertionError("never stopped the dispatcher while it held a store's lease with its offers unwritten")


@contextmanager
def _dispatcher(servers: Servers, tmp_path: Path, name: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    env = {
        **os.environ,
        "CROWDSHIP_DATABASE_URL": servers.database_url,
        "CROWDSHIP_REDIS_URL": servers.redis_url,
        "CROWDSHIP_ENVIRONMENT": "production",
        "CROWDSHIP_LOG_FORMAT": "json",
        "CROWDSHIP_DISPATCH_LEASE_S": str(LEASE_S),
        "CROWDSHIP_MATCHER_TIME_LIMIT_S": str(MATCHER_S),
        # Frozen for as long as B needs to start: no stuck round when it resumes.
        "CROWDSHIP_DISPATCH_STALL_S": "600",
    }
    log = tmp_path / f"dispatcher-{name}.log"
    with log.open("wb") as out:
        command = [str(Path(sys.executable).parent / "crowdship"), "dispatcher", "--cadence", "0.2"]
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process, log
        assert process.poll() is None, f"dispatcher {name} died: {log.read_text(errors='replace')[-3000:]}"
    finally:
        with suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
