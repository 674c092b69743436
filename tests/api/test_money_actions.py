"""The money actions taken by hand, over HTTP against the real services: finance reverses a disputed reward and
credits a delivery recorded without one; operations register who brought a shopper and take store credit at
the till. Each route: the happy path, the wrong role (403), bad input (422), a replay under the same
`Idempotency-Key` (200 with `Idempotent-Replayed: true`) and its conflicts (409)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_support import Account, assert_problem, ingest, keyed
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from rewards_flow import POLICY, Owed, credit_without_proof, deliver_through_the_app, prepare_batch, publish_policy

from api.fields import IDEMPOTENCY_KEY_MAX_LENGTH
from api.money_schemas import MAX_REDEMPTION_CENTS
from crowdship.clock import ManualClock
from dispatch.model import Store
from rewards.policy import PaymentMethod

ANY_ID = "00000000-0000-4000-8000-000000000000"


def wallet(client: TestClient, shopper: Account) -> dict[str, Any]:
    response = client.get("/shopper/wallet", headers=shopper.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def discrepancies(client: TestClient, finance: Account) -> list[tuple[str, str]]:
    report = client.get("/finance/reconciliation", headers=finance.headers).json()
    return [(item["kind"], item["subject_id"]) for item in report["discrepancies"]]


def pay_out(client: TestClient, clock: ManualClock, finance: Account, second_finance: Account) -> None:
    """Every cash balance paid: prepared by one finance user, approved and paid by another."""
    url = f"/finance/batches/{prepare_batch(client, finance, clock, 'prep-pay-out')['id']}"
    assert client.post(f"{url}/approve", headers=second_finance.headers).status_code == 200
    assert client.post(f"{url}/pay", headers=keyed(second_finance, "pay-out")).status_code == 200


# --------------------------------------------------------------------------------------------------
# POST /finance/orders/{order_id}/reward-reversal


def test_finance_reverses_a_disputed_reward_with_its_referral_bonus_once_and_a_retry_is_replayed(
    client: TestClient,
    ops: Account,
    approver: Account,
    finance: Account,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
) -> None:
    publish_policy(client, ops, approver, referral_commission_bps=1_000, referral_first_deliveries=3)
    referrer, newcomer = make_shopper("Rita"), make_shopper("Nico")
    referred = client.post(
        "/ops/referrals",
        json={"referrer_shopper_id": str(referrer.shopper_id), "referred_shopper_id": str(newcomer.shopper_id)},
        headers=ops.headers,
    )
    assert referred.status_code == 201, referred.text
    credit = credit_without_proof(db, store, clock, newcomer)
    assert credit.referral_commission_cents > 0
    url = f"/finance/orders/{credit.order_id}/reward-reversal"
    body = {"reason": "recipient says nothing arrived"}

    first = client.post(url, json=body, headers=keyed(finance, "rev-1"))
    assert first.status_code == 201, first.text
    assert first.json()["reversed_ids"] == [str(credit.transaction_id), str(credit.referral_transaction_id)]
    assert len(first.json()["reversal_ids"]) == 2
    assert wallet(client, newcomer)["cash_payable_cents"] == 0
    assert wallet(client, referrer)["cash_payable_cents"] == 0

    again = client.post(url, json=body, headers=keyed(finance, "rev-1"))
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
    assert again.json() == first.json()
    reused = assert_problem(client.post(url, json={"reason": "another"}, headers=keyed(finance, "rev-1")), 409)
    assert reused["type"] == "/problems/idempotency-key-reused"
    twice = assert_problem(client.post(url, json=body, headers=keyed(finance, "rev-2")), 409)
    assert twice["type"] == "/problems/reward-already-reversed"
    assert twice["detail"] == f"the reward of order {credit.order_id} was already reversed"

    audit = client.get("/finance/audit", params={"subject_kind": "ledger_transaction"}, headers=finance.headers)
    reversed_by = [(e["action"], e["actor_id"], e["details"]["reason"]) for e in audit.json()["items"]]
    assert reversed_by == [("transaction.reversed", str(finance.user_id), body["reason"])] * 2
    assert discrepancies(client, finance) == []


def test_a_reward_already_paid_out_is_not_reversed_and_the_problem_says_it_was_paid_out(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    credit = owed("Ana").credit
    pay_out(client, clock, finance, second_finance)
    url = f"/finance/orders/{credit.order_id}/reward-reversal"
    refused = assert_problem(client.post(url, json={"reason": "dispute"}, headers=keyed(finance, "rev-1")), 409)
    assert refused["type"] == "/problems/reward-no-longer-held"
    assert "the shopper no longer holds it (it was paid out" in refused["detail"]
    assert (
        client.get("/finance/audit", params={"subject_kind": "ledger_transaction"}, headers=finance.headers).json()[
            "items"
        ]
        == []
    )
    unknown = f"/finance/orders/{ANY_ID}/reward-reversal"
    assert_problem(client.post(unknown, json={"reason": "dispute"}, headers=keyed(finance, "rev-2")), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "x" * 201}, "reason"), ({"reason": "   "}, "reason")],
    ids=["missing", "empty", "too-long", "blank"],
)
def test_a_reward_reversal_needs_a_reason(
    client: TestClient,
    finance: Account,
    body: dict[str, Any],
    field: str,
    owed: Callable[..., Owed],
) -> None:
    credit = owed().credit
    url = f"/finance/orders/{credit.order_id}/reward-reversal"
    problem = assert_problem(client.post(url, json=body, headers=keyed(finance, "rev-1")), 422)
    assert [error["field"] for error in problem["errors"]] == [field]


def test_a_reward_reversal_is_for_finance_with_a_bounded_key(
    client: TestClient, ops: Account, finance: Account, make_shopper: Callable[..., Account]
) -> None:
    url = f"/finance/orders/{ANY_ID}/reward-reversal"
    body = {"reason": "dispute"}
    assert_problem(client.post(url, json=body, headers=keyed(ops, "rev-1")), 403)
    assert_problem(client.post(url, json=body, headers=keyed(make_shopper(), "rev-1")), 403)
    missing = assert_problem(client.post(url, json=body, headers=finance.headers), 422)
    assert missing["errors"][0]["field"] == "Idempotency-Key"
    too_long = "k" * (IDEMPOTENCY_KEY_MAX_LENGTH + 1)
    assert_problem(client.post(url, json=body, headers=keyed(finance, too_long)), 422)
    assert_problem(client.post(url, json=body, headers=keyed(finance, "k" * IDEMPOTENCY_KEY_MAX_LENGTH)), 404)
    assert_problem(
        client.post("/finance/orders/not-an-id/reward-reversal", json=body, headers=keyed(finance, "k")), 422
    )


# --------------------------------------------------------------------------------------------------
# POST /finance/orders/{order_id}/reward


def test_a_delivery_made_before_any_policy_is_credited_later_by_finance_from_its_offer(
    client: TestClient,
    ops: Account,
    approver: Account,
    finance: Account,
    make_shopper: Callable[..., Account],
    store: Store,
    clock: ManualClock,
) -> None:
    """Delivered through the app while no policy was in force: no credit, reconciliation says so. Without a
    version (none was in force at the delivery) it is refused; by the version approved since, it is credited
    to the shopper who delivered it, from the offer's detour; once."""
    ana = make_shopper("Ana")
    delivered = deliver_through_the_app(client, ops, store, clock, ana, ref="WEB-BEFORE-POLICY")
    order_id = delivered["order_id"]
    assert discrepancies(client, finance) == [("delivered_without_reward", order_id)]
    url = f"/finance/orders/{order_id}/reward"
    none_in_force = assert_problem(client.post(url, headers=keyed(finance, "late-0")), 409)
    assert none_in_force["type"] == "/problems/no-policy-in-force"
    assert "name the approved version" in none_in_force["detail"]

    clock.advance(timedelta(hours=1))
    version = publish_policy(client, ops, approver)["version"]
    first = client.post(url, json={"policy_version": version}, headers=keyed(finance, "late-1"))
    assert first.status_code == 201, first.text
    credited = first.json()
    assert (credited["shopper_id"], credited["policy_version"]) == (str(ana.shopper_id), version)
    assert credited["amount_cents"] >= 300
    rewards = client.get("/shopper/wallet/rewards", headers=ana.headers).json()["items"]
    assert [(r["order_id"], r["amount_cents"]) for r in rewards] == [(order_id, credited["amount_cents"])]
    inputs = rewards[0]["inputs"]
    assert (inputs["extra_distance_m"], inputs["extra_duration_s"], inputs["bags"]) == (
        delivered["extra_distance_m"],
        delivered["extra_duration_s"],
        1,
    )
    assert wallet(client, ana)["cash_payable_cents"] == credited["amount_cents"]
    assert discrepancies(client, finance) == []

    again = client.post(url, json={"policy_version": version}, headers=keyed(finance, "late-1"))
    assert (again.status_code, again.headers["idempotent-replayed"], again.json()) == (200, "true", credited)
    reused = assert_problem(client.post(url, json={}, headers=keyed(finance, "late-1")), 409)
    assert reused["type"] == "/problems/idempotency-key-reused"
    twice = assert_problem(client.post(url, json={"policy_version": version}, headers=keyed(finance, "late-2")), 409)
    assert twice["type"] == "/problems/already-rewarded"
    audit = client.get(
        "/finance/audit", params={"subject_kind": "order", "subject_id": order_id}, headers=finance.headers
    ).json()["items"]
    assert [(e["action"], e["actor_id"]) for e in audit] == [("reward.credited", str(finance.user_id))]


