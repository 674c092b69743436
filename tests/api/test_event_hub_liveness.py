"""A Redis that stops answering with its connections open (stopped, paused, stalled) is noticed by the event hub:
a quiet subscription cannot tell that apart from a quiet hour, and offers published meanwhile are lost, so once
Redis answers again every stream is told to read its shopper's current offer afresh (`RESYNC`). Redis is reached
through a relay this test freezes (its own connections only: the suite's server never stops)."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import pytest
import redis

from api.events import LIVENESS_EVERY_S, RESYNC, LiveEventHub
from crowdship.cache import open_async_redis
from crowdship.settings import Settings


class FreezingRelay:
    """A TCP forwarder to the real server that can freeze: while frozen it accepts connections and holds every
    byte, answering nothing, as a server under SIGSTOP does."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        with suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, one: socket.socket, other: socket.socket) -> None:
        ends = {one: other, other: one}
        try:
            while True:
                if self.frozen.is_set():
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(ends), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    ends[sock].sendall(data)
        except (OSError, ValueError):
            return


@pytest.fixture
def relay(settings: Settings) -> Iterator[FreezingRelay]:
    url = urlsplit(settings.require_redis_url())
    made = FreezingRelay((url.hostname or "127.0.0.1", url.port or 6379))
    yield made
    made.frozen.clear()
    made.close()


def test_a_frozen_redis_is_noticed_and_every_stream_resyncs_once_it_answers_again(
    settings: Settings, relay: FreezingRelay
) -> None:
    """Frozen: the hub says it is not connected within two liveness intervals, and once Redis answers again
    every stream gets `resync` (offers published during the freeze were lost)."""
    url = urlsplit(settings.require_redis_url())
    through_relay = settings.model_copy(
        update={"redis_url": urlunsplit(url._replace(netloc=f"127.0.0.1:{relay.port}")), "redis_timeout_s": 1.0}
    )

    async def scenario() -> tuple[bool, bool, dict[str, str] | None]:
        hub = LiveEventHub(open_async_redis(through_relay), per_user=3, per_process=10)
        hub.start()
        try:
            await _until(lambda: hub.connected, 10)
            reservation = hub.reserve(uuid4())
            with hub.registered(reservation, shopper_id=uuid4()) as stream:
                while await stream.next(0.2) is not None:  # the resync of the first subscription
                    pass
                relay.frozen.set()
                noticed = await _until(lambda: not hub.connected, 2 * LIVENESS_EVERY_S + 3)
                await asyncio.sleep(LIVENESS_EVERY_S)  # frozen on a while after it was noticed
                relay.frozen.clear()
                back = await _until(lambda: hub.connected, 15)
                told = await stream.next(15)
                return noticed, back, told
        finally:
            relay.frozen.clear()
            await hub.stop()

    noticed, back, told = asyncio.run(scenario())
    assert noticed, "the hub went on as if a frozen Redis were a quiet one"
    assert back
    assert told == RESYNC


async def _until(condition: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return bool(condition())


def test_a_subscription_the_client_connects_again_by_itself_still_resyncs_every_stream(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """A dropped subscription is connected again by the Redis client's own retry when Redis answers at once (a
    restart quicker than the retries, a connection cut): no error reaches the hub, yet events published
    meanwhile were lost, deactivations among them. The hub forgets what it knew of accounts and every stream
    rereads."""
    forgotten: list[UUID | None] = []
    database = str(redis_client.connection_pool.connection_kwargs.get("db", 0))

    async def scenario() -> dict[str, str] | None:
        hub = LiveEventHub(open_async_redis(settings), per_user=3, per_process=10, on_account_changed=forgotten.append)
        hub.start()
        try:
            await _until(lambda: hub.connected, 10)
            forgotten.clear()  # what it forgot as it first subscribed
            with hub.registered(hub.reserve(uuid4()), shopper_id=uuid4()) as stream:
                subscriptions = [e for e in redis_client.client_list(_type="pubsub") if str(e.get("db")) == database]
                assert subscriptions
                for subscription in subscriptions:
                    redis_client.client_kill_filter(_id=subscription["id"])
                return await stream.next(10)
        finally:
            await hub.stop()

    assert asyncio.run(scenario()) == RESYNC
    assert forgotten == [None]


def test_accounts_known_before_the_hub_first_subscribed_are_forgotten_once_it_has(settings: Settings) -> None:
    """A process just started asks PostgreSQL whether an account may go on while its hub is still subscribing;
    a deactivation published meanwhile is heard by no one (Redis keeps no messages), so once subscribed the hub
    forgets what was known of accounts, as after an outage, instead of trusting it for the cache's lifetime."""
    forgotten: list[UUID | None] = []

    async def scenario() -> bool:
        hub = LiveEventHub(open_async_redis(settings), per_user=3, per_process=10, on_account_changed=forgotten.append)
        hub.start()
        try:
            return await _until(lambda: hub.connected, 10)
        finally:
            await hub.stop()

    assert asyncio.run(scenario())
    assert forgotten == [None]
