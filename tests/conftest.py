"""Fixtures shared by the whole suite: the real local PostGIS and Redis, a fresh database per session.

Each pytest session (and each xdist worker) gets a database of its own, migrated from empty, and a Redis
database index of its own, so that runs in parallel never see each other's rows or keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from hypothesis import settings as hypothesis_settings
from psycopg import sql
from psycopg_pool import ConnectionPool

from crowdship import migrate
from crowdship.db import open_pool
from crowdship.local_servers import LocalServices
from crowdship.settings import Settings, environment_only_settings, get_settings
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork

# The suite replays a fixed set of examples, so that a red build always means the same thing and can be rerun.
# CROWDSHIP_HYPOTHESIS=explore draws new ones (and keeps failures in .hypothesis/): what it finds becomes an
# explicit test, as in tests/dispatch/matching/test_solver.py. A failure prints the blob that reproduces it.
hypothesis_settings.register_profile("replay", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", print_blob=True)
hypothesis_settings.load_profile("explore" if os.environ.get("CROWDSHIP_HYPOTHESIS") == "explore" else "replay")


def _service_urls() -> tuple[str, str]:
    """URLs from the environment when given, else from the local servers (started if needed)."""
    external = environment_only_settings()
    local = LocalServices(get_settings().local_dir)
    urls: dict[str, str] = {}
    if external.database_url is None or external.redis_url is None:
        urls = local.up(postgres=external.database_url is None, redis=external.redis_url is None)
    database_url = external.database_url or urls["CROWDSHIP_DATABASE_URL"]
    redis_url = external.redis_url or urls["CROWDSHIP_REDIS_URL"]
    return database_url, redis_url


def _with_database(url: str, name: str) -> str:
    """The same server URL with another database name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _worker_suffix() -> str:
    return f"{os.getpid()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(scope="session")
def service_urls() -> tuple[str, str]:
    return _service_urls()


@pytest.fixture(autouse=True)
def settings_read_afresh() -> Iterator[None]:
    """`get_settings()` keeps what the environment said when first asked: a command a test runs with an
    environment of its own (CliRunner's `env`) left its settings to every later test of the worker (a
    resilience test's servers went under another test's `tmp_path`, which the postgres user cannot reach)."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def admin_database_url(service_urls: tuple[str, str]) -> str:
    """A URL to the server's maintenance database, for creating and dropping test databases."""
    return _with_database(service_urls[0], "postgres")


@pytest.fixture(scope="session")
def empty_database(admin_database_url: str) -> Iterator[str]:
    """Makes a brand-new empty database and drops it afterwards; yields its URL."""

    def make(name: str) -> str:
        with psycopg.connect(admin_database_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return _with_database(admin_database_url, name)

    name = f"crowdship_test_{_worker_suffix()}"
    yield make(name)
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_url(empty_database: str) -> str:
    """The session's database, migrated to the newest revision."""
    migrate.upgrade(empty_database)
    return empty_database


@pytest.fixture(scope="session")
def settings(database_url: str, service_urls: tuple[str, str]) -> Settings:
    return Settings(environment="test", database_url=database_url, redis_url=_redis_url_for_session(service_urls[1]))


def _redis_url_for_session(url: str) -> str:
    """A Redis database of its own per xdist worker (gw0 → 1, gw1 → 2, ...), so that workers never share
    counters or keys; a run without workers takes one by its process id."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = 1 + (int(worker.removeprefix("gw")) if worker.startswith("gw") else os.getpid()) % 15
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{index}"


@pytest.fixture(scope="session")
def pool(database_url: str) -> Iterator[ConnectionPool]:
    with open_pool(database_url, min_size=1, max_size=8, name="crowdship-tests") as opened:
        yield opened


_TABLES_TO_KEEP = frozenset({"alembic_version", "spatial_ref_sys"})


@pytest.fixture
def db(pool: ConnectionPool) -> ConnectionPool:
    """The pool, with every table emptied before the test, so that each test starts from nothing."""
    with pool.connection() as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
            if row[0] not in _TABLES_TO_KEEP
        ]
        if tables:
            connection.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(table) for table in tables)
                )
            )
    return pool


@pytest.fixture
def uow(db: ConnectionPool) -> PostgresDispatchUnitOfWork:
    """A fresh dispatch unit of work on an emptied database (enter it with `with uow:`)."""
    return PostgresDispatchUnitOfWork(db)


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """A client on this session's own Redis database, emptied before the test."""
    client = redis.Redis.from_url(settings.require_redis_url(), decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def matcher_loaded() -> None:
    """The matcher loaded, as a service has it once its warm-up (`dispatch.services.batch.warm_up`) is done.

    Its first load (OR-Tools, SciPy and the compiled search: seconds on a quiet machine, more than a minute while
    numba fills its cache or the machine is busy) otherwise happens inside a test's first batch, while that batch
    holds its store's lease (`CROWDSHIP_DISPATCH_LEASE_S`, 30 s): the batch outlives it and rightly writes
    nothing. A service starts batching after its warm-up began; the tests that run the real matcher under a lease
    start after it ended, once per process."""
    import dispatch.matching.solver  # noqa: F401  (imported for its side effect: loaded once per process)
