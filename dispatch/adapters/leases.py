"""Stores' batch leases, kept in PostgreSQL (`store_leases`), whether Redis answers or not.

A lease is a row with an expiry and a fence number. Taking it bumps the fence; it runs out by itself when its
holder neither releases it nor finishes in time, so a dispatcher frozen mid-batch (SIGSTOP, a paused VM: its
session stays open, the kernel still answering keepalives) frees the store after the lease's time, where a lock
held by the session would keep it for ever. Each of the batch's write transactions (its clean-up, its offers,
its reasons) confirms the fence under a share lock on the row (`PostgresLeaseFence`), so a holder resumed after
its lease was taken over writes nothing, and a takeover cannot slip in between that check and the commit;
should the holder freeze inside such a transaction, `WRITER_IDLE_LIMIT_S` ends its session, and with it the
share lock and everything it had written.

Every dispatcher, and the API's batch on demand, takes its leases here (`dispatch.leases.StoreLeases`,
given by the composition root), whether it reaches Redis or not: there is only one kind of lease. A lease's
token is its fence number. It costs one statement to take, one to confirm inside each of the batch's write
transactions (its round trip shared with nothing else) and one to release. A release that fails (PostgreSQL
restarted as the batch ended) is remembered, and the holder frees that lease as it next takes the store, at its
next round, rather than leave the store to wait out the lease's whole time.
"""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

from crowdship.logging import get_logger

log = get_logger(__name__)

TAKE_LOCK_TIMEOUT_MS = 200
"""How long taking a lease waits for a holder's write transaction that has the row share-locked: the store is
busy, so the store is skipped this round rather than the round held up."""

WRITER_IDLE_LIMIT_S = 5.0
"""A write transaction that confirmed its lease and then says nothing for this long (its process frozen) is
ended by PostgreSQL, so that the share lock on the lease does not keep the store from everyone else; the
dispatcher's pool holds every transaction of its own to it (`crowdship dispatcher`), for their row locks."""

_RELEASE = (
    "UPDATE store_leases SET expires_at = '-infinity'"
    " WHERE store_id = %s AND fence = %s AND expires_at > clock_timestamp()"
)

_TAKE = """
INSERT INTO store_leases AS held (store_id, fence, expires_at)
VALUES (%(store)s, 1, clock_timestamp() + make_interval(secs => %(ttl)s))
ON CONFLICT (store_id) DO UPDATE SET fence = held.fence + 1, expires_at = excluded.expires_at
WHERE held.expires_at <= clock_timestamp()
RETURNING fence
"""


def fence_of(token: str) -> int | None:
    """The fence number a token stands for; None for a token no lease ever gave."""
    try:
        return int(token)
    except ValueError:
        return None


class PostgresLeases:
    """Leases as `store_leases` rows (`dispatch.leases.StoreLeases`); no connection is kept between taking and
    releasing one."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._unreleased: dict[UUID, int] = {}
        """Each store's fence whose release failed: its batch ended, so it is freed at the next take."""

    def acquire(self, store_id: UUID, ttl_s: float) -> str | None:
        """The store's lease if nobody holds it or its holder's time ran out: a token; None if held."""
        unreleased = self._unreleased.pop(store_id, None)
        try:
            with self._pool.connection() as connection:
                connection.execute(f"SET LOCAL lock_timeout = {TAKE_LOCK_TIMEOUT_MS}")
                if unreleased is not None:  # a no-op if it ran out and was taken over meanwhile
                    connection.execute(_RELEASE, [store_id, unreleased])
                row = connection.execute(_TAKE, {"store": store_id, "ttl": ttl_s}).fetchone()
        except psycopg.Error as error:
            if unreleased is not None:  # rolled back with the take: freed at the next
                self._unreleased.setdefault(store_id, unreleased)
            if isinstance(error, psycopg.errors.LockNotAvailable):
                return None  # its holder is writing its offers right now
            raise
        return None if row is None else str(row[0])

    def release(self, store_id: UUID, token: str) -> bool:
        """False when the lease was not this token's any more, or PostgreSQL is away: then it runs out by itself,
        or this holder frees it as it next takes the store."""
        fence = fence_of(token)
        if fence is None:
            return False
        try:
            with self._pool.connection() as connection:
                released = connection.execute(_RELEASE, [store_id, fence]).rowcount
        except psycopg.Error as error:
            self._unreleased[store_id] = fence
            log.warning("store lease not released", store_id=str(store_id), error=type(error).__name__)
            return False
        return released == 1


class PostgresLeaseFence:
    """A batch's write transaction's check that its lease is still its own (`dispatch.leases.StoreLeaseFence`)."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self._connection = connection

    def confirm(self, store_id: UUID, token: str) -> bool:
        fence = fence_of(token)
        if fence is None:
            return False
        row = self._connection.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, true) FROM store_leases"
            " WHERE store_id = %s AND fence = %s AND expires_at > clock_timestamp() FOR SHARE",
            [str(round(WRITER_IDLE_LIMIT_S * 1000)), store_id, fence],
        ).fetchone()
        return row is not None
