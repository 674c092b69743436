"""Rewards wired into dispatch: offers priced by the policy in force, and the reward credited in the same
transaction that marks the order delivered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from api_support import ON_THE_WAY, Account, check_in, current_offer, ingest, run_batch
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from dispatch.model import Store
from rewards.adapters.postgres import PostgresRewardsUnitOfWork
from tests.rewards.conftest import publish_policy

POLICY = {
    "base_cents": 250,
    "per_extra_km_cents": 40,
    "per_extra_minute_cents": 5,
    "per_bag_cents": 25,
    "minimum_cents": 300,
}


def _rewards_of(db: ConnectionPool, order_id: str) -> list[tuple[int, int]]:
    with db.connection() as connection:
        rows = connection.execute(
            "SELECT amount_cents, policy_version FROM delivery_rewards WHERE order_id = %s", (order_id,)
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def test_the_offer_quote_comes_from_the_policy_and_is_credited_on_delivery(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """With a published policy, the quote is that policy's price and delivery credits exactly it, once."""
    publish_policy(PostgresRewardsUnitOfWork(db), POLICY, now=clock.now() - timedelta(minutes=1))
    shopper = make_shopper()
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    assert offer["reward_quote_cents"] >= POLICY["minimum_cents"]
    client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers)
    client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert _rewards_of(db, receipt["order_id"]) == []
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": receipt["delivery_code"]}
    assert client.post(
        f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=shopper.headers
    ).is_success
    assert _rewards_of(db, receipt["order_id"]) == [(offer["reward_quote_cents"], 1)]
    wallet = client.get("/shopper/wallet", headers=shopper.headers).json()
    assert wallet["cash_payable_cents"] == offer["reward_quote_cents"]


def test_without_a_policy_offers_use_the_compensation_rule_and_delivery_still_succeeds(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """No policy published: the quote is the matcher's rule (at least 1.50 per order), delivery is recorded."""
    shopper = make_shopper()
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    assert offer["reward_quote_cents"] >= 150
    client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers)
    client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": receipt["delivery_code"]}
    delivered = client.post(f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=shopper.headers)
    assert delivered.json()["status"] == "delivered"
    assert _rewards_of(db, receipt["order_id"]) == []
