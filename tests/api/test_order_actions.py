"""Operations act on an order: cancel it before it leaves the store, put a returned one back in the queue,
hand it to the courier fleet, or give up on a picked-up one its shopper will not deliver. Illegal moves are
409, a move made already answers as the first did; offers it was in and the trip that carried it follow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from api_support import ON_THE_WAY, Account, assert_problem, check_in, current_offer, ingest, run_batch
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store


def _status(client: TestClient, ops: Account, receipt: dict[str, Any]) -> str:
    status: str = client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"]
    return status


def _act(client: TestClient, ops: Account, receipt: dict[str, Any], action: str) -> Any:
    return client.post(f"/ops/orders/{receipt['order_id']}/{action}", headers=ops.headers)


def _returned(client: TestClient, ops: Account, store: Store, clock: ManualClock, shopper: Account) -> dict[str, Any]:
    """An order picked up, refused three times at the door, and brought back to the store."""
    receipt = ingest(client, ops, store, clock, ref="RET-1")
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, shopper)['id']}/accept", headers=shopper.headers)
    client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    wrong = "000000" if receipt["delivery_code"] != "000000" else "111111"
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": wrong}
    for _ in range(3):
        client.post(f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=shopper.headers)
    assert _act(client, ops, receipt, "returned").json()["status"] == "returned"
    return receipt


def test_a_returned_order_is_requeued_and_offered_to_another_trip(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    receipt = _returned(client, ops, store, clock, make_shopper("Ana"))
    assert _act(client, ops, receipt, "requeue").json()["status"] == "pending"
    ben = make_shopper("Ben")
    check_in(client, ben, store, clock)
    run_batch(client, ops, store)
    assert [stop["order_id"] for stop in current_offer(client, ben)["stops"]] == [receipt["order_id"]]


def test_a_requeued_order_gets_every_attempt_afresh_with_its_next_shopper_and_is_delivered(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Ana's three refusals do not count against Ben: his first wrong code leaves him two attempts, and the
    right code delivers the order."""
    receipt = _returned(client, ops, store, clock, make_shopper("Ana"))
    _act(client, ops, receipt, "requeue")
    clock.advance(timedelta(minutes=1))
    ben = make_shopper("Ben")
    trip = check_in(client, ben, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, ben)['id']}/accept", headers=ben.headers)
    client.post(f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=ben.headers)
    at_the_door = {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}
    wrong = "000000" if receipt["delivery_code"] != "000000" else "111111"
    delivery = f"/shopper/orders/{receipt['order_id']}/delivery"
    refused = client.post(delivery, json={"position": at_the_door, "code": wrong}, headers=ben.headers)
    assert assert_problem(refused, 422)["attempts_left"] == 2
    assert _status(client, ops, receipt) == "picked_up"
    right = {"position": at_the_door, "code": receipt["delivery_code"]}
    assert client.post(delivery, json=right, headers=ben.headers).status_code == 200
    assert _status(client, ops, receipt) == "delivered"


def test_a_shopper_who_used_up_their_attempts_gets_none_back_when_the_order_returns_to_them(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Ana failed three times; requeued, the order comes back to her on a new trip: her first wrong code fails
    it again at once (attempts are hers, not her trip's), so a requeue never buys her more guesses."""
    ana = make_shopper("Ana")
    receipt = _returned(client, ops, store, clock, ana)
    _act(client, ops, receipt, "requeue")
    clock.advance(timedelta(minutes=1))
    trip = check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, ana)['id']}/accept", headers=ana.headers)
    client.post(f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=ana.headers)
    wrong = "000000" if receipt["delivery_code"] != "000000" else "111111"
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": wrong}
    refused = client.post(f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=ana.headers)
    assert assert_problem(refused, 422)["attempts_left"] == 0
    assert _status(client, ops, receipt) == "failed"


