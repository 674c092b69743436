"""The one way into PostgreSQL: a psycopg 3 connection pool and a unit of work per business operation."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import psycopg
from psycopg_pool import ConnectionPool


def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10, name: str = "crowdship") -> ConnectionPool:
    """Opens a pool and waits until its first connection works, so a wrong URL fails here, loudly."""
    pool = ConnectionPool(
        database_url,
        reset=_reset_connection,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        kwargs={"application_name": name},
    )
    pool.open(wait=True, timeout=30)
    return pool


def _reset_connection(connection: psycopg.Connection) -> None:
    """Runs when a connection comes back to the pool: whatever a borrower switched on, the next one gets a
    connection that opens transactions (autocommit off) and reads the default isolation level."""
    connection.autocommit = False
    connection.isolation_level = None
    connection.read_only = None


class UnitOfWork:
    """One database transaction. Nothing is kept unless `commit()` is called: leaving the block rolls back.

    Subclasses attach the repositories of their aggregates in `_attach`; they all share this transaction.
    """

    connection: psycopg.Connection

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __enter__(self) -> Self:
        self.connection = self._pool.getconn()
        # A unit of work is one transaction, whatever state the pool handed the connection out in.
        self.connection.autocommit = False
        self._attach(self.connection)
        return self

    def _attach(self, connection: psycopg.Connection) -> None:
        """Hook for subclasses: build repositories on the connection."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._pool.putconn(self.connection)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()