def test_crediting_a_delivery_is_for_finance_by_an_approved_version_of_a_delivered_order(
    client: TestClient,
    ops: Account,
    approver: Account,
    finance: Account,
    make_shopper: Callable[..., Account],
    store: Store,
    clock: ManualClock,
) -> None:
    version = publish_policy(client, ops, approver)["version"]
    proposed = client.post("/policies", json={"parameters": {**POLICY, "base_cents": 100}}, headers=ops.headers)
    assert proposed.status_code == 201, proposed.text
    pending = ingest(
        client,
        ops,
        store,
        clock,
        key="order-pending",
        ref="WEB-PENDING",
        dropoff_address="1 Pending St",
        recipient_name="Lee",
        value_cents=1_000,
    )["order_id"]
    url = f"/finance/orders/{pending}/reward"
    body = {"policy_version": version}
    assert_problem(client.post(url, json=body, headers=keyed(ops, "late-1")), 403)
    assert_problem(client.post(url, json=body, headers=keyed(make_shopper(), "late-1")), 403)
    for bad in ({"policy_version": 0}, {"policy_version": "three"}, {"policy_version": 1.5}, {"version": 1}):
        assert_problem(client.post(url, json=bad, headers=keyed(finance, "late-bad")), 422)
    assert_problem(client.post(url, json=body, headers=finance.headers), 422)  # no key
    for unusable in (99, proposed.json()["version"]):
        problem = assert_problem(
            client.post(url, json={"policy_version": unusable}, headers=keyed(finance, f"late-{unusable}")), 422
        )
        assert problem["errors"][0]["field"] == "policy_version"
    not_delivered = assert_problem(client.post(url, json=body, headers=keyed(finance, "late-2")), 409)
    assert not_delivered["type"] == "/problems/delivery-not-recorded"
    assert "pending, not delivered" in not_delivered["detail"]
    assert_problem(client.post(f"/finance/orders/{ANY_ID}/reward", json=body, headers=keyed(finance, "late-3")), 404)


