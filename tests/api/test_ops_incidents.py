"""Operations on incidents and shoppers through the API: incidents listed and filtered, resolved (and again,
harmlessly), their insurance claim recorded, which reviews the shopper's trust tier at once; the tier set by
hand; a shopper's incidents; and an order's history with its proof of delivery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api_support import ON_THE_WAY, Account, assert_problem, check_in, current_offer, ingest, run_batch
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store, TrustTier


def _carried(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, shopper: Account, ref: str
) -> dict[str, Any]:
    """An order offered to the shopper, accepted and picked up: they carry it."""
    receipt = ingest(client, ops, store, clock, ref=ref)
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    accepted = client.post(f"/shopper/offers/{current_offer(client, shopper)['id']}/accept", headers=shopper.headers)
    assert accepted.status_code == 200, accepted.text
    picked = client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert picked.status_code == 200, picked.text
    return receipt


def _report(client: TestClient, shopper: Account, order_id: str, kind: str, text: str) -> dict[str, Any]:
    response = client.post(
        f"/shopper/orders/{order_id}/incidents", json={"kind": kind, "description": text}, headers=shopper.headers
    )
    assert response.status_code == 201, response.text
    incident: dict[str, Any] = response.json()
    return incident


def test_an_insurance_claim_reviews_the_shoppers_tier_at_once(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A silver shopper with a damage incident reported the same instant: recording the claim moves them to
    bronze, the most one incident allows (the review is wired through composition); the incident lists the
    claim; a reused reference is 409."""
    ana = make_shopper("Ana", tier=TrustTier.SILVER)
    receipt = _carried(client, ops, store, clock, ana, "INC-1")
    incident = _report(client, ana, receipt["order_id"], "damage", "the eggs broke")
    claim = client.post(
        f"/ops/incidents/{incident['id']}/claims",
        json={"claim_ref": "AXA-1", "amount_cents": 4_599},
        headers=ops.headers,
    )
    assert claim.status_code == 201, claim.text
    assert (claim.json()["tier_before"], claim.json()["tier_after"]) == (2, 1)
    assert client.get(f"/ops/shoppers/{ana.shopper_id}", headers=ops.headers).json()["trust_tier"] == 1
    detail = client.get(f"/ops/incidents/{incident['id']}", headers=ops.headers).json()
    assert [(c["claim_ref"], c["amount_cents"], c["recorded_by"]) for c in detail["claims"]] == [
        ("AXA-1", 4_599, str(ops.user_id))
    ]
    again = client.post(
        f"/ops/incidents/{incident['id']}/claims", json={"claim_ref": "AXA-1", "amount_cents": 1}, headers=ops.headers
    )
    assert_problem(again, 409)
    for bad, field in (
        ({"claim_ref": "", "amount_cents": 1}, "claim_ref"),
        ({"claim_ref": "X", "amount_cents": 0}, "amount_cents"),
    ):
        problem = assert_problem(
            client.post(f"/ops/incidents/{incident['id']}/claims", json=bad, headers=ops.headers), 422
        )
        assert field in [error["field"] for error in problem["errors"]]


