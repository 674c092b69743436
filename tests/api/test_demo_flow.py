"""A demo order goes from offer to delivery over HTTP, as a new user trying `make demo` would take it: the demo
is loaded through the live use cases, so its orders have bag codes and delivery codes like any other, and its
reward policy is published by two of its staff, so the delivery earns the quote it was offered."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api_support import assert_problem
from fastapi.testclient import TestClient

from api.dependencies import AppServices
from composition import rewards_on
from dispatch.adapters.passwords import Argon2Passwords
from simulations.demo import build_demo_plan
from simulations.demo_loader import load_demo
from simulations.demo_run import publish_demo_policy

PASSWORD = "Orbit-Lamp-77-Quince"


def _sign_in(client: TestClient, email: str) -> dict[str, str]:
    response = client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_demo_order_is_offered_accepted_picked_up_and_delivered(client: TestClient) -> None:
    services: AppServices = client.app.state.services  # type: ignore[attr-defined]
    ctx = services.context
    plan = build_demo_plan(ctx.clock.now(), seed=7)
    load = load_demo(ctx, Argon2Passwords(), plan, new_password=lambda: PASSWORD)
    codes = {codes.order_id: codes for codes in load.new_orders}
    rewards = rewards_on(client.app.state.pool)  # type: ignore[attr-defined]
    published = publish_demo_policy(ctx, rewards, plan)
    assert published is not None
    assert published.decision is not None
    assert published.decision.decided_by != published.created_by
    assert publish_demo_policy(ctx, rewards, plan) is None  # in force already: the next run publishes nothing

    ops = _sign_in(client, plan.staff[0].email)
    batch = client.post(f"/ops/stores/{plan.store.id}/batches", headers=ops)
    assert batch.status_code == 200, batch.text
    assert batch.json()["offers"], batch.json()

    offered: list[tuple[dict[str, str], dict[str, Any]]] = []
    for person in plan.shoppers:
        headers = _sign_in(client, person.email)
        current = client.get("/shopper/offers/current", headers=headers)
        if current.status_code == 200:
            offered.append((headers, current.json()))
        else:
            assert_problem(current, 404)
    assert offered
    headers, offer = offered[0]
    assert all(stop["address"] is None for stop in offer["stops"])  # only an area before accepting

    accepted = client.post(f"/shopper/offers/{offer['id']}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.text
    stops = accepted.json()["stops"]
    bag_codes = [codes[UUID(stop["order_id"])].bag_code for stop in stops]
    # a newcomer who skips the pickup is told to pick up first, not only which transition is not allowed
    first = {"position": stops[0]["dropoff"], "code": codes[UUID(stops[0]["order_id"])].delivery_code}
    early = client.post(f"/shopper/orders/{stops[0]['order_id']}/delivery", json=first, headers=headers)
    assert_problem(early, 409)
    assert early.json()["detail"].endswith("cannot go from accepted to delivered: pick up the trip's bags first")
    pickup = client.post(f"/shopper/trips/{offer['trip_id']}/pickup", json={"bag_codes": bag_codes}, headers=headers)
    assert pickup.status_code == 200, pickup.text

    for index, stop in enumerate(stops):
        proof = {"position": stop["dropoff"], "code": codes[UUID(stop["order_id"])].delivery_code}
        delivered = client.post(f"/shopper/orders/{stop['order_id']}/delivery", json=proof, headers=headers)
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["status"] == "delivered"
        assert delivered.json()["trip_completed"] is (index == len(stops) - 1)
    order = client.get(f"/ops/orders/{stops[0]['order_id']}", headers=ops)
    assert order.json()["status"] == "delivered"
    earned = client.get("/shopper/wallet/rewards", headers=headers).json()["items"]
    assert {reward["order_id"] for reward in earned} == {stop["order_id"] for stop in stops}
    assert {reward["policy_version"] for reward in earned} == {published.version}
    assert sum(reward["cash_value_cents"] for reward in earned) == offer["reward_quote_cents"]
