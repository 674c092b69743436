"""Stores' batch leases from PostgreSQL, for while Redis is away (`RedisLiveState` falls back on them).

A lease is a session-level advisory lock keyed by the store, taken with `pg_try_advisory_lock` on a connection
of the pool that the lease keeps until it is released: the lock lasts exactly as long as that session, so a
dispatcher that dies or loses its connection frees the store at once, and no two sessions ever hold one store.
It has no time to live: a batch runs to its end (or is abandoned by its loop, which then starts no other batch
of that store) and releases it. Redis's lease, when Redis answers, is preferred: it runs out by itself should a
dispatcher freeze mid-batch. Taking a Redis lease first checks that no session holds the store's lock, so a
dispatcher still batching on its PostgreSQL lease as Redis comes back keeps the store to itself. The other way
round is not covered: a dispatcher that cannot reach Redis while another one can (a partition, or the few
seconds `REDIS_LEASE_RETRY_S` leaves between tries) may batch a store the other holds in Redis; the database's
partial unique indexes still refuse a second open offer for an order or a trip (counted as conflicts).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

from crowdship.logging import get_logger

log = get_logger(__name__)

TOKEN_PREFIX = "pg:"
"""What a PostgreSQL lease's token starts with (a Redis lease's is hex alone)."""


def lock_key(store_id: UUID) -> int:
    """The store's advisory lock key: a signed 64-bit number from its id."""
    return int.from_bytes(store_id.bytes[:8], "big", signed=True) ^ int.from_bytes(
        store_id.bytes[8:], "big", signed=True
    )


@dataclass
class _Held:
    store_id: UUID
    connection: psycopg.Connection


class PostgresLeases:
    """Leases held as advisory locks, each on a pooled connection of its own until released."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    @staticmethod
    def owns(token: str) -> bool:
        return token.startswith(TOKEN_PREFIX)

    def acquire(self, store_id: UUID) -> str | None:
        """The store's lock if no session holds it: a token, its connection kept; None if taken."""
        connection = self._pool.getconn()
        try:
            connection.autocommit = True  # the lock is the session's: no transaction left open meanwhile
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(store_id)]).fetchone()
        except BaseException:
            self._pool.putconn(connection)
            raise
        if not row or not row[0]:
            self._pool.putconn(connection)
            return None
        token = TOKEN_PREFIX + secrets.token_hex(16)
        with self._lock:
            self._held[token] = _Held(store_id, connection)
        return token

    def holds(self, store_id: UUID, token: str) -> bool:
        """Whether the lease is still this token's: its session is alive (the lock goes only with it)."""
        with self._lock:
            held = self._held.get(token)
        if held is None or held.store_id != store_id:
            return False
        try:
            held.connection.execute("SELECT 1")
        except psycopg.Error as error:
            log.warning("store lease lost with its connection", store_id=str(store_id), error=type(error).__name__)
            return False
        return True

    def release(self, store_id: UUID, token: str) -> bool:
        with self._lock:
            held = self._held.get(token)
            if held is None or held.store_id != store_id:
                return False
            del self._held[token]
        try:
            held.connection.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:
            held.connection.close()  # the lock goes with its session
        self._pool.putconn(held.connection)
        return True

    def held_elsewhere(self, store_id: UUID) -> bool:
        """Whether a session holds the store's lock right now (a dispatcher batching it on such a lease)."""
        with self._pool.connection() as connection:
            row = connection.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_key(store_id)]).fetchone()
        return not (row and row[0])
