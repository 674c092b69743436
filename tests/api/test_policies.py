"""Reward policy versions over HTTP: ops propose, a second person approves, finance reads, bad parameters and
limits no policy may pass are named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from api_support import Account, assert_problem
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from rewards_flow import POLICY, publish_policy

from dispatch.accounts import Role
from rewards.policy import MAX_PARAMETER_CENTS


def test_ops_publish_versions_that_finance_can_read(
    client: TestClient, ops: Account, approver: Account, make_staff: Callable[[Role], Account]
) -> None:
    """Versions count up from 1, keep their parameters (defaults filled in) and are audited."""
    finance = make_staff(Role.FINANCE)
    first = publish_policy(client, ops, approver)
    second = publish_policy(client, ops, approver, base_cents=300, daily_cap_cents=4_000, timezone="America/New_York")
    assert (first["version"], second["version"]) == (1, 2)
    assert first["created_by"] == str(ops.user_id)
    assert first["note"] == "test rates"
    assert first["parameters"]["peak_multiplier_bps"] == [10_000] * 24
    assert first["parameters"]["daily_cap_cents"] is None
    assert second["parameters"]["daily_cap_cents"] == 4_000

    listed = client.get("/policies", headers=finance.headers).json()
    assert [p["version"] for p in listed["items"]] == [1, 2]
    assert listed["total"] == 2
    second_page = client.get("/policies", params={"limit": 1, "offset": 1}, headers=finance.headers).json()
    assert ([p["version"] for p in second_page["items"]], second_page["total"]) == ([2], 2)
    assert client.get("/policies/2", headers=finance.headers).json() == second
    assert_problem(client.get("/policies/3", headers=finance.headers), 404)

    audit = client.get("/finance/audit", params={"subject_kind": "reward_policy"}, headers=finance.headers).json()
    assert [(e["action"], e["details"]["version"]) for e in audit["items"]] == [
        ("policy.approved", 2),
        ("policy.proposed", 2),
        ("policy.approved", 1),
        ("policy.proposed", 1),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_cents": -1}, "parameters.base_cents"),
        ({"base_cents": 2.5}, "parameters.base_cents"),
        ({"bogus_cents": 1}, "parameters.bogus_cents"),
        ({"peak_multiplier_bps": [10_000] * 23}, "parameters.peak_multiplier_bps"),
        ({"tier_multiplier_bps": [10_000, 10_000, -5, 10_000]}, "parameters.tier_multiplier_bps.2"),
        ({"store_credit_bonus_bps": 9_000}, "parameters.store_credit_bonus_bps"),
        ({"daily_cap_cents": 9_000, "weekly_cap_cents": 5_000}, "parameters.daily_cap_cents"),
        ({"timezone": "Mars/Olympus_Mons"}, "parameters.timezone"),
        ({"timezone": "Etc"}, "parameters.timezone"),
        ({"base_cents": 100_000_000}, "parameters.base_cents"),
        ({"minimum_cents": 6_000, "daily_cap_cents": 5_000}, "parameters.minimum_cents"),
        ({"store_credit_bonus_bps": 1_000_000}, "parameters.store_credit_bonus_bps"),
        ({"peak_multiplier_bps": [10_000] * 23 + [90_000]}, "parameters.peak_multiplier_bps[23]"),
    ],
)
def test_a_bad_parameter_is_a_422_naming_it(
    client: TestClient, ops: Account, change: dict[str, Any], field: str
) -> None:
    """Each bad parameter, caught by the schema or by the domain, is named under `parameters`; none is kept."""
    body = {"parameters": {**POLICY, **change}}
    problem = assert_problem(client.post("/policies", json=body, headers=ops.headers), 422)
    assert problem["errors"][0]["field"] == field
    assert client.get("/policies", headers=ops.headers).json()["total"] == 0


def test_a_missing_parameter_is_named(client: TestClient, ops: Account) -> None:
    """Without `minimum_cents`: 422 naming it."""
    parameters = {name: value for name, value in POLICY.items() if name != "minimum_cents"}
    problem = assert_problem(client.post("/policies", json={"parameters": parameters}, headers=ops.headers), 422)
    assert problem["errors"][0]["field"] == "parameters.minimum_cents"


def test_admins_publish_and_finance_does_not(
    client: TestClient, approver: Account, make_staff: Callable[[Role], Account]
) -> None:
    """Admins may publish; finance may read but gets 403 on publishing."""
    admin, finance = make_staff(Role.ADMIN), make_staff(Role.FINANCE)
    assert publish_policy(client, admin, approver)["version"] == 1
    assert_problem(client.post("/policies", json={"parameters": POLICY}, headers=finance.headers), 403)
    assert client.get("/policies", headers=finance.headers).json()["total"] == 1


@pytest.mark.parametrize(("method", "path"), [("GET", "/policies"), ("POST", "/policies"), ("GET", "/policies/1")])
def test_policy_routes_refuse_shoppers_and_anonymous_callers(
    client: TestClient, make_shopper: Callable[..., Account], method: str, path: str
) -> None:
    """No token: 401; a shopper: 403."""
    assert_problem(client.request(method, path), 401)
    assert_problem(client.request(method, path, headers=make_shopper().headers), 403)


def test_a_proposed_version_prices_nothing_until_someone_else_approves_it(
    client: TestClient, ops: Account, approver: Account, make_staff: Callable[[Role], Account]
) -> None:
    """One person alone cannot put money rules in force: the author's approval is 403, the version stays
    proposed; another ops user may approve; a decided version cannot be decided again (409)."""
    proposed = client.post("/policies", json={"parameters": POLICY}, headers=ops.headers)
    assert proposed.status_code == 201
    assert proposed.json()["status"] == "proposed"
    assert proposed.json()["decided_at"] is None
    problem = assert_problem(client.post("/policies/1/approve", headers=ops.headers), 403)
    assert "someone else" in problem["detail"]
    assert client.get("/policies/1", headers=approver.headers).json()["status"] == "proposed"
    other_ops = make_staff(Role.OPS)
    approved = client.post("/policies/1/approve", json={"reason": "checked the rates"}, headers=other_ops.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == str(other_ops.user_id)
    assert approved.json()["decision_reason"] == "checked the rates"
    assert_problem(client.post("/policies/1/approve", headers=approver.headers), 409)
    assert_problem(client.post("/policies/1/reject", json={"reason": "late"}, headers=approver.headers), 409)


def test_a_rejected_version_never_takes_effect(client: TestClient, ops: Account, approver: Account) -> None:
    first = publish_policy(client, ops, approver)
    client.post("/policies", json={"parameters": {**POLICY, "base_cents": 5_000}}, headers=ops.headers)
    blank = client.post("/policies/2/reject", json={"reason": "   "}, headers=approver.headers)
    assert [error["field"] for error in assert_problem(blank, 422)["errors"]] == ["reason"]  # the author is owed one
    rejected = client.post("/policies/2/reject", json={"reason": "a typo: 50 dollars"}, headers=approver.headers)
    assert rejected.json()["status"] == "rejected"
    assert_problem(client.post("/policies/2/reject", headers=approver.headers), 422)  # a reason is required
    listed = client.get("/policies", headers=approver.headers).json()
    assert [(p["version"], p["status"]) for p in listed["items"]] == [(1, "approved"), (2, "rejected")]
    assert first["status"] == "approved"


def test_approving_an_older_proposal_after_a_newer_version_is_a_conflict(
    client: TestClient, ops: Account, approver: Account
) -> None:
    """v1 and v2 are proposed, v2 approved: approving v1 is 409 `policy-superseded`, naming v2 as in force and
    saying to propose a new version to go back; v1 stays proposed."""
    client.post("/policies", json={"parameters": POLICY}, headers=ops.headers)
    client.post("/policies", json={"parameters": {**POLICY, "base_cents": 400}}, headers=ops.headers)
    assert client.post("/policies/2/approve", headers=approver.headers).status_code == 200
    problem = assert_problem(client.post("/policies/1/approve", headers=approver.headers), 409)
    assert problem["type"] == "/problems/policy-superseded"
    assert "version 2 was approved after it was proposed and is in force" in problem["detail"]
    assert "propose them as a new version" in problem["detail"]
    assert client.get("/policies/1", headers=approver.headers).json()["status"] == "proposed"


def test_shoppers_cannot_decide_and_unknown_versions_are_404(
    client: TestClient, approver: Account, make_shopper: Callable[..., Account]
) -> None:
    assert_problem(client.post("/policies/1/approve", headers=make_shopper().headers), 403)
    assert_problem(client.post("/policies/9/approve", headers=approver.headers), 404)


def test_a_version_stored_out_of_todays_bounds_is_still_listed_and_read(
    client: TestClient, ops: Account, approver: Account, db: ConnectionPool
) -> None:
    """A version stored before a bound was added reads as stored over HTTP (no 500): listed, read by number; it
    is not approved (409 `policy-outside-bounds`, naming the parameter and saying to propose new numbers), and
    the version approved before stays in force."""
    publish_policy(client, ops, approver)
    parameters = {**POLICY, "per_extra_km_cents": MAX_PARAMETER_CENTS + 1, "tier_multiplier_bps": [60_000] * 4}
    with db.connection() as connection:
        connection.execute(
            """INSERT INTO reward_policies (id, version, parameters, created_by, created_at)
               VALUES (%s, 2, %s, %s, now())""",
            (uuid4(), Jsonb(parameters), ops.user_id),
        )
    listed = client.get("/policies", headers=approver.headers)
    assert listed.status_code == 200, listed.text
    assert [item["parameters"]["per_extra_km_cents"] for item in listed.json()["items"]][-1] == MAX_PARAMETER_CENTS + 1
    read = client.get("/policies/2", headers=approver.headers)
    assert read.status_code == 200, read.text
    assert read.json()["parameters"]["tier_multiplier_bps"] == [60_000] * 4
    problem = assert_problem(client.post("/policies/2/approve", headers=approver.headers), 409)
    assert problem["type"] == "/problems/policy-outside-bounds"
    assert f"per_extra_km_cents: must be at most {MAX_PARAMETER_CENTS}" in problem["detail"]
    assert "propose new numbers" in problem["detail"]
    assert client.get("/policies/2", headers=approver.headers).json()["status"] == "proposed"
