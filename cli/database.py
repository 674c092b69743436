"""PostgreSQL for the one-shot commands (`users`, `rewards`, `replay`, `demo`, `dispatcher --once`): a small pool
that gives up within a couple of seconds when the server is away, says why once, and keeps psycopg's pool
from logging every attempt (the long-running API and dispatcher keep their own pools, and their warnings)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from psycopg_pool import ConnectionPool, PoolTimeout

from crowdship.db import open_pool
from crowdship.settings import get_settings

if TYPE_CHECKING:
    from dispatch.services.context import DispatchContext

COMMAND_POOL_TIMEOUT_S = 2.0
"""Longest wait for the first connection, or for a pooled one: a command fails within a couple of seconds."""
COMMAND_CONNECT_TIMEOUT_S = 2
"""libpq's connect_timeout (its smallest useful value): a host that answers nothing is given up on as fast."""


@contextmanager
def command_pool(*, max_size: int = 1, name: str = "crowdship-cli") -> Iterator[ConnectionPool]:
    """A pool on the configured database; one that cannot connect raises the connection's own error (the CLI
    says `error: PostgreSQL at HOST:PORT cannot be reached: <why>`), not the pool's timeout."""
    settings = get_settings()
    url = settings.require_database_url()
    with _pool_logs_kept() as failures:
        try:
            pool = open_pool(
                url,
                max_size=max_size,
                name=name,
                timeout_s=COMMAND_POOL_TIMEOUT_S,
                connect_timeout_s=min(settings.db_connect_timeout_s, COMMAND_CONNECT_TIMEOUT_S),
            )
        except PoolTimeout:
            if failures:
                raise failures[-1] from None
            raise
        with pool:
            yield pool


@contextmanager
def _pool_logs_kept() -> Iterator[list[BaseException]]:
    """psycopg.pool's warnings (a line per failed attempt) are held back while the block runs; the errors they
    carry are collected, so the command can tell the last one."""
    logger = logging.getLogger("psycopg.pool")
    failures: list[BaseException] = []

    def keep(record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            failures.extend(arg for arg in record.args if isinstance(arg, BaseException))
        return record.levelno >= logging.ERROR

    logger.addFilter(keep)
    try:
        yield failures
    finally:
        logger.removeFilter(keep)


def live_service_context(pool: ConnectionPool, *, with_redis: bool = True) -> DispatchContext:
    """The service's context on the configured PostgreSQL, the stores' batch leases too, whether Redis is
    configured or not (and Redis, when it is, for live positions and events)."""
    from composition import live_context
    from crowdship.cache import open_redis
    from crowdship.clock import SystemClock
    from dispatch.adapters.live import RedisLiveState

    settings = get_settings()
    live = RedisLiveState(open_redis(settings)) if with_redis else None
    return live_context(settings, pool, clock=SystemClock(), live=live)
