"""Finance's corrections over HTTP (no browser): a reward an approved payout batch is to pay is said so on its
reversal page before anything is typed, and the refusal names that batch by its period, as the console names
batches everywhere, not by 8 characters of its id."""

from __future__ import annotations

import html
from collections.abc import Callable

from api_support import Account
from console_support import StaffLogin, form_token, sign_in_client
from fastapi.testclient import TestClient
from rewards_flow import Owed, prepare_batch

from api.console.session import CSRF_FIELD
from crowdship.clock import ManualClock
from dispatch.accounts import Role


def test_a_reversal_refused_for_an_approved_batch_names_the_batch_by_its_period(
    client: TestClient,
    make_login: Callable[..., StaffLogin],
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    _, credit = owed("Ana")
    batch = prepare_batch(client, finance, clock, "reversal-names-batch")
    approved = client.post(f"/finance/batches/{batch['id']}/approve", headers=second_finance.headers)
    assert approved.status_code == 200, approved.text
    sign_in_client(client, make_login(Role.FINANCE))
    url = f"/console/finance/orders/{credit.order_id}/reward-reversal"
    page = html.unescape(client.get(url).text)
    assert "The approved payout batch of " in page  # told before the reason is typed
    assert "is to pay <bdi>Ana</bdi> this money: the reversal will be refused until that batch is rejected." in page
    form = {CSRF_FIELD: form_token(client, url), "idempotency_key": "reverse-once", "reason": "disputed"}
    refused = client.post(url, data=form)
    assert refused.status_code == 409
    text = html.unescape(refused.text)
    assert "cannot be reversed: approved payout batch of " in text
    assert batch["id"][:8] not in text