def test_incidents_are_listed_filtered_and_resolved(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Newest first with filters by status and kind; resolving records who and why."""
    ana = make_shopper("Ana")
    receipt = _carried(client, ops, store, clock, ana, "INC-2")
    damage = _report(client, ana, receipt["order_id"], "damage", "torn bag")
    clock.advance(timedelta(seconds=60))
    theft = _report(client, ana, receipt["order_id"], "theft", "bag taken from the car")
    listed = client.get("/ops/incidents", headers=ops.headers).json()
    assert ([item["id"] for item in listed["items"]], listed["total"]) == ([theft["id"], damage["id"]], 2)
    resolved = client.post(
        f"/ops/incidents/{damage['id']}/resolve", json={"resolution": "customer refunded"}, headers=ops.headers
    )
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolved_by"]) == ("resolved", str(ops.user_id))
    still_open = client.get("/ops/incidents", params={"status": "open"}, headers=ops.headers).json()
    assert [item["id"] for item in still_open["items"]] == [theft["id"]]
    thefts = client.get("/ops/incidents", params={"kind": "theft", "store_id": str(store.id)}, headers=ops.headers)
    assert [item["id"] for item in thefts.json()["items"]] == [theft["id"]]
    mine = client.get(f"/ops/shoppers/{ana.shopper_id}/incidents", params={"limit": 1}, headers=ops.headers).json()
    assert ([item["id"] for item in mine["items"]], mine["total"]) == ([theft["id"]], 2)
    assert_problem(client.get("/ops/incidents", params={"status": "closed"}, headers=ops.headers), 422)
    assert_problem(
        client.post(f"/ops/incidents/{theft['id']}/resolve", json={"resolution": ""}, headers=ops.headers), 422
    )


def test_ops_set_a_tier_and_page_through_shoppers(
    client: TestClient, ops: Account, make_shopper: Callable[..., Account], make_staff: Callable[[Role], Account]
) -> None:
    """PUT sets the tier (0..3, else 422); the shopper list pages by name; finance is refused."""
    ben = make_shopper("Ben", tier=TrustTier.NEW)
    make_shopper("Ana")
    assert (
        client.put(f"/ops/shoppers/{ben.shopper_id}/tier", json={"trust_tier": 3}, headers=ops.headers).json()[
            "trust_tier"
        ]
        == 3
    )
    assert_problem(client.put(f"/ops/shoppers/{ben.shopper_id}/tier", json={"trust_tier": 4}, headers=ops.headers), 422)
    page = client.get("/ops/shoppers", params={"limit": 1, "offset": 1}, headers=ops.headers).json()
    assert ([item["display_name"] for item in page["items"]], page["total"]) == (["Ben"], 2)
    finance = make_staff(Role.FINANCE)
    audit = client.get("/finance/audit", params={"subject_kind": "shopper"}, headers=finance.headers).json()["items"]
    assert [(entry["action"], entry["actor_id"], entry["details"]) for entry in audit] == [
        ("shopper.changed", str(ops.user_id), {"trust_tier": {"before": "new", "after": "gold"}})
    ]
    assert_problem(client.get("/ops/incidents", headers=finance.headers), 403)
    assert_problem(
        client.put(f"/ops/shoppers/{ben.shopper_id}/tier", json={"trust_tier": 0}, headers=finance.headers), 403
    )


def test_an_orders_history_says_what_happened_and_shows_the_proof(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Taken in, offered, accepted, picked up, a refused attempt, delivered with the photo reference; the offer
    listed; nothing unassigned once delivered. Search by reference finds it in any case."""
    ana = make_shopper("Ana")
    receipt = _carried(client, ops, store, clock, ana, "HIST-77")
    position = {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}
    wrong = "000000" if receipt["delivery_code"] != "000000" else "111111"
    clock.advance(timedelta(seconds=300))
    client.post(
        f"/shopper/orders/{receipt['order_id']}/delivery",
        json={"position": position, "code": wrong},
        headers=ana.headers,
    )
    clock.advance(timedelta(seconds=30))
    delivered = client.post(
        f"/shopper/orders/{receipt['order_id']}/delivery",
        json={"position": position, "code": receipt["delivery_code"], "photo_ref": "proofs/hist-77.jpg"},
        headers=ana.headers,
    )
    assert delivered.status_code == 200, delivered.text
    history = client.get(f"/ops/orders/{receipt['order_id']}/history", headers=ops.headers).json()
    statuses = [entry["status"] for entry in history["timeline"] if entry["what"] == "status"]
    assert statuses == ["pending", "offered", "accepted", "picked_up", "delivered"]
    refused = [entry["detail"] for entry in history["timeline"] if entry["what"] == "delivery attempt"]
    assert refused == ["refused: code did not match, 0 m from the drop-off"]
    delivered = history["timeline"][-1]
    assert (delivered["status"], delivered["photo_ref"]) == ("delivered", "proofs/hist-77.jpg")
    assert delivered["detail"] == "delivered: code matched, 0 m from the drop-off"
    offered = next(entry for entry in history["timeline"] if entry["status"] == "offered")
    assert offered["detail"].startswith("offered to trip ")
    assert [proof["photo_ref"] for proof in history["proofs"]] == [None, "proofs/hist-77.jpg"]
    assert [offer["status"] for offer in history["offers"]] == ["accepted"]
    assert history["unassigned"] is None
    times = [entry["at"] for entry in history["timeline"]]
    assert times == sorted(times)
    found = client.get("/ops/orders", params={"external_ref": "hist-7"}, headers=ops.headers).json()
    assert [item["id"] for item in found["items"]] == [receipt["order_id"]]


def test_a_waiting_order_says_why_it_is_unassigned(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """No trip: 'no shopper is checked in'; a new shopper whose tier caps the value: that trip's reason; and a
    cancelled order's history names who cancelled it."""
    receipt = ingest(client, ops, store, clock, ref="WAIT-1", value_cents=90_000)
    history = client.get(f"/ops/orders/{receipt['order_id']}/history", headers=ops.headers).json()
    assert "no shopper is checked in" in history["unassigned"]["summary"]
    newcomer = make_shopper("Cleo", tier=TrustTier.NEW)
    check_in(client, newcomer, store, clock)
    history = client.get(f"/ops/orders/{receipt['order_id']}/history", headers=ops.headers).json()
    assert [verdict["reason"] for verdict in history["unassigned"]["trips"]] == ["trust_tier"]
    assert client.post(f"/ops/orders/{receipt['order_id']}/cancel", headers=ops.headers).status_code == 200
    history = client.get(f"/ops/orders/{receipt['order_id']}/history", headers=ops.headers).json()
    assert history["unassigned"] is None
    last = history["timeline"][-1]
    assert (last["status"], last["actor_id"]) == ("cancelled", str(ops.user_id))
    assert_problem(client.get(f"/ops/orders/{receipt['order_id']}/history", headers=newcomer.headers), 403)


def test_resolving_an_incident_again_answers_with_it_as_it_stands_and_keeps_the_first_resolution(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    make_staff: Callable[[Role], Account],
) -> None:
    """A retry after a lost answer, or a second operator: 200 with the incident, resolved once by the first."""
    ana, other = make_shopper("Ana"), make_staff(Role.OPS)
    receipt = _carried(client, ops, store, clock, ana, "INC-9")
    damage = _report(client, ana, receipt["order_id"], "damage", "torn bag")
    path = f"/ops/incidents/{damage['id']}/resolve"
    first = client.post(path, json={"resolution": "customer refunded"}, headers=ops.headers)
    clock.advance(timedelta(seconds=60))
    second = client.post(path, json={"resolution": "refund again"}, headers=other.headers)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert second.json() == first.json()
    assert (second.json()["resolution"], second.json()["resolved_by"]) == ("customer refunded", str(ops.user_id))
