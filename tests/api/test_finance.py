"""Finance over HTTP against the real services: payout batches from preparation to payment, holds, four
eyes, rejection, idempotent preparation and payment, CSV export, reconciliation, a shopper's ledger, the
audit log, and who may call what."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta, timezone
from typing import Any

import httpx2
import hypothesis
import pytest
import schemathesis
from api_support import Account, assert_problem, keyed
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from rewards_flow import (
    Owed,
    credit_without_proof,
    deliver_through_the_app,
    payout_period,
    prepare_batch,
    publish_policy,
)
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.fields import IDEMPOTENCY_KEY_MAX_LENGTH
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.model import Store

SCHEMA_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ANY_ID = "00000000-0000-4000-8000-000000000000"
FINANCE_ROUTES = [
    ("POST", "/finance/batches"),
    ("GET", "/finance/batches"),
    ("GET", f"/finance/batches/{ANY_ID}"),
    ("POST", f"/finance/batches/{ANY_ID}/lines/{ANY_ID}/hold"),
    ("POST", f"/finance/batches/{ANY_ID}/lines/{ANY_ID}/release"),
    ("POST", f"/finance/batches/{ANY_ID}/approve"),
    ("POST", f"/finance/batches/{ANY_ID}/reject"),
    ("POST", f"/finance/batches/{ANY_ID}/pay"),
    ("GET", f"/finance/batches/{ANY_ID}/export"),
    ("GET", "/finance/reconciliation"),
    ("GET", f"/finance/shoppers/{ANY_ID}/ledger"),
    ("GET", "/finance/audit"),
]


def _line_of(batch: dict[str, Any], shopper: Account) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [line for line in batch["lines"] if line["shopper_id"] == str(shopper.shopper_id)]
    assert len(lines) == 1
    return lines[0]


@pytest.fixture
def draft_batch(client: TestClient, finance: Account, clock: ManualClock, owed: Callable[..., Owed]) -> dict[str, Any]:
    """A draft batch prepared by `finance` with one line: Ana's reward, flagged for its missing proof."""
    owed()
    return prepare_batch(client, finance, clock, "draft-1")


def _approve(client: TestClient, batch: dict[str, Any], approver: Account) -> None:
    """The second pair of eyes approves the batch as it stands."""
    approved = client.post(f"/finance/batches/{batch['id']}/approve", headers=approver.headers)
    assert approved.status_code == 200, approved.text


