"""Requests a phone sends again after losing the answer, which answered 409 to their own first success: a
check-in, an insurance claim and a registration. With the same `Idempotency-Key` and body the first answer
comes back (200, `Idempotent-Replayed: true`), the key with another body is 409 as on every keyed route; a
check-in identical to the open trip answers that trip without a key; an address that has an account is
answered as a new one would be, so registering tells nobody whose address has one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_support import Account, assert_problem, check_in, keyed, trip_body
from fastapi.testclient import TestClient
from test_ops_incidents import _carried, _report

from crowdship.clock import ManualClock
from dispatch.model import Store, TrustTier

PASSWORD = "Orbit-Lamp-77-Quince"


def _answered_again(first: Any, again: Any) -> None:
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()


def test_a_check_in_retried_with_its_key_answers_the_trip_it_started(
    client: TestClient, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """The retry found "already on a trip" (409): now the first answer, once; another check-in under the key is
    409 `idempotency-key-reused`, and a different check-in without a key is still `already-on-trip`."""
    ana = make_shopper("Ana")
    body = trip_body(store, clock)
    first = client.post("/shopper/trips", json=body, headers=keyed(ana, "trip-1"))
    _answered_again(first, client.post("/shopper/trips", json=body, headers=keyed(ana, "trip-1")))
    other = trip_body(store, clock, capacity_bags=2)
    reused = assert_problem(client.post("/shopper/trips", json=other, headers=keyed(ana, "trip-1")), 409)
    assert reused["type"] == "/problems/idempotency-key-reused"
    on_trip = assert_problem(client.post("/shopper/trips", json=other, headers=ana.headers), 409)
    assert on_trip["type"] == "/problems/already-on-trip"
    assert client.get("/shopper/trips", headers=ana.headers).json()["total"] == 1


def test_a_check_in_retried_with_its_key_after_the_trip_ended_answers_it_as_it_is_now(
    client: TestClient, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Cancelled since: the retry answers the cancelled trip (not a second trip)."""
    ana = make_shopper("Ana")
    body = trip_body(store, clock)
    first = client.post("/shopper/trips", json=body, headers=keyed(ana, "trip-1")).json()
    client.post(f"/shopper/trips/{first['id']}/cancel", headers=ana.headers)
    again = client.post("/shopper/trips", json=body, headers=keyed(ana, "trip-1"))
    assert (again.status_code, again.json()["id"], again.json()["status"]) == (200, first["id"], "cancelled")
    assert client.get("/shopper/trips", headers=ana.headers).json()["total"] == 1


def test_the_same_check_in_again_without_a_key_answers_the_open_trip_as_it_is(
    client: TestClient, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Same store, destination, bags, detours and leave-by while that trip is open: it can only mean that trip,
    so 200 with it (no replay header: no key was kept); anything changed is 409 as before."""
    ana = make_shopper("Ana")
    body = trip_body(store, clock, max_detour_s=600)
    trip = check_in(client, ana, store, clock, max_detour_s=600)
    again = client.post("/shopper/trips", json=body, headers=ana.headers)
    assert (again.status_code, again.json()) == (200, trip)
    assert "idempotent-replayed" not in again.headers
    for changed in ({"capacity_bags": 2}, {"max_detour_s": None}, {"destination": {"lat": 30.49, "lon": -84.22}}):
        refused = assert_problem(client.post("/shopper/trips", json={**body, **changed}, headers=ana.headers), 409)
        assert refused["type"] == "/problems/already-on-trip"
    client.post(f"/shopper/trips/{trip['id']}/cancel", headers=ana.headers)
    fresh = client.post("/shopper/trips", json=body, headers=ana.headers)
    assert (fresh.status_code, fresh.json()["id"] == trip["id"]) == (201, False)


def test_an_insurance_claim_retried_with_its_key_gets_the_first_answer(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """The retry found its own reference (409): now the first answer, tiers before and after as that review
    said (not reviewed twice); the key with another claim is 409; without a key a used reference still is."""
    ana = make_shopper("Ana", tier=TrustTier.SILVER)
    receipt = _carried(client, ops, store, clock, ana, "CLAIM-1")
    incident = _report(client, ana, receipt["order_id"], "damage", "the eggs broke")
    url = f"/ops/incidents/{incident['id']}/claims"
    body = {"claim_ref": "AXA-7", "amount_cents": 4_599}
    first = client.post(url, json=body, headers=keyed(ops, "claim-1"))
    assert (first.json()["tier_before"], first.json()["tier_after"]) == (2, 1)
    _answered_again(first, client.post(url, json=body, headers=keyed(ops, "claim-1")))
    other = {"claim_ref": "AXA-8", "amount_cents": 4_599}
    reused = assert_problem(client.post(url, json=other, headers=keyed(ops, "claim-1")), 409)
    assert reused["type"] == "/problems/idempotency-key-reused"
    assert_problem(client.post(url, json=body, headers=ops.headers), 409)
    detail = client.get(f"/ops/incidents/{incident['id']}", headers=ops.headers).json()
    assert [claim["id"] for claim in detail["claims"]] == [first.json()["claim"]["id"]]


def _registration(email: str = "ana@example.org", password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    return {"email": email, "password": password, "display_name": "Ana", **extra}


def test_a_registration_retried_with_its_key_gets_the_first_answer(client: TestClient) -> None:
    """The retry found its own address taken: now the first answer; the key with another name, or with another
    password (kept only as a hash), is 409 `idempotency-key-reused`."""
    headers = {"Idempotency-Key": "register-1"}
    first = client.post("/auth/register", json=_registration(), headers=headers)
    _answered_again(first, client.post("/auth/register", json=_registration(), headers=headers))
    for other in (_registration(display_name="Ann"), _registration(password="Quince-Orbit-78-Lamp")):
        reused = assert_problem(client.post("/auth/register", json=other, headers=headers), 409)
        assert reused["type"] == "/problems/idempotency-key-reused"
    token = client.post("/auth/token", data={"username": "ana@example.org", "password": PASSWORD})
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["id"] == first.json()["id"]


def test_registering_an_address_that_has_an_account_is_answered_alike_and_changes_nothing(
    client: TestClient,
) -> None:
    """Not 409 (which told anyone whose address has an account): 201 in the same shape, with ids of its own;
    the account keeps its password, and the one sent does not sign in."""
    first = client.post("/auth/register", json=_registration())
    again = client.post("/auth/register", json=_registration(email="ANA@example.org", password="Another-Lamp-78"))
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert set(again.json()) == set(first.json())
    assert again.json()["id"] != first.json()["id"]
    assert again.json()["shopper_id"] != first.json()["shopper_id"]
    assert {key: again.json()[key] for key in ("email", "role", "active")} == {
        "email": "ana@example.org",
        "role": "shopper",
        "active": True,
    }
    assert_problem(client.post("/auth/token", data={"username": "ana@example.org", "password": "Another-Lamp-78"}), 401)
    token = client.post("/auth/token", data={"username": "ana@example.org", "password": PASSWORD})
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["id"] == first.json()["id"]