@pytest.mark.parametrize(("action", "status"), [("fallback", "fallback"), ("cancel", "cancelled")])
def test_a_returned_order_can_go_to_the_fleet_or_be_cancelled(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    action: str,
    status: str,
) -> None:
    receipt = _returned(client, ops, store, clock, make_shopper())
    assert _act(client, ops, receipt, action).json()["status"] == status
    assert_problem(_act(client, ops, receipt, "requeue"), 409)


def test_cancelling_an_offered_order_withdraws_the_offer_and_frees_the_rest_of_the_bundle(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    first = ingest(client, ops, store, clock, ref="A")
    second = ingest(client, ops, store, clock, ref="B")
    shopper = make_shopper()
    check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    assert len(offer["stops"]) == 2
    assert _act(client, ops, first, "cancel").json()["status"] == "cancelled"
    assert _status(client, ops, second) == "pending"
    assert client.get(f"/shopper/offers/{offer['id']}", headers=shopper.headers).json()["status"] == "withdrawn"
    assert_problem(client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers), 409)


def test_cancelling_an_accepted_order_takes_it_off_the_trip(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """The shopper picks up and delivers the rest; the trip completes without the cancelled order; an order
    that left the store cannot be cancelled."""
    first = ingest(client, ops, store, clock, ref="A")
    second = ingest(client, ops, store, clock, ref="B")
    shopper = make_shopper()
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, shopper)['id']}/accept", headers=shopper.headers)
    assert _act(client, ops, first, "cancel").json()["status"] == "cancelled"
    assert_problem(
        client.post(
            f"/shopper/trips/{trip['id']}/pickup",
            json={"bag_codes": [first["bag_code"], second["bag_code"]]},
            headers=shopper.headers,
        ),
        422,
    )
    picked = client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [second["bag_code"]]}, headers=shopper.headers
    )
    assert picked.status_code == 200, picked.text
    assert_problem(_act(client, ops, second, "cancel"), 409)
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": second["delivery_code"]}
    delivered = client.post(f"/shopper/orders/{second['order_id']}/delivery", json=proof, headers=shopper.headers)
    assert delivered.json()["trip_completed"] is True


def test_a_pending_order_is_cancelled_or_sent_to_the_fleet_and_then_never_offered(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    cancelled = ingest(client, ops, store, clock, ref="A")
    fleet = ingest(client, ops, store, clock, ref="B")
    assert _act(client, ops, cancelled, "cancel").json()["status"] == "cancelled"
    assert _act(client, ops, fleet, "fallback").json()["status"] == "fallback"
    check_in(client, make_shopper(), store, clock)
    assert run_batch(client, ops, store)["offers"] == []


@pytest.mark.parametrize("action", ["requeue", "fallback"])
def test_a_trip_completes_with_its_last_delivery_when_an_order_that_failed_on_it_has_moved_on(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    action: str,
) -> None:
    """Ana carries A and B; A fails at the door, is brought back and requeued (or handed to the fleet) while B
    is still on board. Delivering B ends her trip, although A is no longer failed or returned, and she may check
    in again."""
    ana = make_shopper("Ana")
    first = ingest(client, ops, store, clock, ref="A")
    second = ingest(client, ops, store, clock, ref="B")
    trip = check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, ana)
    assert len(offer["stops"]) == 2
    client.post(f"/shopper/offers/{offer['id']}/accept", headers=ana.headers)
    bags = {"bag_codes": [first["bag_code"], second["bag_code"]]}
    assert client.post(f"/shopper/trips/{trip['id']}/pickup", json=bags, headers=ana.headers).status_code == 200
    at_the_door = {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}
    wrong = "000000" if first["delivery_code"] != "000000" else "111111"
    for _ in range(3):
        client.post(
            f"/shopper/orders/{first['order_id']}/delivery",
            json={"position": at_the_door, "code": wrong},
            headers=ana.headers,
        )
    assert _act(client, ops, first, "returned").json()["status"] == "returned"
    assert _act(client, ops, first, action).status_code == 200

    right = {"position": at_the_door, "code": second["delivery_code"]}
    delivered = client.post(f"/shopper/orders/{second['order_id']}/delivery", json=right, headers=ana.headers)
    assert delivered.json()["trip_completed"] is True
    assert_problem(client.get("/shopper/trips/current", headers=ana.headers), 404)
    check_in(client, ana, store, clock)