def test_a_batch_goes_from_preparation_to_payment_with_a_held_line_and_four_eyes(
    client: TestClient,
    ops: Account,
    finance: Account,
    second_finance: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    owed: Callable[..., Owed],
) -> None:
    """Prepare → hold → preparer's approval refused → second approval → pay → wallet, CSV, ledger and
    reconciliation all agree; the held shopper's money stays for the next batch."""
    ana = make_shopper("Ana")
    offer = deliver_through_the_app(client, ops, store, clock, ana, ref="WEB-ANA")
    ben, ben_credit = owed("Ben")
    ana_cents = offer["reward_quote_cents"]
    assert ana_cents >= 300

    batch = prepare_batch(client, finance, clock, "batch-1")
    assert batch["status"] == "draft"
    assert batch["prepared_by"] == str(finance.user_id)
    assert _line_of(batch, ana)["amount_cents"] == ana_cents
    assert _line_of(batch, ana)["flags"] == []
    ben_line = _line_of(batch, ben)
    assert ben_line["amount_cents"] == ben_credit.amount_cents
    assert [flag["code"] for flag in ben_line["flags"]] == ["no_position_proof"]
    assert batch["total_cents"] == ana_cents + ben_credit.amount_cents
    assert batch["flagged_lines"] == 1
    batch_url = f"/finance/batches/{batch['id']}"

    held = client.post(
        f"{batch_url}/lines/{ben_line['id']}/hold", json={"reason": "no proof of delivery"}, headers=finance.headers
    )
    assert held.status_code == 200, held.text
    assert _line_of(held.json(), ben)["held"] is True
    assert held.json()["payable_cents"] == ana_cents
    released = client.post(f"{batch_url}/lines/{ben_line['id']}/release", headers=finance.headers)
    assert _line_of(released.json(), ben)["held"] is False
    client.post(f"{batch_url}/lines/{ben_line['id']}/hold", json={"reason": "still no proof"}, headers=finance.headers)

    refused = assert_problem(client.post(f"{batch_url}/approve", headers=finance.headers), 403)
    assert "another finance user" in refused["detail"]
    assert client.get(batch_url, headers=finance.headers).json()["status"] == "draft"
    approved = client.post(f"{batch_url}/approve", headers=second_finance.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == str(second_finance.user_id)
    assert_problem(
        client.post(f"{batch_url}/lines/{ben_line['id']}/release", headers=finance.headers), 409
    )  # approved batches are not edited

    pay_headers = keyed(second_finance, "pay-1")
    paid = client.post(f"{batch_url}/pay", headers=pay_headers)
    assert paid.status_code == 200, paid.text
    assert paid.json()["paid_cents"] == ana_cents
    assert len(paid.json()["transaction_ids"]) == 1
    assert client.post(f"{batch_url}/pay", headers=pay_headers).json() == paid.json()
    assert_problem(client.post(f"{batch_url}/pay", headers=keyed(second_finance, "p2")), 409)

    assert client.get("/shopper/wallet", headers=ana.headers).json() == {
        "store_credit_cents": 0,
        "cash_payable_cents": 0,
    }
    assert client.get("/shopper/wallet", headers=ben.headers).json()["cash_payable_cents"] == ben_credit.amount_cents

    _the_export_has_the_paid_line_only(client, finance, batch, ana, ana_cents)
    report = client.get("/finance/reconciliation", headers=finance.headers).json()
    assert report["agrees"] is True, report["discrepancies"]
    assert (report["rewards_checked"], report["paid_lines_checked"]) == (2, 1)
    _the_ledger_shows_reward_then_payout(client, finance, ana, _line_of(batch, ana)["id"], ana_cents)
    _the_audit_log_tells_the_story(client, finance, batch["id"])

    nxt = prepare_batch(client, finance, clock, "batch-2")
    assert [line["shopper_id"] for line in nxt["lines"]] == [str(ben.shopper_id)]


def _the_export_has_the_paid_line_only(
    client: TestClient, finance: Account, batch: dict[str, Any], ana: Account, ana_cents: int
) -> None:
    """The bank upload: Ana's paid line, Ben's held one left out; UTF-8 with a BOM, every field quoted."""
    export = client.get(f"/finance/batches/{batch['id']}/export", headers=finance.headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert f"payout-batch-{batch['id']}.csv" in export.headers["content-disposition"]
    assert export.content.startswith(b'\xef\xbb\xbf"batch_id","status"')
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [row["shopper_id"] for row in rows] == [str(ana.shopper_id)]
    assert (rows[0]["amount_cents"], rows[0]["payee_name"], rows[0]["status"]) == (str(ana_cents), "Ana", "paid")


def _the_ledger_shows_reward_then_payout(
    client: TestClient, finance: Account, shopper: Account, line_id: str, cents: int
) -> None:
    ledger = client.get(f"/finance/shoppers/{shopper.shopper_id}/ledger", headers=finance.headers).json()
    assert ledger["total"] == 2
    newest, oldest = ledger["items"]
    assert (oldest["kind"], oldest["amount_cents"], oldest["balance_after_cents"]) == ("delivery_reward", cents, cents)
    assert (newest["kind"], newest["amount_cents"], newest["balance_after_cents"]) == ("payout", -cents, 0)
    assert newest["payout_line_id"] == line_id


def _the_audit_log_tells_the_story(client: TestClient, finance: Account, batch_id: str) -> None:
    audit = client.get("/finance/audit", params={"subject_id": batch_id}, headers=finance.headers).json()
    assert [entry["action"] for entry in audit["items"]] == [
        "batch.exported",
        "batch.paid",
        "batch.approved",
        "line.held",
        "line.released",
        "line.held",
        "batch.prepared",
    ]
    first_page = client.get("/finance/audit", params={"limit": 2}, headers=finance.headers).json()
    second_page = client.get("/finance/audit", params={"limit": 2, "offset": 2}, headers=finance.headers).json()
    assert first_page["total"] == second_page["total"] >= 8
    sequences = [entry["sequence"] for entry in first_page["items"] + second_page["items"]]
    assert len(sequences) == 4
    assert sequences == sorted(sequences, reverse=True)


def test_the_preparer_cannot_overrule_a_hold_and_an_approval_of_an_older_revision_is_refused(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    make_staff: Callable[[Role], Account],
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """A prepares, B holds Ben's line: A's release is 403 `hold-placed-by-another` and A cannot hold it anew
    (409). A third person releases it; B's approval naming the revision B reviewed is 409 `batch-changed`,
    and the batch stays a draft; B approves the revision it is at."""
    ben = owed("Ben").shopper
    batch = prepare_batch(client, finance, clock, "eyes-1")
    assert batch["revision"] == 0
    line_url = f"/finance/batches/{batch['id']}/lines/{_line_of(batch, ben)['id']}"
    held = client.post(f"{line_url}/hold", json={"reason": "suspicious"}, headers=second_finance.headers)
    reviewed = held.json()["revision"]
    assert reviewed == 1

    refused = assert_problem(client.post(f"{line_url}/release", headers=finance.headers), 403)
    assert refused["type"] == "/problems/hold-placed-by-another"
    assert "another finance user must release it" in refused["detail"]
    rehold = client.post(f"{line_url}/hold", json={"reason": "mine"}, headers=finance.headers)
    assert assert_problem(rehold, 409)["type"] == "/problems/line-already-held"

    released = client.post(f"{line_url}/release", headers=make_staff(Role.FINANCE).headers)
    assert released.json()["revision"] == 2
    approve_url = f"/finance/batches/{batch['id']}/approve"
    stale = assert_problem(client.post(approve_url, json={"revision": reviewed}, headers=second_finance.headers), 409)
    assert stale["type"] == "/problems/batch-changed"
    assert "changed since you reviewed it" in stale["detail"]
    assert client.get(f"/finance/batches/{batch['id']}", headers=finance.headers).json()["status"] == "draft"
    approved = client.post(approve_url, json={"revision": 2}, headers=second_finance.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"


def test_who_released_a_hold_another_placed_cannot_approve_the_batch(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    make_staff: Callable[[Role], Account],
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """A prepares and holds Ben's line, B releases it: B's approval would pay Ben on B's word alone, so it is
    403 `released-anothers-hold` and the batch stays a draft; a third finance user approves it."""
    ben = owed("Ben").shopper
    batch = prepare_batch(client, finance, clock, "eyes-2")
    line_url = f"/finance/batches/{batch['id']}/lines/{_line_of(batch, ben)['id']}"
    assert client.post(f"{line_url}/hold", json={"reason": "check ID"}, headers=finance.headers).status_code == 200
    released = client.post(f"{line_url}/release", headers=second_finance.headers).json()
    assert _line_of(released, ben)["hold_released_by"] == str(second_finance.user_id)

    approve_url = f"/finance/batches/{batch['id']}/approve"
    refused = assert_problem(client.post(approve_url, headers=second_finance.headers), 403)
    assert refused["type"] == "/problems/released-anothers-hold"
    assert "another finance user must approve" in refused["detail"]
    assert client.get(f"/finance/batches/{batch['id']}", headers=finance.headers).json()["status"] == "draft"
    approved = client.post(approve_url, headers=make_staff(Role.FINANCE).headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"


def test_only_an_approved_or_paid_batch_is_exported_for_the_bank(
    client: TestClient,
    finance: Account,
    draft_batch: dict[str, Any],
) -> None:
    """A draft may still change and a rejected batch pays nothing: both exports are 409 `batch-not-exportable`."""
    export_url = f"/finance/batches/{draft_batch['id']}/export"
    draft = assert_problem(client.get(export_url, headers=finance.headers), 409)
    assert draft["type"] == "/problems/batch-not-exportable"
    assert "is draft: only an approved or paid batch is exported" in draft["detail"]
    client.post(
        f"/finance/batches/{draft_batch['id']}/reject", json={"reason": "wrong period"}, headers=finance.headers
    )
    assert "is rejected" in assert_problem(client.get(export_url, headers=finance.headers), 409)["detail"]


def test_an_exported_batch_records_who_exported_it_and_is_rejected_only_once_its_bank_file_is_withdrawn(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """Each export is recorded (who, when) on the batch and in the audit log; rejecting the batch afterwards
    frees its lines for the next batch, so it is refused with 409 `batch-exported` unless the request says the
    bank file was withdrawn."""
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "exported-1")
    batch_url = f"/finance/batches/{batch['id']}"
    assert batch["exports"] == []
    client.post(f"{batch_url}/approve", headers=second_finance.headers)
    assert client.get(f"{batch_url}/export", headers=second_finance.headers).status_code == 200
    exported_at = clock.now()
    clock.advance(timedelta(minutes=5))
    assert client.get(f"{batch_url}/export", headers=finance.headers).status_code == 200
    exports = client.get(batch_url, headers=finance.headers).json()["exports"]
    assert [(e["exported_by"], e["exported_at"]) for e in exports] == [
        (str(second_finance.user_id), exported_at.isoformat().replace("+00:00", "Z")),
        (str(finance.user_id), clock.now().isoformat().replace("+00:00", "Z")),
    ]

    refused = assert_problem(
        client.post(f"{batch_url}/reject", json={"reason": "wrong period"}, headers=finance.headers), 409
    )
    assert refused["type"] == "/problems/batch-exported"
    assert "bank_file_withdrawn" in refused["detail"]
    assert client.get(batch_url, headers=finance.headers).json()["status"] == "approved"
    assert_problem(
        client.post(
            f"{batch_url}/reject",
            json={"reason": "wrong period", "bank_file_withdrawn": False},
            headers=finance.headers,
        ),
        409,
    )
    rejected = client.post(
        f"{batch_url}/reject",
        json={"reason": "bank file withdrawn before processing", "bank_file_withdrawn": True},
        headers=finance.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["bank_file_withdrawn"] is True
    audit = client.get("/finance/audit", params={"subject_id": batch["id"]}, headers=finance.headers).json()
    actions = [(entry["action"], entry["actor_id"]) for entry in audit["items"]]
    assert actions[:3] == [
        ("batch.rejected", str(finance.user_id)),
        ("batch.exported", str(finance.user_id)),
        ("batch.exported", str(second_finance.user_id)),
    ]
    assert audit["items"][0]["details"]["bank_file_withdrawn"] is True


def test_a_batch_never_exported_is_rejected_without_a_word_about_the_bank(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    draft_batch: dict[str, Any],
) -> None:
    """An approved batch nobody downloaded holds no bank file: it is rejected as before."""
    _approve(client, draft_batch, second_finance)
    rejected = client.post(
        f"/finance/batches/{draft_batch['id']}/reject", json={"reason": "wrong period"}, headers=finance.headers
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["bank_file_withdrawn"] is False


def test_rejecting_a_batch_releases_its_shoppers_for_the_next_one(
    client: TestClient,
    finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """A rejected batch pays nothing, cannot be paid, and its shoppers go in the next batch."""
    ana, credit = owed("Ana")
    batch = prepare_batch(client, finance, clock, "batch-r1")
    assert_problem(
        client.post("/finance/batches", json=payout_period(clock), headers=keyed(finance, "r2")),
        409,
    )  # Ana is in an open batch: nobody is left to pay
    rejected = client.post(
        f"/finance/batches/{batch['id']}/reject", json={"reason": "wrong period"}, headers=finance.headers
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "wrong period"
    assert [line["open"] for line in rejected.json()["lines"]] == [False]
    assert_problem(client.post(f"/finance/batches/{batch['id']}/pay", headers=keyed(finance, "p")), 409)
    assert client.get("/shopper/wallet", headers=ana.headers).json()["cash_payable_cents"] == credit.amount_cents
    clock.advance(timedelta(minutes=1))  # batches are listed by when they were prepared
    again = prepare_batch(client, finance, clock, "batch-r3")
    assert _line_of(again, ana)["amount_cents"] == credit.amount_cents
    listed = client.get("/finance/batches", params={"status": "rejected"}, headers=finance.headers).json()
    assert [b["id"] for b in listed["items"]] == [batch["id"]]
    assert client.get("/finance/batches", headers=finance.headers).json()["total"] == 2
    pages = [
        client.get("/finance/batches", params={"limit": 1, "offset": offset}, headers=finance.headers).json()
        for offset in (0, 1, 2)
    ]
    assert [[b["id"] for b in page["items"]] for page in pages] == [[batch["id"]], [again["id"]], []]
    assert {page["total"] for page in pages} == {2}


def test_a_retry_of_preparation_returns_the_first_batch_and_another_body_is_refused(
    client: TestClient,
    finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """Same key and body: 200 with the first batch and `Idempotent-Replayed`; same key, other body: 409."""
    owed()
    headers = keyed(finance, "prep-1")
    first = client.post("/finance/batches", json=payout_period(clock), headers=headers)
    second = client.post("/finance/batches", json=payout_period(clock), headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    other = {**payout_period(clock), "period_start": (clock.now() - timedelta(days=7)).isoformat()}
    problem = assert_problem(client.post("/finance/batches", json=other, headers=headers), 409)
    assert "idempotency key 'prep-1' was already used for a different request" in problem["detail"]
    assert str(finance.user_id) not in problem["detail"]  # the key as sent, not as kept
    assert client.get("/finance/batches", headers=finance.headers).json()["total"] == 1


def test_a_retry_of_preparation_with_the_period_written_in_another_offset_is_the_same_request(
    client: TestClient,
    finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """`...T00:00:00Z` and `...T19:00:00-05:00` the day before are one instant: the retry replays the batch."""
    owed()
    headers = keyed(finance, "prep-offsets")
    start, end = clock.now() - timedelta(days=1), clock.now() + timedelta(hours=1)
    in_utc = {"period_start": start.isoformat().replace("+00:00", "Z"), "period_end": end.isoformat()}
    five_behind = timezone(timedelta(hours=-5))
    in_new_york = {
        "period_start": start.astimezone(five_behind).isoformat(),
        "period_end": end.astimezone(five_behind).isoformat(),
    }
    assert in_new_york["period_start"] != in_utc["period_start"]
    first = client.post("/finance/batches", json=in_utc, headers=headers)
    retry = client.post("/finance/batches", json=in_new_york, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 200), retry.text
    assert retry.json()["id"] == first.json()["id"]


def test_a_retry_of_a_payment_is_replayed_and_its_key_on_another_batch_is_refused_by_its_own_name(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """As order intake and preparation: the first payment has no `Idempotent-Replayed`, its retry is the same
    answer with `Idempotent-Replayed: true`; the key used to pay another batch is 409 naming the key as sent."""
    owed("Ana")
    headers = keyed(second_finance, "pay-1")
    paid_url = f"/finance/batches/{prepare_batch(client, finance, clock, 'batch-a')['id']}"
    client.post(f"{paid_url}/approve", headers=second_finance.headers)
    first = client.post(f"{paid_url}/pay", headers=headers)
    retry = client.post(f"{paid_url}/pay", headers=headers)
    assert (first.status_code, retry.status_code) == (200, 200), first.text
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()

    clock.advance(timedelta(minutes=1))
    owed("Ben")
    other_url = f"/finance/batches/{prepare_batch(client, finance, clock, 'batch-b')['id']}"
    client.post(f"{other_url}/approve", headers=second_finance.headers)
    reused = assert_problem(client.post(f"{other_url}/pay", headers=headers), 409)
    assert reused["type"] == "/problems/idempotency-key-reused"
    assert "idempotency key 'pay-1' was already used for a different request" in reused["detail"]
    assert str(second_finance.user_id) not in reused["detail"]
    assert client.get(other_url, headers=finance.headers).json()["status"] == "approved"


def test_a_key_of_the_shared_length_limit_fits_the_ledger_once_scoped_to_the_caller(
    client: TestClient,
    finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """Finance keeps `"{user_id}:{key}"` within the ledger's 200 characters: the longest key the API takes
    prepares a batch and replays it; one character more is a 422 naming `Idempotency-Key`."""
    owed()
    longest = "k" * IDEMPOTENCY_KEY_MAX_LENGTH
    too_long = client.post("/finance/batches", json=payout_period(clock), headers=keyed(finance, longest + "k"))
    assert assert_problem(too_long, 422)["errors"][0]["field"] == "Idempotency-Key"
    headers = keyed(finance, longest)
    first = client.post("/finance/batches", json=payout_period(clock), headers=headers)
    second = client.post("/finance/batches", json=payout_period(clock), headers=headers)
    assert (first.status_code, second.status_code) == (201, 200), first.text
    assert second.json()["id"] == first.json()["id"]


def test_nothing_to_pay_is_a_conflict(client: TestClient, finance: Account, clock: ManualClock) -> None:
    """No shopper has cash to pay: 409, and no batch is kept."""
    problem = assert_problem(
        client.post("/finance/batches", json=payout_period(clock), headers=keyed(finance, "k")),
        409,
    )
    assert problem["type"] == "/problems/nothing-to-pay"
    assert client.get("/finance/batches", headers=finance.headers).json()["total"] == 0


def test_money_moving_routes_require_an_idempotency_key(
    client: TestClient, finance: Account, clock: ManualClock
) -> None:
    """Preparing and paying without the header: 422 naming `Idempotency-Key`."""
    for response in (
        client.post("/finance/batches", json=payout_period(clock), headers=finance.headers),
        client.post(f"/finance/batches/{ANY_ID}/pay", headers=finance.headers),
    ):
        assert assert_problem(response, 422)["errors"][0]["field"] == "Idempotency-Key"


def test_bad_input_is_a_422_naming_the_field(client: TestClient, finance: Account, clock: ManualClock) -> None:
    """A period that ends before it starts, a naive timestamp, a blank reason, a bad page: each names its field."""
    key = keyed(finance, "bad-1")
    backwards = {"period_start": clock.now().isoformat(), "period_end": (clock.now() - timedelta(days=1)).isoformat()}
    assert (
        assert_problem(client.post("/finance/batches", json=backwards, headers=key), 422)["errors"][0]["field"]
        == "period_end"
    )
    naive = {**payout_period(clock), "period_start": "2026-11-01T00:00:00"}
    assert (
        assert_problem(client.post("/finance/batches", json=naive, headers=key), 422)["errors"][0]["field"]
        == "period_start"
    )
    blank = client.post(f"/finance/batches/{ANY_ID}/reject", json={"reason": ""}, headers=finance.headers)
    assert assert_problem(blank, 422)["errors"][0]["field"] == "reason"
    page = client.get("/finance/audit", params={"limit": 0}, headers=finance.headers)
    assert assert_problem(page, 422)["errors"][0]["field"] == "limit"
    account = client.get(
        f"/finance/shoppers/{ANY_ID}/ledger", params={"account": "payouts_clearing"}, headers=finance.headers
    )
    assert assert_problem(account, 422)["errors"][0]["field"] == "account"


def test_unknown_batches_and_shoppers_are_not_found(client: TestClient, finance: Account) -> None:
    """A batch or shopper that does not exist: 404 problem, also for the export."""
    for path in (f"/finance/batches/{ANY_ID}", f"/finance/batches/{ANY_ID}/export"):
        assert_problem(client.get(path, headers=finance.headers), 404)
    assert_problem(client.post(f"/finance/batches/{ANY_ID}/approve", headers=finance.headers), 404)
    assert_problem(client.get(f"/finance/shoppers/{ANY_ID}/ledger", headers=finance.headers), 404)


def test_a_hold_needs_a_line_of_the_batch(
    client: TestClient,
    finance: Account,
    draft_batch: dict[str, Any],
) -> None:
    """Holding a line id that is not in the batch: 422 naming `line_id`; a blank-looking reason: `reason`."""
    url = f"/finance/batches/{draft_batch['id']}/lines"
    missing = client.post(f"{url}/{ANY_ID}/hold", json={"reason": "x"}, headers=finance.headers)
    assert assert_problem(missing, 422)["errors"][0]["field"] == "line_id"
    blank = client.post(f"{url}/{draft_batch['lines'][0]['id']}/hold", json={"reason": "   "}, headers=finance.headers)
    assert assert_problem(blank, 422)["errors"][0]["field"] == "reason"


@pytest.mark.parametrize(("method", "path"), FINANCE_ROUTES)
def test_finance_routes_refuse_callers_without_a_token(client: TestClient, method: str, path: str) -> None:
    """No bearer token: 401 with a challenge."""
    response = client.request(method, path)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), FINANCE_ROUTES)
def test_finance_routes_refuse_shoppers_and_operations(
    client: TestClient,
    make_shopper: Callable[..., Account],
    make_staff: Callable[[Role], Account],
    method: str,
    path: str,
) -> None:
    """A shopper and an operations user get 403 on every finance route."""
    for account in (make_shopper(), make_staff(Role.OPS)):
        assert_problem(client.request(method, path, headers=account.headers), 403)


def test_admins_have_every_finance_right(
    client: TestClient,
    make_staff: Callable[[Role], Account],
    draft_batch: dict[str, Any],
) -> None:
    """An admin reads the batches and approves one prepared by finance (they are the second pair of eyes)."""
    admin = make_staff(Role.ADMIN)
    assert client.get("/finance/batches", headers=admin.headers).json()["total"] == 1
    approved = client.post(f"/finance/batches/{draft_batch['id']}/approve", headers=admin.headers)
    assert approved.json()["approved_by"] == str(admin.user_id)


def test_racing_retries_of_a_preparation_make_one_batch(
    approver: Account,
    live_server: str,
    ops: Account,
    finance: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """Six parallel requests with one key and one body: one 201, five replays of the same batch."""
    headers = keyed(finance, "race-1")
    with httpx2.Client(base_url=live_server, timeout=30) as http, ThreadPoolExecutor(6) as pool:
        publish_policy(http, ops, approver)
        credit_without_proof(db, store, clock, make_shopper())
        responses = list(
            pool.map(lambda _: http.post("/finance/batches", json=payout_period(clock), headers=headers), range(6))
        )
        assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
        assert len({r.json()["id"] for r in responses}) == 1
        assert http.get("/finance/batches", headers=finance.headers).json()["total"] == 1


# --- The OpenAPI document, exercised with a finance token --------------------------------------------------

finance_schema = schemathesis.openapi.from_dict(create_app(Settings(environment="test")).openapi()).include(
    tag="finance"
)


@pytest.fixture
def finance_with_a_batch(
    finance: Account,
    draft_batch: dict[str, Any],
) -> Account:
    """A finance user, a policy, a flagged reward and a draft batch, so that listings have something to show."""
    _ = draft_batch
    return finance


@finance_schema.parametrize()
@hypothesis.settings(max_examples=10, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_the_finance_routes_honour_the_openapi_document(
    case: schemathesis.Case[Any], finance_with_a_batch: Account, live_server: str
) -> None:
    """With a finance token (the shared schemathesis run calls these with an ops token and gets 403): no
    5xx, and status, content type and body as documented."""
    headers = dict(case.headers or {})
    headers.setdefault("Authorization", finance_with_a_batch.headers["Authorization"])
    case.call_and_validate(base_url=live_server, headers=headers, checks=SCHEMA_CHECKS)


def test_a_hold_carries_over_to_the_next_batches_until_it_is_released(
    client: TestClient,
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """Ben's line is held and the batch paid without it: the next batch starts with his line held (saying
    where the hold came from); released there, it is paid, and the batch after holds nothing of his."""
    ben = owed("Ben").shopper
    first = prepare_batch(client, finance, clock, "b1")
    line = _line_of(first, ben)
    held = client.post(
        f"/finance/batches/{first['id']}/lines/{line['id']}/hold",
        json={"reason": "check the recipient"},
        headers=finance.headers,
    )
    assert held.status_code == 200, held.text
    _approve(client, first, second_finance)
    paid = client.post(f"/finance/batches/{first['id']}/pay", headers=keyed(finance, "p1"))
    assert paid.status_code == 200, paid.text

    clock.advance(timedelta(minutes=30))
    second = prepare_batch(client, finance, clock, "b2")
    carried = _line_of(second, ben)
    assert carried["held"] is True
    assert carried["hold_reason"] == f"carried over from batch {first['id']}: check the recipient"
    released = client.post(f"/finance/batches/{second['id']}/lines/{carried['id']}/release", headers=finance.headers)
    assert _line_of(released.json(), ben)["held"] is False
    _approve(client, second, second_finance)
    client.post(f"/finance/batches/{second['id']}/pay", headers=keyed(finance, "p2"))
    assert client.get("/finance/reconciliation", headers=finance.headers).json()["agrees"] is True

    clock.advance(timedelta(minutes=30))
    owed(shopper=ben)
    third = prepare_batch(client, finance, clock, "b3")
    assert _line_of(third, ben)["held"] is False