# --------------------------------------------------------------------------------------------------
# POST /ops/referrals, GET /ops/shoppers/{id}/referral


def test_operations_register_who_brought_a_new_shopper_once_and_read_it_back(
    client: TestClient,
    ops: Account,
    finance: Account,
    approver: Account,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
) -> None:
    rita, nico, vera = make_shopper("Rita"), make_shopper("Nico"), make_shopper("Vera")

    def refer(referrer: Any, referred: Any, who: Account = ops) -> Any:
        body = {"referrer_shopper_id": str(referrer), "referred_shopper_id": str(referred)}
        return client.post("/ops/referrals", json=body, headers=who.headers)

    assert_problem(refer(rita.shopper_id, nico.shopper_id, finance), 403)
    created = refer(rita.shopper_id, nico.shopper_id)
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == str(ops.user_id)
    read = client.get(f"/ops/shoppers/{nico.shopper_id}/referral", headers=ops.headers)
    assert read.status_code == 200
    assert read.json()["referrer_shopper_id"] == str(rita.shopper_id)
    assert_problem(client.get(f"/ops/shoppers/{nico.shopper_id}/referral", headers=finance.headers), 403)
    nobody = assert_problem(client.get(f"/ops/shoppers/{rita.shopper_id}/referral", headers=ops.headers), 404)
    assert "no referral is registered" in nobody["detail"]

    again = assert_problem(refer(vera.shopper_id, nico.shopper_id), 409)
    assert again["type"] == "/problems/already-referred"
    themselves = assert_problem(refer(vera.shopper_id, vera.shopper_id), 422)
    assert themselves["errors"][0]["field"] == "referred_shopper_id"
    unknown = assert_problem(refer(ANY_ID, vera.shopper_id), 422)
    assert unknown["errors"] == [{"field": "referrer_shopper_id", "message": "no shopper has this id"}]
    assert_problem(refer("not-an-id", vera.shopper_id), 422)
    assert_problem(
        client.post("/ops/referrals", json={"referrer_shopper_id": str(rita.shopper_id)}, headers=ops.headers), 422
    )

    publish_policy(client, ops, approver)  # only now: the referral was registered before any policy
    credit_without_proof(db, store, clock, vera)
    delivered = assert_problem(refer(rita.shopper_id, vera.shopper_id), 422)
    assert "already delivered" in delivered["detail"]


