"""A console form whose change PostgreSQL committed as the connection was lost is not told 'nothing was done':
the page says it may have been done, and the same form sent again does it once."""

from __future__ import annotations

import re
from collections.abc import Callable

from commit_cutter import commit_cutter, redemptions, wait_for
from console_support import StaffLogin
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from rewards_flow import Owed

from api.app import create_app
from api.console.session import CSRF_FIELD
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role
from rewards.policy import PaymentMethod


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"the page has a hidden {name}"
    return found.group(1)


def test_store_credit_taken_as_the_connection_is_lost_is_told_as_maybe_done_and_sent_again_is_taken_once(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    owed: Callable[..., Owed],
    api_settings: Settings,
    clock: ManualClock,
    db: ConnectionPool,
) -> None:
    ana, credit = owed("Ana", method=PaymentMethod.STORE_CREDIT)
    sign_in_as(Role.OPS)
    page = client.get(f"/console/ops/shoppers/{ana.shopper_id}").text
    form = {CSRF_FIELD: hidden(page, CSRF_FIELD), "idempotency_key": hidden(page, "idempotency_key"), "amount": "1.00"}
    url = f"/console/ops/shoppers/{ana.shopper_id}/store-credit-redemptions"
    with commit_cutter(api_settings.require_database_url()) as (cutter, through):
        cut_settings = api_settings.model_copy(update={"database_url": through})
        with TestClient(create_app(cut_settings, clock=clock), raise_server_exceptions=False) as cut_client:
            cut_client.cookies.update(client.cookies)
            cutter.arm()
            lost = cut_client.post(url, data=form)
    assert cutter.cut.is_set(), "the form committed nothing"
    assert lost.status_code == 503
    assert "<h1>Unavailable</h1>" in lost.text
    assert "nothing was done" not in lost.text
    assert "may have been done" in lost.text
    assert wait_for(lambda: redemptions(db) == 1)

    again = client.post(url, data=form)
    assert "$1.00 of store credit was already taken by this form" in again.text
    assert redemptions(db) == 1
    assert client.get("/shopper/wallet", headers=ana.headers).json()["store_credit_cents"] == credit.amount_cents - 100
