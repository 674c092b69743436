"""The pool and the unit of work keep every unit of work a real transaction; old idempotency keys go."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from crowdship.db import (
    DEAD_PEER_DETECTION,
    PostgresIdempotencyStore,
    Repository,
    UnitOfWork,
    _with_statement_timeout,
    open_pool,
    prune_idempotency_keys,
)
from crowdship.errors import DomainError
from crowdship.idempotency import StoredResult
from crowdship.outages import BACKING_SERVICE_ERRORS


def test_a_connection_returned_in_autocommit_is_reset_for_the_next_borrower(db: ConnectionPool) -> None:
    """Whatever a borrower switched on, the next unit of work still rolls back what it did not commit."""
    with db.connection() as connection:
        connection.autocommit = True
        connection.execute("CREATE TABLE IF NOT EXISTS scratch_notes (note text)")
    with db.connection() as connection:
        assert connection.autocommit is False
    with UnitOfWork(db) as uow:
        uow.connection.execute("INSERT INTO scratch_notes VALUES ('forgotten')")
    with UnitOfWork(db) as uow:
        assert uow.connection.execute("SELECT count(*) FROM scratch_notes").fetchone() == (0,)
        uow.connection.execute("INSERT INTO scratch_notes VALUES ('kept')")
        uow.commit()
    with UnitOfWork(db) as uow:
        assert uow.connection.execute("SELECT note FROM scratch_notes").fetchall() == [("kept",)]
        uow.connection.execute("DROP TABLE scratch_notes")
        uow.commit()


class _Notes(Repository):
    def add(self, note: str) -> None:
        with self._refusing_duplicates(lambda: DomainError("a note of that name exists")):
            self._execute("INSERT INTO scratch_unique_notes VALUES (%s)", (note,))


def test_an_insert_refusing_duplicates_as_a_unit_of_works_first_statement_is_kept_only_with_it(
    db: ConnectionPool,
) -> None:
    """Its savepoint is inside the unit of work's transaction even when nothing ran before it: psycopg's block on a
    connection with no transaction yet is a transaction of its own, committed as it ends, so an account
    (`users.add` is the first thing `crowdship users create` does) was kept without its audit record when what
    followed failed, or when the connection was lost before the unit of work committed."""
    with db.connection() as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS scratch_unique_notes (note text PRIMARY KEY)")
    try:
        with UnitOfWork(db) as uow:
            _Notes(uow.connection).add("first of its unit of work")
            uow.connection.execute("INSERT INTO scratch_unique_notes VALUES ('second')")
        with UnitOfWork(db) as uow:
            assert uow.connection.execute("SELECT count(*) FROM scratch_unique_notes").fetchone() == (0,)
            _Notes(uow.connection).add("kept")
            with pytest.raises(DomainError):
                _Notes(uow.connection).add("kept")
            uow.connection.execute("INSERT INTO scratch_unique_notes VALUES ('with it')")
            uow.commit()
        with UnitOfWork(db) as uow:
            rows = uow.connection.execute("SELECT note FROM scratch_unique_notes ORDER BY note").fetchall()
        assert rows == [("kept",), ("with it",)]
    finally:
        with db.connection() as connection:
            connection.execute("DROP TABLE scratch_unique_notes")


def test_idempotency_keys_past_their_retention_are_forgotten_in_batches(db: ConnectionPool) -> None:
    """Keys first used before the cut-off go, a batch per transaction until none is left; newer ones stay and
    still answer their retries."""
    now = datetime.now(UTC)
    insert = "INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at) VALUES (%s, %s, 'h', %s, %s)"
    with db.connection() as connection:
        for n in range(5):
            connection.execute(insert, ("orders:x", f"old-{n}", Jsonb({"n": n}), now - timedelta(days=40)))
        connection.execute(insert, ("orders:x", "recent", Jsonb({"n": 9}), now - timedelta(days=2)))
    assert prune_idempotency_keys(db, before=now - timedelta(days=30), batch=2) == 5
    assert prune_idempotency_keys(db, before=now - timedelta(days=30), batch=2) == 0
    with UnitOfWork(db) as uow:
        assert PostgresIdempotencyStore(uow.connection).claim("orders:x", "recent", "h") == StoredResult("h", {"n": 9})
        assert uow.connection.execute("SELECT key FROM idempotency_keys").fetchall() == [("recent",)]


def test_one_call_forgets_at_most_its_batches_and_the_next_goes_on(db: ConnectionPool) -> None:
    """A backlog larger than one call's share is worked off over several calls, none holding locks for long."""
    old = datetime.now(UTC) - timedelta(days=400)
    with db.connection() as connection:
        for n in range(7):
            connection.execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('s', %s, 'h', %s)",
                (f"k{n}", old),
            )
    cut = old + timedelta(days=1)
    assert prune_idempotency_keys(db, before=cut, batch=2, max_batches=2) == 4
    assert prune_idempotency_keys(db, before=cut, batch=2, max_batches=2) == 3


