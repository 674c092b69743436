"""Helpers of the finance, policy and wallet tests: publish a policy, earn rewards through the real flow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple
from uuid import uuid4

from api_support import ON_THE_WAY, Account, check_in, current_offer, ingest, keyed, run_batch
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Order, OrderStatus, Store, TrustTier
from rewards.adapters.postgres import PostgresRewardsRepositories
from rewards.policy import PaymentMethod, RewardInputs
from rewards.services import RewardCredit, credit_delivery_reward

POLICY: dict[str, Any] = {
    "base_cents": 250,
    "per_extra_km_cents": 40,
    "per_extra_minute_cents": 5,
    "per_bag_cents": 25,
    "minimum_cents": 300,
    "store_credit_bonus_bps": 12_000,
}


class Owed(NamedTuple):
    """A shopper and the reward they are owed (see the `owed` fixture of tests/api/conftest.py)."""

    shopper: Account
    credit: RewardCredit


def publish_policy(client: Any, ops: Account, approver: Account, **overrides: Any) -> dict[str, Any]:
    """Ops propose a version and a second person approves it: in force from now."""
    response = client.post(
        "/policies", json={"parameters": {**POLICY, **overrides}, "note": "test rates"}, headers=ops.headers
    )
    assert response.status_code == 201, response.text
    approved = client.post(f"/policies/{response.json()['version']}/approve", headers=approver.headers)
    assert approved.status_code == 200, approved.text
    policy: dict[str, Any] = approved.json()
    return policy


def payout_period(clock: ManualClock) -> dict[str, str]:
    """The body of a batch preparation: from a day ago to an hour from now (every reward of the test)."""
    return {
        "period_start": (clock.now() - timedelta(days=1)).isoformat(),
        "period_end": (clock.now() + timedelta(hours=1)).isoformat(),
    }


def prepare_batch(client: Any, finance: Account, clock: ManualClock, key: str) -> dict[str, Any]:
    """A payout batch of every cash balance owed, prepared by `finance` under the idempotency key `key`."""
    response = client.post("/finance/batches", json=payout_period(clock), headers=keyed(finance, key))
    assert response.status_code == 201, response.text
    batch: dict[str, Any] = response.json()
    return batch


def deliver_through_the_app(
    client: Any, ops: Account, store: Store, clock: ManualClock, shopper: Account, *, ref: str
) -> dict[str, Any]:
    """One order taken by the shopper end to end (intake, batch, accept, pickup, proof); returns the offer."""
    receipt = ingest(client, ops, store, clock, ref=ref)
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    assert client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers).status_code == 200
    picked = client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert picked.status_code == 200, picked.text
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": receipt["delivery_code"]}
    delivered = client.post(f"/shopper/orders/{receipt['order_id']}/delivery", json=proof, headers=shopper.headers)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "delivered"
    return {**offer, "order_id": receipt["order_id"]}


def credit_without_proof(
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
    shopper: Account,
    *,
    method: PaymentMethod = PaymentMethod.CASH,
    bags: int = 2,
) -> RewardCredit:
    """A delivered order with no position proof, credited by the rewards use case (as a disputed import
    would be): the anomaly rules flag it."""
    assert shopper.shopper_id is not None
    now = clock.now()
    order = Order(
        store_id=store.id,
        external_ref=f"IMPORT-{uuid4().hex[:8]}",
        dropoff=ON_THE_WAY,
        dropoff_address="9 Ocala Rd, Tallahassee",
        recipient_name="Lee Park",
        window_earliest=now - timedelta(hours=2),
        window_latest=now + timedelta(hours=1),
        dispatch_deadline=now - timedelta(hours=1),
        size_bags=bags,
        value_cents=Cents(2_500),
        created_at=now - timedelta(hours=3),
        status=OrderStatus.DELIVERED,
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.orders.add(order)
        credit = credit_delivery_reward(
            PostgresRewardsRepositories(uow.connection),
            order_id=order.id,
            shopper_id=shopper.shopper_id,
            inputs=RewardInputs(
                extra_distance_m=1_500,
                extra_duration_s=240,
                bags=bags,
                local_hour=now.hour,
                trust_tier=TrustTier.SILVER,
                method=method,
            ),
            delivered_at=now,
            idempotency_key=f"delivery-reward:{order.id}",
        )
        uow.commit()
    return credit


def shoppers_owed(
    db: ConnectionPool, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> Callable[..., Owed]:
    """The maker behind the `owed` fixtures (a policy must be in force): `make("Ben")` is a new shopper
    credited by `credit_without_proof`; `make(shopper=ben)` credits Ben once more; other keywords go to it."""

    def make(name: str = "Ana", *, shopper: Account | None = None, **credit: Any) -> Owed:
        account = shopper or make_shopper(name)
        return Owed(account, credit_without_proof(db, store, clock, account, **credit))

    return make
