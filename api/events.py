"""Live events of an API process: one Redis subscription per process, for the offers of every shopper (fanned
out to the shoppers' streams) and for changes of accounts (so that a deactivated account's tokens stop at
once).

A subscription per stream would hold one Redis connection per open stream: a hundred streams from one shopper
would drain the pool that location updates need, and a few hundred would drown the process. Here one pattern
subscription (`crowdship:offers:*`) feeds a small queue per stream, and streams are counted per account and
per process, refused beyond the limits (429).

Events are live state: while Redis is away the hub keeps reconnecting, and after it is back every stream is
told to read the shopper's current offer again from PostgreSQL and to ask again whether its account may go on
(`RESYNC`), since events may have been missed, a deactivation among them: also when the Redis client connected the
subscription again by itself, which no error tells.
A Redis that stops answering with its connections open (stopped, paused, stalled) leaves a subscription as quiet
as a quiet hour does, so the hub asks Redis for an answer every `LIVENESS_EVERY_S` and takes none as an outage.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Final, cast
from uuid import UUID

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection as AsyncConnection

from crowdship.logging import get_logger
from dispatch.adapters.live import ACCOUNTS_CHANNEL, offers_channel

log = get_logger(__name__)

ACCOUNT_CHANGED: Final = {"event": "account_changed"}
"""Handed to the streams of an account that was deactivated (or reactivated): each asks whether it may go on."""
RESYNC: Final = {"event": "resync"}
"""Handed to every stream when the subscription (re)starts: events may have been missed."""
QUEUE_SIZE = 8
"""A stream that does not keep up loses the oldest events; the shopper's current offer is what counts."""
MAX_BACKOFF_S = 5.0
LIVENESS_EVERY_S = 5.0
"""How often the hub checks that Redis answers (a PING, awaited for `CROWDSHIP_REDIS_TIMEOUT_S`)."""
STOP_TIMEOUT_S = 2.0


CLAIM_WITHIN_S = 30.0
"""A stream starts within this long of its request, or its reservation is given back (its client left)."""


