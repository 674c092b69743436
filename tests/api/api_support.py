"""Helpers of the API tests: places around the test store, request bodies, an account with its token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from crowdship.clock import ManualClock
from dispatch.model import Store
from routing.geo import GeoPoint

STORE_LOCATION = GeoPoint(30.4627, -84.2211)
HOME = GeoPoint(30.5000, -84.2211)
"""About 4.2 km north of the store: where the test shoppers drive to."""
ON_THE_WAY = GeoPoint(30.4800, -84.2190)
"""About 1.9 km north of the store, a little east: an order almost on the way home."""


@dataclass(frozen=True)
class Account:
    user_id: UUID
    shopper_id: UUID | None
    headers: dict[str, str]


def keyed(account: Account, key: str) -> dict[str, str]:
    """The account's headers with an `Idempotency-Key`."""
    return {**account.headers, "Idempotency-Key": key}


def order_body(
    store: Store, clock: ManualClock, *, ref: str = "WEB-1", dropoff: GeoPoint = ON_THE_WAY, **extra: Any
) -> dict[str, Any]:
    now = clock.now()
    body: dict[str, Any] = {
        "store_id": str(store.id),
        "external_ref": ref,
        "dropoff": {"lat": dropoff.lat, "lon": dropoff.lon},
        "dropoff_address": "1200 Magnolia Dr, Tallahassee",
        "recipient_name": "Jade Moreau",
        "window_earliest": now.isoformat(),
        "window_latest": (now + timedelta(hours=3)).isoformat(),
        "size_bags": 1,
        "value_cents": 4599,
    }
    body.update(extra)
    return body


def trip_body(store: Store, clock: ManualClock, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "store_id": str(store.id),
        "destination": {"lat": HOME.lat, "lon": HOME.lon},
        "capacity_bags": 3,
        "max_detour_m": 3000,
        "leave_by": (clock.now() + timedelta(hours=1)).isoformat(),
    }
    body.update(extra)
    return body


def ingest(
    client: Any, ops: Account, store: Store, clock: ManualClock, *, key: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Ingests one order through the API and returns the receipt (with bag and delivery codes)."""
    body = order_body(store, clock, **extra)
    response = client.post(
        "/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": key or body["external_ref"]}
    )
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


def check_in(client: Any, shopper: Account, store: Store, clock: ManualClock, **extra: Any) -> dict[str, Any]:
    response = client.post("/shopper/trips", json=trip_body(store, clock, **extra), headers=shopper.headers)
    assert response.status_code == 201, response.text
    trip: dict[str, Any] = response.json()
    return trip


def run_batch(client: Any, ops: Account, store: Store) -> dict[str, Any]:
    response = client.post(f"/ops/stores/{store.id}/batches", headers=ops.headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def current_offer(client: Any, shopper: Account) -> dict[str, Any]:
    response = client.get("/shopper/offers/current", headers=shopper.headers)
    assert response.status_code == 200, response.text
    offer: dict[str, Any] = response.json()
    return offer


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert "type" in body
    assert "Traceback" not in response.text
    return body
