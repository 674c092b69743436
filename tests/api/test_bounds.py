"""Every instant, distance and size a caller sends is bounded: out-of-range values are refused with a 422
naming the field, and nothing out of range reaches the database (where it would break every later read)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from api_support import Account, assert_problem, check_in, ingest, order_body, trip_body
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store

YEAR_10000_IN_UTC = "9999-12-31T23:59:59-14:00"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("leave_by", YEAR_10000_IN_UTC, "between"),
        ("leave_by", "0001-01-01T00:00:00+00:00", "between"),
        ("leave_by", "in two days", "datetime"),
    ],
)
def test_an_instant_out_of_range_is_refused_naming_the_field(
    client: TestClient,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    field: str,
    value: str,
    reason: str,
) -> None:
    shopper = make_shopper()
    response = client.post("/shopper/trips", json=trip_body(store, clock, **{field: value}), headers=shopper.headers)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field
    assert reason in problem["errors"][0]["message"]


def test_a_leave_by_days_ahead_and_a_destination_far_away_are_refused(
    client: TestClient, store: Store, clock: ManualClock, make_shopper: Callable[..., Account], ops: Account
) -> None:
    shopper = make_shopper()
    later = (clock.now() + timedelta(days=2)).isoformat()
    problem = assert_problem(
        client.post("/shopper/trips", json=trip_body(store, clock, leave_by=later), headers=shopper.headers), 422
    )
    assert problem["errors"][0]["field"] == "leave_by"
    far = {"lat": 40.7128, "lon": -74.0060}  # New York, from a store in Tallahassee
    problem = assert_problem(
        client.post("/shopper/trips", json=trip_body(store, clock, destination=far), headers=shopper.headers), 422
    )
    assert problem["errors"][0]["field"] == "destination"
    assert client.get("/ops/trips", headers=ops.headers).json()["total"] == 0
    check_in(client, shopper, store, clock)  # an ordinary one still works


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_latest": YEAR_10000_IN_UTC}, "window_latest"),
        ({"window_latest": "2100-01-01T00:00:00+00:00"}, "window_latest"),
        ({"dispatch_deadline": "2000-06-01T00:00:00Z"}, "dispatch_deadline"),
        ({"window_earliest": "2000-01-01T00:00:00Z"}, "window_earliest"),
    ],
)
def test_order_windows_far_ahead_and_deadlines_in_the_past_are_refused(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, changes: dict[str, str], field: str
) -> None:
    body = {**order_body(store, clock), **changes}
    problem = assert_problem(
        client.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": "b"}), 422
    )
    assert problem["errors"][0]["field"] == field
    assert not problem["errors"][0]["message"].startswith(field)  # said once: the field is beside it
    assert client.get("/ops/orders", headers=ops.headers).json()["total"] == 0


def test_a_window_beyond_the_horizon_is_refused_and_the_store_stays_readable(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    month = (clock.now() + timedelta(days=30)).isoformat()
    body = order_body(store, clock, window_latest=month)
    problem = assert_problem(
        client.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": "m"}), 422
    )
    assert problem["errors"][0]["field"] == "window_latest"
    ingest(client, ops, store, clock)
    assert client.get(f"/ops/stores/{store.id}/summary", headers=ops.headers).status_code == 200
    assert client.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).status_code == 200


@pytest.mark.parametrize(
    ("period_end", "field"),
    [(YEAR_10000_IN_UTC, "period_end"), ("2099-01-01T00:00:00Z", "period_end")],
)
def test_a_payout_period_ending_far_ahead_is_refused(
    client: TestClient, make_staff: Callable[[Role], Account], clock: ManualClock, period_end: str, field: str
) -> None:
    finance = make_staff(Role.FINANCE)
    body = {"period_start": (clock.now() - timedelta(days=7)).isoformat(), "period_end": period_end}
    response = client.post("/finance/batches", json=body, headers={**finance.headers, "Idempotency-Key": "p"})
    assert assert_problem(response, 422)["errors"][0]["field"] == field
