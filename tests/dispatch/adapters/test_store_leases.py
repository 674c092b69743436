"""A store's batch lease while Redis is away: taken from PostgreSQL instead (a session advisory lock on a
connection of its own), so that batching goes on and two dispatchers still never batch one store at once."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from uuid import uuid4

import pytest
import redis
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry

from dispatch.adapters.leases import PostgresLeases
from dispatch.adapters.live import RedisLiveState


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
    first = RedisLiveState(redis_away, fallback_leases=PostgresLeases(pool))
    second = RedisLiveState(redis_away, fallback_leases=PostgresLeases(pool))

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


def test_a_released_postgresql_lease_gives_its_connection_back_to_the_pool(
    pool: ConnectionPool, redis_away: redis.Redis
) -> None:
    live = RedisLiveState(redis_away, fallback_leases=PostgresLeases(pool))
    for _ in range(pool.max_size + 2):  # more than the pool holds: each lease's connection came back
        store_id = uuid4()
        token = live.acquire_lease(store_id, ttl_s=5)
        assert token is not None
        assert live.release_lease(store_id, token)
        assert not live.holds_lease(store_id, token)


def test_a_store_leased_from_postgresql_is_not_leased_from_redis_when_redis_comes_back(
    pool: ConnectionPool, redis_away: redis.Redis, redis_client: redis.Redis
) -> None:
    """A dispatcher still batching on its PostgreSQL lease as Redis returns keeps the store: another one, which
    reaches Redis again, is refused the store rather than batching it alongside."""
    store_id = uuid4()
    during_outage = RedisLiveState(redis_away, fallback_leases=PostgresLeases(pool))
    after_outage = RedisLiveState(redis_client, fallback_leases=PostgresLeases(pool))

    token = during_outage.acquire_lease(store_id, ttl_s=5)
    assert token is not None
    assert after_outage.acquire_lease(store_id, ttl_s=5) is None
    assert not redis_client.keys("*lease*"), "the refused Redis lease was left behind"

    during_outage.release_lease(store_id, token)
    back = after_outage.acquire_lease(store_id, ttl_s=5)
    assert back is not None
    assert after_outage.holds_lease(store_id, back)
    after_outage.release_lease(store_id, back)


def test_a_redis_lease_whose_redis_went_away_is_not_held_and_its_release_does_not_fail(
    pool: ConnectionPool, redis_client: redis.Redis, redis_away: redis.Redis
) -> None:
    """A batch that took its lease from Redis, which then went away, cannot prove it still holds it: it writes
    no offer (another dispatcher may hold the store's PostgreSQL lease by now), and ends without an error."""
    store_id = uuid4()
    live = RedisLiveState(redis_client, fallback_leases=PostgresLeases(pool))
    token = live.acquire_lease(store_id, ttl_s=5)
    assert token is not None
    cut_off = RedisLiveState(redis_away, fallback_leases=PostgresLeases(pool))
    assert not cut_off.holds_lease(store_id, token)
    assert not cut_off.release_lease(store_id, token)


def test_a_redis_that_does_not_answer_is_waited_for_once_not_once_per_store(pool: ConnectionPool) -> None:
    """Redis stopped mid-answer (its port open, nothing said): the first lease waits a reply timeout before it
    comes from PostgreSQL; the next stores' leases, within `REDIS_LEASE_RETRY_S`, do not wait again."""
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
        live = RedisLiveState(client, fallback_leases=PostgresLeases(pool))
        started = time.monotonic()
        first = live.acquire_lease(first_store := uuid4(), ttl_s=5)
        waited_first = time.monotonic() - started
        started = time.monotonic()
        others = [(store_id, live.acquire_lease(store_id, ttl_s=5)) for store_id in (uuid4() for _ in range(5))]
        waited_others = time.monotonic() - started
        client.close()
    assert first is not None
    assert all(token is not None for _, token in others)
    assert waited_first >= 0.5
    assert waited_others < 0.5, f"five more stores waited {waited_others:.1f} s for a Redis that does not answer"
    for store_id, token in [(first_store, first), *others]:
        assert token is not None
        assert live.release_lease(store_id, token)