def test_a_trip_completes_when_an_order_that_failed_on_it_is_carried_by_another_shoppers_trip(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A failed on Ana's trip, was requeued and Ben accepted it before Ana delivered B: A is Ben's to carry
    now (accepted, but not on her trip), so delivering B ends her trip."""
    ana = make_shopper("Ana")
    first = ingest(client, ops, store, clock, ref="A")
    second = ingest(client, ops, store, clock, ref="B")
    trip = check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, ana)['id']}/accept", headers=ana.headers)
    bags = {"bag_codes": [first["bag_code"], second["bag_code"]]}
    client.post(f"/shopper/trips/{trip['id']}/pickup", json=bags, headers=ana.headers)
    at_the_door = {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}
    wrong = "000000" if first["delivery_code"] != "000000" else "111111"
    for _ in range(3):
        client.post(
            f"/shopper/orders/{first['order_id']}/delivery",
            json={"position": at_the_door, "code": wrong},
            headers=ana.headers,
        )
    _act(client, ops, first, "returned")
    _act(client, ops, first, "requeue")
    clock.advance(timedelta(minutes=1))
    ben = make_shopper("Ben")
    check_in(client, ben, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, ben)['id']}/accept", headers=ben.headers)
    assert _status(client, ops, first) == "accepted"

    right = {"position": at_the_door, "code": second["delivery_code"]}
    delivered = client.post(f"/shopper/orders/{second['order_id']}/delivery", json=right, headers=ana.headers)
    assert delivered.json()["trip_completed"] is True


def test_a_requeued_order_leaves_the_first_shoppers_trip_and_their_view(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Ana's trip carried only this order, so it ended when the order failed at the door. Once the order is back
    in the queue and Ben carries it, her history shows it returned with no address or name, acting on it is a
    plain 404 that names nobody else's trip, and she may check in again."""
    ana = make_shopper("Ana")
    receipt = _returned(client, ops, store, clock, ana)
    _act(client, ops, receipt, "requeue")
    (stop,) = client.get("/shopper/trips", headers=ana.headers).json()["items"][0]["stops"]
    assert (stop["status"], stop["address"], stop["recipient_first_name"]) == ("returned", None, None)
    clock.advance(timedelta(minutes=1))  # Ben accepts after Ana did
    ben = make_shopper("Ben")
    ben_trip = check_in(client, ben, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, ben)['id']}/accept", headers=ben.headers)
    assert _status(client, ops, receipt) == "accepted"

    assert_problem(client.get("/shopper/trips/current", headers=ana.headers), 404)
    history = client.get("/shopper/trips", headers=ana.headers).json()["items"]
    assert [trip["trip"]["status"] for trip in history] == ["completed"]
    (stop,) = history[0]["stops"]
    assert (stop["status"], stop["dropoff"], stop["address"], stop["recipient_first_name"]) == (
        "returned",
        None,
        None,
        None,
    )
    (carried,) = client.get("/shopper/trips", headers=ben.headers).json()["items"][0]["stops"]
    assert (carried["status"], carried["recipient_first_name"]) == ("accepted", "Jade")
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": "123456"}
    refused = assert_problem(
        client.post(f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=ana.headers), 404
    )
    assert ben_trip["id"] not in refused["detail"]
    offers = client.get(f"/ops/orders/{receipt['order_id']}/history", headers=ops.headers).json()["offers"]
    (anas_offer,) = [offer for offer in offers if offer["trip_id"] != ben_trip["id"]]
    (old_stop,) = client.get(f"/shopper/offers/{anas_offer['id']}", headers=ana.headers).json()["stops"]
    assert (old_stop["dropoff"], old_stop["address"], old_stop["recipient_first_name"]) == (None, None, None)
    check_in(client, ana, store, clock)


