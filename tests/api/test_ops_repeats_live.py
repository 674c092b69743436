"""Operations' moves made at once by several requests against a running server (uvicorn on a loopback port),
as a double click or a retry racing its first attempt does: the move is made once, and every request answers
200 with the same order or incident."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
from api_support import Account, check_in, current_offer, ingest, run_batch

from crowdship.clock import ManualClock
from dispatch.model import Store

PARALLEL = 8


def _all_at_once(http: httpx2.Client, path: str, headers: dict[str, str], body: Any = None) -> list[httpx2.Response]:
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(lambda _: http.post(path, json=body, headers=headers), range(PARALLEL)))


def _statuses(http: httpx2.Client, ops: Account, order_id: str) -> list[str]:
    history = http.get(f"/ops/orders/{order_id}/history", headers=ops.headers).json()
    return [entry["status"] for entry in history["timeline"] if entry["what"] == "status"]


def _picked_up(http: httpx2.Client, ops: Account, store: Store, clock: ManualClock, shopper: Account) -> str:
    receipt = ingest(http, ops, store, clock, ref="PAR-2")
    trip = check_in(http, shopper, store, clock)
    run_batch(http, ops, store)
    http.post(f"/shopper/offers/{current_offer(http, shopper)['id']}/accept", headers=shopper.headers)
    picked = http.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert picked.status_code == 200, picked.text
    return str(receipt["order_id"])


def test_parallel_cancels_of_an_offered_order_cancel_it_once_and_answer_alike(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    ana = make_shopper("Ana")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        receipt = ingest(http, ops, store, clock, ref="PAR-1")
        check_in(http, ana, store, clock)
        run_batch(http, ops, store)
        responses = _all_at_once(http, f"/ops/orders/{receipt['order_id']}/cancel", ops.headers)
        statuses = _statuses(http, ops, receipt["order_id"])
    assert [response.status_code for response in responses] == [200] * PARALLEL, [r.text for r in responses]
    assert len({response.text for response in responses}) == 1
    assert responses[0].json()["status"] == "cancelled"
    assert statuses == ["pending", "offered", "cancelled"]


def test_parallel_not_delivered_then_returned_each_happen_once_and_answer_alike(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    ana = make_shopper("Ana")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        order_id = _picked_up(http, ops, store, clock, ana)
        failed = _all_at_once(http, f"/ops/orders/{order_id}/not-delivered", ops.headers, {"reason": "bags lost"})
        returned = _all_at_once(http, f"/ops/orders/{order_id}/returned", ops.headers)
        requeued = _all_at_once(http, f"/ops/orders/{order_id}/requeue", ops.headers)
        statuses = _statuses(http, ops, order_id)
    for responses, status in ((failed, "failed"), (returned, "returned"), (requeued, "pending")):
        assert [response.status_code for response in responses] == [200] * PARALLEL, [r.text for r in responses]
        assert len({response.text for response in responses}) == 1
        assert responses[0].json()["status"] == status
    assert statuses == ["pending", "offered", "accepted", "picked_up", "failed", "returned", "pending"]


def test_parallel_resolutions_of_an_incident_resolve_it_once_and_answer_alike(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    ana = make_shopper("Ana")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        order_id = _picked_up(http, ops, store, clock, ana)
        reported = http.post(
            f"/shopper/orders/{order_id}/incidents",
            json={"kind": "damage", "description": "torn bag"},
            headers=ana.headers,
        )
        assert reported.status_code == 201, reported.text
        path = f"/ops/incidents/{reported.json()['id']}/resolve"
        responses = _all_at_once(http, path, ops.headers, {"resolution": "customer refunded"})
    assert [response.status_code for response in responses] == [200] * PARALLEL, [r.text for r in responses]
    assert len({response.text for response in responses}) == 1
    assert responses[0].json()["status"] == "resolved"
