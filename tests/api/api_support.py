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
