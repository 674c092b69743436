"""The errors that mean a backing server (PostgreSQL, Redis) cannot be reached right now, rather than a
fault of the request: callers answer 503 and retry later, loops back off."""

from __future__ import annotations

import psycopg
import redis
from psycopg_pool import PoolTimeout

BACKING_SERVICE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    PoolTimeout,
    redis.ConnectionError,
    redis.TimeoutError,
)
