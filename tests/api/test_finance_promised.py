"""Over HTTP, money an approved payout batch is to pay: a reward reversal is refused by name (409
`reward-no-longer-held`, naming the batch) for each finance user, under their own key or the same key; once the
batch is rejected the first key, refused before, carries the reversal out, and its retry is replayed."""

from __future__ import annotations

from collections.abc import Callable

from api_support import Account, assert_problem, keyed
from fastapi.testclient import TestClient
from rewards_flow import Owed, prepare_batch

from crowdship.clock import ManualClock


def test_a_reversal_waits_for_the_approved_batch_that_is_to_pay_the_reward_to_be_rejected(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    ana, credit = owed("Ana")
    batch = prepare_batch(client, finance, clock, "prep")
    batch_url = f"/finance/batches/{batch['id']}"
    assert client.post(f"{batch_url}/approve", headers=second_finance.headers).status_code == 200

    url = f"/finance/orders/{credit.order_id}/reward-reversal"
    body = {"reason": "disputed"}
    for who in (finance, second_finance):  # the same key, each caller's own
        refused = assert_problem(client.post(url, json=body, headers=keyed(who, "rev")), 409)
        assert refused["type"] == "/problems/reward-no-longer-held"
        assert f"approved payout batch {batch['id']} is to pay it (reject that batch first" in refused["detail"]
    assert client.get("/shopper/wallet", headers=ana.headers).json()["cash_payable_cents"] == credit.amount_cents
    assert client.get(f"{batch_url}/export", headers=finance.headers).status_code == 200

    exported = assert_problem(
        client.post(f"{batch_url}/reject", json={"reason": "reward disputed"}, headers=second_finance.headers), 409
    )
    assert exported["type"] == "/problems/batch-exported"
    withdrawn = {"reason": "reward disputed; bank file withdrawn", "bank_file_withdrawn": True}
    rejected = client.post(f"{batch_url}/reject", json=withdrawn, headers=second_finance.headers)
    assert rejected.status_code == 200, rejected.text
    reversed_ = client.post(url, json=body, headers=keyed(finance, "rev"))
    assert reversed_.status_code == 201, reversed_.text
    again = client.post(url, json=body, headers=keyed(finance, "rev"))
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
    assert again.json() == reversed_.json()
    other = assert_problem(client.post(url, json=body, headers=keyed(second_finance, "rev")), 409)
    assert other["type"] == "/problems/reward-already-reversed"
    assert client.get("/shopper/wallet", headers=ana.headers).json()["cash_payable_cents"] == 0
    assert_problem(client.get(f"{batch_url}/export", headers=finance.headers), 409)
    report = client.get("/finance/reconciliation", headers=finance.headers).json()
    assert report["discrepancies"] == []
