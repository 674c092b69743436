"""Commute profiles over HTTP on PostGIS: the CRUD round, 422s naming the field, the per-shopper limit,
owner-only access, and one-tap check-in (201, then 409 when on a trip or past the time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import HOME, Account
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from dispatch.model import Store
from dispatch.profiles import MAX_PROFILES_PER_SHOPPER

NOON_UTC = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
"""A Monday; 07:00 in New York. In the past: a token issued in the future is refused."""


@pytest.fixture
def clock() -> ManualClock:
    """The service's clock at a known instant (this module's, in place of the API tests' own)."""
    return ManualClock(NOON_UTC)


def _body(store: Store, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Home after work",
        "store_id": str(store.id),
        "destination": {"lat": HOME.lat, "lon": HOME.lon},
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "departure": "17:30",
        "time_zone": "America/New_York",
        "capacity_bags": 3,
        "max_detour_m": 3000,
        "max_detour_s": 600,
    }
    body.update(changes)
    return body


def test_a_shopper_creates_lists_changes_and_deletes_a_profile(
    client: TestClient, store: Store, make_shopper: Callable[..., Account]
) -> None:
    ana = make_shopper("Ana")
    created = client.post("/shopper/profiles", json=_body(store), headers=ana.headers)
    assert created.status_code == 201, created.text
    profile = created.json()
    assert (profile["departure"], profile["days"], profile["destination"]) == (
        "17:30:00",
        ["mon", "tue", "wed", "thu", "fri"],
        {"lat": HOME.lat, "lon": HOME.lon},
    )
    assert client.get("/shopper/profiles", headers=ana.headers).json() == [profile]

    changed = client.put(
        f"/shopper/profiles/{profile['id']}",
        json=_body(store, name="Gym", days=["sat"], max_detour_m=None),
        headers=ana.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["days"], changed.json()["max_detour_m"]) == ("Gym", ["sat"], None)
    assert client.get(f"/shopper/profiles/{profile['id']}", headers=ana.headers).json() == changed.json()

    assert client.delete(f"/shopper/profiles/{profile['id']}", headers=ana.headers).status_code == 204
    assert client.get(f"/shopper/profiles/{profile['id']}", headers=ana.headers).status_code == 404
    assert client.get("/shopper/profiles", headers=ana.headers).json() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "America"}, "time_zone"),
        ({"time_zone": "../zoneinfo"}, "time_zone"),
        ({"days": ["someday"]}, "days.0"),
        ({"days": []}, "days"),
        ({"departure": "25:00"}, "departure"),
        ({"departure": "17:30+02:00"}, "departure"),
        ({"name": "x" * 61}, "name"),
        ({"capacity_bags": 51}, "capacity_bags"),
        ({"destination": {"lat": 40.7, "lon": -74.0}}, "destination"),
        ({"max_detour_m": None, "max_detour_s": None}, "max_detour_m"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_profiles_are_refused_naming_the_field(
    client: TestClient,
    store: Store,
    make_shopper: Callable[..., Account],
    changes: dict[str, Any],
    field: str,
) -> None:
    ana = make_shopper("Ana")
    refused = client.post("/shopper/profiles", json=_body(store, **changes), headers=ana.headers)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    named = [error["field"] for error in problem.get("errors", [])] or [problem["detail"].split(":")[0]]
    assert field in named, problem
    said = [problem["detail"], *(error["message"] for error in problem.get("errors", []))]
    assert not [text for text in said if "Value error" in text or "Assertion failed" in text]  # pydantic's words


def test_the_eleventh_profile_is_refused(
    client: TestClient, store: Store, make_shopper: Callable[..., Account]
) -> None:
    ana = make_shopper("Ana")
    for n in range(MAX_PROFILES_PER_SHOPPER):
        assert client.post("/shopper/profiles", json=_body(store, name=f"P{n}"), headers=ana.headers).status_code == 201
    refused = client.post("/shopper/profiles", json=_body(store, name="Eleventh"), headers=ana.headers)
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/too-many-profiles"


def test_another_shoppers_profile_is_not_found(
    client: TestClient, store: Store, make_shopper: Callable[..., Account]
) -> None:
    """Every route on someone else's profile answers 404, and the profile is untouched."""
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    profile = client.post("/shopper/profiles", json=_body(store), headers=ana.headers).json()
    path = f"/shopper/profiles/{profile['id']}"
    assert client.get(path, headers=ben.headers).status_code == 404
    assert client.put(path, json=_body(store, name="Mine"), headers=ben.headers).status_code == 404
    assert client.delete(path, headers=ben.headers).status_code == 404
    assert client.post(f"{path}/check-in", headers=ben.headers).status_code == 404
    assert client.get("/shopper/profiles", headers=ben.headers).json() == []
    assert client.get(path, headers=ana.headers).json() == profile


def test_one_tap_check_in_opens_todays_trip_and_refuses_clearly(
    client: TestClient, store: Store, make_shopper: Callable[..., Account]
) -> None:
    """07:00 in New York: the 17:30 profile opens a trip leaving at 22:30 UTC; tapping again answers that trip
    (200: a second tap or a retry), another profile is 409 (on a trip), once with a key the first answer; a
    06:00 profile is 409 naming its time."""
    ana = make_shopper("Ana")
    profile = client.post("/shopper/profiles", json=_body(store), headers=ana.headers).json()
    trip = client.post(f"/shopper/profiles/{profile['id']}/check-in", headers=ana.headers)
    assert trip.status_code == 201, trip.text
    assert datetime.fromisoformat(trip.json()["leave_by"]) == datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
    assert trip.json()["leave_by"].endswith(("Z", "+00:00"))  # told in UTC like every instant, not the zone's
    assert (trip.json()["store_id"], trip.json()["capacity_bags"], trip.json()["status"]) == (str(store.id), 3, "open")
    assert client.get("/shopper/trips/current", headers=ana.headers).json()["id"] == trip.json()["id"]

    again = client.post(f"/shopper/profiles/{profile['id']}/check-in", headers=ana.headers)
    assert (again.status_code, again.json()) == (200, trip.json())
    gym = client.post("/shopper/profiles", json=_body(store, name="Gym", capacity_bags=1), headers=ana.headers).json()
    other = client.post(f"/shopper/profiles/{gym['id']}/check-in", headers=ana.headers)
    assert other.status_code == 409
    assert other.json()["type"] == "/problems/already-on-trip"
    client.post(f"/shopper/trips/{trip.json()['id']}/cancel", headers=ana.headers)
    keyed = {**ana.headers, "Idempotency-Key": "tap-1"}
    tapped = client.post(f"/shopper/profiles/{gym['id']}/check-in", headers=keyed)
    retried = client.post(f"/shopper/profiles/{gym['id']}/check-in", headers=keyed)
    assert (tapped.status_code, retried.status_code, retried.headers.get("idempotent-replayed")) == (201, 200, "true")
    assert retried.json() == tapped.json()
    reused = client.post(f"/shopper/profiles/{profile['id']}/check-in", headers=keyed)
    assert (reused.status_code, reused.json()["type"]) == (409, "/problems/idempotency-key-reused")

    ben = make_shopper("Ben")
    early = client.post("/shopper/profiles", json=_body(store, departure="06:00"), headers=ben.headers).json()
    passed = client.post(f"/shopper/profiles/{early['id']}/check-in", headers=ben.headers)
    assert passed.status_code == 409
    assert passed.json()["type"] == "/problems/departure-time-passed"
    assert "06:00 EST" in passed.json()["detail"]


def test_one_tap_check_in_for_a_departure_beyond_the_leave_by_horizon_is_a_409_naming_its_time(
    client: TestClient, store: Store, make_shopper: Callable[..., Account]
) -> None:
    """07:00 in New York: a 23:30 departure is 16.5 hours away, past the 12 a leave-by may be. The request has
    no body, so a 422 naming `leave_by` named nothing the shopper sent: it says the profile's time instead."""
    ana = make_shopper("Ana")
    late = client.post("/shopper/profiles", json=_body(store, departure="23:30"), headers=ana.headers).json()
    refused = client.post(f"/shopper/profiles/{late['id']}/check-in", headers=ana.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "/problems/departure-too-far-ahead"
    assert "23:30 EST" in refused.json()["detail"]
    assert client.get("/shopper/trips/current", headers=ana.headers).status_code == 404
