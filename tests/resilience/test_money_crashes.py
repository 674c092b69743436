"""Money moves once however PostgreSQL crashes: each money-moving request of a running API is caught half-way
through its transaction (a lock taken on a table it writes late holds it there, its earlier writes made) and
PostgreSQL is stopped at once under it. The request is answered 503; after the restart nothing of it is in the
books, its retry (the same Idempotency-Key where it takes one) acts once, a second retry is answered with the
first result, and the ledger reconciles: a reward credited at delivery, a reversal, a policy's approval, and a
payout batch prepared, approved, exported and paid.

One test walks the flows on one world, each crash leaving it healthy for the next."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import psycopg
import pytest

from api.health import FRESH_S
from dispatch.accounts import Role, User
from tests.resilience.conftest import ON_THE_WAY, World, iso_utc, order_body, wait_for

pytestmark = pytest.mark.slow

POLICY = {
    "base_cents": 250,
    "per_extra_km_cents": 40,
    "per_extra_minute_cents": 5,
    "per_bag_cents": 25,
    "minimum_cents": 300,
}


def _crash_half_way(world: World, table: str, send: Callable[[], httpx2.Response]) -> httpx2.Response:
    """Sends the request with `table` locked, waits until it waits for that lock, crashes PostgreSQL, starts it
    again; returns what the request was answered."""
    url = world.servers.database_url
    locker = psycopg.connect(url)
    locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    answered: list[httpx2.Response] = []
    request = threading.Thread(target=lambda: answered.append(send()), daemon=True)
    request.start()

    def waiting_on_the_lock() -> bool:
        with psycopg.connect(url, autocommit=True) as probe:
            row = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = %s",
                ("crowdship-api",),
            ).fetchone()
        return bool(row and row[0])

    try:
        wait_for(waiting_on_the_lock, timeout=15, what=f"the request to reach {table}")
        world.servers.crash_postgres()
        request.join(timeout=15)
    finally:
        with contextlib.suppress(psycopg.Error):
            locker.close()
        world.servers.postgres.up()
    time.sleep(FRESH_S)  # /health tells what it saw at most that long ago: before the crash, until then
    with world.http() as http:
        wait_for(lambda: http.get("/health").status_code == 200, timeout=30, what="the API to see PostgreSQL again")
    assert answered, "the request caught by the crash was never answered"
    crashed = answered[0]
    assert crashed.status_code == 503, crashed.text
    assert crashed.headers["retry-after"]
    return crashed


def _count(world: World, query: str, *params: Any) -> int:
    with psycopg.connect(world.servers.database_url) as connection:
        row = connection.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def _transactions(world: World, kind: str) -> int:
    return _count(world, "SELECT count(*) FROM ledger_transactions WHERE kind = %s", kind)


def _deliver(world: World, http: httpx2.Client, index: int, *, crash: bool) -> str:
    """An order taken in, offered by the running dispatcher, accepted, picked up and delivered by shopper
    `index`; with `crash`, PostgreSQL crashes as the delivery's reward is written in the ledger."""
    shopper = world.shoppers[index][1]
    receipt = http.post(
        "/ops/orders", json=order_body(world, f"PAID-{index}"), headers={**world.ops, "Idempotency-Key": f"P{index}"}
    ).json()
    trip = {
        "store_id": str(world.store.id),
        "destination": {"lat": 30.5, "lon": -84.2211},
        "capacity_bags": 3,
        "max_detour_m": 4000,
        "leave_by": iso_utc(time.time() + 3600),
    }
    trip_id = http.post("/shopper/trips", json=trip, headers=shopper).json()["id"]
    offer = wait_for(
        lambda: (found := http.get("/shopper/offers/current", headers=shopper)).status_code == 200 and found.json(),
        timeout=60,
        what="the dispatcher's offer",
    )
    assert http.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper).status_code == 200
    bags = {"bag_codes": [receipt["bag_code"]]}
    assert http.post(f"/shopper/trips/{trip_id}/pickup", json=bags, headers=shopper).status_code == 200
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": receipt["delivery_code"]}
    order_id: str = receipt["order_id"]

    def deliver() -> httpx2.Response:
        return http.post(f"/shopper/orders/{order_id}/delivery", json=proof, headers=shopper)

    if crash:
        _crash_half_way(world, "ledger_entries", deliver)
        assert _count(world, "SELECT count(*) FROM delivery_proofs WHERE order_id = %s", order_id) == 0
        assert _count(world, "SELECT count(*) FROM orders WHERE id = %s AND status = 'delivered'", order_id) == 0
        assert _transactions(world, "delivery_reward") == 0
    for _ in range(2):  # the retry delivers; a second retry is told it is delivered
        delivered = deliver()
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["status"] == "delivered"
    return order_id