def test_pooled_connections_detect_a_server_host_gone_silent(database_url: str) -> None:
    """Every pool's connections carry TCP keepalives and a user timeout, so a partition ends them in seconds."""
    with open_pool(database_url, max_size=1, name="keepalive-check") as pool, pool.connection() as connection:
        parameters = connection.info.get_parameters()
    assert {name: parameters.get(name) for name in DEAD_PEER_DETECTION} == {
        name: str(value) for name, value in DEAD_PEER_DETECTION.items()
    }


def _local_backend(connection: psycopg.Connection) -> int:
    """The pid of the connection's server process, when it runs on this machine (else the test is skipped: a
    pid of another machine names nothing here, or something else)."""
    pid = connection.info.backend_pid
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        pytest.skip("PostgreSQL runs on another machine")
    if connection.info.host not in ("127.0.0.1", "localhost", "::1") or b"postgres" not in command:
        pytest.skip("PostgreSQL runs on another machine")
    return pid


def test_a_pooled_connection_whose_server_stopped_answering_is_replaced_not_waited_on(database_url: str) -> None:
    """Its server process is stopped (SIGSTOP: the connection stays open and nothing answers, as with a server
    paused or stalled): the pool's check gives up on it within the pool's timeout and the borrower gets a fresh
    connection, where psycopg's own check would wait until the server answers again. Only this test's own
    server process is stopped, and always continued."""
    with open_pool(database_url, max_size=2, name="frozen-check", timeout_s=0.5) as pool:
        with pool.connection() as connection:
            frozen = _local_backend(connection)
        borrowed: list[int] = []

        def borrow() -> None:
            with pool.connection(timeout=10) as fresh:
                borrowed.append(fresh.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]

        os.kill(frozen, signal.SIGSTOP)
        try:
            borrower = threading.Thread(target=borrow, daemon=True)
            borrower.start()
            borrower.join(timeout=30)
            still_waiting = borrower.is_alive()
        finally:
            os.kill(frozen, signal.SIGCONT)
        borrower.join(timeout=30)
    assert not still_waiting, "the borrower waited on the stopped server"
    assert len(borrowed) == 1
    assert borrowed[0] != frozen


def test_a_statement_past_the_statement_timeout_is_ended_by_the_server(database_url: str) -> None:
    with (
        open_pool(database_url, max_size=1, name="statement-timeout", statement_timeout_s=0.1) as pool,
        pool.connection() as connection,
        pytest.raises(psycopg.errors.QueryCanceled),
    ):
        connection.execute("SELECT pg_sleep(5)")


def test_the_statement_timeout_keeps_the_options_the_url_gives() -> None:
    url = "postgresql://app@db.example/crowdship?options=-c%20search_path%3Dshop"
    assert _with_statement_timeout(url, 1.5) == "-c search_path=shop -c statement_timeout=1500"
    assert _with_statement_timeout("postgresql://app@db.example/crowdship", 10) == "-c statement_timeout=10000"


def test_a_transaction_left_idle_past_the_pools_idle_limit_is_ended_by_the_server(database_url: str) -> None:
    """A borrower frozen inside a transaction (a dispatcher SIGSTOPped mid-round) says nothing more: the server
    ends its session, and with it the row locks that would keep others (the API's requests) waiting."""
    with (
        open_pool(
            database_url, max_size=1, name="idle-limit", statement_timeout_s=5, idle_in_transaction_s=0.2
        ) as pool,
        pool.connection() as connection,
    ):
        connection.execute("SELECT 1")
        time.sleep(0.6)  # idle inside the transaction the first statement opened
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            connection.execute("SELECT 1")


def test_a_session_ended_for_its_idle_transaction_is_an_outage_not_a_fault_of_the_request(database_url: str) -> None:
    """A process stalled inside a transaction (a batch's writer past its lease's idle limit, a request past its
    deadline, PostgreSQL itself frozen and resumed) finds its session ended: nothing was applied, so the API
    answers 503 and the dispatcher backs off, as for any server away; it was a 500 and a logged traceback."""
    with (
        open_pool(database_url, max_size=1, name="idle-ended", idle_in_transaction_s=0.2) as pool,
        pool.connection() as connection,
    ):
        connection.execute("SELECT 1")
        time.sleep(0.6)
        with pytest.raises(psycopg.Error) as ended:
            connection.execute("SELECT 1")
    assert isinstance(ended.value, BACKING_SERVICE_ERRORS), type(ended.value).__name__
