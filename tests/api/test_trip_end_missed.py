"""A trip's end is told to Redis after it commits, best effort: with Redis away at that moment (unreachable, or
answering too late) but keeping its data, Redis still believed the shopper on the trip, for up to 12 hours (the
marker's lifetime). Every update was answered 202 and its position kept live, though the trip was over and a
position is only the company's business during one. The shopper's next sampled update (at most
`CROWDSHIP_LOCATION_SAMPLE_INTERVAL_S` later) finds no trip in PostgreSQL: it is refused 409 and the live state
the trip left behind goes."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta

import redis
from api_support import Account, assert_problem, check_in
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.adapters.live import RedisLiveState, _active_key, _sample_gate_key
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_trip_end_redis_missed_is_noticed_at_the_next_sampled_update_which_is_refused(
    client: TestClient,
    api_settings: Settings,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    redis_client: redis.Redis,
    db: ConnectionPool,
) -> None:
    shopper = make_shopper()
    assert shopper.shopper_id is not None
    body = {"lat": 30.47, "lon": -84.22}
    trip = check_in(client, shopper, store, clock)
    assert client.post("/shopper/location", json=body, headers=shopper.headers).json() == {"sampled": True}

    away = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    with TestClient(create_app(away, clock=clock), raise_server_exceptions=False) as redis_away:
        cancelled = redis_away.post(f"/shopper/trips/{trip['id']}/cancel", headers=shopper.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert RedisLiveState(redis_client).position(shopper.shopper_id) is not None  # what the trip left behind

    clock.advance(timedelta(seconds=31))
    redis_client.delete(_sample_gate_key(shopper.shopper_id))  # the sampling interval is over
    problem = assert_problem(client.post("/shopper/location", json=body, headers=shopper.headers), 409)
    assert problem["type"] == "/problems/no-active-trip"
    assert RedisLiveState(redis_client).position(shopper.shopper_id) is None
    assert not redis_client.exists(_active_key(shopper.shopper_id))
    clock.advance(timedelta(seconds=1))
    assert_problem(client.post("/shopper/location", json=body, headers=shopper.headers), 409)
    with PostgresDispatchUnitOfWork(db) as uow:
        assert uow.locations.count_for_shopper(shopper.shopper_id) == 1  # the one sample taken on the trip
