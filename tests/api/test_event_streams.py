"""Event streams cannot take the API down: a few per account, a bounded number per process, all on one Redis
subscription (off the pool that location updates use), and the rest of the API answers while they are open."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta

import httpx2
import pytest
import redis
from api_support import Account, assert_problem, check_in
from fastapi import FastAPI

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.adapters.live import RedisLiveState
from dispatch.model import Store
from dispatch.services import accounts

_READERS: list[Iterator[str]] = []
"""Line readers of open streams, kept suspended: a reader that is dropped closes its stream."""


def _open_stream(stack: ExitStack, http: httpx2.Client, headers: dict[str, str]) -> httpx2.Response:
    """Opens a stream and waits for its `ready` event; it stays open until the stack closes."""
    response = stack.enter_context(http.stream("GET", "/shopper/events", headers=headers))
    if response.status_code == 200:
        lines = response.iter_lines()
        _READERS.append(lines)
        for line in lines:
            if line.startswith("event:") and "ready" in line:
                break
    return response


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"event_streams_per_user": 3, "event_streams_per_process": 5})


@pytest.fixture
def http(live_server: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=live_server, timeout=httpx2.Timeout(10.0, read=30.0)) as client:
        yield client


def test_one_account_gets_three_streams_and_the_fourth_is_a_429(
    http: httpx2.Client, make_shopper: Callable[..., Account]
) -> None:
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    with ExitStack() as stack:
        assert [_open_stream(stack, http, ana.headers).status_code for _ in range(3)] == [200] * 3
        refused = http.get("/shopper/events", headers=ana.headers)
        problem = assert_problem(refused, 429)
        assert "3 event streams" in problem["detail"]
        assert refused.headers["retry-after"]
        assert _open_stream(stack, http, ben.headers).status_code == 200  # another account is unaffected
        assert http.get("/health").json()["event_streams"] == 4
    # Closed streams free their places (once the server has seen the clients go).
    deadline = time.monotonic() + 10
    while http.get("/health").json()["event_streams"] and time.monotonic() < deadline:
        time.sleep(0.05)
    _READERS.clear()
    with ExitStack() as stack:
        assert _open_stream(stack, http, ana.headers).status_code == 200


def test_the_process_limit_holds_and_location_updates_go_on_meanwhile(
    http: httpx2.Client, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Five streams fill this process: a sixth is refused, while positions and reads are answered at once."""
    shoppers = [make_shopper(f"S{index}") for index in range(3)]
    with ExitStack() as stack:
        for shopper in shoppers[:2]:
            for _ in range(2):
                assert _open_stream(stack, http, shopper.headers).status_code == 200
        assert _open_stream(stack, http, shoppers[2].headers).status_code == 200
        assert_problem(http.get("/shopper/events", headers=shoppers[2].headers), 429)
        check_in(http, shoppers[0], store, clock)
        updates = [
            http.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=shoppers[0].headers).status_code
            for _ in range(5)
        ]
        assert updates == [202] * 5
        assert http.get("/shopper/profile", headers=shoppers[1].headers).status_code == 200


def test_an_event_published_reaches_every_stream_of_its_shopper_only(
    app: FastAPI, http: httpx2.Client, make_shopper: Callable[..., Account]
) -> None:
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    got: dict[str, list[str]] = {"ana-1": [], "ana-2": [], "ben": []}
    ready = threading.Barrier(4)

    def listen(name: str, headers: dict[str, str]) -> None:
        with http.stream("GET", "/shopper/events", headers=headers) as stream:
            event = ""
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                    if event == "ready":
                        ready.wait(30)
                elif line.startswith("data:") and event == "order_cancelled":
                    got[name].append(line)
                    return

    threads = [
        threading.Thread(target=listen, args=(name, headers), daemon=True)
        for name, headers in (("ana-1", ana.headers), ("ana-2", ana.headers), ("ben", ben.headers))
    ]
    for thread in threads:
        thread.start()
    ready.wait(30)
    assert ana.shopper_id is not None
    live = app.state.services.context.live
    deadline = time.monotonic() + 30  # generous: the suite runs beside CPU-bound tests
    while not (got["ana-1"] and got["ana-2"]) and time.monotonic() < deadline:
        live.publish_offer(ana.shopper_id, {"event": "order_cancelled", "order_id": "x"})
        threads[0].join(0.1)
    assert got["ana-1"]
    assert got["ana-2"]
    assert got["ben"] == []
    assert ben.shopper_id is not None
    deadline = time.monotonic() + 10
    while threads[2].is_alive() and time.monotonic() < deadline:  # lets Ben's stream end, so the server stops at once
        live.publish_offer(ben.shopper_id, {"event": "order_cancelled", "order_id": "y"})
        threads[2].join(0.1)