def _picked_up(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, shopper: Account, *refs: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Orders offered together to the shopper's new trip, accepted and picked up: the trip has departed."""
    receipts = [ingest(client, ops, store, clock, ref=ref) for ref in refs]
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    assert sorted(stop["order_id"] for stop in offer["stops"]) == sorted(r["order_id"] for r in receipts)
    client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers)
    picked = client.post(
        f"/shopper/trips/{trip['id']}/pickup",
        json={"bag_codes": [receipt["bag_code"] for receipt in receipts]},
        headers=shopper.headers,
    )
    assert picked.status_code == 200, picked.text
    return receipts, trip


def _not_delivered(client: TestClient, ops: Account, receipt: dict[str, Any], reason: object) -> Any:
    return client.post(f"/ops/orders/{receipt['order_id']}/not-delivered", json={"reason": reason}, headers=ops.headers)


def _trip_status(client: TestClient, ops: Account, trip: dict[str, Any]) -> str:
    trips = client.get("/ops/trips", params={"shopper_id": trip["shopper_id"]}, headers=ops.headers).json()["items"]
    (status,) = [listed["status"] for listed in trips if listed["id"] == trip["id"]]
    return str(status)


def test_an_order_whose_shopper_is_deactivated_mid_trip_is_marked_not_delivered_and_goes_on_with_another(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    make_staff: Callable[[Role], Account],
) -> None:
    """Picked up, then the shopper is deactivated: the trip stays departed and no other action takes the order.
    Marked not delivered it fails, the trip ends, and the return flow of a failed delivery follows: back in the
    store, requeued, offered to Ben."""
    ana, admin = make_shopper("Ana"), make_staff(Role.ADMIN)
    (receipt,), trip = _picked_up(client, ops, store, clock, ana, "LOST-1")
    assert client.post(f"/admin/users/{ana.user_id}/deactivate", headers=admin.headers).status_code == 200
    assert _trip_status(client, ops, trip) == "departed"
    for action in ("cancel", "requeue", "fallback", "returned"):
        assert_problem(_act(client, ops, receipt, action), 409)

    marked = _not_delivered(client, ops, receipt, "  Shopper deactivated mid-trip; bags not recovered ")
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "failed"
    assert _trip_status(client, ops, trip) == "completed"

    assert _act(client, ops, receipt, "returned").json()["status"] == "returned"
    assert _act(client, ops, receipt, "requeue").json()["status"] == "pending"
    ben = make_shopper("Ben")
    check_in(client, ben, store, clock)
    run_batch(client, ops, store)
    assert [stop["order_id"] for stop in current_offer(client, ben)["stops"]] == [receipt["order_id"]]


