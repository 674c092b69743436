"""The pool and the unit of work keep every unit of work a real transaction; old idempotency keys go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from crowdship.db import DEAD_PEER_DETECTION, PostgresIdempotencyStore, UnitOfWork, open_pool, prune_idempotency_keys
from crowdship.idempotency import StoredResult


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
