"""`crowdship dispatcher` loads the matcher before its first round: loading it cold takes seconds, more than a
minute on a busy machine (numba), and a first batch that loaded it did so under its store's lease, outlived the
lease and lost its work. Pinned by the order of the dispatcher's own log, not by how long anything took."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from routing.areas import circular_area
from routing.geo import GeoPoint

pytestmark = pytest.mark.slow

STORE_AT = GeoPoint(30.4627, -84.2211)
COLD_START_S = 300.0
"""How long a dispatcher may take to load its matcher and batch once: the machine's bound, not the product's."""


def _store_with_an_order_and_a_trip(db: ConnectionPool) -> Store:
    now = datetime.now(UTC)
    store = Store("Warm store", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    shopper = Shopper("Ana Lee", trust_tier=TrustTier.GOLD, identity_verified=True)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.trips.add(
            Trip(shopper.id, store.id, GeoPoint(30.50, -84.2211), 1, now, now + timedelta(hours=1), max_detour_m=3_000)
        )
        uow.orders.add(
            Order(
                store_id=store.id, external_ref="WARM-1", dropoff=GeoPoint(30.48, -84.2190),
                dropoff_address="1200 Magnolia Dr", recipient_name="Jade Moreau", window_earliest=now,
                window_latest=now + timedelta(hours=3), dispatch_deadline=now + timedelta(hours=2), size_bags=1,
                value_cents=Cents(2_500), created_at=now,
            )
        )  # fmt: skip
        uow.commit()
    return store


def _events(log: Path) -> list[dict[str, object]]:
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def _first(log: Path, event_name: str) -> int | None:
    """Where the first such event is in the log, counting JSON lines."""
    found = [i for i, event in enumerate(_events(log)) if event.get("event") == event_name]
    return found[0] if found else None


@pytest.mark.parametrize("mode", [["--once"], ["--cadence", "0.2"]], ids=["once", "loop"])
def test_the_dispatcher_loads_the_matcher_before_its_first_batch(
    db: ConnectionPool, settings: Settings, tmp_path: Path, mode: list[str]
) -> None:
    store = _store_with_an_order_and_a_trip(db)
    env = {
        **os.environ,
        "CROWDSHIP_DATABASE_URL": str(settings.database_url),
        "CROWDSHIP_REDIS_URL": str(settings.redis_url),
        "CROWDSHIP_LOG_FORMAT": "json",
        "CROWDSHIP_MATCHER_TIME_LIMIT_S": "0.5",
    }
    log = tmp_path / "dispatcher.log"
    with log.open("wb") as out:
        command = [str(Path(sys.executable).parent / "crowdship"), "dispatcher", *mode]
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + COLD_START_S
        while _first(log, "batch") is None and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    events = _events(log)
    first_batch, ready = _first(log, "batch"), _first(log, "matcher ready")
    assert first_batch is not None, f"no batch logged: {log.read_text(errors='replace')[-3000:]}"
    assert ready is not None, f"the matcher's load was never logged: {events}"
    assert ready < first_batch, f"the first batch came before the matcher was loaded: {events}"
    batch = events[first_batch]
    assert (batch["store_id"], batch["offers"], batch["lost_lease"]) == (str(store.id), 1, False)
