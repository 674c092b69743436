"""Accepting an offer shows the recipient's address; cancelling the trip and checking in again must not be a way
to read address after address: an order a shopper dropped out of is never offered to them again, and past the
drop-out limit (`CROWDSHIP_MAX_DROP_OUTS` within `CROWDSHIP_DROP_OUT_WINDOW_H`) they are offered nothing until
the window lets them again. Operations see the count and the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from api_support import Account, check_in, current_offer, ingest, run_batch
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.model import Store
from dispatch.offer_explanation import SHOPPERS_DROPPED_OUT

WINDOW = timedelta(minutes=6)
"""Shorter than the default day, so that the window passes while the test's tokens last."""


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "location_sample_interval_s": 30.0,
            "matcher_time_limit_s": 1.0,
            "max_drop_outs": 3,
            "drop_out_window_h": WINDOW.total_seconds() / 3600,
        }
    )


def _accept_then_cancel(client: TestClient, shopper: Account, ops: Account, store: Store, clock: ManualClock) -> str:
    """Checks in, takes the batch's offer, reads its address and cancels the trip: the order's id."""
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    accepted = client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["stops"][0]["address"]  # what a drop-out would have harvested
    cancelled = client.post(f"/shopper/trips/{trip['id']}/cancel", headers=shopper.headers)
    assert cancelled.status_code == 200, cancelled.text
    clock.advance(timedelta(minutes=1))
    order_id: str = offer["stops"][0]["order_id"]
    return order_id


def _waits(client: TestClient, ops: Account, order_id: str) -> dict[str, Any]:
    response = client.get(f"/ops/orders/{order_id}/history", headers=ops.headers)
    assert response.status_code == 200, response.text
    unassigned: dict[str, Any] = response.json()["unassigned"]
    return unassigned


def test_an_order_dropped_out_of_is_not_offered_again_to_that_shopper_on_a_new_trip(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    ingest(client, ops, store, clock, ref="WEB-1")
    shopper = make_shopper("Ana")
    order_id = _accept_then_cancel(client, shopper, ops, store, clock)

    check_in(client, shopper, store, clock)
    assert [trip["reason"] for trip in _waits(client, ops, order_id)["trips"]] == ["offered before"]
    report = run_batch(client, ops, store)
    assert report["offers"] == []
    assert client.get("/shopper/offers/current", headers=shopper.headers).status_code == 404

    other = make_shopper("Bea")  # anyone else may still take it
    check_in(client, other, store, clock)
    assert len(run_batch(client, ops, store)["offers"]) == 1
    assert [stop["order_id"] for stop in current_offer(client, other)["stops"]] == [order_id]


def test_past_the_drop_out_limit_a_shopper_is_offered_nothing_until_the_window_lets_them(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    shopper = make_shopper("Ana")
    assert shopper.shopper_id is not None
    first_drop_out = clock.now()
    dropped = []
    for index in range(3):
        ingest(client, ops, store, clock, ref=f"WEB-{index}")
        dropped.append(_accept_then_cancel(client, shopper, ops, store, clock))
    fresh = ingest(client, ops, store, clock, ref="WEB-NEW")

    check_in(client, shopper, store, clock)  # the check-in still works
    assert run_batch(client, ops, store)["offers"] == []
    order = client.get(f"/ops/orders/{fresh['order_id']}", headers=ops.headers).json()
    assert order["unassigned_reason"] == SHOPPERS_DROPPED_OUT
    summary = client.get(f"/ops/stores/{store.id}/summary", headers=ops.headers).json()
    assert summary["pending_by_reason"][SHOPPERS_DROPPED_OUT] == 1  # those dropped: barred from them anyway
    assert [trip["reason"] for trip in _waits(client, ops, fresh["order_id"])["trips"]] == ["dropped_out"]

    seen = client.get(f"/ops/shoppers/{shopper.shopper_id}", headers=ops.headers).json()
    assert seen["recent_drop_outs"] == 3
    until = datetime.fromisoformat(seen["offered_nothing_until"])
    assert until == first_drop_out + WINDOW
    assert "recent_drop_outs" not in client.get("/shopper/profile", headers=shopper.headers).json()

    clock.advance(until - clock.now() + timedelta(seconds=1))  # the oldest drop-out leaves the window
    client.post(f"/shopper/trips/{client.get('/shopper/trips/current', headers=shopper.headers).json()['id']}/cancel",
                headers=shopper.headers)  # fmt: skip
    late = ingest(client, ops, store, clock, ref="WEB-LATER")
    check_in(client, shopper, store, clock)
    assert len(run_batch(client, ops, store)["offers"]) == 1
    stops = {stop["order_id"] for stop in current_offer(client, shopper)["stops"]}
    assert late["order_id"] in stops  # with the one that waited, maybe: never one of those dropped
    assert stops <= {late["order_id"], fresh["order_id"]}
    assert client.get(f"/ops/shoppers/{shopper.shopper_id}", headers=ops.headers).json()["recent_drop_outs"] == 2