def test_marking_not_delivered_is_kept_in_the_history_with_its_reason_and_who_said_it(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    (receipt,), _ = _picked_up(client, ops, store, clock, make_shopper("Ana"), "LOST-1")
    _not_delivered(client, ops, receipt, "Shopper stopped answering; bags not recovered")
    _act(client, ops, receipt, "returned")
    history = client.get(f"/ops/orders/{receipt['order_id']}/history", headers=ops.headers).json()["timeline"]
    moves = [(entry["status"], entry["detail"], entry["actor_id"]) for entry in history if entry["status"]]
    assert moves[-2:] == [
        ("failed", "not delivered, said operations: Shopper stopped answering; bags not recovered", str(ops.user_id)),
        ("returned", "bags back in the store", str(ops.user_id)),
    ]


def test_a_trip_ends_when_the_last_order_it_carries_is_delivered_or_marked_not_delivered(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Two orders on the road: giving up on one leaves the trip departed, the shopper still carrying the other
    (and refused on the one given up, 409); once the other is given up too the trip is over and the shopper,
    still active, may check in again."""
    ana = make_shopper("Ana")
    (first, second), trip = _picked_up(client, ops, store, clock, ana, "LOST-1", "LOST-2")
    assert _not_delivered(client, ops, first, "Bag reported stolen from the car").json()["status"] == "failed"
    assert _trip_status(client, ops, trip) == "departed"
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": first["delivery_code"]}
    assert_problem(client.post(f"/shopper/orders/{first['order_id']}/delivery", json=proof, headers=ana.headers), 409)
    assert _not_delivered(client, ops, second, "Shopper unreachable for two hours").json()["status"] == "failed"
    assert _trip_status(client, ops, trip) == "completed"
    clock.advance(timedelta(minutes=1))
    check_in(client, ana, store, clock)


@pytest.mark.parametrize(
    "body",
    [{"reason": "   "}, {"reason": "x" * 201}, {"reason": "a\x00b"}, {}],
    ids=["blank", "too-long", "nul", "missing"],
)
def test_marking_not_delivered_needs_a_reason_of_at_most_200_characters(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    body: dict[str, Any],
) -> None:
    (receipt,), _ = _picked_up(client, ops, store, clock, make_shopper("Ana"), "LOST-1")
    response = client.post(f"/ops/orders/{receipt['order_id']}/not-delivered", json=body, headers=ops.headers)
    assert [error["field"] for error in assert_problem(response, 422)["errors"]] == ["reason"]
    assert _status(client, ops, receipt) == "picked_up"


def test_only_a_picked_up_order_is_marked_not_delivered(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """An order still in the store is cancelled or released instead (409); an unknown one is a 404."""
    receipt = ingest(client, ops, store, clock, ref="HERE-1")
    problem = assert_problem(_not_delivered(client, ops, receipt, "not coming"), 409)
    assert "only a picked-up order" in problem["detail"]
    check_in(client, make_shopper(), store, clock)
    run_batch(client, ops, store)
    assert _status(client, ops, receipt) == "offered"
    assert_problem(_not_delivered(client, ops, receipt, "not coming"), 409)
    assert_problem(_not_delivered(client, ops, {"order_id": str(uuid4())}, "not coming"), 404)


def _moves(client: TestClient, ops: Account, receipt: dict[str, Any]) -> list[tuple[str, str]]:
    """The order's status changes as its history tells them: (status, detail)."""
    history = client.get(f"/ops/orders/{receipt['order_id']}/history", headers=ops.headers).json()
    return [(entry["status"], entry["detail"]) for entry in history["timeline"] if entry["what"] == "status"]


def _failed_at_the_door(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, shopper: Account
) -> dict[str, Any]:
    """An order picked up and refused three times at the door: it failed by its shopper's last attempt."""
    (receipt,), _ = _picked_up(client, ops, store, clock, shopper, "DOOR-1")
    wrong = "000000" if receipt["delivery_code"] != "000000" else "111111"
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": wrong}
    for _ in range(3):
        client.post(f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=shopper.headers)
    assert _status(client, ops, receipt) == "failed"
    return receipt


def test_returned_and_requeued_again_answer_with_the_order_as_it_stands_and_record_nothing(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A retry after a lost answer: `/returned` on a returned order and `/requeue` on the order its requeue left
    pending answer 200 with the order, as the first did, and the history holds each move once."""
    receipt = _returned(client, ops, store, clock, make_shopper("Ana"))
    again = _act(client, ops, receipt, "returned")
    assert again.status_code == 200, again.text
    assert again.json() == client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()
    assert again.json()["status"] == "returned"
    clock.advance(timedelta(seconds=30))
    first = _act(client, ops, receipt, "requeue")
    clock.advance(timedelta(seconds=30))
    second = _act(client, ops, receipt, "requeue")
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert second.json() == first.json()
    assert [status for status, _ in _moves(client, ops, receipt)].count("returned") == 1
    assert _moves(client, ops, receipt)[-1] == ("pending", "requeued by operations")


@pytest.mark.parametrize(("action", "status"), [("cancel", "cancelled"), ("fallback", "fallback")])
def test_cancelling_or_handing_to_the_fleet_again_answers_with_the_order_as_it_stands(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, action: str, status: str
) -> None:
    receipt = ingest(client, ops, store, clock, ref="TWICE-1")
    first = _act(client, ops, receipt, action)
    clock.advance(timedelta(seconds=30))
    second = _act(client, ops, receipt, action)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert second.json() == first.json()
    assert first.json()["status"] == status
    assert [moved for moved, _ in _moves(client, ops, receipt)].count(status) == 1


def test_handing_to_the_fleet_an_order_a_batch_handed_over_past_its_deadline_answers_as_it_stands(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """The same move made by a batch (the order's dispatch deadline passed): the fleet has it, 200."""
    receipt = ingest(
        client, ops, store, clock, ref="LATE-1", dispatch_deadline=(clock.now() + timedelta(minutes=5)).isoformat()
    )
    clock.advance(timedelta(minutes=6))
    assert run_batch(client, ops, store)["fallback_orders"] == [receipt["order_id"]]
    handed = _act(client, ops, receipt, "fallback")
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "fallback"
    assert _moves(client, ops, receipt)[-1] == ("fallback", "past its dispatch deadline: courier fleet")


def test_marked_not_delivered_again_answers_as_it_stands_and_keeps_the_first_reason(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    (receipt,), trip = _picked_up(client, ops, store, clock, make_shopper("Ana"), "LOST-2")
    first = _not_delivered(client, ops, receipt, "bags lost")
    clock.advance(timedelta(seconds=30))
    second = _not_delivered(client, ops, receipt, "another word for it")
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert second.json() == first.json()
    assert _moves(client, ops, receipt)[-1] == ("failed", "not delivered, said operations: bags lost")
    assert [status for status, _ in _moves(client, ops, receipt)].count("failed") == 1
    assert _trip_status(client, ops, trip) == "completed"


def test_another_move_to_the_same_status_or_from_a_later_one_is_still_409(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """An order that failed at the door was not marked not delivered by operations; a pending order that was
    never returned, or was offered since its requeue, was not left there by a requeue; a delivered order was not
    cancelled; a cancelled one was not requeued."""
    ana = make_shopper("Ana")
    failed = _failed_at_the_door(client, ops, store, clock, ana)
    assert_problem(_not_delivered(client, ops, failed, "gone"), 409)
    assert _act(client, ops, failed, "returned").json()["status"] == "returned"
    assert _act(client, ops, failed, "requeue").json()["status"] == "pending"
    ben = make_shopper("Ben")
    check_in(client, ben, store, clock)
    run_batch(client, ops, store)
    assert _status(client, ops, failed) == "offered"
    assert_problem(_act(client, ops, failed, "requeue"), 409)
    client.post(f"/shopper/offers/{current_offer(client, ben)['id']}/decline", headers=ben.headers)
    assert _status(client, ops, failed) == "pending"
    assert_problem(_act(client, ops, failed, "requeue"), 409)

    fresh = ingest(client, ops, store, clock, ref="FRESH-1")
    assert_problem(_act(client, ops, fresh, "requeue"), 409)
    assert _act(client, ops, fresh, "cancel").json()["status"] == "cancelled"
    assert_problem(_act(client, ops, fresh, "requeue"), 409)
    assert_problem(_act(client, ops, fresh, "fallback"), 409)


def test_a_delivered_order_is_not_cancelled(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    ana = make_shopper("Ana")
    (receipt,), _ = _picked_up(client, ops, store, clock, ana, "DONE-1")
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": receipt["delivery_code"]}
    assert (
        client.post(f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=ana.headers).status_code
        == 200
    )
    for action in ("cancel", "fallback", "requeue", "returned"):
        assert_problem(_act(client, ops, receipt, action), 409)
    assert_problem(_not_delivered(client, ops, receipt, "gone"), 409)
