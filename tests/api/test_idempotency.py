"""Order intake is idempotent by `Idempotency-Key`: a retry returns the first response, a reused key with
another body is refused, and racing retries create one order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx2
from api_support import Account, assert_problem, order_body
from fastapi.testclient import TestClient

from api.fields import IDEMPOTENCY_KEY_MAX_LENGTH
from crowdship.clock import ManualClock
from dispatch.model import Store


def test_a_retry_with_the_same_key_returns_the_first_response(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """Same key, same body: the same order and bag code, one order stored. The delivery code is not kept, so
    the replay cannot show it again: it carries null."""
    body = order_body(store, clock)
    headers = {**ops.headers, "Idempotency-Key": "order-1"}
    first = client.post("/ops/orders", json=body, headers=headers)
    second = client.post("/ops/orders", json=body, headers=headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json()["delivery_code"] is not None
    assert second.json() == {**first.json(), "delivery_code": None}
    assert client.get("/ops/orders", headers=ops.headers).json()["total"] == 1


def test_the_same_key_with_another_body_is_refused(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """A reused key with a different request is a 409 problem and stores nothing new."""
    headers = {**ops.headers, "Idempotency-Key": "order-2"}
    assert client.post("/ops/orders", json=order_body(store, clock), headers=headers).status_code == 201
    other = order_body(store, clock, ref="WEB-2")
    assert_problem(client.post("/ops/orders", json=other, headers=headers), 409)
    assert client.get("/ops/orders", headers=ops.headers).json()["total"] == 1


def test_the_key_is_required(client: TestClient, ops: Account, store: Store, clock: ManualClock) -> None:
    """Without the header: 422 naming `Idempotency-Key`."""
    problem = assert_problem(client.post("/ops/orders", json=order_body(store, clock), headers=ops.headers), 422)
    assert problem["errors"][0]["field"] == "Idempotency-Key"


def test_a_key_of_the_shared_length_limit_works_and_a_longer_one_is_refused(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """The limit every idempotent route shares: a key that long creates the order and replays it; one more
    character is a 422 naming `Idempotency-Key`, and no order is kept for it."""
    longest = "k" * IDEMPOTENCY_KEY_MAX_LENGTH
    too_long = assert_problem(
        client.post(
            "/ops/orders", json=order_body(store, clock), headers={**ops.headers, "Idempotency-Key": longest + "k"}
        ),
        422,
    )
    assert too_long["errors"][0]["field"] == "Idempotency-Key"
    headers = {**ops.headers, "Idempotency-Key": longest}
    assert client.post("/ops/orders", json=order_body(store, clock), headers=headers).status_code == 201
    assert client.post("/ops/orders", json=order_body(store, clock), headers=headers).status_code == 200
    assert client.get("/ops/orders", headers=ops.headers).json()["total"] == 1


def test_the_same_order_under_another_key_is_a_conflict(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """The store's external reference is unique: a second key for the same order is refused with 409."""
    body = order_body(store, clock)
    assert client.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": "x1"}).status_code == 201
    assert_problem(client.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": "x2"}), 409)


def test_racing_retries_create_exactly_one_order(
    live_server: str, ops: Account, store: Store, clock: ManualClock
) -> None:
    """Eight parallel requests with one key and one body: one order; every answer carries its id."""
    body = order_body(store, clock)
    headers = {**ops.headers, "Idempotency-Key": "race-1"}
    with httpx2.Client(base_url=live_server, timeout=30) as http, ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: http.post("/ops/orders", json=body, headers=headers), range(8)))
        assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
        assert len({r.json()["order_id"] for r in responses}) == 1
        assert http.get("/ops/orders", headers=ops.headers).json()["total"] == 1