def test_three_hundred_streams_from_one_shopper_leave_the_api_answering(
    live_server: str, make_shopper: Callable[..., Account]
) -> None:
    """The attack of the report: 300 streams at once from one account, all held open. Three are served and
    the others refused with a 429 (a place is taken in the same step that checks the limit, so none races
    past it); and the API answers everyone else meanwhile."""
    ana, ben = make_shopper("Ana"), make_shopper("Ben")

    async def attack() -> list[str]:
        limits = httpx2.Limits(max_connections=400)
        release = asyncio.Event()
        async with httpx2.AsyncClient(base_url=live_server, timeout=60.0, limits=limits) as client:

            async def one() -> str:
                async with client.stream("GET", "/shopper/events", headers=ana.headers) as response:
                    if response.status_code != 200:
                        return str(response.status_code)
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            first = line.split(":", 1)[1].strip()
                            if first == "ready":
                                await release.wait()  # hold the stream open until every request is answered
                            return first
                    return "closed"

            tasks = [asyncio.create_task(one()) for _ in range(300)]
            await asyncio.sleep(0)
            done = await asyncio.wait_for(_answered(tasks, expect_open=3), 60)
            assert (await client.get("/shopper/profile", headers=ben.headers)).status_code == 200
            release.set()
            return done + list(await asyncio.gather(*[task for task in tasks if not task.done()]))

    # A thread of its own: a browser test before this one may have left an event loop running on this one.
    with ThreadPoolExecutor(max_workers=1) as runner:
        outcomes = runner.submit(asyncio.run, attack()).result()
    assert len(outcomes) == 300
    assert outcomes.count("ready") == 3
    assert outcomes.count("429") == 297, set(outcomes)
    assert httpx2.get(f"{live_server}/health", timeout=5).json()["status"] == "ok"


async def _answered(tasks: list[asyncio.Task[str]], *, expect_open: int) -> list[str]:
    """Waits until all but the streams that stay open have an answer; returns those answers."""
    while sum(1 for task in tasks if not task.done()) > expect_open:
        await asyncio.sleep(0.05)
    return [task.result() for task in tasks if task.done()]


def _events_until_closed(http: httpx2.Client, headers: dict[str, str], act: Callable[[], None]) -> list[str]:
    """The events of one stream, `act` done once it is ready, until the server ends it."""
    events: list[str] = []
    with http.stream("GET", "/shopper/events", headers=headers) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
                if events[-1] == "ready":
                    act()
    return events


def test_a_stream_ends_when_its_account_is_deactivated(
    http: httpx2.Client, make_shopper: Callable[..., Account], make_staff: Callable[[Role], Account]
) -> None:
    ana, admin = make_shopper("Ana"), make_staff(Role.ADMIN)

    def deactivate() -> None:
        assert http.post(f"/admin/users/{ana.user_id}/deactivate", headers=admin.headers).status_code == 200

    assert _events_until_closed(http, ana.headers, deactivate) == ["ready", "closed"]


def test_a_stream_whose_account_changed_while_postgresql_is_away_ends_with_closed(
    app: FastAPI, http: httpx2.Client, make_shopper: Callable[..., Account], redis_client: redis.Redis
) -> None:
    """The account cannot be checked again: the stream ends in words (the app reconnects and hears 503 until
    PostgreSQL is back) instead of breaking off with an error."""
    ana = make_shopper("Ana")
    events: list[str] = []
    with http.stream("GET", "/shopper/events", headers=ana.headers) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
                if events[-1] == "ready":
                    app.state.pool.close()  # PostgreSQL away, for this app alone
                    RedisLiveState(redis_client).account_changed(ana.user_id)
            elif line.startswith("data:") and events[-1] == "closed":
                assert "could not be checked" in line
    assert events == ["ready", "closed"]


def _drop_this_sessions_subscriptions(redis_client: redis.Redis) -> int:
    """Cuts the event hubs' subscriptions on this session's Redis database (as a Redis restart does), and only
    theirs: other sessions' servers keep theirs."""
    database = str(redis_client.connection_pool.connection_kwargs.get("db", 0))
    subscribers = [entry for entry in redis_client.client_list(_type="pubsub") if str(entry.get("db")) == database]
    for entry in subscribers:
        redis_client.client_kill_filter(_id=entry["id"])
    return len(subscribers)


def test_a_stream_whose_account_was_deactivated_while_redis_was_away_ends_once_redis_is_back(
    app: FastAPI, http: httpx2.Client, make_shopper: Callable[..., Account], redis_client: redis.Redis
) -> None:
    """The deactivation's word to the API processes is lost with Redis away: once the subscription is back, each
    stream asks again whether its account may go on (the hub has forgotten what it knew), as REST requests do,
    rather than stream on until its token expires."""
    ana = make_shopper("Ana")
    context = app.state.services.context
    events: list[str] = []
    gives_up_at = time.monotonic() + 20  # the stream pings every 15 s: a stream left open shows within that
    with http.stream("GET", "/shopper/events", headers=ana.headers) as stream:
        for line in stream.iter_lines():
            if time.monotonic() > gives_up_at:
                break
            if line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
                if events[-1] == "ready":
                    accounts.set_active(replace(context, live=None), user_id=ana.user_id, active=False)  # no word
                    assert _drop_this_sessions_subscriptions(redis_client) >= 1
            elif line.startswith("data:") and events[-1] == "closed":
                assert "deactivated" in line
    assert events == ["ready", "closed"]


def test_a_stream_ends_when_its_token_expires(
    http: httpx2.Client, make_shopper: Callable[..., Account], clock: ManualClock
) -> None:
    ana = make_shopper("Ana")
    assert _events_until_closed(http, ana.headers, lambda: clock.advance(timedelta(hours=3))) == ["ready", "closed"]
