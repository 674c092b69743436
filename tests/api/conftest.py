"""Fixtures of the API tests: the app on the session's real PostGIS and Redis, a store, tokens per role."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
import redis
import uvicorn
from api_support import HOME, STORE_LOCATION, Account
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from rewards_flow import Owed, publish_policy, shoppers_owed

from api.app import create_app
from api.security import issue_token
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Shopper, Store, TrustTier
from routing.areas import circular_area
from routing.geo import GeoPoint


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"location_sample_interval_s": 30.0, "matcher_time_limit_s": 1.0})


@pytest.fixture
def app(
    api_settings: Settings, clock: ManualClock, db: ConnectionPool, redis_client: redis.Redis, matcher_loaded: None
) -> FastAPI:
    """The app on emptied tables and an emptied Redis database, its matcher loaded as after its warm-up: a batch
    asked for at once would otherwise spend its store's lease waiting for that load."""
    _ = (db, redis_client, matcher_loaded)
    return create_app(api_settings, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def store(db: ConnectionPool) -> Store:
    store = Store(
        name="Crowdship Supercentre Test",
        location=STORE_LOCATION,
        service_area=circular_area(STORE_LOCATION, 12_000),
        fallback_cost_cents=Cents(899),
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.commit()
    return store


def _token(user: User, settings: Settings, clock: ManualClock) -> dict[str, str]:
    token = issue_token(user, secret=settings.require_secret_key(), ttl=timedelta(hours=2), now=clock.now())
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_shopper(db: ConnectionPool, api_settings: Settings, clock: ManualClock) -> Callable[..., Account]:
    """Creates a shopper with a shopper account directly in the database (no slow password hashing)."""

    def make(
        name: str = "Ana",
        *,
        tier: TrustTier = TrustTier.SILVER,
        verified: bool = True,
        home: GeoPoint | None = HOME,
    ) -> Account:
        shopper = Shopper(display_name=name, trust_tier=tier, identity_verified=verified, home_location=home)
        user = User(
            email=f"{name.lower()}-{shopper.id.hex[:8]}@example.org",
            password_hash="not-used",
            role=Role.SHOPPER,
            shopper_id=shopper.id,
            created_at=clock.now(),
        )
        with PostgresDispatchUnitOfWork(db) as uow:
            uow.shoppers.add(shopper)
            uow.users.add(user)
            uow.commit()
        return Account(user.id, shopper.id, _token(user, api_settings, clock))

    return make


@pytest.fixture
def make_staff(db: ConnectionPool, api_settings: Settings, clock: ManualClock) -> Callable[[Role], Account]:
    def make(role: Role) -> Account:
        user = User(
            email=f"{role.value}-{time.monotonic_ns()}@example.org",
            password_hash="not-used",
            role=role,
            created_at=clock.now(),
        )
        with PostgresDispatchUnitOfWork(db) as uow:
            uow.users.add(user)
            uow.commit()
        return Account(user.id, None, _token(user, api_settings, clock))

    return make


@pytest.fixture
def ops(make_staff: Callable[[Role], Account]) -> Account:
    return make_staff(Role.OPS)


# --- A real server, for the tests of truly parallel requests --------------------------------------------


STARTUP_S = 60
"""How long a test server may take to answer its health check and fill its pool. It bounds only a server that
never starts (one that starts is waited for no longer than it takes): on a machine busy with other tests, one
health check alone can take seconds."""


def _healthy(base_url: str) -> bool:
    """Whether the server answers 200; a probe waits for its answer (on a busy machine, seconds) instead of
    giving up on it and piling another on the server."""
    try:
        return httpx2.get(f"{base_url}/health", timeout=STARTUP_S).status_code == 200
    except httpx2.TransportError:  # not listening yet
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread of this process, once it runs as it does
    after its start: its pool full and the matcher loaded. A starting service answers 503 to what its pool cannot
    hand out within the fail-fast timeout, and its warm-up's import (seconds of OR-Tools and SciPy) slows every
    thread of the process: the tests of parallel requests are about the requests,
    not about a service still starting."""
    import dispatch.matching.solver  # noqa: F401  (the warm-up's import, done here, not beside a test's burst)

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    while not _healthy(base_url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test server did not answer its health check within {STARTUP_S} s")
        time.sleep(0.05)
    pool: ConnectionPool = app.state.pool
    pool.wait(timeout=max(1.0, deadline - time.monotonic()))
    yield base_url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def approver(make_staff: Callable[[Role], Account]) -> Account:
    """The second person who approves the reward policies ops propose."""
    return make_staff(Role.FINANCE)


@pytest.fixture
def finance(make_staff: Callable[[Role], Account]) -> Account:
    return make_staff(Role.FINANCE)


@pytest.fixture
def second_finance(make_staff: Callable[[Role], Account]) -> Account:
    """Another finance user: the second pair of eyes on what `finance` prepares."""
    return make_staff(Role.FINANCE)


@pytest.fixture
def owed(
    client: TestClient,
    ops: Account,
    approver: Account,
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> Callable[..., Owed]:
    """The test reward policy in force (proposed by ops, approved by a second person), and a maker of shoppers
    owed a reward: `owed("Ben")` is a new shopper credited for a delivery without position proof (which the
    anomaly rules flag); `owed(shopper=ben)` credits one more such delivery to Ben; keywords such as
    `method=PaymentMethod.STORE_CREDIT` go to `credit_without_proof`."""
    publish_policy(client, ops, approver)
    return shoppers_owed(db, store, clock, make_shopper)
