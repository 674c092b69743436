"""The pool and the unit of work keep every unit of work a real transaction."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from crowdship.db import UnitOfWork


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
