"""What an attacker tries first: forged and stale tokens, guessing passwords, weak passwords, odd bytes."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from uuid import uuid4

import httpx2
import pytest
import redis
from api_support import Account, assert_problem, check_in, ingest, run_batch
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api import security
from api.app import create_app
from api.security import issue_token
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role, User
from dispatch.adapters.live import RedisLiveState
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store
from dispatch.services import accounts
from dispatch.services.context import DispatchConfig, DispatchContext

PASSWORD = "Orbit-Lamp-77-Quince"


def _register(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    response = client.post("/auth/register", json={"email": email, "password": password, "display_name": "Ana"})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _sign_in(client: TestClient, email: str, password: str) -> httpx2.Response:
    response: httpx2.Response = client.post("/auth/token", data={"username": email, "password": password})
    return response


def test_a_token_for_an_account_that_does_not_exist_is_refused(
    client: TestClient, api_settings: Settings, clock: ManualClock
) -> None:
    """Even correctly signed (someone who has the key): no such account, no access."""
    ghost = User(email="ghost@example.org", password_hash="-", role=Role.ADMIN, created_at=clock.now())
    token = issue_token(ghost, secret=api_settings.require_secret_key(), ttl=timedelta(minutes=5), now=clock.now())
    problem = assert_problem(client.get("/finance/reconciliation", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "does not exist or was deactivated" in problem["detail"]


def test_a_deactivated_accounts_tokens_stop_at_once_and_for_good_a_reactivated_account_signs_in_again(
    client: TestClient,
    make_shopper: Callable[..., Account],
    make_staff: Callable[[Role], Account],
    api_settings: Settings,
    clock: ManualClock,
) -> None:
    """Reactivating does not revive a token issued before the deactivation (it may have been why)."""
    shopper, admin = make_shopper(), make_staff(Role.ADMIN)
    assert client.get("/shopper/profile", headers=shopper.headers).status_code == 200
    deactivated = client.post(f"/admin/users/{shopper.user_id}/deactivate", headers=admin.headers)
    assert deactivated.status_code == 200
    assert deactivated.json()["active"] is False
    assert_problem(client.get("/shopper/profile", headers=shopper.headers), 401)
    assert_problem(client.post(f"/admin/users/{shopper.user_id}/deactivate", headers=shopper.headers), 401)
    assert client.post(f"/admin/users/{shopper.user_id}/activate", headers=admin.headers).status_code == 200
    assert_problem(client.get("/shopper/profile", headers=shopper.headers), 401)
    clock.advance(timedelta(milliseconds=2))  # within the second of the deactivation: tokens tell milliseconds
    user = User("again@example.org", "", Role.SHOPPER, clock.now(), shopper.shopper_id, id=shopper.user_id)
    token = issue_token(user, secret=api_settings.require_secret_key(), ttl=timedelta(hours=1), now=clock.now())
    assert client.get("/shopper/profile", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert_problem(client.post(f"/admin/users/{uuid4()}/deactivate", headers=admin.headers), 404)


def test_a_deactivated_shoppers_open_trip_ends_with_it_and_its_offer_is_withdrawn(
    client: TestClient,
    make_shopper: Callable[..., Account],
    make_staff: Callable[[Role], Account],
    ops: Account,
    store: Store,
    clock: ManualClock,
) -> None:
    """No batch offers a deactivated shopper more work: their open trip is cancelled and the order they were
    offered goes back to the queue, for the next shopper."""
    shopper, admin = make_shopper(), make_staff(Role.ADMIN)
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "offered"
    assert client.post(f"/admin/users/{shopper.user_id}/deactivate", headers=admin.headers).status_code == 200
    trips = client.get("/ops/trips", params={"store_id": str(store.id)}, headers=ops.headers).json()["items"]
    assert [(listed["id"], listed["status"]) for listed in trips] == [(trip["id"], "cancelled")]
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "pending"
    assert run_batch(client, ops, store)["offers"] == []


def test_a_deactivation_made_elsewhere_reaches_the_api_through_live_state(
    client: TestClient,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
    api_settings: Settings,
    clock: ManualClock,
    redis_client: redis.Redis,
) -> None:
    """Another process (the CLI, another API worker) deactivates: this process hears it and refuses at once."""
    shopper = make_shopper()
    assert client.get("/shopper/profile", headers=shopper.headers).status_code == 200  # now cached as active
    other = DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=clock,
        config=DispatchConfig.from_settings(api_settings),
        live=RedisLiveState(redis_client),
    )
    accounts.set_active(other, user_id=shopper.user_id, active=False)
    deadline = time.monotonic() + 5
    while client.get("/shopper/profile", headers=shopper.headers).status_code == 200:
        assert time.monotonic() < deadline, "the deactivation never reached the API"
        time.sleep(0.05)
    assert_problem(client.get("/shopper/profile", headers=shopper.headers), 401)


@pytest.mark.parametrize("username", ["ana\x00@example.org", "\x00", "ana@example.org\x00' OR 1=1 --"])
def test_odd_bytes_in_the_username_are_a_401_never_a_500(client: TestClient, username: str) -> None:
    assert_problem(_sign_in(client, username, "whatever-it-is"), 401)


@contextmanager
def _client_at(address: str, settings: Settings, clock: ManualClock) -> Iterator[TestClient]:
    """The API as a client at `address` reaches it (the `client` fixture's address is "testclient")."""
    app = create_app(settings, clock=clock)
    with TestClient(app, client=(address, 50000), raise_server_exceptions=False) as client:
        yield client


def test_five_failed_sign_ins_lock_the_account_for_the_address_they_came_from(
    client: TestClient, api_settings: Settings, clock: ManualClock
) -> None:
    """The sixth try from that address is a 429 with Retry-After, even with the right password; the owner signs
    in from another address (so guessing their address cannot keep them out), and other accounts are unaffected."""
    _register(client, "ana@example.org")
    _register(client, "ben@example.org")
    for _ in range(5):
        assert_problem(_sign_in(client, "ana@example.org", "wrong-password-1"), 401)
    locked = _sign_in(client, "ANA@example.org", PASSWORD)
    problem = assert_problem(locked, 429)
    assert "locked" in problem["detail"]
    assert 1 <= int(locked.headers["retry-after"]) <= 900
    assert _sign_in(client, "ben@example.org", PASSWORD).status_code == 200
    with _client_at("203.0.113.7", api_settings, clock) as elsewhere:
        assert _sign_in(elsewhere, "ana@example.org", PASSWORD).status_code == 200
    assert_problem(_sign_in(client, "ana@example.org", PASSWORD), 429)


def test_failures_from_all_addresses_together_lock_the_account_for_every_address(
    api_settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """Guesses spread over many addresses are still stopped: past `CROWDSHIP_LOGIN_ATTEMPTS_PER_ACCOUNT` failures
    in all (here 8), an address with only 3 of its own is refused too, with the right password."""
    _ = redis_client
    settings = api_settings.model_copy(update={"login_attempts_per_account": 8})
    with _client_at("198.51.100.1", settings, clock) as one, _client_at("198.51.100.2", settings, clock) as other:
        _register(one, "ana@example.org")
        for _ in range(5):
            assert_problem(_sign_in(one, "ana@example.org", "wrong-password-1"), 401)
        for _ in range(3):
            assert_problem(_sign_in(other, "ana@example.org", "wrong-password-1"), 401)
        locked = _sign_in(other, "ana@example.org", PASSWORD)
        assert "locked" in assert_problem(locked, 429)["detail"]
        assert 1 <= int(locked.headers["retry-after"]) <= 900


def test_an_address_without_an_account_is_locked_as_one_with_an_account(client: TestClient) -> None:
    """The lock is counted before the account is looked up: its answer tells nobody whether the account exists."""
    _register(client, "ana@example.org")
    answers = []
    for email in ("ana@example.org", "nobody@example.org"):
        for _ in range(5):
            assert_problem(_sign_in(client, email, "wrong-password-1"), 401)
        locked = _sign_in(client, email, PASSWORD)
        assert 1 <= int(locked.headers["retry-after"]) <= 900
        answers.append((locked.status_code, locked.json()))
    assert answers[0] == answers[1]


def test_a_redis_that_lost_its_data_forgets_the_lockouts_and_the_failures_it_counted(
    client: TestClient, redis_client: redis.Redis
) -> None:
    """Sign-in limits are counted in Redis, which holds only what may be lost (the README says so): a locked account
    signs in again once Redis lost its data, and counting starts afresh (five more tries before a lock)."""
    _register(client, "ana@example.org")
    for _ in range(5):
        assert_problem(_sign_in(client, "ana@example.org", "wrong-password-1"), 401)
    assert_problem(_sign_in(client, "ana@example.org", PASSWORD), 429)
    redis_client.flushdb()
    assert _sign_in(client, "ana@example.org", PASSWORD).status_code == 200
    for _ in range(5):
        assert_problem(_sign_in(client, "ana@example.org", "wrong-password-1"), 401)
    assert_problem(_sign_in(client, "ana@example.org", PASSWORD), 429)


def test_a_successful_sign_in_clears_the_failures(client: TestClient) -> None:
    _register(client, "ana@example.org")
    for _ in range(4):
        assert_problem(_sign_in(client, "ana@example.org", "wrong-password-1"), 401)
    assert _sign_in(client, "ana@example.org", PASSWORD).status_code == 200
    for _ in range(4):
        assert_problem(_sign_in(client, "ana@example.org", "wrong-password-1"), 401)
    assert _sign_in(client, "ana@example.org", PASSWORD).status_code == 200


def test_sign_ins_refused_while_postgres_is_away_never_lock_the_account(
    client: TestClient, api_settings: Settings, clock: ManualClock
) -> None:
    """Six sign-ins with the right password while the database cannot be reached: each is a 503 (the password
    was never judged), and once it is back the account signs in at once rather than being locked."""
    _register(client, "ana@example.org")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    away = api_settings.model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{closed_port}/none"})
    with TestClient(create_app(away, clock=clock), raise_server_exceptions=False) as outage:
        for _ in range(6):
            assert_problem(_sign_in(outage, "ana@example.org", PASSWORD), 503)
    assert _sign_in(client, "ana@example.org", PASSWORD).status_code == 200


def test_one_address_gets_twenty_sign_ins_a_minute(client: TestClient) -> None:
    """Spread over many accounts, guessing is still limited by where it comes from."""
    statuses = [_sign_in(client, f"user{index}@example.org", "x-x-x-x-x-x").status_code for index in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429


@pytest.mark.parametrize(
    ("password", "hint"),
    [("password123", "common"), ("aaaaaaaaaaaa", "Repeats"), ("ana@example.org", "guess"), ("qwertyuiop", "guess")],
)
def test_common_and_trivial_passwords_are_refused(client: TestClient, password: str, hint: str) -> None:
    response = client.post(
        "/auth/register", json={"email": "ana@example.org", "password": password, "display_name": "Ana"}
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "password"
    assert hint.lower() in problem["detail"].lower()


def test_the_token_cache_keeps_valid_tokens_only(client: TestClient, make_shopper: Callable[..., Account]) -> None:
    """Garbage tokens are refused without being remembered: they cannot push the real ones out of the cache."""
    shopper = make_shopper()
    client.get("/shopper/profile", headers=shopper.headers)
    before = dict(security._verified_tokens)
    for index in range(50):
        assert_problem(client.get("/shopper/profile", headers={"Authorization": f"Bearer junk.{index}.x"}), 401)
    assert dict(security._verified_tokens) == before
    assert any(token == shopper.headers["Authorization"].removeprefix("Bearer ") for token, _ in before)


def test_an_admin_cannot_deactivate_their_own_account(
    client: TestClient, make_staff: Callable[[Role], Account]
) -> None:
    """It would lock them out of the API at once (only a shell on the server brings the account back)."""
    admin = make_staff(Role.ADMIN)
    problem = assert_problem(client.post(f"/admin/users/{admin.user_id}/deactivate", headers=admin.headers), 409)
    assert problem["type"] == "/problems/cannot-deactivate-yourself"
    assert client.get("/auth/me", headers=admin.headers).json()["active"] is True
