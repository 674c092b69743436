"""The one way into PostgreSQL: a psycopg 3 connection pool and a unit of work per business operation."""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from time import monotonic
from types import TracebackType
from typing import Any, Self
from uuid import uuid4

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from crowdship.errors import DomainError, NotFound
from crowdship.idempotency import StoredResult

DEAD_PEER_DETECTION = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
"""libpq's TCP settings: a connection whose server host went silent (a network partition, a crashed machine)
fails within about half a minute instead of hanging its borrower for the kernel's default of many minutes."""

RECONNECT_WINDOW_S = 5.0
"""How long one of the pool's reconnection attempts goes on (psycopg's `reconnect_timeout`, 300 s by default).
Within an attempt the pool doubles its wait between tries without a bound (1, 2, 4 ... 128 s), so after a minute
away the server was tried again only about a minute after it came back, and the API and the dispatcher answered
503 all that time. An attempt given up after a few seconds leaves the next request that finds no connection to
start a new one, at once, so the pool connects again within about two seconds of the server's return, while an
outage costs a try or two every few seconds."""

Row = dict[str, Any]
Params = Sequence[Any] | Mapping[str, Any]


def open_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    name: str = "crowdship",
    timeout_s: float = 10.0,
    connect_timeout_s: int = 5,
    statement_timeout_s: float | None = None,
    idle_in_transaction_s: float | None = None,
    wait: bool = True,
) -> ConnectionPool:
    """Opens a pool. With `wait`, it waits until its first connection works, so that a wrong URL fails here,
    loudly (commands); without, it connects in the background and keeps trying (long-running processes, which
    must start, and go on, while PostgreSQL is away).

    A connection is checked as it is handed out, so one that died with a server restart is replaced instead of
    failing its borrower, and one whose server does not answer the check within `timeout_s` (a server frozen,
    or too busy to take anything) is dropped too: the borrower gets another or, after `timeout_s`, `PoolTimeout`,
    instead of hanging until the server answers again. TCP keepalives end a connection to a host gone silent
    (`DEAD_PEER_DETECTION`). With `statement_timeout_s`, PostgreSQL itself ends any statement that runs longer
    (a slow query, a wait on a lock), so the server stops work whose borrower has given up. With
    `idle_in_transaction_s`, it ends a session whose transaction says nothing for that long (its process frozen:
    SIGSTOP, a paused VM, its connection still open), so that the locks it holds do not keep others waiting."""
    kwargs: dict[str, Any] = {
        "application_name": name,
        "connect_timeout": connect_timeout_s,
        **DEAD_PEER_DETECTION,
    }
    if statement_timeout_s is not None:
        kwargs["options"] = _with_statement_timeout(database_url, statement_timeout_s)
    if idle_in_transaction_s is not None:
        given = kwargs.get("options") or str(conninfo_to_dict(database_url).get("options") or "")
        idle_ms = max(1, round(idle_in_transaction_s * 1000))
        kwargs["options"] = f"{given} -c idle_in_transaction_session_timeout={idle_ms}".strip()
    pool = ConnectionPool(
        database_url,
        reset=_reset_connection,
        check=answering_within(timeout_s),
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        timeout=timeout_s,
        reconnect_timeout=RECONNECT_WINDOW_S,
        kwargs=kwargs,
    )
    pool.open(wait=wait, timeout=timeout_s)
    return pool


def _with_statement_timeout(database_url: str, statement_timeout_s: float) -> str:
    """libpq's `options` of the URL, if any, and the statement timeout after them (a startup parameter: it needs
    no round trip of its own, and holds for the connection's whole life whatever its borrowers do)."""
    given = str(conninfo_to_dict(database_url).get("options") or "")
    milliseconds = max(1, round(statement_timeout_s * 1000))
    return f"{given} -c statement_timeout={milliseconds}".strip()


class NotAnswering(psycopg.OperationalError):
    """The server took a pooled connection's check and did not answer it in time: the connection is closed."""


def answering_within(timeout_s: float) -> Callable[[psycopg.Connection], None]:
    """A pool `check` that sends an empty query and waits at most `timeout_s` for its answer.

    psycopg's own check waits for as long as the server takes; a server that is stopped (SIGSTOP, a VM paused,
    a disk gone dead) keeps the TCP connection open, so that wait never ends and neither does the request that
    asked for the connection. A connection that does not answer is closed, which the pool replaces."""

    def check(connection: psycopg.Connection) -> None:
        pgconn = connection.pgconn
        if connection.closed or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            ConnectionPool.check_connection(connection)  # not a plain idle connection: psycopg's own check
            return
        deadline = monotonic() + timeout_s
        pgconn.send_query(b"")
        while pgconn.flush():
            _wait_for_socket(connection, deadline, select.POLLOUT)
        pgconn.consume_input()
        while pgconn.is_busy():
            _wait_for_socket(connection, deadline, select.POLLIN)
            pgconn.consume_input()
        while (result := pgconn.get_result()) is not None:
            if result.status not in (pq.ExecStatus.EMPTY_QUERY, pq.ExecStatus.COMMAND_OK):
                message = result.error_message.decode(errors="replace").strip()
                raise psycopg.OperationalError(message or "the connection's check failed")

    return check


def _wait_for_socket(connection: psycopg.Connection, deadline: float, event: int) -> None:
    remaining = deadline - monotonic()
    poller = select.poll()
    poller.register(connection.pgconn.socket, event | select.POLLERR | select.POLLHUP)
    if remaining <= 0 or not poller.poll(remaining * 1000):
        connection.close()
        raise NotAnswering("the server did not answer a connection check in time")


