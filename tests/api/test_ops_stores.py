"""Operations create and edit stores through the API: GeoJSON areas checked against the store, opening hours
per weekday, 422 naming the field for every bad value, and ops or admin only."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from api_support import STORE_LOCATION, Account, assert_problem, ingest
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from crowdship.units import Cents
from dispatch.accounts import Role
from dispatch.model import Store
from routing.areas import circular_area, service_area_to_geojson
from routing.geo import GeoPoint

AREA = service_area_to_geojson(circular_area(STORE_LOCATION, 6_000, segments=32))


def store_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Crowdship Southside",
        "location": {"lat": STORE_LOCATION.lat, "lon": STORE_LOCATION.lon},
        "service_area": copy.deepcopy(AREA),
        "fallback_cost_cents": 950,
        "opening_hours": {
            "monday": {"opens": "07:00", "closes": "23:00"},
            "sunday": {"opens": "09:00", "closes": "24:00"},
        },
    }
    body.update(changes)
    return body


def test_ops_create_a_store_that_takes_orders_and_read_it_back(
    client: TestClient, ops: Account, clock: ManualClock
) -> None:
    """201 with the area as GeoJSON and every weekday (closed ones null); the new store is listed and takes
    an order inside its area."""
    created = client.post("/ops/stores", json=store_body(), headers=ops.headers)
    assert created.status_code == 201, created.text
    store = created.json()
    assert store["service_area"] == AREA
    assert store["opening_hours"]["monday"] == {"opens": "07:00", "closes": "23:00"}
    assert store["opening_hours"]["sunday"] == {"opens": "09:00", "closes": "24:00"}
    assert store["opening_hours"]["tuesday"] is None
    assert client.get(f"/ops/stores/{store['id']}", headers=ops.headers).json() == store
    assert store["id"] in [listed["id"] for listed in client.get("/ops/stores", headers=ops.headers).json()["items"]]
    as_domain = Store(
        id=UUID(store["id"]),
        name=store["name"],
        location=STORE_LOCATION,
        service_area=circular_area(STORE_LOCATION, 6_000),
        fallback_cost_cents=Cents(950),
    )
    assert ingest(client, ops, as_domain, clock)["status"] == "pending"


def test_a_store_is_edited_field_by_field(client: TestClient, ops: Account) -> None:
    """PATCH changes only what it gives; new hours replace the whole week; a MultiPolygon area is accepted."""
    store = client.post("/ops/stores", json=store_body(), headers=ops.headers).json()
    two_parts = {
        "type": "MultiPolygon",
        "coordinates": [
            AREA["coordinates"],
            service_area_to_geojson(circular_area(GeoPoint(30.6, -84.2), 2_000))["coordinates"],
        ],
    }
    edited = client.patch(
        f"/ops/stores/{store['id']}",
        json={
            "fallback_cost_cents": 1_100,
            "service_area": two_parts,
            "opening_hours": {"friday": {"opens": "08:00", "closes": "20:00"}},
        },
        headers=ops.headers,
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["name"], body["fallback_cost_cents"], body["service_area"]["type"]) == (
        "Crowdship Southside",
        1_100,
        "MultiPolygon",
    )
    assert [day for day, hours in body["opening_hours"].items() if hours] == ["friday"]
    assert client.get(f"/ops/stores/{store['id']}", headers=ops.headers).json() == body


def _far_area() -> dict[str, Any]:
    return service_area_to_geojson(circular_area(GeoPoint(30.7, -84.2), 3_000))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"fallback_cost_cents": 0}, "fallback_cost_cents"),
        ({"fallback_cost_cents": 100_001}, "fallback_cost_cents"),
        ({"location": {"lat": 91, "lon": 0}}, "location.lat"),
        ({"service_area": {"type": "Point", "coordinates": [0, 0]}}, "service_area.type"),
        (
            {"service_area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
            "service_area",
        ),
        (
            {"service_area": {"type": "Polygon", "coordinates": [[[-84.2, 30.4], [-84.1, 30.4], [-84.2, 30.4]]]}},
            "service_area.coordinates[0]",
        ),
        ({"service_area": _far_area()}, "service_area"),
        ({"service_area": service_area_to_geojson(circular_area(STORE_LOCATION, 80))}, "service_area"),
        ({"opening_hours": {"monday": {"opens": "25:00", "closes": "26:00"}}}, "opening_hours.monday.opens"),
        ({"opening_hours": {"monday": {"opens": "18:00", "closes": "08:00"}}}, "opening_hours.monday.closes"),
        ({"opening_hours": {"funday": {"opens": "08:00", "closes": "18:00"}}}, "opening_hours.funday.[key]"),
        ({"opening_hours": {"monday": {"opens": "8am", "closes": "18:00"}}}, "opening_hours.monday.opens"),
        ({"colour": "red"}, "colour"),
    ],
    ids=[
        "blank-name",
        "zero-fallback",
        "huge-fallback",
        "latitude",
        "not-a-polygon",
        "bow-tie",
        "short-ring",
        "store-outside",
        "tiny",
        "hour-25",
        "closes-before-opening",
        "not-a-weekday",
        "not-hh-mm",
        "unknown-member",
    ],
)
def test_bad_store_input_is_refused_naming_the_field(
    client: TestClient, ops: Account, changes: dict[str, Any], field: str
) -> None:
    """Each refusal is a 422 problem whose `errors` name the offending field, on create and on edit alike."""
    problem = assert_problem(client.post("/ops/stores", json=store_body(**changes), headers=ops.headers), 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    store = client.post("/ops/stores", json=store_body(), headers=ops.headers).json()
    patched = assert_problem(client.patch(f"/ops/stores/{store['id']}", json=changes, headers=ops.headers), 422)
    assert field in [error["field"] for error in patched["errors"]], patched


def test_every_bad_day_of_the_opening_hours_is_one_entry_of_the_problem(client: TestClient, ops: Account) -> None:
    hours = {"monday": {"opens": "08:00", "closes": "07:00"}, "friday": {"opens": "18:00", "closes": "09:00"}}
    problem = assert_problem(client.post("/ops/stores", json=store_body(opening_hours=hours), headers=ops.headers), 422)
    assert problem["type"] == "/problems/invalid-input"
    assert [error["field"] for error in problem["errors"]] == [
        "opening_hours.monday.closes",
        "opening_hours.friday.closes",
    ]


def test_moving_a_store_out_of_its_own_area_is_refused(client: TestClient, ops: Account) -> None:
    """The area is checked against the new location too: 422 on `service_area`, the store unchanged."""
    store = client.post("/ops/stores", json=store_body(), headers=ops.headers).json()
    moved = client.patch(
        f"/ops/stores/{store['id']}", json={"location": {"lat": 30.7, "lon": -84.2}}, headers=ops.headers
    )
    assert [error["field"] for error in assert_problem(moved, 422)["errors"]] == ["service_area"]
    assert client.get(f"/ops/stores/{store['id']}", headers=ops.headers).json() == store


@pytest.mark.parametrize("role", [Role.FINANCE, Role.SHOPPER])
def test_only_ops_and_admins_create_or_edit_stores(
    client: TestClient, make_staff: Callable[[Role], Account], make_shopper: Callable[..., Account], role: Role
) -> None:
    caller = make_shopper("Ana") if role is Role.SHOPPER else make_staff(role)
    assert_problem(client.post("/ops/stores", json=store_body(), headers=caller.headers), 403)
    admin = make_staff(Role.ADMIN)
    store = client.post("/ops/stores", json=store_body(), headers=admin.headers)
    assert store.status_code == 201
    assert_problem(client.patch(f"/ops/stores/{store.json()['id']}", json={"name": "X"}, headers=caller.headers), 403)
    assert_problem(client.patch(f"/ops/stores/{store.json()['id']}", json={"name": "X"}), 401)


def test_an_unknown_store_is_404(client: TestClient, ops: Account) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(client.get(f"/ops/stores/{missing}", headers=ops.headers), 404)
    assert_problem(client.patch(f"/ops/stores/{missing}", json={"name": "X"}, headers=ops.headers), 404)


def test_stores_are_listed_by_name_a_page_at_a_time(client: TestClient, ops: Account) -> None:
    for name in ("Crowdship Zeta", "Crowdship Alpha", "Crowdship Mid"):
        assert client.post("/ops/stores", json=store_body(name=name), headers=ops.headers).status_code == 201
    everything = client.get("/ops/stores", params={"limit": 200}, headers=ops.headers).json()
    names = [store["name"] for store in everything["items"]]
    assert [name for name in names if name.startswith("Crowdship ")] == [
        "Crowdship Alpha",
        "Crowdship Mid",
        "Crowdship Zeta",
    ]
    assert everything["total"] == len(names)
    pages = [
        client.get("/ops/stores", params={"limit": 2, "offset": offset}, headers=ops.headers).json()
        for offset in range(0, len(names), 2)
    ]
    assert [store["name"] for page in pages for store in page["items"]] == names
    assert {page["total"] for page in pages} == {len(names)}
    assert_problem(client.get("/ops/stores", params={"limit": 0}, headers=ops.headers), 422)
