"""A finance list's filter with a value it does not know (a hand-edited or stale link) is said with the filter's
choices and lists nothing, as the operations lists do, rather than silently listing everything under "Any"."""

from __future__ import annotations

import html
from collections.abc import Callable

from console_support import StaffLogin
from fastapi.testclient import TestClient

from dispatch.accounts import Role


def test_an_unknown_batch_status_is_said_with_the_statuses_there_are(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    sign_in_as(Role.FINANCE)
    page = client.get("/console/finance/batches?status=zzz")
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "There is no status “zzz”: choose one of draft, approved, paid, rejected or any." in text
    assert 'id="f-status" name="status" aria-invalid="true"' in text
    assert client.get("/console/finance/batches?status=draft").status_code == 200


def test_an_unknown_audit_subject_is_said_with_the_subjects_there_are(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    sign_in_as(Role.FINANCE)
    page = client.get("/console/finance/audit?subject_kind=bogus")
    assert page.status_code == 422
    text = html.unescape(page.text)
    kinds = "payout batch, reward policy, order, shopper, ledger transaction, account, store"
    assert f"There is no subject “bogus”: choose one of {kinds} or any." in text
    assert "Nothing recorded." not in text
    assert client.get("/console/finance/audit?subject_kind=order").status_code == 200
