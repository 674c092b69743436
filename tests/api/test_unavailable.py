"""When a backing service is down, the API says so with a retryable 503 problem, never a 500 or a stack trace."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from api_support import Account, assert_problem, check_in, current_offer, ingest, run_batch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.problems import OUTAGE_LOG_EVERY_S
from crowdship.clock import ManualClock
from crowdship.db import open_pool
from crowdship.logging import Sampled
from crowdship.settings import Settings
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens here once the socket is closed


def test_a_redis_outage_answers_503_with_retry_after(
    api_settings: Settings,
    clock: ManualClock,
    db: ConnectionPool,
    make_shopper: Callable[..., Account],
) -> None:
    """A position update with Redis unreachable is refused as unavailable, and nothing of record changes."""
    shopper = make_shopper()
    down = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    with TestClient(create_app(down, clock=clock), raise_server_exceptions=False) as client:
        response = client.post("/shopper/location", json={"lat": 30.46, "lon": -84.22}, headers=shopper.headers)
    body = assert_problem(response, 503)
    assert "unavailable" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0
    with PostgresDispatchUnitOfWork(db) as uow:
        assert uow.connection.execute("SELECT count(*) FROM location_samples").fetchone() == (0,)


@pytest.mark.usefixtures("matcher_loaded")  # its own app: the batch is not spent loading the matcher
def test_with_redis_away_a_batch_still_offers_and_the_shopper_reads_the_offer_through_the_api(
    api_settings: Settings,
    clock: ManualClock,
    store: Store,
    ops: Account,
    make_shopper: Callable[..., Account],
) -> None:
    """The store's lease comes from PostgreSQL while Redis is away: the batch runs and offers the order; its
    event is lost with Redis, and the shopper finds the offer by asking the API, which reads PostgreSQL."""
    shopper = make_shopper()
    down = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    with TestClient(create_app(down, clock=clock), raise_server_exceptions=False) as client:
        order = ingest(client, ops, store, clock, ref="NO-REDIS")
        check_in(client, shopper, store, clock)
        report = run_batch(client, ops, store)
        offer = current_offer(client, shopper)
    assert not report["skipped"]
    assert report["offers"] == [offer["id"]]
    assert [stop["order_id"] for stop in offer["stops"]] == [order["order_id"]]


def test_health_names_the_server_that_is_away_and_asks_to_retry(api_settings: Settings, clock: ManualClock) -> None:
    """Redis unreachable: /health is a 503 with Retry-After that says Redis, not PostgreSQL, is the one away."""
    down = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    with TestClient(create_app(down, clock=clock), raise_server_exceptions=False) as client:
        response = client.get("/health")
        probed = client.head("/health")  # what a load balancer's probe sends
    assert response.status_code == 503
    assert (response.json()["postgres"], response.json()["redis"]) == ("ok", "unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert (probed.status_code, probed.content) == (503, b"")


def test_with_redis_away_signing_in_is_refused_as_unavailable_and_issued_tokens_keep_working(
    api_settings: Settings, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Sign-in attempts are counted in Redis: without it they are not let through unlimited (503, not a 401
    that would tell a guess was wrong), while a token already issued reads what PostgreSQL holds."""
    shopper = make_shopper()
    down = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    with TestClient(create_app(down, clock=clock), raise_server_exceptions=False) as client:
        signing_in = client.post("/auth/token", data={"username": "ana@example.org", "password": "a guess or two"})
        profile = client.get("/shopper/profile", headers=shopper.headers)
    assert_problem(signing_in, 503)
    assert int(signing_in.headers["Retry-After"]) > 0
    assert profile.status_code == 200


def test_an_outage_is_logged_in_a_line_every_few_seconds_not_one_per_refused_request(
    api_settings: Settings, clock: ManualClock, make_shopper: Callable[..., Account], capsys: pytest.CaptureFixture[str]
) -> None:
    """Thirty requests refused while Redis is away: every one is a 503, and the log says it once; the next
    refusal a few seconds later logs a line that stands for the 29 held back."""
    shopper = make_shopper()
    down = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"})
    seconds = [0.0]
    with TestClient(create_app(down, clock=clock), raise_server_exceptions=False) as client:
        client.app.state.outages_logged = Sampled(OUTAGE_LOG_EVERY_S, now=lambda: seconds[0])  # type: ignore[attr-defined]
        capsys.readouterr()
        answers = [
            client.post("/shopper/location", json={"lat": 30.46, "lon": -84.22}, headers=shopper.headers).status_code
            for _ in range(30)
        ]
        logged = capsys.readouterr().err
        seconds[0] = OUTAGE_LOG_EVERY_S
        client.post("/shopper/location", json={"lat": 30.46, "lon": -84.22}, headers=shopper.headers)
        later = capsys.readouterr().err
    assert answers == [503] * 30
    assert logged.count("backing service unavailable") == 1
    assert later.count("backing service unavailable") == 1
    assert "also_refused_since_last=29" in later


def test_samples_refused_while_postgres_is_away_are_logged_a_line_every_few_seconds(
    app: FastAPI,
    client: TestClient,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A shopper on a trip goes on sending positions while PostgreSQL is away: each update keeps its live part
    and answers `sampled: false`, and tries the sample again; the log says so once, not once per update."""
    shopper = make_shopper()
    check_in(client, shopper, store, clock)
    assert client.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=shopper.headers).json() == {
        "sampled": True
    }
    services = app.state.services
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/crowdship"
    with open_pool(url, name="away", timeout_s=0.2, connect_timeout_s=1, wait=False) as away:
        app.state.services = replace(
            services, context=replace(services.context, unit_of_work=lambda: PostgresDispatchUnitOfWork(away))
        )
        app.state.outages_logged = Sampled(OUTAGE_LOG_EVERY_S, now=lambda: 0.0)  # however slow this machine is
        clock.advance(timedelta(minutes=1))
        redis_client.delete(f"crowdship:sample-gate:{shopper.shopper_id}")  # the next sample is due
        capsys.readouterr()
        answers = [
            client.post("/shopper/location", json={"lat": 30.47, "lon": -84.22}, headers=shopper.headers).json()
            for _ in range(8)
        ]
        logged = capsys.readouterr().err
    app.state.services = services
    assert answers == [{"sampled": False}] * 8
    assert logged.count("location sample not kept") == 1
