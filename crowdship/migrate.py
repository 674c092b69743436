"""Schema migrations with Alembic, configured in code (no alembic.ini to keep in step).

Migrations are plain SQL inside Alembic revisions; the application itself talks to the database through
psycopg only. SQLAlchemy is here solely because Alembic runs on it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from crowdship.errors import InvalidInput
from crowdship.outages import ServerUnreachable, libpq_reason

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@contextmanager
def readable_errors(database_url: str | None = None) -> Iterator[None]:
    """Alembic's and SQLAlchemy's refusals as the project's own (an unknown revision, a database away, named by
    its address), so that the command line says `error: <why>` rather than print a traceback."""
    try:
        yield
    except CommandError as error:
        raise InvalidInput("revision", str(error)) from None
    except OperationalError as error:
        reason = libpq_reason(error.orig) if error.orig else "cannot connect"
        raise ServerUnreachable("PostgreSQL", database_url, reason) from None


def sqlalchemy_url(database_url: str) -> str:
    """The same database, addressed through SQLAlchemy's psycopg 3 dialect."""
    for scheme in ("postgresql://", "postgres://"):
        if database_url.startswith(scheme):
            return "postgresql+psycopg://" + database_url[len(scheme) :]
    raise ValueError(f"not a PostgreSQL URL: {database_url!r}")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Applies revisions up to `revision`; "heads" is every branch's newest, as parallel work can branch. A
    revision older than the database's is refused: upgrading to it would silently do nothing."""
    config = alembic_config(database_url)
    script = ScriptDirectory.from_config(config)
    applied = current_revisions(database_url)
    if revision not in ("head", "heads") and applied and revision not in applied:
        target = script.get_revision(revision)
        behind = {r.revision for r in script.iterate_revisions(applied, "base")} - set(applied)
        if target is not None and target.revision in behind:
            raise InvalidInput(
                "revision", f"{revision} is older than the database's {', '.join(applied)}: migrate only upgrades"
            )
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revisions(database_url: str) -> tuple[str, ...]:
    """The revisions applied to the database, one per branch; empty for a database never migrated."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    finally:
        engine.dispose()


def head_revisions() -> tuple[str, ...]:
    """The newest revision of every branch in the code."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("postgresql://unused/x")).get_heads()))


def _beside(database_url: str, name: str) -> str:
    """The URL of another database on the same server, with the same credentials and options."""
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


@contextmanager
def throwaway_database(database_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server `database_url` names, migrated, dropped on exit even after an error (with
    whatever is still connected to it): for a benchmark, which must neither touch the real data nor leave a
    database behind. Its name is `prefix` and a random suffix, so that runs side by side do not collide."""
    name = f"{prefix}_{uuid4().hex[:8]}"
    admin = _beside(database_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = _beside(database_url, name)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