def test_money_moves_once_when_postgres_crashes_half_way_through_each_money_request(world: World) -> None:
    now = datetime.now(UTC)
    fiona = world.sign_in(User(email="fiona@example.org", password_hash="-", role=Role.FINANCE, created_at=now))
    gus = world.sign_in(User(email="gus@example.org", password_hash="-", role=Role.FINANCE, created_at=now))
    with world.http(timeout=20) as http:
        a_policy_approval_is_kept_once(world, http, fiona)
        kept = _deliver(world, http, 0, crash=True)
        disputed = _deliver(world, http, 1, crash=False)
        assert _transactions(world, "delivery_reward") == 2
        assert _count(world, "SELECT count(*) FROM delivery_rewards WHERE order_id = %s", kept) == 1
        a_reversal_is_made_once(world, http, fiona, disputed)
        a_batch_is_prepared_approved_exported_and_paid_once(world, http, (fiona, gus), kept, now)
        reconciliation = http.get("/finance/reconciliation", headers=fiona).json()
        assert (reconciliation["agrees"], reconciliation["discrepancy_count"]) == (True, 0), reconciliation
        a_flapping_postgres_leaks_nothing_and_floods_no_log(world, http)
    assert world.api.alive()
    assert world.dispatcher.alive()


FLAPS = 4
POOL_MAX = {"crowdship-api": 10, "crowdship-dispatcher": 4}
"""The pools' largest sizes (`crowdship api`'s setting by default, the dispatcher's own)."""
LOG_LINES_PER_FLAP = 5
"""A crash costs the dispatcher a failed round, a resumption and a warning or two of its pool, the API a line or two
(measured: 11 and 5 lines over 4 crashes): never a line per refused request or per try."""


def a_flapping_postgres_leaks_nothing_and_floods_no_log(world: World, http: httpx2.Client) -> None:
    """PostgreSQL down and up again every second or so under requests all the while: the API and the dispatcher
    stay up and serve again after it, hold no more connections than their pools allow, and log a few lines per
    crash, not one per refused request or try."""
    before = {process.name: _logged_lines(process.output()) for process in (world.api, world.dispatcher)}
    stop = threading.Event()
    answers: list[int] = []

    def keep_asking() -> None:
        with world.http(timeout=5) as asking:
            while not stop.is_set():
                with contextlib.suppress(httpx2.TransportError):
                    answers.append(asking.get("/ops/orders", headers=world.ops).status_code)
                time.sleep(0.05)

    asking = threading.Thread(target=keep_asking, daemon=True)
    asking.start()
    try:
        for _ in range(FLAPS):
            world.servers.crash_postgres()
            time.sleep(1.0)
            world.servers.postgres.up()
            time.sleep(max(1.0, FRESH_S))  # and /health's look is newer than the crash
        wait_for(lambda: http.get("/health").status_code == 200, timeout=30, what="the API to see PostgreSQL again")
        wait_for(lambda: answers[-1] == 200, timeout=10, what="a request answered again")
    finally:
        stop.set()
        asking.join(timeout=10)
    assert set(answers) <= {200, 503}, sorted(set(answers))
    assert 503 in answers
    with psycopg.connect(world.servers.database_url, autocommit=True) as probe:
        held: dict[str, int] = dict(
            probe.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity WHERE application_name = ANY(%s) GROUP BY 1",
                (list(POOL_MAX),),
            ).fetchall()
        )
    for name, largest in POOL_MAX.items():
        assert held.get(name, 0) <= largest, held
    for process in (world.api, world.dispatcher):
        added = _logged_lines(process.output()) - before[process.name]
        assert added <= FLAPS * LOG_LINES_PER_FLAP, f"{process.name} logged {added} lines over {FLAPS} crashes"
        assert "Traceback" not in process.output()