class TooManyStreams(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(eq=False)
class Reservation:
    """One stream's place, counted from its request until its stream ends."""

    user_id: UUID
    made_at: float
    released: bool = False


@dataclass(eq=False)
class Stream:
    user_id: UUID
    shopper_id: UUID
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    async def next(self, timeout_s: float) -> dict[str, Any] | None:
        """The next event, or None when none came within `timeout_s`."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            return None

    def push(self, event: dict[str, Any]) -> None:
        if self.queue.full():
            with suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(event)


class LiveEventHub:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        per_user: int,
        per_process: int,
        on_account_changed: Callable[[UUID | None], None] | None = None,
    ) -> None:
        self._client = client
        self._on_account_changed = on_account_changed
        self._per_user = per_user
        self._per_process = per_process
        self._streams: dict[UUID, set[Stream]] = {}
        self._by_user: dict[UUID, int] = {}
        self._count = 0
        self._unclaimed: set[Reservation] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._reconnected = False
        self.connected = False

    @property
    def open_streams(self) -> int:
        return self._count

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="offer-event-hub")

    async def stop(self) -> None:
        """Ends the subscription within a bounded time. The flag, not only the cancellation, ends the loop: a
        cancellation that lands as a read times out can be taken for that timeout by the client library."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
        await self._client.aclose()

    def reserve(self, user_id: UUID) -> Reservation:
        """Counts one more stream of this account now, before the response starts, so that the refusal can still
        be a 429 and streams asked for at the same moment cannot all get in; `TooManyStreams` over a limit. A
        reservation the stream does not claim within `CLAIM_WITHIN_S` (its client left first) is given back."""
        self._give_back_unclaimed()
        if self._by_user.get(user_id, 0) >= self._per_user:
            raise TooManyStreams(f"at most {self._per_user} event streams per account; close one first")
        if self._count >= self._per_process:
            raise TooManyStreams("this server has as many event streams open as it serves; retry shortly")
        reservation = Reservation(user_id, time.monotonic())
        self._hold(reservation)
        self._unclaimed.add(reservation)
        return reservation

    @contextmanager
    def registered(self, reservation: Reservation, *, shopper_id: UUID) -> Iterator[Stream]:
        """The stream, counted for as long as the block runs (the block is the stream's own generator)."""
        self._unclaimed.discard(reservation)
        if reservation.released:  # claimed after it was given back: counted again, as it was allowed in
            self._hold(reservation)
        stream = Stream(reservation.user_id, shopper_id)
        self._streams.setdefault(shopper_id, set()).add(stream)
        try:
            yield stream
        finally:
            self._release(reservation)
            streams = self._streams[shopper_id]
            streams.discard(stream)
            if not streams:
                del self._streams[shopper_id]

    def _hold(self, reservation: Reservation) -> None:
        reservation.released = False
        self._by_user[reservation.user_id] = self._by_user.get(reservation.user_id, 0) + 1
        self._count += 1

    def _release(self, reservation: Reservation) -> None:
        if reservation.released:
            return
        reservation.released = True
        self._count -= 1
        self._by_user[reservation.user_id] -= 1
        if not self._by_user[reservation.user_id]:
            del self._by_user[reservation.user_id]

    def _give_back_unclaimed(self) -> None:
        cutoff = time.monotonic() - CLAIM_WITHIN_S
        for reservation in [r for r in self._unclaimed if r.made_at < cutoff]:
            self._unclaimed.discard(reservation)
            self._release(reservation)

    def _account_changed(self, message: dict[str, Any]) -> None:
        try:
            user_id = UUID(str(message["data"]))
        except (ValueError, KeyError):
            log.warning("malformed account event ignored")
            return
        if self._on_account_changed is not None:
            self._on_account_changed(user_id)
        for streams in self._streams.values():
            for stream in streams:
                if stream.user_id == user_id:
                    stream.push(ACCOUNT_CHANGED)

    def _deliver(self, message: dict[str, Any]) -> None:
        channel = str(message.get("channel", ""))
        try:
            shopper_id = UUID(channel.rsplit(":", 1)[-1])
            event = json.loads(message["data"])
        except (ValueError, TypeError, KeyError):
            log.warning("malformed offer event ignored")
            return
        for stream in self._streams.get(shopper_id, ()):
            stream.push(event)

    def _resync_all(self) -> None:
        for streams in self._streams.values():
            for stream in streams:
                stream.push(RESYNC)

    async def _subscribe(self, pubsub: aioredis.client.PubSub) -> AsyncConnection | None:
        """Subscribes to the offers of every shopper and to changes of accounts; returns the connection, watched
        for the client's own reconnections."""
        await pubsub.psubscribe(offers_channel(UUID(int=0)).rsplit(":", 1)[0] + ":*")
        await pubsub.subscribe(ACCOUNTS_CHANNEL)
        connection = cast("AsyncConnection | None", pubsub.connection)  # typed as always None by the library
        if connection is not None:
            self._reconnected = False
            connection.register_connect_callback(self._connection_remade)  # type: ignore[no-untyped-call]
        return connection

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        """Hands out events until the hub stops, or Redis fails (raised) or does not answer its liveness check."""
        checked = time.monotonic()
        while not self._stopping:
            if self._reconnected:
                self._reconnected = False
                log.info("live events resumed", after="the subscription was connected again")
                self._resumed()
            if time.monotonic() - checked >= LIVENESS_EVERY_S:
                await self._client.ping()  # unanswered: redis.TimeoutError, handled as an outage
                checked = time.monotonic()
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message.get("type") == "pmessage":
                self._deliver(message)
            elif message.get("type") == "message":
                self._account_changed(message)

    def _connection_remade(self, _connection: object) -> None:
        """Called by the client when it connects the subscription again by itself (its retry of a dropped
        connection, Redis restarted within it): no error reaches the loop, but events may have been missed."""
        self._reconnected = True

    def _resumed(self) -> None:
        """Changes of accounts may have been missed (while Redis was away, or before the first subscription,
        when the process may already have asked about accounts): the API forgets them all, every stream rereads."""
        if self._on_account_changed is not None:
            self._on_account_changed(None)
        self._resync_all()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            connection = None
            try:
                connection = await self._subscribe(pubsub)
                await self._client.ping()  # a subscription is not answered: only this says Redis is there
                self.connected = True
                if failures:
                    log.info("live events resumed", after_failures=failures)
                self._resumed()
                failures = 0
                await self._listen(pubsub)
            except (redis.RedisError, OSError) as error:
                self.connected = False
                failures += 1
                delay = min(MAX_BACKOFF_S, 0.1 * 2**failures) * random.uniform(0.5, 1.0)
                log.warning("live events interrupted", error=type(error).__name__, retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)
            finally:
                if connection is not None:  # it goes back to the pool, and may connect again for others
                    connection.deregister_connect_callback(self._connection_remade)  # type: ignore[no-untyped-call]
                with suppress(redis.RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
