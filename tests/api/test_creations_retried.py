"""Routes that create a record and took no key, retried after a lost answer: each takes the optional
`Idempotency-Key` (the one header definition, the one store), so the same key and body answer the first record
(200, `Idempotent-Replayed: true`) and create nothing more, the key with another body is 409, and a request
without a key creates as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_support import HOME, Account, assert_problem, keyed
from fastapi.testclient import TestClient
from test_ops_incidents import _carried
from test_ops_stores import store_body

from crowdship.clock import ManualClock
from dispatch.model import Store


def _created_then_replayed(client: TestClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    return first.json()


def test_a_store_created_again_with_its_idempotency_key_is_one_store(client: TestClient, ops: Account) -> None:
    """`POST /ops/stores` retried after a lost answer created a second store with the same name."""
    body = store_body(name="Crowdship Retried")
    store = _created_then_replayed(client, "/ops/stores", body, keyed(ops, "store-1"))
    other = store_body(name="Crowdship Another")
    assert_problem(client.post("/ops/stores", json=other, headers=keyed(ops, "store-1")), 409)
    listed = client.get("/ops/stores", headers=ops.headers, params={"limit": 200}).json()["items"]
    assert [item["id"] for item in listed if item["name"] == "Crowdship Retried"] == [store["id"]]
    unkeyed = client.post("/ops/stores", json=body, headers=ops.headers)
    assert unkeyed.status_code == 201
    assert unkeyed.json()["id"] != store["id"]


def test_an_incident_reported_again_with_its_idempotency_key_is_one_incident(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A shopper's report retried after a lost answer was a second incident (and counted towards the five)."""
    ana = make_shopper("Ana")
    receipt = _carried(client, ops, store, clock, ana, "RETRY-1")
    url = f"/shopper/orders/{receipt['order_id']}/incidents"
    body = {"kind": "damage", "description": "the eggs broke"}
    incident = _created_then_replayed(client, url, body, keyed(ana, "report-1"))
    other = {"kind": "damage", "description": "the milk leaked"}
    assert_problem(client.post(url, json=other, headers=keyed(ana, "report-1")), 409)
    listed = client.get(f"/ops/shoppers/{ana.shopper_id}/incidents", headers=ops.headers).json()
    assert [item["id"] for item in listed["items"]] == [incident["id"]]


def test_a_commute_profile_saved_again_with_its_idempotency_key_is_one_profile(
    client: TestClient, store: Store, make_shopper: Callable[..., Account]
) -> None:
    """Saving a profile retried after a lost answer was a second profile (and counted towards the ten)."""
    ana = make_shopper("Ana")
    body = {
        "name": "Home after work",
        "store_id": str(store.id),
        "destination": {"lat": HOME.lat, "lon": HOME.lon},
        "days": ["mon", "fri"],
        "departure": "17:30",
        "time_zone": "America/New_York",
        "capacity_bags": 3,
        "max_detour_m": 3000,
        "max_detour_s": 600,
    }
    profile = _created_then_replayed(client, "/shopper/profiles", body, keyed(ana, "profile-1"))
    assert_problem(client.post("/shopper/profiles", json={**body, "name": "Gym"}, headers=keyed(ana, "profile-1")), 409)
    assert [item["id"] for item in client.get("/shopper/profiles", headers=ana.headers).json()] == [profile["id"]]
