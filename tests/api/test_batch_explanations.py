"""Reasons live over HTTP: after a batch, every order still pending says why (the matcher's code) and when,
in the orders list, the order and the store summary; every offer carries its breakdown, for the shopper
(without the other shopper's trip) and for operations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from api_support import Account, check_in, current_offer, ingest, run_batch
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from dispatch.matching import UnassignedReason
from dispatch.model import Store
from routing.areas import circular_area, service_area_to_geojson
from routing.geo import GeoPoint

FAR_SOUTH = GeoPoint(30.4100, -84.2211)
"""About 6 km south of the store, the other way from the shopper's home: far beyond a 3 km detour."""


def test_pending_orders_carry_their_reason_and_offers_their_breakdown(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    offered = ingest(client, ops, store, clock, ref="WEB-ON")
    too_far = ingest(client, ops, store, clock, ref="WEB-FAR", dropoff=FAR_SOUTH)
    later = ingest(
        client, ops, store, clock, ref="WEB-LATE",
        window_earliest=(clock.now() + timedelta(hours=3)).isoformat(),
        window_latest=(clock.now() + timedelta(hours=5)).isoformat(),
    )  # fmt: skip
    not_yet = client.get(f"/ops/orders/{too_far['order_id']}", headers=ops.headers).json()
    assert not_yet["unassigned_reason"] is None
    assert not_yet["unassigned_at"] is None

    shopper = make_shopper("Ana")
    check_in(client, shopper, store, clock)  # must leave within the hour: the late window opens two hours after
    waits = client.get(f"/ops/orders/{later['order_id']}/history", headers=ops.headers).json()["unassigned"]
    assert [trip["reason"] for trip in waits["trips"]] == ["leave_by"]  # not "could take it: next batch"
    assert waits["summary"].startswith("no open trip may take it now")
    report = run_batch(client, ops, store)
    assert len(report["offers"]) == 1

    listed = {
        order["id"]: order for order in client.get("/ops/orders", headers=ops.headers).json()["items"]
    }  # fmt: skip
    assert listed[offered["order_id"]]["unassigned_reason"] is None
    assert listed[too_far["order_id"]]["unassigned_reason"] == UnassignedReason.NO_TRIP_WITHIN_DETOUR
    # kept from the trip by its leave-by (the matcher never saw the pair): the window, not "not a candidate"
    assert listed[later["order_id"]]["unassigned_reason"] == UnassignedReason.WINDOW
    one = client.get(f"/ops/orders/{too_far['order_id']}", headers=ops.headers).json()
    assert one["unassigned_reason"] == "no_trip_within_detour"
    assert one["unassigned_at"] is not None

    summary = client.get(f"/ops/stores/{store.id}/summary", headers=ops.headers).json()
    assert sum(summary["pending_by_reason"].values()) == summary["orders_by_status"]["pending"] == 2
    assert summary["pending_by_reason"] == {"no_trip_within_detour": 1, "window": 1}

    offer = current_offer(client, shopper)
    breakdown = offer["breakdown"]
    assert breakdown["stops"] == 1
    assert breakdown["detour_m"] == offer["extra_distance_m"]
    assert breakdown["detour_s"] == offer["extra_duration_s"]
    assert breakdown["reward_cents"]["total"] == offer["reward_quote_cents"]
    assert breakdown["best_alternative"] == "none"  # the only shopper in the store
    assert breakdown["leave_after"] is None  # its window is open: leave when you like
    assert breakdown["leave_before"] is None  # and it stays open past the leave-by: leave by then
    (ops_offer,) = client.get("/ops/offers", headers=ops.headers).json()["items"]
    assert ops_offer["breakdown"] == breakdown


def test_an_offer_whose_window_opens_later_says_when_to_leave_the_store(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A window opening in 50 minutes, a shopper who may stay an hour: the offer is made, and says to leave no
    earlier than the window's opening less the drive (else they would deliver before it opens)."""
    opens = clock.now() + timedelta(minutes=50)
    ingest(
        client, ops, store, clock, ref="WEB-LATER",
        window_earliest=opens.isoformat(), window_latest=(opens + timedelta(hours=2)).isoformat(),
    )  # fmt: skip
    shopper = make_shopper("Ana")
    trip = check_in(client, shopper, store, clock)  # leaves within the hour
    assert len(run_batch(client, ops, store)["offers"]) == 1
    offer = current_offer(client, shopper)
    leave = datetime.fromisoformat(offer["breakdown"]["leave_after"])
    assert opens - timedelta(minutes=15) < leave < opens  # the drive of ~2 km is minutes, not a quarter hour
    assert leave <= datetime.fromisoformat(trip["leave_by"])
    (ops_offer,) = client.get("/ops/offers", headers=ops.headers).json()["items"]
    assert ops_offer["breakdown"]["leave_after"] == offer["breakdown"]["leave_after"]


def test_an_offer_whose_window_closes_before_the_leave_by_says_when_to_leave_at_the_latest(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A window closing in 20 minutes, a shopper who may stay an hour: the offer says to leave no later than
    the window's close less the drive, before their leave-by; for operations too."""
    closes = clock.now() + timedelta(minutes=20)
    ingest(
        client, ops, store, clock, ref="WEB-SOON",
        window_earliest=clock.now().isoformat(), window_latest=closes.isoformat(),
    )  # fmt: skip
    shopper = make_shopper("Ana")
    check_in(client, shopper, store, clock)  # leaves within the hour
    assert len(run_batch(client, ops, store)["offers"]) == 1
    offer = current_offer(client, shopper)
    leave = datetime.fromisoformat(offer["breakdown"]["leave_before"])
    assert closes - timedelta(minutes=15) < leave < closes  # the drive of ~2 km is minutes, not a quarter hour
    assert offer["breakdown"]["leave_after"] is None
    (ops_offer,) = client.get("/ops/offers", headers=ops.headers).json()["items"]
    assert ops_offer["breakdown"]["leave_before"] == offer["breakdown"]["leave_before"]


def test_a_shopper_sees_the_alternative_cost_but_not_the_other_trip(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Two shoppers for one order: the winner's offer names what the other would have cost; operations see
    which trip that was, the shopper does not."""
    ingest(client, ops, store, clock)
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    trips = {name: check_in(client, who, store, clock) for name, who in (("ana", ana), ("ben", ben))}
    run_batch(client, ops, store)
    (ops_offer,) = client.get("/ops/offers", headers=ops.headers).json()["items"]
    winner = ana if ops_offer["trip_id"] == trips["ana"]["id"] else ben
    loser_trip = trips["ben"]["id"] if winner is ana else trips["ana"]["id"]
    alternative = ops_offer["breakdown"]["best_alternative"]
    assert alternative["trip_id"] == loser_trip
    assert alternative["cost_cents"] >= ops_offer["reward_quote_cents"]
    assert alternative["carries_another_offer"] is False
    seen = current_offer(client, winner)["breakdown"]["best_alternative"]
    assert seen == {"cost_cents": alternative["cost_cents"], "carries_another_offer": False}


def test_an_order_left_outside_a_redrawn_service_area_says_so(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Its old reason would be stale: batches no longer consider it, and the next one says why."""
    far = ingest(client, ops, store, clock, ref="WEB-FAR", dropoff=FAR_SOUTH)
    check_in(client, make_shopper("Ana"), store, clock)
    run_batch(client, ops, store)
    assert client.get(f"/ops/orders/{far['order_id']}", headers=ops.headers).json()["unassigned_reason"] == (
        "no_trip_within_detour"
    )
    smaller = service_area_to_geojson(circular_area(store.location, 3_000))
    edited = client.patch(f"/ops/stores/{store.id}", json={"service_area": smaller}, headers=ops.headers)
    assert edited.status_code == 200, edited.text
    report = run_batch(client, ops, store)
    assert report["pending_orders"] == 0
    assert client.get(f"/ops/orders/{far['order_id']}", headers=ops.headers).json()["unassigned_reason"] == (
        "outside_service_area"
    )


def test_an_order_whose_offer_was_declined_or_withdrawn_says_so_until_the_next_batch(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Its offer cleared its reason; back in the pool it said nothing ('none': not batched yet) until the next
    batch though a batch had offered it. Now it says its offer was declined (or withdrawn: the trip cancelled),
    and when, in the order, the orders list and the store summary; the next batch says its own reason."""
    declined = ingest(client, ops, store, clock, ref="WEB-NO")
    ana = make_shopper("Ana")
    check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    clock.advance(timedelta(seconds=20))
    said_no = client.post(f"/shopper/offers/{current_offer(client, ana)['id']}/decline", headers=ana.headers)
    assert said_no.status_code == 200, said_no.text

    one = client.get(f"/ops/orders/{declined['order_id']}", headers=ops.headers).json()
    assert (one["status"], one["unassigned_reason"]) == ("pending", "offer_declined")
    assert datetime.fromisoformat(one["unassigned_at"]) == clock.now()
    listed = {order["id"]: order for order in client.get("/ops/orders", headers=ops.headers).json()["items"]}
    assert listed[declined["order_id"]]["unassigned_reason"] == "offer_declined"
    summary = client.get(f"/ops/stores/{store.id}/summary", headers=ops.headers).json()
    assert summary["pending_by_reason"] == {"offer_declined": 1}

    ben = make_shopper("Ben")
    trip = check_in(client, ben, store, clock)
    clock.advance(timedelta(seconds=5))
    assert len(run_batch(client, ops, store)["offers"]) == 1
    clock.advance(timedelta(seconds=5))
    cancelled = client.post(f"/shopper/trips/{trip['id']}/cancel", headers=ben.headers)
    assert cancelled.status_code == 200, cancelled.text
    withdrawn = client.get(f"/ops/orders/{declined['order_id']}", headers=ops.headers).json()
    assert (withdrawn["unassigned_reason"], datetime.fromisoformat(withdrawn["unassigned_at"])) == (
        "offer_withdrawn",
        clock.now(),
    )

    clock.advance(timedelta(seconds=5))
    run_batch(client, ops, store)
    after = client.get(f"/ops/orders/{declined['order_id']}", headers=ops.headers).json()
    assert after["unassigned_reason"] == UnassignedReason.NOT_A_CANDIDATE  # only Ana, who declined it
    assert datetime.fromisoformat(after["unassigned_at"]) == clock.now()
