"""The service rides out a server that stops answering without going away: PostgreSQL, then Redis, is frozen
(SIGSTOP to this module's own servers: their connections stay open and nothing answers, as with a paused VM or
a stalled disk) under a running API and dispatcher. Requests answer 503 within the request deadline instead of
hanging, /health names the server, the dispatcher gives up on its stuck round and goes on; once the server is
continued (SIGCONT, always, in a `finally`), everything works again and nothing is lost or applied twice.

One test walks both faults on one world, as `test_recovery.py` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2
import psycopg
import pytest

from api.health import FRESH_S
from tests.resilience.conftest import REQUEST_DEADLINE_S, World, iso_utc, order_body, wait_for

pytestmark = pytest.mark.slow

BOUND_S = REQUEST_DEADLINE_S + 2.0
"""Every request is answered within the deadline, give or take a loaded machine's scheduling."""


def test_the_api_and_the_dispatcher_ride_out_a_frozen_postgres_and_a_frozen_redis(world: World) -> None:
    a_frozen_postgres_answers_503_within_the_deadline_and_nothing_is_lost(world)
    a_frozen_redis_answers_503_within_the_deadline_and_all_resumes(world)


def _timed(call: Callable[[], httpx2.Response]) -> tuple[httpx2.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _check_in(http: httpx2.Client, world: World, shopper: dict[str, str]) -> None:
    body = {
        "store_id": str(world.store.id),
        "destination": {"lat": 30.5, "lon": -84.2211},
        "capacity_bags": 3,
        "max_detour_m": 4000,
        "leave_by": iso_utc(time.time() + 3600),
    }
    response = http.post("/shopper/trips", json=body, headers=shopper)
    assert response.status_code == 201, response.text


def _answered_503_in_time(response: httpx2.Response, took_s: float) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert took_s < BOUND_S, f"answered after {took_s:.1f} s"


def _fresh_health(http: httpx2.Client) -> tuple[httpx2.Response, float]:
    """/health once its look at the servers is newer than the fault (it tells what it saw at most `FRESH_S`
    ago), timed."""
    time.sleep(FRESH_S)
    return _timed(lambda: http.get("/health"))


def _health(http: httpx2.Client) -> dict[str, Any]:
    body: dict[str, Any] = http.get("/health").json()
    return body


def _order_refs(http: httpx2.Client, world: World) -> list[str]:
    orders = http.get("/ops/orders", headers=world.ops, params={"limit": 100}).json()
    return sorted(order["external_ref"] for order in orders["items"])


def _offered(http: httpx2.Client, world: World, order_id: str) -> bool:
    return bool(http.get(f"/ops/orders/{order_id}", headers=world.ops).json()["status"] == "offered")


def _both_alive(world: World) -> None:
    assert world.api.alive(), world.api.output()[-3000:]
    assert world.dispatcher.alive(), world.dispatcher.output()[-3000:]


def _events(world: World, name: str) -> int:
    return world.dispatcher.output().count(f'"event": "{name}"')


def a_frozen_postgres_answers_503_within_the_deadline_and_nothing_is_lost(world: World) -> None:
    """An order is being taken in when PostgreSQL freezes, its statement waiting on a lock the test holds (so
    that it is surely mid-query): the client gets a 503 at the deadline. Requests that come during the freeze get
    503 too, sooner; a location update keeps its live part; /health names PostgreSQL. The dispatcher's round,
    stuck on the same lock, is abandoned and logged. After SIGCONT the order's retry with the same key is applied
    exactly once, and the dispatcher, which never died, offers the orders."""
    ingest = order_body(world, "DURING-FREEZE")
    key = {**world.ops, "Idempotency-Key": "DURING-FREEZE"}
    shopper = world.shoppers[0][1]
    with world.http(timeout=30) as http:
        before = {**world.ops, "Idempotency-Key": "BEFORE-FREEZE"}
        first = http.post("/ops/orders", json=order_body(world, "BEFORE-FREEZE"), headers=before)
        assert first.status_code == 201, first.text
        _check_in(http, world, shopper)
        abandoned_before = _events(world, "dispatch round failed")

        in_flight: list[tuple[httpx2.Response, float]] = []
        locker = psycopg.connect(world.servers.database_url)
        try:
            locker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")  # held until the rollback below

            def take_in() -> None:
                with world.http(timeout=30) as own:  # a client of its own: it runs beside the others
                    in_flight.append(_timed(lambda: own.post("/ops/orders", json=ingest, headers=key)))

            taking_in = threading.Thread(target=take_in)
            taking_in.start()
            time.sleep(1.0)  # the intake reaches the lock
            with world.servers.postgres_frozen():
                read, read_s = _timed(lambda: http.get("/ops/orders", headers=world.ops))
                health, health_s = _fresh_health(http)
                sign_in, sign_in_s = _timed(
                    lambda: http.post("/auth/token", data={"username": "s0@example.org", "password": "not it at all"})
                )
                location, location_s = _timed(
                    lambda: http.post("/shopper/location", json={"lat": 30.471, "lon": -84.22}, headers=shopper)
                )
                taking_in.join(timeout=BOUND_S + 5)
                wait_for(
                    lambda: _events(world, "dispatch round failed") > abandoned_before,
                    timeout=30,
                    what="the dispatcher to give up on its stuck round",
                )
                _both_alive(world)
        finally:
            locker.rollback()
            locker.close()

        assert len(in_flight) == 1, "the intake caught mid-query was not answered"
        _answered_503_in_time(*in_flight[0])
        assert "may or may not have been applied" in in_flight[0][0].json()["detail"]
        for response, took in ((read, read_s), (sign_in, sign_in_s), (health, health_s)):
            _answered_503_in_time(response, took)
        assert (health.json()["postgres"], health.json()["redis"]) == ("unavailable", "ok")
        assert location.status_code == 202, location.text  # its live part needs Redis only
        assert location_s < BOUND_S
        assert "no progress for" in world.dispatcher.output()

        wait_for(lambda: _health(http)["status"] == "ok", timeout=60, what="the API to see PostgreSQL answer again")
        retried = http.post("/ops/orders", json=ingest, headers=key)
        assert retried.status_code in (200, 201), retried.text  # 200: the late intake was applied after all
        assert http.post("/ops/orders", json=ingest, headers=key).status_code == 200
        assert _order_refs(http, world) == ["BEFORE-FREEZE", "DURING-FREEZE"]
        wait_for(lambda: _offered(http, world, first.json()["order_id"]), timeout=60, what="the dispatcher's offer")
    _both_alive(world)
    assert "Traceback" not in world.dispatcher.output()


def a_frozen_redis_answers_503_within_the_deadline_and_all_resumes(world: World) -> None:
    """Redis freezes: what needs it (a location update, signing in) answers 503 within the deadline, what needs
    PostgreSQL alone still answers, /health names Redis, the dispatcher goes on trying; after SIGCONT positions
    are taken again and a new order is offered."""
    shopper = world.shoppers[1][1]
    with world.http(timeout=30) as http:
        _check_in(http, world, shopper)
        with world.servers.redis_frozen():
            location, location_s = _timed(
                lambda: http.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=shopper)
            )
            sign_in, sign_in_s = _timed(
                lambda: http.post("/auth/token", data={"username": "s1@example.org", "password": "not it at all"})
            )
            health, health_s = _fresh_health(http)
            read = http.get("/ops/orders", headers=world.ops)
            time.sleep(2)  # a few dispatcher rounds meet the frozen Redis
            _both_alive(world)
        for response, took in ((location, location_s), (sign_in, sign_in_s), (health, health_s)):
            _answered_503_in_time(response, took)
        assert (health.json()["postgres"], health.json()["redis"]) == ("ok", "unavailable")
        assert read.status_code == 200  # PostgreSQL alone still serves

        wait_for(lambda: _health(http)["status"] == "ok", timeout=60, what="the API to see Redis answer again")
        moved = http.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=shopper)
        assert moved.status_code == 202, moved.text
        after = http.post(
            "/ops/orders", json=order_body(world, "AFTER-REDIS-FREEZE"), headers={**world.ops, "Idempotency-Key": "ARF"}
        )
        assert after.status_code == 201, after.text
        wait_for(lambda: _offered(http, world, after.json()["order_id"]), timeout=90, what="an offer after the freeze")
    _both_alive(world)
    assert "Traceback" not in world.dispatcher.output()
