"""Live state over HTTP: positions in Redis with sampling into PostGIS, the per-shopper rate limit, and the
server-sent event stream that pushes new offers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx2
import redis
from api_support import Account, assert_problem, check_in, ingest
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.routers.shopper import update_location
from crowdship.clock import ManualClock
from dispatch.adapters.live import RedisLiveState
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store


def test_positions_are_live_in_redis_and_sampled_into_postgis(
    client: TestClient,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    redis_client: redis.Redis,
    db: ConnectionPool,
) -> None:
    """Every update moves the live position; only the first of a sampling interval is kept in PostGIS, with
    the active trip."""
    shopper = make_shopper()
    trip = check_in(client, shopper, store, clock)
    first = client.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=shopper.headers)
    second = client.post("/shopper/location", json={"lat": 30.471, "lon": -84.22}, headers=shopper.headers)
    assert first.status_code == 202
    assert first.json() == {"sampled": True}
    assert second.json() == {"sampled": False}
    assert shopper.shopper_id is not None
    position = RedisLiveState(redis_client).position(shopper.shopper_id)
    assert position is not None
    assert abs(position.lat - 30.471) < 1e-5
    with PostgresDispatchUnitOfWork(db) as uow:
        samples = uow.locations.latest_of_active_shoppers()
        assert uow.locations.count_for_shopper(shopper.shopper_id) == 1
    assert [str(sample.trip_id) for sample in samples] == [trip["id"]]


def test_location_updates_are_rate_limited_per_shopper(
    client: TestClient, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Ten updates in a second pass, the eleventh is a 429 problem with Retry-After; another shopper and the
    next second are unaffected."""
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    check_in(client, ana, store, clock)
    check_in(client, ben, store, clock)
    body = {"lat": 30.47, "lon": -84.22}
    statuses = [client.post("/shopper/location", json=body, headers=ana.headers).status_code for _ in range(10)]
    assert statuses == [202] * 10
    limited = client.post("/shopper/location", json=body, headers=ana.headers)
    assert_problem(limited, 429)
    assert limited.headers["retry-after"] == "1"
    assert client.post("/shopper/location", json=body, headers=ben.headers).status_code == 202
    clock.advance(timedelta(seconds=1))
    assert client.post("/shopper/location", json=body, headers=ana.headers).status_code == 202


def test_a_position_without_an_active_trip_is_refused_and_not_kept(
    client: TestClient,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    redis_client: redis.Redis,
    db: ConnectionPool,
) -> None:
    """Before check-in and after the trip ended: 409, nothing in Redis, nothing in PostGIS."""
    shopper = make_shopper()
    assert shopper.shopper_id is not None
    body = {"lat": 30.47, "lon": -84.22}
    problem = assert_problem(client.post("/shopper/location", json=body, headers=shopper.headers), 409)
    assert problem["type"] == "/problems/no-active-trip"
    trip = check_in(client, shopper, store, clock)
    assert client.post("/shopper/location", json=body, headers=shopper.headers).status_code == 202
    assert RedisLiveState(redis_client).position(shopper.shopper_id) is not None
    assert client.post(f"/shopper/trips/{trip['id']}/cancel", headers=shopper.headers).status_code == 200
    assert RedisLiveState(redis_client).position(shopper.shopper_id) is None
    clock.advance(timedelta(minutes=1))
    assert_problem(client.post("/shopper/location", json=body, headers=shopper.headers), 409)
    assert RedisLiveState(redis_client).position(shopper.shopper_id) is None
    with PostgresDispatchUnitOfWork(db) as uow:
        assert uow.locations.count_for_shopper(shopper.shopper_id) == 1


def test_after_redis_lost_its_data_the_trip_is_read_from_postgres(
    client: TestClient,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    redis_client: redis.Redis,
) -> None:
    """A flush forgets who is on a trip: the next update asks PostgreSQL and is kept; a shopper without a trip
    is still refused."""
    on_trip, idle = make_shopper("Ana"), make_shopper("Ben")
    check_in(client, on_trip, store, clock)
    redis_client.flushdb()
    body = {"lat": 30.47, "lon": -84.22}
    assert client.post("/shopper/location", json=body, headers=on_trip.headers).status_code == 202
    assert on_trip.shopper_id is not None
    assert RedisLiveState(redis_client).position(on_trip.shopper_id) is not None
    assert_problem(client.post("/shopper/location", json=body, headers=idle.headers), 409)


