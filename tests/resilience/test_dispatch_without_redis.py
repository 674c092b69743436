"""Dispatch goes on while Redis is away: two real dispatcher processes, started once the module's own Redis is
killed, still expire offers, hand orders past their deadline to the courier fleet and offer pending orders,
each store's batch leased from PostgreSQL (as ever) so that the two never batch one store at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg_pool import ConnectionPool

from crowdship.db import open_pool
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Offer, Order, OrderStatus, Shopper, Store, Trip, TrustTier
from routing.areas import circular_area
from tests.resilience.conftest import HOME, ON_THE_WAY, STORE_AT, Servers, wait_for

pytestmark = pytest.mark.slow

COLD_START_S = 300.0
"""How long a dispatcher may take to load its matcher (OR-Tools, SciPy, the compiled search) before its first
batch: seconds on a quiet machine, minutes on one busy with the rest of the suite. The machine's, not the product's."""


def _order(store: Store, ref: str, now: datetime, *, deadline: datetime) -> Order:
    return Order(
        store_id=store.id,
        external_ref=ref,
        dropoff=ON_THE_WAY,
        dropoff_address="1200 Magnolia Dr",
        recipient_name="Jade Moreau",
        window_earliest=now - timedelta(hours=1),
        window_latest=now + timedelta(hours=3),
        dispatch_deadline=deadline,
        size_bags=1,
        value_cents=Cents(2500),
        created_at=now - timedelta(hours=1),
    )


def _trip(shopper: Shopper, store: Store, now: datetime) -> Trip:
    return Trip(shopper.id, store.id, HOME, 3, now - timedelta(minutes=5), now + timedelta(hours=1), 4000)


def _status(pool: ConnectionPool, order_id: UUID) -> OrderStatus:
    with PostgresDispatchUnitOfWork(pool) as uow:
        return uow.orders.get(order_id).status


def _offer_status(pool: ConnectionPool, offer_id: UUID) -> str:
    with pool.connection() as connection:
        row = connection.execute("SELECT status FROM offers WHERE id = %s", [offer_id]).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.usefixtures("matcher_loaded")  # numba's cache filled here, not by both dispatchers at once
def test_two_dispatchers_batch_every_store_while_redis_is_away(servers: Servers, tmp_path: Path) -> None:
    """Per store: an order past its dispatch deadline, a pending one, and one on an offer whose time ran out
    before the outage. Redis is killed, then two dispatchers start: within seconds every late order is the
    courier fleet's, every stale offer expired and every pending order offered, no batch was refused an offer
    by the database (the leases kept the two apart) and neither process failed a round."""
    now = datetime.now(UTC)
    stores = [Store(f"Store {index}", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899)) for index in range(3)]
    late, pending, stale_offers = [], [], []
    with open_pool(servers.database_url, max_size=2) as pool:
        with PostgresDispatchUnitOfWork(pool) as uow:
            for store in stores:
                uow.stores.add(store)
                shoppers = [
                    Shopper(f"{store.name} {n}", trust_tier=TrustTier.GOLD, identity_verified=True) for n in range(2)
                ]
                trips = [_trip(shopper, store, now) for shopper in shoppers]
                for shopper, trip in zip(shoppers, trips, strict=True):
                    uow.shoppers.add(shopper)
                    uow.trips.add(trip)
                late_order = _order(store, f"LATE-{store.name}", now, deadline=now - timedelta(minutes=1))
                pending_order = _order(store, f"PENDING-{store.name}", now, deadline=now + timedelta(hours=2))
                offered_order = _order(store, f"OFFERED-{store.name}", now, deadline=now + timedelta(hours=2))
                offered_order.offer()
                for order in (late_order, pending_order, offered_order):
                    uow.orders.add(order)
                offer = Offer(
                    trip_id=trips[0].id,
                    stops=(offered_order.id,),
                    extra_distance_m=500,
                    extra_duration_s=60,
                    reward_quote_cents=Cents(500),
                    created_at=now - timedelta(minutes=3),
                    expires_at=now - timedelta(minutes=1),
                )
                uow.offers.add(offer)
                late.append(late_order.id)
                pending.append(pending_order.id)
                stale_offers.append(offer.id)
            uow.commit()
        assert all(_status(pool, order_id) is OrderStatus.PENDING for order_id in late)

        servers.kill_redis()
        with _dispatchers(servers, tmp_path) as logs, _telling(logs):
            # Each one's first batch waits for its matcher to load (seconds, a minute or more on a busy machine),
            # holding its store meanwhile: the clock of what the outage is about starts once both batch.
            wait_for(
                lambda: all(_batches(log) for log in logs),
                timeout=COLD_START_S,
                what="each dispatcher's first batch (its matcher loaded)",
            )
            wait_for(
                lambda: all(_status(pool, order_id) is OrderStatus.FALLBACK for order_id in late),
                timeout=60,
                what="the orders past their deadline to go to the courier fleet",
            )
            wait_for(
                lambda: all(_offer_status(pool, offer_id) == "expired" for offer_id in stale_offers),
                timeout=60,
                what="the offers whose time ran out to expire",
            )
            wait_for(
                lambda: all(_status(pool, order_id) is OrderStatus.OFFERED for order_id in pending),
                timeout=60,
                what="the pending orders to be offered",
            )
            # A batch logs once its offers are committed: the last store's line may follow the offers seen above.
            wait_for(
                lambda: {event["store_id"] for log in logs for event in _batches(log)} >= {str(s.id) for s in stores},
                timeout=30,
                what="each store's batch to be logged",
            )
        batches = [event for log in logs for event in _batches(log)]
        assert batches
        assert {event["store_id"] for event in batches} == {str(store.id) for store in stores}
        assert not [event for event in batches if event["conflicts"]], "two dispatchers batched one store at once"
        for log in logs:
            text = log.read_text()
            assert "Traceback" not in text
            assert "dispatch round failed" not in text, text[-3000:]
            assert text.count("live state not tended") == 1, "logged every round rather than once a minute"


def _batches(log: Path) -> list[dict[str, Any]]:
    """The batches a dispatcher logged so far."""
    lines = (line for line in log.read_text().splitlines() if line.startswith("{"))
    return [event for event in map(json.loads, lines) if event.get("event") == "batch"]


@contextmanager
def _telling(logs: list[Path]) -> Iterator[None]:
    """A failure inside the block carries the end of the dispatchers' logs."""
    try:
        yield
    except AssertionError as failure:
        tails = "\n".join(log.read_text(errors="replace")[-6000:] for log in logs)
        raise AssertionError(f"{failure}\n{tails}") from None


@contextmanager
def _dispatchers(servers: Servers, tmp_path: Path) -> Iterator[list[Path]]:
    """Two dispatcher processes on the module's servers, stopped (SIGTERM) at the block's end; their logs."""
    env = {
        **os.environ,
        "CROWDSHIP_DATABASE_URL": servers.database_url,
        "CROWDSHIP_REDIS_URL": servers.redis_url,
        "CROWDSHIP_ENVIRONMENT": "production",
        "CROWDSHIP_LOG_FORMAT": "json",
        "CROWDSHIP_MATCHER_TIME_LIMIT_S": "0.3",
        # A first batch waits for the matcher to load: not a stuck round.
        "CROWDSHIP_DISPATCH_STALL_S": str(COLD_START_S),
    }
    crowdship = str(Path(sys.executable).parent / "crowdship")
    logs = [tmp_path / f"dispatcher-{index}.log" for index in range(2)]
    started = []
    try:
        for log in logs:
            with log.open("wb") as out:
                command = [crowdship, "dispatcher", "--cadence", "0.2"]
                started.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
        yield logs
        for process in started:
            assert process.poll() is None, "a dispatcher died"
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
