"""The one way into Redis: clients with bounded waits that retry a dropped connection once or twice.

After a Redis restart every pooled connection is dead; a retry on a fresh connection makes that invisible to
callers. While Redis is down, connecting is refused at once and the few retries are quick, so callers fail
fast (the API answers 503) instead of hanging. A reply that does not come in time is not retried: a Redis that
is stopped or stalled keeps its connections open, and each retry would only wait the whole timeout again
(three waits of `CROWDSHIP_REDIS_TIMEOUT_S` per command, and several commands per request).
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from crowdship.settings import Settings

RETRIES = 2
BACKOFF = ExponentialWithJitterBackoff(base=0.02, cap=0.2)
RETRIED = (redis.ConnectionError,)
"""What is retried: a connection refused or dropped. `redis.TimeoutError` is not one of them."""


def open_redis(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.require_redis_url(),
        decode_responses=True,
        socket_connect_timeout=settings.redis_connect_timeout_s,
        socket_timeout=settings.redis_timeout_s,
        retry=Retry(BACKOFF, RETRIES, supported_errors=RETRIED),
        health_check_interval=30,
    )


def open_async_redis(settings: Settings, *, max_connections: int = 100) -> aioredis.Redis:
    """A client whose pool holds at most `max_connections`; a caller beyond that waits (a bounded time) for
    one to come back instead of failing, so a burst queues rather than errs."""
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.require_redis_url(),
        max_connections=max_connections,
        timeout=settings.redis_timeout_s,
        decode_responses=True,
        socket_connect_timeout=settings.redis_connect_timeout_s,
        socket_timeout=settings.redis_timeout_s,
        retry=AsyncRetry(BACKOFF, RETRIES, supported_errors=RETRIED),
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)