def test_a_bad_position_is_refused_naming_the_field(client: TestClient, make_shopper: Callable[..., Account]) -> None:
    shopper = make_shopper()
    problem = assert_problem(
        client.post("/shopper/location", json={"lat": 30.0, "lon": 200.0}, headers=shopper.headers), 422
    )
    assert problem["errors"][0]["field"] == "lon"


def test_the_event_stream_pushes_a_new_offer(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A shopper listening on /shopper/events receives `offer` with the offer's id when a batch makes one."""
    shopper = make_shopper()
    received: list[dict[str, str]] = []
    listening = threading.Event()
    got_offer = threading.Event()

    def listen() -> None:
        with (
            httpx2.Client(base_url=live_server, timeout=30) as http,
            http.stream("GET", "/shopper/events", headers=shopper.headers) as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            event = ""
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                    if event == "ready":
                        listening.set()
                elif line.startswith("data:") and event == "offer":
                    received.append(json.loads(line.split(":", 1)[1]))
                    got_offer.set()
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    with httpx2.Client(base_url=live_server, timeout=30) as http:
        ingest(http, ops, store, clock)
        check_in(http, shopper, store, clock)
        assert listening.wait(10)
        batch = http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()
    assert got_offer.wait(10)
    listener.join(timeout=10)
    assert received[0]["offer_id"] == batch["offers"][0]


def test_the_store_summary_shows_orders_trips_offers_and_live_shoppers(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Two pending orders, one past its deadline; one trip whose shopper sent a position."""
    shopper = make_shopper()
    ingest(client, ops, store, clock, ref="A")
    ingest(client, ops, store, clock, ref="B", dispatch_deadline=(clock.now() + timedelta(minutes=5)).isoformat())
    check_in(client, shopper, store, clock)
    client.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=shopper.headers)
    clock.advance(timedelta(minutes=6))
    summary = client.get(f"/ops/stores/{store.id}/summary", headers=ops.headers).json()
    assert summary["orders_by_status"] == {"pending": 2}
    assert summary["orders_past_deadline"] == 1
    assert summary["open_trips"] == 1
    assert summary["open_offers"] == 0
    assert summary["live_shoppers"] == 1


def test_the_first_event_of_a_stream_is_the_current_offer_with_its_expiry(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A shopper who connects after the offer was made gets it first, with `expires_at` like any offer event,
    written as the API writes the offer's own `expires_at` (`…Z`, not `…+00:00`): one way to write an instant."""
    shopper = make_shopper()
    with httpx2.Client(base_url=live_server, timeout=30) as http:
        ingest(http, ops, store, clock)
        check_in(http, shopper, store, clock)
        offer_id = http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()["offers"][0]
        with http.stream("GET", "/shopper/events", headers=shopper.headers) as stream:
            event, first = "", None
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "offer":
                    first = json.loads(line.split(":", 1)[1])
                    break
        fetched = http.get(f"/shopper/offers/{offer_id}", headers=shopper.headers).json()
    assert first is not None
    assert first["offer_id"] == offer_id
    assert first["expires_at"] == fetched["expires_at"]
    assert datetime.fromisoformat(first["expires_at"]) == clock.now() + timedelta(seconds=60)


def _dependencies_resolved(dependant: Dependant) -> int:
    return sum(1 + _dependencies_resolved(sub) for sub in dependant.dependencies)


def test_a_location_update_resolves_few_dependencies() -> None:
    """FastAPI resolves each dependency of a request anew, every time (a few microseconds each, a cached one
    too): the hottest route reads the bearer token and checks its shopper in one (the app adds the query's
    check)."""
    assert _dependencies_resolved(get_dependant(path="/shopper/location", call=update_location)) <= 1
