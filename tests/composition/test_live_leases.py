"""Every live context leases its stores' batches from PostgreSQL, given Redis or not: one built without Redis (as
`cli.database.live_service_context(with_redis=False)` builds `crowdship demo`'s when none is configured) took no lease
at all, so a batch run on it could share a store with a dispatcher's. The simulator, one process alone, takes none."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from composition import in_memory, live_context
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.leases import PostgresLeases
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store
from dispatch.services.batch import run_batch
from dispatch.services.context import DispatchConfig
from routing.areas import circular_area
from routing.geo import GeoPoint

STORE_AT = GeoPoint(30.4627, -84.2211)


def test_a_live_context_without_redis_skips_a_store_another_dispatcher_holds(
    db: ConnectionPool, settings: Settings
) -> None:
    store = Store("Leased store", STORE_AT, circular_area(STORE_AT, 5_000), Cents(899))
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.commit()
    without_redis = live_context(settings, db, clock=ManualClock(datetime.now(UTC)), live=None)
    other = PostgresLeases(db)
    token = other.acquire(store.id, 30)
    assert token is not None

    assert run_batch(without_redis, store_id=store.id).skipped, "two dispatchers batched one store at once"
    assert other.release(store.id, token)
    assert not run_batch(without_redis, store_id=store.id).skipped
    assert other.acquire(store.id, 30) is not None, "the batch kept its lease after it ended"


def test_the_simulator_takes_no_lease(settings: Settings) -> None:
    simulated = in_memory(DispatchConfig.from_settings(settings), ManualClock(datetime.now(UTC)))
    assert simulated.context.leases is None
