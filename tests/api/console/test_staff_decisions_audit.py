"""Decisions outside the ledger that bear on money or on who may act — a store's fallback cost, an account
deactivated — reach the audit log with their authors, over the API and in the console's words."""

from __future__ import annotations

import re
from collections.abc import Callable

from api_support import Account
from console_support import StaffLogin
from fastapi.testclient import TestClient
from test_ops_stores import store_body

from dispatch.accounts import Role


def test_a_store_edit_and_an_account_deactivated_over_the_api_are_audited_with_their_authors(
    client: TestClient,
    ops: Account,
    make_staff: Callable[[Role], Account],
    make_shopper: Callable[..., Account],
) -> None:
    admin, finance, shopper = make_staff(Role.ADMIN), make_staff(Role.FINANCE), make_shopper()
    store = client.post("/ops/stores", json=store_body(), headers=ops.headers).json()
    patched = client.patch(f"/ops/stores/{store['id']}", json={"fallback_cost_cents": 1_250}, headers=ops.headers)
    assert patched.status_code == 200, patched.text
    assert client.post(f"/admin/users/{shopper.user_id}/deactivate", headers=admin.headers).status_code == 200

    def entries(kind: str) -> list[tuple[str, str, str, dict[str, object]]]:
        page = client.get("/finance/audit", params={"subject_kind": kind}, headers=finance.headers).json()
        return [(e["action"], e["subject_id"], e["actor_id"], e["details"]) for e in page["items"]]

    assert entries("store") == [
        ("store.changed", store["id"], str(ops.user_id), {"fallback_cost_cents": {"before": 950, "after": 1_250}}),
        ("store.created", store["id"], str(ops.user_id), {"name": "Crowdship Southside", "fallback_cost_cents": 950}),
    ]
    assert entries("account") == [
        (
            "account.deactivated",
            str(shopper.user_id),
            str(admin.user_id),
            {"role": "shopper", "active": {"before": True, "after": False}},
        )
    ]


def test_the_console_audit_log_names_the_store_and_says_the_change_in_words(
    client: TestClient, ops: Account, sign_in_as: Callable[..., StaffLogin]
) -> None:
    store = client.post("/ops/stores", json=store_body(name="Northgate"), headers=ops.headers).json()
    client.patch(f"/ops/stores/{store['id']}", json={"fallback_cost_cents": 1_250}, headers=ops.headers)
    sign_in_as(Role.FINANCE, "fiona")
    page = client.get("/console/finance/audit", params={"subject_kind": "store"}).text
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr>.*?</tr>", page, re.DOTALL)]
    changed = next(row for row in rows if "Store changed" in row)
    assert "Store Northgate" in changed
    assert "Fallback cost: $9.50 → $12.50" in changed
    assert '<option value="store"' in page
