"""Alembic's entry point: runs revisions online, one transaction, serialised by an advisory lock."""

from alembic import context
from sqlalchemy import create_engine, text

# Any constant will do; every migrator takes the same lock so that two processes never migrate at once.
MIGRATION_LOCK_KEY = 0x63726F7764  # "crowd"


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=False)
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