def _logged_lines(output: str) -> int:
    """The process's own log lines, not uvicorn's one per request."""
    return sum(1 for line in output.splitlines() if line.strip() and " HTTP/1.1" not in line)


def a_policy_approval_is_kept_once(world: World, http: httpx2.Client, approver: dict[str, str]) -> None:
    proposed = http.post("/policies", json={"parameters": POLICY, "note": "rates"}, headers=world.ops)
    assert proposed.status_code == 201, proposed.text
    version = proposed.json()["version"]

    def approve_policy() -> httpx2.Response:
        return http.post(f"/policies/{version}/approve", headers=approver)

    _crash_half_way(world, "rewards_audit_log", approve_policy)
    assert http.get(f"/policies/{version}", headers=world.ops).json()["status"] == "proposed"
    approved = approve_policy()
    assert (approved.status_code, approved.json()["status"]) == (200, "approved")


def a_reversal_is_made_once(world: World, http: httpx2.Client, finance: dict[str, str], order_id: str) -> None:
    def reverse() -> httpx2.Response:
        body = {"reason": "the recipient says nothing came"}
        headers = {**finance, "Idempotency-Key": "reverse-1"}
        return http.post(f"/finance/orders/{order_id}/reward-reversal", json=body, headers=headers)

    _crash_half_way(world, "rewards_audit_log", reverse)
    assert _transactions(world, "reversal") == 0
    assert reverse().status_code == 201
    assert reverse().headers["idempotent-replayed"] == "true"
    assert _transactions(world, "reversal") == 1


def a_batch_is_prepared_approved_exported_and_paid_once(
    world: World, http: httpx2.Client, finance: tuple[dict[str, str], dict[str, str]], owed_order: str, now: datetime
) -> None:
    preparer, approver = finance
    period = {
        "period_start": (now - timedelta(days=1)).isoformat(),
        "period_end": (now + timedelta(hours=2)).isoformat(),
    }

    def prepare() -> httpx2.Response:
        return http.post("/finance/batches", json=period, headers={**preparer, "Idempotency-Key": "prepare-1"})

    _crash_half_way(world, "rewards_audit_log", prepare)
    assert _count(world, "SELECT count(*) FROM payout_batches") == 0
    prepared = prepare()
    assert prepared.status_code == 201, prepared.text
    assert prepare().headers["idempotent-replayed"] == "true"
    batch = prepared.json()["id"]
    owed = _count(world, "SELECT amount_cents FROM delivery_rewards WHERE order_id = %s", owed_order)
    assert [line["amount_cents"] for line in prepared.json()["lines"]] == [owed]

    def approve() -> httpx2.Response:
        return http.post(f"/finance/batches/{batch}/approve", headers=approver)

    def status() -> str:
        return str(http.get(f"/finance/batches/{batch}", headers=preparer).json()["status"])

    _crash_half_way(world, "rewards_audit_log", approve)
    assert status() == "draft"
    assert approve().status_code == 200
    assert status() == "approved"

    def export() -> httpx2.Response:
        return http.get(f"/finance/batches/{batch}/export", headers=preparer)

    _crash_half_way(world, "rewards_audit_log", export)
    assert _count(world, "SELECT count(*) FROM payout_batch_exports") == 0
    assert export().status_code == 200
    assert _count(world, "SELECT count(*) FROM payout_batch_exports") == 1

    def pay() -> httpx2.Response:
        return http.post(f"/finance/batches/{batch}/pay", headers={**preparer, "Idempotency-Key": "pay-1"})

    _crash_half_way(world, "rewards_audit_log", pay)
    assert _transactions(world, "payout") == 0
    paid = pay()
    assert paid.status_code == 200, paid.text
    assert "idempotent-replayed" not in paid.headers
    assert pay().headers["idempotent-replayed"] == "true"
    assert _transactions(world, "payout") == 1
