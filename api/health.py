"""`/health`'s look at PostgreSQL and Redis, shared: the endpoint answers anyone, unauthenticated and unthrottled,
as load balancers' probes need, so a flood of it must not cost a connection or a worker thread per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel, Field

from api.dependencies import AppServices
from api.problems import UNAVAILABLE_RETRY_S

HEALTH_TIMEOUT_S = 0.5
"""Each server's check, run side by side: a load balancer's probe hears back within about this long."""

FRESH_S = 1.0
"""How long one look answers every probe: load balancers probe every few seconds, and a server lost meanwhile
is told at most this late."""

HEALTH_PROBE_KEY = "health:probe"
"""Written by each look, with a one-second expiry: a Redis that answers PING but refuses writes (full, or a
read-only replica after a failover) fails every location update, so it is reported unavailable."""


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    postgres: Literal["ok", "unavailable"]
    redis: Literal["ok", "unavailable"]
    event_streams: int = Field(description="Event streams open on this process")


def install_health(app: FastAPI) -> None:
    """`/health`; the lifespan puts a `ServersLook` in `app.state.servers_look`."""

    @app.head("/health", include_in_schema=False)  # what load balancers' probes send
    @app.get(
        "/health",
        tags=["health"],
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "PostgreSQL or Redis is unavailable"}},
    )
    async def health(request: Request) -> JSONResponse:
        """Whether this process can reach PostgreSQL and Redis, each on its own (200 when both answer, else 503),
        as seen at most a second ago."""
        services: AppServices = request.app.state.services
        seen: ServersSeen = await request.app.state.servers_look()
        body = HealthOut(
            status="ok" if seen.postgres and seen.redis else "unavailable",
            postgres="ok" if seen.postgres else "unavailable",
            redis="ok" if seen.redis else "unavailable",
            event_streams=services.events.open_streams,
        )
        if body.status == "ok":
            return JSONResponse(body.model_dump())
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": str(UNAVAILABLE_RETRY_S)})


@dataclass(frozen=True)
class ServersSeen:
    postgres: bool
    redis: bool


class ServersLook:
    """One look at both servers at a time, its answer shared by every probe within `fresh_s`: a flood costs at
    most one PostgreSQL connection and one Redis call per `fresh_s`. A PostgreSQL check cannot be stopped once on
    its worker thread (a frozen server holds it until it answers), so while one is still out, PostgreSQL is told
    unavailable and no other is started: probes during a freeze cannot take the threads requests need."""

    def __init__(
        self,
        pool: ConnectionPool,
        client: aioredis.Redis,
        *,
        fresh_s: float = FRESH_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._client = client
        self._fresh_s = fresh_s
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._seen: ServersSeen | None = None
        self._seen_at = 0.0
        self._postgres_check: asyncio.Future[bool] | None = None

    async def __call__(self) -> ServersSeen:
        async with self._lock:
            if self._seen is None or self._monotonic() - self._seen_at >= self._fresh_s:
                postgres, redis_ok = await asyncio.gather(self._postgres(), self._redis())
                self._seen, self._seen_at = ServersSeen(postgres, redis_ok), self._monotonic()
            return self._seen

    async def _postgres(self) -> bool:
        if self._postgres_check is not None and not self._postgres_check.done():
            return False  # the last one is still waiting on a server that does not answer
        self._postgres_check = asyncio.ensure_future(run_in_threadpool(_postgres_answers, self._pool))
        return await answered_within(self._postgres_check, HEALTH_TIMEOUT_S)

    async def _redis(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._client.set(HEALTH_PROBE_KEY, b"1", px=1000), HEALTH_TIMEOUT_S))
        except (redis.RedisError, OSError, TimeoutError):
            return False


async def answered_within(check: Awaitable[bool], timeout_s: float) -> bool:
    """The check's answer, or False when it has none within `timeout_s`; the check is left to end on its own."""
    running: asyncio.Future[Any] = asyncio.ensure_future(check)
    done, _ = await asyncio.wait({running}, timeout=timeout_s)
    if running in done:
        return bool(running.result())
    running.add_done_callback(lambda late: late.cancelled() or late.exception())
    return False


def _postgres_answers(pool: ConnectionPool) -> bool:
    try:
        with pool.connection(timeout=HEALTH_TIMEOUT_S) as connection:
            connection.execute("SELECT 1")
    except (psycopg.Error, PoolTimeout):
        return False
    return True
