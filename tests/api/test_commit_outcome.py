"""A connection lost while PostgreSQL commits leaves the outcome unknown: the server may have kept the change. The
API must not tell the client that nothing was applied (a client that believes it retries with a new key, and the
till takes the store credit twice); it says the change may have been applied and to retry with the same key,
which then acts once. The loss is made by `commit_cutter` between the API and the project's own test server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_support import Account, assert_problem, keyed
from commit_cutter import commit_cutter, redemptions, wait_for
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from rewards_flow import POLICY, Owed, prepare_batch
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli
from crowdship.clock import ManualClock
from crowdship.settings import Settings, get_settings
from rewards.policy import PaymentMethod


def test_a_commit_whose_answer_is_lost_says_it_may_be_applied_and_a_retry_with_its_key_acts_once(
    api_settings: Settings,
    clock: ManualClock,
    db: ConnectionPool,
    client: TestClient,
    ops: Account,
    owed: Callable[..., Owed],
) -> None:
    ana, credit = owed("Ana", method=PaymentMethod.STORE_CREDIT)
    url = f"/ops/shoppers/{ana.shopper_id}/store-credit-redemptions"
    with commit_cutter(api_settings.require_database_url()) as (cutter, through):
        cut_settings = api_settings.model_copy(update={"database_url": through})
        with TestClient(create_app(cut_settings, clock=clock), raise_server_exceptions=False) as cut_client:
            cutter.arm()
            lost = cut_client.post(url, json={"amount_cents": 100}, headers=keyed(ops, "till-lost"))
    assert cutter.cut.is_set(), "the request committed nothing"
    problem = assert_problem(lost, 503)
    assert "nothing was applied" not in problem["detail"]
    assert "may have been applied" in problem["detail"]
    assert "same Idempotency-Key" in problem["detail"]
    assert int(lost.headers["Retry-After"]) > 0
    assert wait_for(lambda: redemptions(db) == 1), "PostgreSQL did not keep the commit the client never heard of"

    retried = client.post(url, json={"amount_cents": 100}, headers=keyed(ops, "till-lost"))
    assert (retried.status_code, retried.headers["idempotent-replayed"]) == (200, "true")
    assert redemptions(db) == 1
    wallet = client.get("/shopper/wallet", headers=ana.headers).json()
    assert wallet["store_credit_cents"] == credit.amount_cents - 100


def test_an_approval_whose_answer_was_lost_answers_its_retry_with_the_batch_approved(
    api_settings: Settings,
    clock: ManualClock,
    client: TestClient,
    finance: Account,
    second_finance: Account,
    owed: Callable[..., Owed],
) -> None:
    """Approving takes no key: a retry by the same approver after a lost answer is told the batch is approved
    (as an offer accepted twice is), not refused as a move from approved to approved."""
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "prepare-1")
    url = f"/finance/batches/{batch['id']}/approve"
    with commit_cutter(api_settings.require_database_url()) as (cutter, through):
        cut_settings = api_settings.model_copy(update={"database_url": through})
        with TestClient(create_app(cut_settings, clock=clock), raise_server_exceptions=False) as cut_client:
            cutter.arm()
            lost = cut_client.post(url, headers=second_finance.headers)
    assert cutter.cut.is_set()
    assert "may have been applied" in assert_problem(lost, 503)["detail"]

    assert wait_for(
        lambda: client.get(f"/finance/batches/{batch['id']}", headers=finance.headers).json()["status"] == "approved"
    )
    retried = client.post(url, headers=second_finance.headers)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["approved_by"]) == ("approved", str(second_finance.user_id))
    assert_problem(client.post(url, headers=finance.headers), 403)  # the preparer, still refused


def test_a_policy_approval_whose_answer_was_lost_answers_its_retry_with_the_version_approved(
    api_settings: Settings, clock: ManualClock, client: TestClient, ops: Account, approver: Account
) -> None:
    """As a batch's: the same person approving again is told the version is approved; another is still refused."""
    proposed = client.post("/policies", json={"parameters": POLICY, "note": "rates"}, headers=ops.headers)
    url = f"/policies/{proposed.json()['version']}/approve"
    with commit_cutter(api_settings.require_database_url()) as (cutter, through):
        cut_settings = api_settings.model_copy(update={"database_url": through})
        with TestClient(create_app(cut_settings, clock=clock), raise_server_exceptions=False) as cut_client:
            cutter.arm()
            lost = cut_client.post(url, headers=approver.headers)
    assert cutter.cut.is_set()
    assert "may have been applied" in assert_problem(lost, 503)["detail"]

    version_url = f"/policies/{proposed.json()['version']}"
    assert wait_for(lambda: client.get(version_url, headers=ops.headers).json()["status"] == "approved")
    retried = client.post(url, headers=approver.headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "approved"
    rejected = client.post(url.replace("approve", "reject"), json={"reason": "too dear"}, headers=approver.headers)
    assert_problem(rejected, 409)  # another decision by the same person is still refused


def test_a_command_whose_commit_lost_its_answer_says_it_may_have_been_made(
    api_settings: Settings, db: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crowdship users create`, its commit kept and its answer cut off: `error:` saying the change may have been
    made (and to look before running it again), not only that PostgreSQL cannot be reached."""
    with commit_cutter(api_settings.require_database_url()) as (cutter, through):
        monkeypatch.setenv("CROWDSHIP_DATABASE_URL", through)
        monkeypatch.setenv("CROWDSHIP_ENVIRONMENT", "test")
        get_settings.cache_clear()
        try:
            cutter.arm()
            result = CliRunner().invoke(
                cli,
                ["users", "create", "--email", "ops@example.org", "--role", "ops", "--password", "long enough pw"],
            )
        finally:
            get_settings.cache_clear()
    assert cutter.cut.is_set(), (result.exit_code, result.output)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: PostgreSQL at 127.0.0.1:")
    assert "may have been made" in result.stderr

    def kept() -> bool:
        with db.connection() as connection:
            row = connection.execute("SELECT count(*) FROM users WHERE email = 'ops@example.org'").fetchone()
        return row == (1,)

    # The command ends as its link is cut; PostgreSQL, on a busy machine, may carry out the COMMIT a moment later.
    assert wait_for(kept), "PostgreSQL did not keep the commit the command never heard of"
