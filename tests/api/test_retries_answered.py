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

from crowdship.clock import ManualClock
from dispatch.model import Store

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