# --------------------------------------------------------------------------------------------------
# POST /ops/shoppers/{shopper_id}/store-credit-redemptions


def test_store_credit_is_spent_at_the_till_once_per_key_and_never_beyond_the_balance(
    client: TestClient,
    ops: Account,
    finance: Account,
    owed: Callable[..., Owed],
) -> None:
    ana, credit = owed("Ana", method=PaymentMethod.STORE_CREDIT)
    held = credit.amount_cents
    url = f"/ops/shoppers/{ana.shopper_id}/store-credit-redemptions"

    first = client.post(url, json={"amount_cents": 100}, headers=keyed(ops, "till-1"))
    assert first.status_code == 201, first.text
    assert first.json()["amount_cents"] == 100
    assert first.json()["shopper_id"] == str(ana.shopper_id)
    again = client.post(url, json={"amount_cents": 100}, headers=keyed(ops, "till-1"))
    assert (again.status_code, again.headers["idempotent-replayed"], again.json()) == (200, "true", first.json())
    assert wallet(client, ana)["store_credit_cents"] == held - 100
    reused = assert_problem(client.post(url, json={"amount_cents": 200}, headers=keyed(ops, "till-1")), 409)
    assert reused["type"] == "/problems/idempotency-key-reused"
    beyond = assert_problem(client.post(url, json={"amount_cents": held}, headers=keyed(ops, "till-2")), 409)
    assert beyond["type"] == "/problems/not-enough-store-credit"
    assert beyond["detail"].startswith(f"the shopper holds ${(held - 100) / 100:.2f} of store credit")
    assert wallet(client, ana)["store_credit_cents"] == held - 100

    assert_problem(client.post(url, json={"amount_cents": 100}, headers=keyed(finance, "till-3")), 403)
    assert_problem(client.post(url, json={"amount_cents": 100}, headers=keyed(ana, "till-3")), 403)
    for bad in (0, -5, MAX_REDEMPTION_CENTS + 1, 1.5, "ten"):
        problem = assert_problem(client.post(url, json={"amount_cents": bad}, headers=keyed(ops, "till-bad")), 422)
        assert problem["errors"][0]["field"] == "amount_cents"
    assert_problem(client.post(url, json={"amount_cents": 100}, headers=ops.headers), 422)  # no key
    unknown = f"/ops/shoppers/{ANY_ID}/store-credit-redemptions"
    assert_problem(client.post(unknown, json={"amount_cents": 100}, headers=keyed(ops, "till-4")), 404)
