"""Finance and operations decisions over HTTP retried after a lost answer: holding a line, releasing it, rejecting a
batch and recording a referral take no key, so the same person sending them again is answered with the thing as it
is (200), as an approval is (the commit really cut by `commit_cutter` for the hold and the rejection); another
person is still refused. Proposing a policy version creates one, so it takes the optional `Idempotency-Key`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_support import Account, assert_problem, keyed
from commit_cutter import commit_cutter, wait_for
from fastapi.testclient import TestClient
from rewards_flow import POLICY, Owed, prepare_batch

from api.app import create_app
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role


def _lost_then_retried(
    api_settings: Settings, clock: ManualClock, client: TestClient, url: str, body: dict[str, Any], who: Account
) -> Any:
    """The request's commit reaches PostgreSQL and its answer is lost (503, "may have been applied"); the same
    request again through a sound connection."""
    with commit_cutter(api_settings.require_database_url()) as (cutter, through):
        cut_settings = api_settings.model_copy(update={"database_url": through})
        with TestClient(create_app(cut_settings, clock=clock), raise_server_exceptions=False) as cut_client:
            cutter.arm()
            lost = cut_client.post(url, json=body, headers=who.headers)
    assert cutter.cut.is_set()
    assert "may have been applied" in assert_problem(lost, 503)["detail"]
    return client.post(url, json=body, headers=who.headers)


def _audit_actions(client: TestClient, batch_id: str, who: Account) -> list[str]:
    page = client.get("/finance/audit", params={"subject_id": batch_id}, headers=who.headers).json()
    return [entry["action"] for entry in reversed(page["items"])]


def test_a_hold_whose_answer_was_lost_answers_its_retry_with_the_line_held_once(
    api_settings: Settings,
    clock: ManualClock,
    client: TestClient,
    finance: Account,
    second_finance: Account,
    owed: Callable[..., Owed],
) -> None:
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "prepare-1")
    line = batch["lines"][0]
    url = f"/finance/batches/{batch['id']}/lines/{line['id']}/hold"
    retried = _lost_then_retried(api_settings, clock, client, url, {"reason": "check ID"}, second_finance)
    assert retried.status_code == 200, retried.text
    held = retried.json()["lines"][0]
    assert (held["held"], held["hold_reason"], held["held_by"]) == (True, "check ID", str(second_finance.user_id))
    assert retried.json()["revision"] == 1
    assert _audit_actions(client, batch["id"], finance) == ["batch.prepared", "line.held"]
    assert_problem(client.post(url, json={"reason": "mine"}, headers=finance.headers), 409)  # not the holder


def test_a_release_sent_twice_answers_both_with_the_line_free_and_audits_one_release(
    client: TestClient, clock: ManualClock, finance: Account, second_finance: Account, owed: Callable[..., Owed]
) -> None:
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "prepare-1")
    base = f"/finance/batches/{batch['id']}/lines/{batch['lines'][0]['id']}"
    assert client.post(f"{base}/hold", json={"reason": "check ID"}, headers=second_finance.headers).status_code == 200
    first = client.post(f"{base}/release", headers=second_finance.headers)
    again = client.post(f"{base}/release", headers=second_finance.headers)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert first.json() == again.json()
    assert _audit_actions(client, batch["id"], finance) == ["batch.prepared", "line.held", "line.released"]


def test_a_rejection_whose_answer_was_lost_answers_its_retry_with_the_batch_rejected_once(
    api_settings: Settings,
    clock: ManualClock,
    client: TestClient,
    finance: Account,
    second_finance: Account,
    owed: Callable[..., Owed],
) -> None:
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "prepare-1")
    url = f"/finance/batches/{batch['id']}/reject"
    retried = _lost_then_retried(api_settings, clock, client, url, {"reason": "wrong period"}, second_finance)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["rejected_by"]) == ("rejected", str(second_finance.user_id))
    assert wait_for(lambda: _audit_actions(client, batch["id"], finance) == ["batch.prepared", "batch.rejected"])
    assert_problem(client.post(url, json={"reason": "wrong period"}, headers=finance.headers), 409)


def test_a_referral_sent_again_by_who_recorded_it_answers_it_as_it_is_and_another_persons_is_refused(
    client: TestClient, ops: Account, make_staff: Callable[[Role], Account], make_shopper: Callable[..., Account]
) -> None:
    """Recording who brought a shopper takes no key: the same referral sent again by the one who recorded it is
    answered 200 with the referral (201 the first time), and nothing is written twice; a different referrer, or
    someone else recording the same, is still 409 `already-referred`."""
    rita, nico, vera = make_shopper("Rita"), make_shopper("Nico"), make_shopper("Vera")
    body = {"referrer_shopper_id": str(rita.shopper_id), "referred_shopper_id": str(nico.shopper_id)}
    first = client.post("/ops/referrals", json=body, headers=ops.headers)
    again = client.post("/ops/referrals", json=body, headers=ops.headers)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    other = {**body, "referrer_shopper_id": str(vera.shopper_id)}
    assert assert_problem(client.post("/ops/referrals", json=other, headers=ops.headers), 409)["type"] == (
        "/problems/already-referred"
    )
    assert_problem(client.post("/ops/referrals", json=body, headers=make_staff(Role.OPS).headers), 409)
    audit = client.get(
        "/finance/audit", params={"subject_id": str(nico.shopper_id)}, headers=make_staff(Role.FINANCE).headers
    )
    assert [entry["action"] for entry in audit.json()["items"]] == ["referral.registered"]


def test_a_policy_proposal_retried_with_its_idempotency_key_proposes_one_version(
    client: TestClient, ops: Account
) -> None:
    """Proposing creates a version: without a key a retry proposes a second one, so the route takes the optional
    `Idempotency-Key` every creating route takes: the retry answers the first version (200, replayed), the key
    with other numbers is 409."""
    body = {"parameters": POLICY, "note": "rates"}
    first = client.post("/policies", json=body, headers=keyed(ops, "propose-1"))
    again = client.post("/policies", json=body, headers=keyed(ops, "propose-1"))
    assert (first.status_code, again.status_code, again.headers.get("idempotent-replayed")) == (201, 200, "true")
    assert again.json()["version"] == first.json()["version"]
    other = {"parameters": {**POLICY, "base_cents": 300}, "note": "rates"}
    assert_problem(client.post("/policies", json=other, headers=keyed(ops, "propose-1")), 409)
    versions = client.get("/policies", headers=ops.headers).json()
    assert versions["total"] == 1
