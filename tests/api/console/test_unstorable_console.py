"""A value PostgreSQL cannot store (a NUL character in a search, from a pasted or crafted link) is said on a
console page, with its navigation, instead of the API's JSON problem."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from console_support import StaffLogin
from fastapi.testclient import TestClient

from dispatch.accounts import Role


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.OPS, "/console/ops/orders?ref=WEB%00"),
        (Role.OPS, "/console/ops/shoppers?name=a%00b"),
        (Role.FINANCE, "/console/finance/ledger?shopper_id=%00"),
        (Role.FINANCE, "/console/finance/rewards?shopper_id=x%00"),
    ],
)
def test_a_nul_in_a_search_is_a_console_page_not_json(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], role: Role, path: str
) -> None:
    sign_in_as(role)
    page = client.get(path)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "holds a character or a number the database cannot store" in page.text
    assert 'aria-label="Sections"' in page.text
