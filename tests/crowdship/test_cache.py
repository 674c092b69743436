"""A Redis that takes connections and never answers (stopped, stalled: its socket stays open) costs a command one
reply timeout, not one per retry: a dropped connection is retried, a silent one is not. The silent server here
is a plain listening socket that accepts and says nothing; `tests/resilience/test_freeze.py` stops a real one."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from crowdship.cache import open_async_redis, open_redis
from crowdship.settings import Settings


@contextmanager
def _silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A port that accepts connections and never answers; the list holds every connection it accepted."""
    accepted: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.1)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except TimeoutError:
                    continue

        acceptor = threading.Thread(target=accept, daemon=True)
        acceptor.start()
        try:
            yield listener.getsockname()[1], accepted
        finally:
            stop.set()
            acceptor.join()
            for connection in accepted:
                connection.close()


def _settings_for(settings: Settings, port: int) -> Settings:
    return settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0", "redis_timeout_s": 0.2})


def test_a_command_to_a_redis_that_does_not_answer_times_out_once_without_retrying(settings: Settings) -> None:
    with _silent_server() as (port, accepted):
        client = open_redis(_settings_for(settings, port))
        with pytest.raises(redis.TimeoutError):
            client.get("anything")
        client.close()
        assert len(accepted) == 1


def test_the_async_client_does_not_retry_a_redis_that_does_not_answer_either(settings: Settings) -> None:
    async def ask(port: int) -> None:
        client = open_async_redis(_settings_for(settings, port))
        try:
            await client.get("anything")
        finally:
            await client.aclose()

    with _silent_server() as (port, accepted):
        with pytest.raises(redis.TimeoutError):
            asyncio.run(ask(port))
        assert len(accepted) == 1
