"""A server that cannot be reached is named for a person: which one, where, and why, never its password."""

from __future__ import annotations

import psycopg
import pytest
import redis
from psycopg_pool import PoolTimeout

from crowdship.outages import BACKING_SERVICE_ERRORS, server_address, unreachable

URLS = {"database_url": "postgresql://ops:hunter2-long@db.example:6543/crowdship", "redis_url": "redis://cache:7/0"}


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("postgresql://ops:hunter2-long@db.example:6543/crowdship", "db.example:6543"),
        ("postgresql://postgres@127.0.0.1/crowdship", "127.0.0.1:5432"),
        ("host=db.example port=6000 password=hunter2-long dbname=crowdship", "db.example:6000"),
        ("redis://:hunter2-long@127.0.0.1:47571/0", "127.0.0.1:47571"),
        ("redis://cache.example/0", "cache.example:6379"),
    ],
)
def test_a_server_is_named_by_host_and_port_never_by_user_or_password(url: str, address: str) -> None:
    assert server_address(url) == address


def test_a_refused_postgresql_connection_says_where_and_why_in_a_few_words() -> None:
    error = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.5", port 6543 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )
    assert unreachable(error, **URLS).message == "PostgreSQL at db.example:6543 cannot be reached: Connection refused"
    timeout = unreachable(PoolTimeout("couldn't get a connection after 2.00 sec"), **URLS)
    assert timeout.message.startswith("PostgreSQL at db.example:6543 cannot be reached: couldn't get a connection")


def test_a_redis_error_names_redis_and_a_password_in_a_reason_is_masked() -> None:
    said = unreachable(redis.ConnectionError("Error 111 connecting to cache:7."), **URLS).message
    assert said == "Redis at cache:7 cannot be reached: Error 111 connecting to cache:7."
    leaked = unreachable(psycopg.OperationalError("FATAL: bad secret hunter2-long"), **URLS).message
    assert "hunter2" not in leaked


def test_a_refused_redis_connection_says_why_in_a_few_words_without_its_address_twice() -> None:
    """redis-py's 'Error 111 connecting to HOST:PORT. Connection refused.' read as `error: Redis at HOST:PORT
    cannot be reached: Error 111 connecting to HOST:PORT. Connection refused.; is it up?` on the command line."""
    refused = redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
    assert unreachable(refused, **URLS).message == "Redis at cache:7 cannot be reached: Connection refused"
    unknown = redis.ConnectionError("Error -2 connecting to nowhere.example:6379. Name or service not known.")
    assert unreachable(unknown, **URLS).message == "Redis at cache:7 cannot be reached: Name or service not known"


@pytest.mark.parametrize(
    "refusal",
    [
        redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
        redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
        redis.exceptions.TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
    ],
    ids=["out-of-memory", "read-only-replica", "try-again"],
)
def test_a_redis_that_refuses_writes_for_now_is_an_outage_of_redis(refusal: redis.RedisError) -> None:
    """Full (maxmemory), a replica after a failover, or busy: the request is not at fault; callers answer 503
    and retry, and a command names Redis, never PostgreSQL."""
    assert isinstance(refusal, BACKING_SERVICE_ERRORS)
    assert unreachable(refusal, **URLS).message.startswith("Redis at cache:7 cannot be reached: ")


def test_a_redis_error_of_the_request_itself_is_no_outage() -> None:
    assert not isinstance(redis.exceptions.ResponseError("WRONGTYPE Operation against a key"), BACKING_SERVICE_ERRORS)
