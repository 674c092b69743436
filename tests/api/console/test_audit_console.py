"""The audit log over HTTP (no browser): a held or released payout line is named by its payee, not by the
first characters of the line's id, which tell a finance user nothing."""

from __future__ import annotations

import html
from collections.abc import Callable

from api_support import Account
from console_support import StaffLogin, sign_in_client
from fastapi.testclient import TestClient
from rewards_flow import Owed, prepare_batch

from crowdship.clock import ManualClock
from dispatch.accounts import Role


def test_a_held_and_released_line_is_named_by_its_payee_in_the_audit_log(
    client: TestClient,
    make_login: Callable[..., StaffLogin],
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    owed("Beatrix")
    batch = prepare_batch(client, finance, clock, "audit-payee")
    (line,) = batch["lines"]
    held = client.post(
        f"/finance/batches/{batch['id']}/lines/{line['id']}/hold",
        json={"reason": "check the recipient"},
        headers=second_finance.headers,
    )
    assert held.status_code == 200, held.text
    released = client.post(f"/finance/batches/{batch['id']}/lines/{line['id']}/release", headers=second_finance.headers)
    assert released.status_code == 200, released.text
    sign_in_client(client, make_login(Role.FINANCE))
    page = html.unescape(client.get("/console/finance/audit?subject_kind=payout_batch").text)
    assert page.count("Payee: Beatrix") == 2
    assert f"Line: {line['id'][:8]}" not in page


def test_the_audit_logs_introduction_names_what_it_lists_beyond_money(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    """It said "Who did what to money", over rows of stores created and staff accounts created or deactivated,
    which a newcomer took for rows in the wrong place."""
    sign_in_as(Role.FINANCE)
    page = client.get("/console/finance/audit").text
    intro = page[page.index("<h1>Audit log</h1>") :].split("</p>", 1)[0]
    for words in ("money", "store", "identity check", "tier", "staff account"):
        assert words in intro, f"the introduction does not say {words!r}: {intro}"
