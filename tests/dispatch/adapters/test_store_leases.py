"""A store's batch lease, PostgreSQL's (a row with an expiry and a fence): two dispatchers never batch one store at
once, only its holder frees it, and a holder that stops renewing (frozen) loses the store and cannot write under its
old lease; none of it asks Redis."""

from __future__ import annotations

import time
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from crowdship.db import open_pool
from dispatch.adapters.leases import WRITER_IDLE_LIMIT_S, PostgresLeaseFence, PostgresLeases
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork


def _confirmed(pool: ConnectionPool, store_id: UUID, token: str) -> bool:
    """Whether a write transaction gets the lease confirmed as this token's."""
    with PostgresDispatchUnitOfWork(pool) as uow:
        return uow.leases.confirm(store_id, token)


def test_two_dispatchers_never_hold_one_stores_lease_at_once(pool: ConnectionPool) -> None:
    store_id = uuid4()
    first, second = PostgresLeases(pool), PostgresLeases(pool)

    token = first.acquire(store_id, ttl_s=5)
    assert token is not None
    assert second.acquire(store_id, ttl_s=5) is None, "two dispatchers held one store's lease at once"
    assert _confirmed(pool, store_id, token)
    assert second.acquire(uuid4(), ttl_s=5) is not None, "another store's lease was refused"

    assert first.release(store_id, token)
    assert not _confirmed(pool, store_id, token)
    taken_over = second.acquire(store_id, ttl_s=5)
    assert taken_over is not None
    assert _confirmed(pool, store_id, taken_over)


def test_only_the_holders_token_frees_a_lease(pool: ConnectionPool) -> None:
    store_id = uuid4()
    leases = PostgresLeases(pool)
    token = leases.acquire(store_id, ttl_s=5)
    assert token is not None
    for wrong in ("not-a-token", str(int(token) + 1), f"pg:{token}"):
        assert not leases.release(store_id, wrong)
        assert not _confirmed(pool, store_id, wrong)
    assert leases.acquire(store_id, ttl_s=5) is None, "a wrong token freed the store"
    assert leases.release(store_id, token)


def test_a_lease_keeps_no_connection_of_the_pool(pool: ConnectionPool) -> None:
    leases = PostgresLeases(pool)
    for _ in range(pool.max_size + 2):  # more than the pool holds: each lease's connection came back
        store_id = uuid4()
        token = leases.acquire(store_id, ttl_s=5)
        assert token is not None
        assert leases.release(store_id, token)
        assert not _confirmed(pool, store_id, token)


def test_a_lease_its_holder_stops_renewing_runs_out_and_its_holder_can_no_longer_write_under_it(
    pool: ConnectionPool,
) -> None:
    """A holder frozen mid-batch: its lease runs out by itself and another dispatcher takes the store; the
    frozen one, resumed, does not get its fence confirmed in a write transaction, and its late release does not
    free the store from under the new holder."""
    store_id = uuid4()
    frozen, other = PostgresLeases(pool), PostgresLeases(pool)
    old = frozen.acquire(store_id, ttl_s=0.3)
    assert old is not None
    assert other.acquire(store_id, ttl_s=5) is None
    time.sleep(0.4)

    new = other.acquire(store_id, ttl_s=5)
    assert new is not None, "a lease nobody renewed did not run out"
    assert not _confirmed(pool, store_id, old), "a write transaction confirmed a lease taken over"
    assert _confirmed(pool, store_id, new)
    assert not frozen.release(store_id, old)
    assert _confirmed(pool, store_id, new), "the late release freed the store from under its new holder"
    assert frozen.acquire(store_id, ttl_s=5) is None
    assert other.release(store_id, new)


def test_a_lease_confirmed_by_a_write_transaction_is_not_taken_over_until_it_ends(pool: ConnectionPool) -> None:
    """The lease runs out while its holder's write transaction, which confirmed it, still runs: nobody takes
    the store (the holder's writes commit under a lease that was its own) until that transaction ends."""
    store_id = uuid4()
    holder, other = PostgresLeases(pool), PostgresLeases(pool)
    token = holder.acquire(store_id, ttl_s=0.3)
    assert token is not None
    with PostgresDispatchUnitOfWork(pool) as uow:
        assert uow.leases.confirm(store_id, token)
        time.sleep(0.4)
        assert other.acquire(store_id, ttl_s=5) is None, "the store was taken mid-write"
        uow.commit()
    assert other.acquire(store_id, ttl_s=5) is not None


def test_a_write_transaction_whose_process_freezes_is_ended_so_the_store_is_not_kept(pool: ConnectionPool) -> None:
    """A holder frozen inside its write transaction says nothing more: PostgreSQL ends its session after
    `WRITER_IDLE_LIMIT_S`, its share lock on the lease goes with it, and another dispatcher takes the store."""
    store_id = uuid4()
    holder, other = PostgresLeases(pool), PostgresLeases(pool)
    token = holder.acquire(store_id, ttl_s=0.3)
    assert token is not None
    with pool.connection() as connection:
        assert PostgresLeaseFence(connection).confirm(store_id, token)
        started = time.monotonic()
        while (taken := other.acquire(store_id, ttl_s=5)) is None and time.monotonic() - started < 15:
            time.sleep(0.2)
        assert taken is not None, "the store stayed with a frozen write transaction"
        assert time.monotonic() - started < WRITER_IDLE_LIMIT_S + 2
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            connection.execute("SELECT 1")


def test_a_lease_whose_release_failed_is_freed_by_its_holders_next_take_not_kept_until_it_runs_out(
    database_url: str,
) -> None:
    """PostgreSQL away as a batch ends (restarted under it): the release fails, and the store would wait out the
    whole lease (30 s by default) after PostgreSQL is back. The holder remembers it and frees it as it next
    takes the store, at its next round; nobody else frees it, since only the holder knows the batch ended."""
    store_id = uuid4()
    with open_pool(database_url, max_size=3, name="release-fails", statement_timeout_s=0.3) as pool:
        holder, other = PostgresLeases(pool), PostgresLeases(pool)
        token = holder.acquire(store_id, ttl_s=30)
        assert token is not None
        with pool.connection() as blocker:  # the release's statement cannot end: it fails, as when the server went
            blocker.execute("SELECT 1 FROM store_leases WHERE store_id = %s FOR UPDATE", [store_id])
            assert not holder.release(store_id, token)
        assert other.acquire(store_id, ttl_s=30) is None, "another freed a lease whose holder may still be batching"

        again = holder.acquire(store_id, ttl_s=30)
        assert again is not None, "the store waited out a lease its holder had finished with"
        assert not _confirmed(pool, store_id, token)
        assert _confirmed(pool, store_id, again)
        assert holder.release(store_id, again)