def _reset_connection(connection: psycopg.Connection) -> None:
    """Runs when a connection comes back to the pool: whatever a borrower switched on, the next one gets a
    connection that opens transactions (autocommit off) and reads the default isolation level."""
    connection.autocommit = False
    connection.isolation_level = None
    connection.read_only = None


class CommitOutcomeUnknown(psycopg.OperationalError):
    """The connection was lost while PostgreSQL committed: the server may have kept the transaction or not, and
    nobody on this side can tell. An outage like any other for the loops that back off (it is an
    `OperationalError`), but never to be told as 'nothing was applied': a client that believed that would retry
    with a new idempotency key and could have the change made twice. Retried with the same key, it acts once."""


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
            if not self.connection.broken:  # a lost connection has nothing to roll back, and would say so instead
                self.rollback()  # of the error that is on its way out
        finally:
            self._pool.putconn(self.connection)

    def commit(self) -> None:
        """Commits; `CommitOutcomeUnknown` when the connection is lost before PostgreSQL's answer."""
        try:
            self.connection.commit()
        except psycopg.OperationalError as error:
            if not self.connection.broken:  # PostgreSQL answered (a serialization failure): nothing was kept
                raise
            raise CommitOutcomeUnknown(
                f"the connection was lost while committing; the transaction may have been kept: {error}"
            ) from error

    def rollback(self) -> None:
        self.connection.rollback()


class Repository:
    """Base of every PostgreSQL repository: queries run on the unit of work's connection (so they share its
    transaction) and rows come back as dicts keyed by column name."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self._connection = connection

    def _one_or_none(self, query: str, params: Params) -> Row | None:
        with self._connection.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, params).fetchone()

    def _one(self, query: str, params: Params, what: str, key: object) -> Row:
        """The single row, or `NotFound` naming the kind of thing and its key."""
        row = self._one_or_none(query, params)
        if row is None:
            raise NotFound(f"{what} {key} not found")
        return row

    def _all(self, query: str, params: Params) -> list[Row]:
        with self._connection.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, params).fetchall()

    def _stream(self, query: str, params: Params, *, batch: int = 2_000) -> Iterator[Row]:
        """Rows fetched `batch` at a time from a server-side cursor, for reports over whole tables: memory stays
        bounded however many rows there are. Needs the unit of work's transaction to stay open while read."""
        with self._connection.cursor(name=f"stream_{uuid4().hex}", row_factory=dict_row) as cursor:
            cursor.itersize = batch
            cursor.execute(query, params)
            yield from cursor

    def _execute(self, query: str, params: Params) -> int:
        """Runs a statement; returns the number of rows it touched."""
        with self._connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.rowcount

    @contextmanager
    def _refusing_duplicates(self, refusal: Callable[[], DomainError]) -> Iterator[None]:
        """Runs the block in a savepoint; a unique violation becomes `refusal()` and the caller's transaction
        stays usable (the database constraint is the last line behind the domain's own checks)."""
        try:
            with self._savepoint():
                yield
        except psycopg.errors.UniqueViolation as error:
            raise refusal() from error

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A savepoint inside the unit of work's transaction, whatever ran before it. psycopg's `transaction()`
        on a connection with no transaction open yet is a transaction of its own, committed as the block ends:
        the first statement of a unit of work written in one was kept whether or not the unit of work
        committed (an account without its audit record). A trivial statement opens the unit of work's
        transaction first (psycopg begins it), once, only when none is open."""
        if not self._connection.autocommit and (self._connection.info.transaction_status is pq.TransactionStatus.IDLE):
            self._connection.execute("SELECT 1")
        with self._connection.transaction():
            yield


class PostgresIdempotencyStore(Repository):
    """The one idempotency table, `idempotency_keys`, on the unit of work's connection."""

    def claim(self, scope: str, key: str, request_hash: str) -> StoredResult | None:
        """INSERT first: a concurrent request with the same key waits on the primary key until the first
        transaction ends, then sees its record (or, if it rolled back, takes the key itself)."""
        inserted = self._execute(
            """INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (%s, %s, %s)
               ON CONFLICT (scope, key) DO NOTHING""",
            (scope, key, request_hash),
        )
        if inserted:
            return None
        row = self._one(
            "SELECT request_hash, result FROM idempotency_keys WHERE scope = %s AND key = %s",
            (scope, key),
            "idempotency key",
            key,
        )
        return StoredResult(row["request_hash"], row["result"])

    def complete(self, scope: str, key: str, result: Mapping[str, Any]) -> None:
        self._execute(
            "UPDATE idempotency_keys SET result = %s WHERE scope = %s AND key = %s", (Jsonb(dict(result)), scope, key)
        )


def prune_idempotency_keys(
    pool: ConnectionPool, *, before: datetime, batch: int = 10_000, max_batches: int = 100
) -> int:
    """Forgets the idempotency keys first used before `before`; returns how many went.

    A retry that late is no retry: the order or money it guards is long settled, and its own rules refuse a
    double (one order per reference, one reward per order, a paid batch stays paid). Deletes a batch per
    transaction so that no lock is held for long, at most `max_batches` per call: the next call goes on."""
    pruned = 0
    for _ in range(max_batches):
        with pool.connection() as connection:
            deleted = connection.execute(
                """DELETE FROM idempotency_keys WHERE (scope, key) IN (
                       SELECT scope, key FROM idempotency_keys WHERE created_at < %s LIMIT %s)""",
                (before, batch),
            ).rowcount
        pruned += deleted
        if deleted < batch:
            break
    return pruned
