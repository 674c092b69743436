"""The service rides out faults of its backing servers: PostgreSQL crashes and comes back, Redis is killed and
comes back empty. A real API and a real dispatcher run as processes the whole time; after each fault they
recover by themselves, without a restart, and nothing of record is lost.

One test walks the faults in order on one world (a test of its own per fault would let the test runner send
them to different workers, each building its own servers), each phase leaving the world healthy for the next.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any
from uuid import UUID

import httpx2
import pytest
import redis

from api.health import FRESH_S
from tests.resilience.conftest import World, iso_utc, order_body, wait_for

pytestmark = pytest.mark.slow


def test_the_api_and_the_dispatcher_ride_out_faults_of_their_servers(world: World) -> None:
    a_postgres_crash_fails_fast_and_recovers_with_nothing_lost(world)
    a_redis_loss_is_rebuilt_and_event_streams_resume(world)
    a_full_redis_answers_503_and_health_says_so(world)
    the_logs_of_the_faults_are_short_and_carry_no_secrets(world)


_SENT: dict[tuple[UUID, str], dict[str, Any]] = {}
"""What a client sent for each reference: a retry resends the same body (its times drawn once)."""


def _ingest(http: httpx2.Client, world: World, ref: str) -> httpx2.Response:
    body = _SENT.setdefault((world.store.id, ref), order_body(world, ref))
    return http.post("/ops/orders", json=body, headers={**world.ops, "Idempotency-Key": ref})


def _check_in(http: httpx2.Client, world: World, index: int) -> None:
    body = {
        "store_id": str(world.store.id),
        "destination": {"lat": 30.5, "lon": -84.2211},
        "capacity_bags": 3,
        "max_detour_m": 4000,
        "leave_by": iso_utc(time.time() + 3600),
    }
    response = http.post("/shopper/trips", json=body, headers=world.shoppers[index][1])
    assert response.status_code == 201, response.text


def _offered(http: httpx2.Client, world: World, order_id: str) -> bool:
    return bool(http.get(f"/ops/orders/{order_id}", headers=world.ops).json()["status"] == "offered")


def _health(http: httpx2.Client) -> dict[str, Any]:
    body: dict[str, Any] = http.get("/health").json()
    return body


def _both_alive(world: World) -> None:
    assert world.api.alive(), world.api.output()[-3000:]
    assert world.dispatcher.alive(), world.dispatcher.output()[-3000:]


def a_postgres_crash_fails_fast_and_recovers_with_nothing_lost(world: World) -> None:
    """PostgreSQL stops at once: requests fail in well under a second with 503 and Retry-After, /health says
    which server is down, a location update keeps its live part; once it is back, a retry is applied once, the
    order from before is there, and the dispatcher, which never died, offers it."""
    with world.http() as http:
        first = _ingest(http, world, "BEFORE-PG")
        assert first.status_code == 201
        _check_in(http, world, 0)
        assert http.post(
            "/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=world.shoppers[0][1]
        ).json() == {"sampled": True}

        world.servers.crash_postgres()
        health = wait_for(lambda: _health(http)["postgres"] == "unavailable" and _health(http), timeout=10, what="503")
        assert (health["status"], health["redis"]) == ("unavailable", "ok")
        started = time.monotonic()
        during = _ingest(http, world, "DURING-PG")
        assert during.status_code == 503
        assert during.headers["retry-after"]
        # The pool gives up after CROWDSHIP_DB_POOL_TIMEOUT_S (0.5 s); connecting would take 3 s, a statement 30 s.
        # Under 2 s tells the two apart with room for a busy machine's scheduling (1.4 s seen at load 15).
        assert time.monotonic() - started < 2.0, "a request waited for PostgreSQL instead of failing fast"
        # The live part of a location update does not need PostgreSQL: it is kept, and says it was not sampled.
        live = http.post("/shopper/location", json={"lat": 30.471, "lon": -84.22}, headers=world.shoppers[0][1])
        assert live.status_code == 202
        assert live.json() == {"sampled": False}
        time.sleep(2)  # a few failed dispatcher rounds
        _both_alive(world)

        world.servers.postgres.up()
        wait_for(lambda: _health(http)["status"] == "ok", timeout=60, what="the API to see PostgreSQL again")
        retried = _ingest(http, world, "DURING-PG")  # the client retries what failed: it is applied once
        assert retried.status_code == 201, retried.text
        assert _ingest(http, world, "DURING-PG").status_code == 200
        orders = http.get("/ops/orders", headers=world.ops).json()
        assert sorted(order["external_ref"] for order in orders["items"]) == ["BEFORE-PG", "DURING-PG"]
        wait_for(lambda: _offered(http, world, first.json()["order_id"]), timeout=60, what="the dispatcher's offer")
    _both_alive(world)
    assert "Traceback" not in world.dispatcher.output()


def a_redis_loss_is_rebuilt_and_event_streams_resume(world: World) -> None:
    """Redis dies and comes back empty: the API answers 503 meanwhile (and /health says why), the dispatcher
    backs off; afterwards positions come back from PostGIS, trips are read again from PostgreSQL, offers are
    made again and an event stream opened before the loss receives them."""
    received: list[tuple[float, dict[str, Any]]] = []
    stream_ready = threading.Event()

    def listen() -> None:
        with contextlib.suppress(httpx2.HTTPError):  # the stream ends when the API stops after the tests
            _listen()

    def _listen() -> None:
        headers = world.shoppers[1][1]
        with (
            httpx2.Client(base_url=world.base_url, timeout=httpx2.Timeout(5.0, read=90.0)) as stream_http,
            stream_http.stream("GET", "/shopper/events", headers=headers) as stream,
        ):
            event = ""
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                    if event == "ready":
                        stream_ready.set()
                elif line.startswith("data:") and event == "offer":
                    received.append((time.monotonic(), json.loads(line.split(":", 1)[1])))

    with world.http() as http:
        _check_in(http, world, 1)
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert stream_ready.wait(10)

        world.servers.kill_redis()
        health = wait_for(lambda: _health(http)["redis"] == "unavailable" and _health(http), timeout=10, what="503")
        assert health["postgres"] == "ok"
        started = time.monotonic()
        down = http.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=world.shoppers[1][1])
        assert down.status_code == 503
        assert time.monotonic() - started < 2.0
        assert http.get("/ops/orders", headers=world.ops).status_code == 200  # PostgreSQL alone still serves
        time.sleep(2)
        _both_alive(world)

        world.servers.redis.up()
        back = time.monotonic()
        wait_for(lambda: _health(http)["status"] == "ok", timeout=60, what="the API to see Redis again")
        updated = http.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=world.shoppers[1][1])
        assert updated.status_code == 202, updated.text  # its trip read again from PostgreSQL
        after = _ingest(http, world, "AFTER-REDIS")
        assert after.status_code == 201
        wait_for(
            lambda: any(at > back for at, _ in received),
            timeout=90,
            what="an offer event, after Redis came back, on the stream opened before the loss",
        )
    _both_alive(world)
    assert "Traceback" not in world.dispatcher.output()


def a_full_redis_answers_503_and_health_says_so(world: World) -> None:
    """Redis is up but refuses writes (over `maxmemory`; a replica after a failover answers alike): a location
    update is a retryable 503, never a 500, /health names Redis, and all is well once it takes writes again."""
    redis_client = redis.Redis.from_url(world.servers.redis_url)
    shopper = world.shoppers[1][1]
    with world.http() as http:
        redis_client.config_set("maxmemory", 1)
        try:
            full = http.post("/shopper/location", json={"lat": 30.472, "lon": -84.22}, headers=shopper)
            time.sleep(FRESH_S)  # /health tells what it saw at most that long ago
            health = http.get("/health")
        finally:
            redis_client.config_set("maxmemory", 0)
        assert full.status_code == 503, full.text
        assert full.headers["retry-after"]
        assert health.status_code == 503
        assert (health.json()["postgres"], health.json()["redis"]) == ("ok", "unavailable")
        wait_for(lambda: _health(http)["status"] == "ok", timeout=10, what="the API to see Redis take writes again")
        again = http.post("/shopper/location", json={"lat": 30.473, "lon": -84.22}, headers=shopper)
        assert again.status_code == 202, again.text
    redis_client.close()
    _both_alive(world)


def the_logs_of_the_faults_are_short_and_carry_no_secrets(world: World) -> None:
    """Every line is one JSON event; none carries the signing key, a token, a recipient's name or address."""
    for process in (world.api, world.dispatcher):
        text = process.output()
        assert text.strip(), f"{process.name} logged nothing"
        for line in text.splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            assert "locals" not in event
        for secret in ("Jade", "Magnolia", "Bearer ", world.ops["Authorization"].removeprefix("Bearer ")):
            assert secret not in text
