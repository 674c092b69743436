"""A store's batch lease, taken from PostgreSQL whether Redis answers or not (a row with an expiry and a fence),
so that batching goes on while Redis is away, two dispatchers never batch one store at once whichever way each
sees Redis, and a holder that stops renewing (frozen) loses the store and cannot write under its old lease."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
import redis
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry

from dispatch.adapters.leases import WRITER_IDLE_LIMIT_S, PostgresLeaseFence, PostgresLeases
from dispatch.adapters.live import RedisLiveState
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


@pytest.fixture
def redis_away() -> Iterator[redis.Redis]:
    """A client of a Redis that refuses connections (as the project's own does once killed)."""
    client = redis.Redis(
        host="127.0.0.1",
        port=_closed_port(),
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )
    yield client
    client.close()


def test_with_redis_away_the_lease_comes_from_postgresql_and_excludes_a_second_dispatcher(
    pool: ConnectionPool, redis_away: redis.Redis
) -> None:
    store_id = uuid4()
    first = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    second = RedisLiveState(redis_away, leases=PostgresLeases(pool))

    token = first.acquire_lease(store_id, ttl_s=5)
    assert token is not None
    assert second.acquire_lease(store_id, ttl_s=5) is None, "two dispatchers held one store's lease at once"
    assert first.holds_lease(store_id, token)
    other_store = second.acquire_lease(uuid4(), ttl_s=5)
    assert other_store is not None, "another store's lease was refused"

    assert first.release_lease(store_id, token)
    assert not first.holds_lease(store_id, token)
    taken_over = second.acquire_lease(store_id, ttl_s=5)
    assert taken_over is not None
    assert second.holds_lease(store_id, taken_over)


def test_a_lease_keeps_no_connection_of_the_pool(pool: ConnectionPool, redis_away: redis.Redis) -> None:
    live = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    for _ in range(pool.max_size + 2):  # more than the pool holds: each lease's connection came back
        store_id = uuid4()
        token = live.acquire_lease(store_id, ttl_s=5)
        assert token is not None
        assert live.release_lease(store_id, token)
        assert not live.holds_lease(store_id, token)


def test_a_dispatcher_that_reaches_redis_and_one_that_does_not_never_hold_one_store_at_once(
    pool: ConnectionPool, redis_away: redis.Redis, redis_client: redis.Redis
) -> None:
    """A split view (a partition, or Redis back for one dispatcher before the other): the lease is PostgreSQL's
    whichever way each dispatcher sees Redis, so either one holding the store keeps the other out."""
    store_id = uuid4()
    cut_off = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    reaching = RedisLiveState(redis_client, leases=PostgresLeases(pool))

    token = reaching.acquire_lease(store_id, ttl_s=5)
    assert token is not None
    assert cut_off.acquire_lease(store_id, ttl_s=5) is None, "the dispatcher cut off from Redis took the store"
    assert reaching.release_lease(store_id, token)

    token = cut_off.acquire_lease(store_id, ttl_s=5)
    assert token is not None
    assert reaching.acquire_lease(store_id, ttl_s=5) is None, "the dispatcher reaching Redis took the store"
    assert cut_off.release_lease(store_id, token)
    assert not redis_client.keys("*lease*"), "a lease was kept in Redis beside PostgreSQL's"


def test_a_lease_its_holder_stops_renewing_runs_out_and_its_holder_can_no_longer_write_under_it(
    pool: ConnectionPool, redis_away: redis.Redis
) -> None:
    """A holder frozen mid-batch: its lease runs out by itself and another dispatcher takes the store; the
    frozen one, resumed, neither holds the lease nor gets its fence confirmed in a write transaction, and its
    late release does not free the store from under the new holder."""
    store_id = uuid4()
    frozen = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    other = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    old = frozen.acquire_lease(store_id, ttl_s=0.3)
    assert old is not None
    assert other.acquire_lease(store_id, ttl_s=5) is None
    time.sleep(0.4)

    new = other.acquire_lease(store_id, ttl_s=5)
    assert new is not None, "a lease nobody renewed did not run out"
    assert not frozen.holds_lease(store_id, old)
    with PostgresDispatchUnitOfWork(pool) as uow:
        assert not uow.leases.confirm(store_id, old), "a write transaction confirmed a lease taken over"
    with PostgresDispatchUnitOfWork(pool) as uow:
        assert uow.leases.confirm(store_id, new)
    assert not frozen.release_lease(store_id, old)
    assert other.holds_lease(store_id, new), "the late release freed the store from under its new holder"
    assert other.release_lease(store_id, new)


def test_a_lease_confirmed_by_a_write_transaction_is_not_taken_over_until_it_ends(
    pool: ConnectionPool, redis_away: redis.Redis
) -> None:
    """The lease runs out while its holder's write transaction, which confirmed it, still runs: nobody takes
    the store (the holder's offers commit under a lease that was its own) until that transaction ends."""
    store_id = uuid4()
    holder = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    other = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    token = holder.acquire_lease(store_id, ttl_s=0.3)
    assert token is not None
    with PostgresDispatchUnitOfWork(pool) as uow:
        assert uow.leases.confirm(store_id, token)
        time.sleep(0.4)
        assert other.acquire_lease(store_id, ttl_s=5) is None, "the store was taken mid-write"
        uow.commit()
    assert other.acquire_lease(store_id, ttl_s=5) is not None


def test_a_write_transaction_whose_process_freezes_is_ended_so_the_store_is_not_kept(
    pool: ConnectionPool, redis_away: redis.Redis
) -> None:
    """A holder frozen inside its write transaction says nothing more: PostgreSQL ends its session after
    `WRITER_IDLE_LIMIT_S`, its share lock on the lease goes with it, and another dispatcher takes the store."""
    store_id = uuid4()
    holder = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    other = RedisLiveState(redis_away, leases=PostgresLeases(pool))
    token = holder.acquire_lease(store_id, ttl_s=0.3)
    assert token is not None
    with pool.connection() as connection:
        assert PostgresLeaseFence(connection).confirm(store_id, token)
        started = time.monotonic()
        while (taken := other.acquire_lease(store_id, ttl_s=5)) is None and time.monotonic() - started < 15:
            time.sleep(0.2)
        assert taken is not None, "the store stayed with a frozen write transaction"
        assert time.monotonic() - started < WRITER_IDLE_LIMIT_S + 2
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            connection.execute("SELECT 1")


def test_a_redis_that_does_not_answer_does_not_hold_up_leases(pool: ConnectionPool) -> None:
    """Redis stopped mid-answer (its port open, nothing said): stores' leases, PostgreSQL's, do not wait for it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections are taken by the backlog, and never answered
        client = redis.Redis(
            host="127.0.0.1",
            port=silent.getsockname()[1],
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        live = RedisLiveState(client, leases=PostgresLeases(pool))
        started = time.monotonic()
        taken = [(store_id, live.acquire_lease(store_id, ttl_s=5)) for store_id in (uuid4() for _ in range(5))]
        waited = time.monotonic() - started
        client.close()
    assert waited < 0.5, f"five stores waited {waited:.1f} s for a Redis that does not answer"
    for store_id, token in taken:
        assert token is not None
        assert live.release_lease(store_id, token)
