"""The errors that mean a backing server (PostgreSQL, Redis) cannot be reached right now, rather than a
fault of the request: callers answer 503 and retry later, loops back off; a command names the server."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import psycopg
import redis
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

REDIS_REFUSING_FOR_NOW: tuple[type[Exception], ...] = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
"""Redis answers but will not take the command right now: full (over `maxmemory`), a replica after a failover,
a slot being moved. Not the request's fault: without these a full Redis turned every location update into a 500."""

POSTGRES_ENDED_THE_SESSION: tuple[type[Exception], ...] = (psycopg.errors.IdleInTransactionSessionTimeout,)
"""PostgreSQL ended the session of a transaction left silent past its limit (the pool's, or a batch writer's on
its lease): the process or PostgreSQL itself stalled, and nothing was applied. An InternalError to psycopg, it
was answered 500 (and logged with a traceback by the dispatcher) where any other lost session is a 503."""

BACKING_SERVICE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    *POSTGRES_ENDED_THE_SESSION,
    PoolTimeout,
    redis.ConnectionError,
    redis.TimeoutError,
    *REDIS_REFUSING_FOR_NOW,
)


class ServerUnreachable(Exception):
    """A server a command needs, named with its address (never its user or password) and why it failed."""

    def __init__(self, server: str, url: str | None, reason: str) -> None:
        where = f" at {server_address(url)}" if url else ""
        password = _password(url)
        if password and len(password) >= 4:  # libpq and Redis never say it; this is a safety net, not a mangle
            reason = reason.replace(password, "***")
        self.message = f"{server}{where} cannot be reached: {reason}"
        self.url = url
        super().__init__(self.message)


def unreachable(error: Exception, *, database_url: str | None, redis_url: str | None) -> ServerUnreachable:
    """One of `BACKING_SERVICE_ERRORS` as the server it came from: Redis's own, else PostgreSQL's."""
    if isinstance(error, redis.RedisError):
        return ServerUnreachable("Redis", redis_url, redis_reason(error))
    return ServerUnreachable("PostgreSQL", database_url, libpq_reason(error))


def redis_reason(error: BaseException) -> str:
    """What a failed Redis connection says, without redis-py's repetition of the address:
    'Error 111 connecting to h:6379. Connection refused.' is 'Connection refused'."""
    line = _first_line(error)
    found = _REDIS_CONNECTING.match(line)
    if found and found.group(1):
        return found.group(1).rstrip(".")
    return line or type(error).__name__


_REDIS_CONNECTING = re.compile(r"Error -?\d+ connecting to \S+?\.\s+(.*)$")


def libpq_reason(error: BaseException) -> str:
    """What a failed PostgreSQL connection says, without libpq's repetition of the address:
    'connection to server at "h", port 5432 failed: Connection refused' is 'Connection refused'."""
    line = _first_line(error)
    return " ".join(line.rpartition("failed: ")[2].split()) or type(error).__name__


def server_address(url: str | None) -> str:
    """`host:port` of a PostgreSQL or Redis URL: what a message may show of it."""
    if not url:
        return "an unconfigured address"
    info = _parts(url)
    default_port = "6379" if url.startswith(("redis://", "rediss://")) else "5432"
    return f"{info.get('host') or 'localhost'}:{info.get('port') or default_port}"


def _parts(url: str) -> dict[str, str]:
    """host, port and password of a Redis URL or a libpq connection string (URL or `key=value` pairs)."""
    if url.startswith(("redis://", "rediss://")):
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        found = {"host": parts.hostname, "port": port, "password": parts.password}
        return {key: str(value) for key, value in found.items() if value}
    try:
        return {key: str(value) for key, value in conninfo_to_dict(url).items() if value}
    except psycopg.Error:
        return {}


def _password(url: str | None) -> str | None:
    return _parts(url).get("password") if url else None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else ""
