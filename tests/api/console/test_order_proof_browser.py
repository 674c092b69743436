"""An order's proof of delivery in a real browser: attempts are told apart by a divider between them, and the
last ends its card without one (a stray line sat under it, over nothing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_support import HOME, ON_THE_WAY
from console_support import add_an_open_trip, add_an_order_for_later
from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool

from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.evidence import DeliveryProof
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
BORDER_BOTTOM = "dl => parseFloat(getComputedStyle(dl).borderBottomWidth)"
BORDER_TOP = "dl => parseFloat(getComputedStyle(dl).borderTopWidth)"


@pytest.mark.parametrize("width", [390, 1280])
def test_the_last_delivery_attempt_has_no_divider_under_it(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot, width: int
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    order = add_an_order_for_later(db, store, "WEB-TWO-ATTEMPTS", now)
    trip = add_an_open_trip(db, store, "Hana", HOME, now)
    attempts = [
        DeliveryProof(order.id, trip.id, ON_THE_WAY, now + timedelta(minutes=m), 20.0, code_matched=ok, accepted=ok)
        for m, ok in ((5, False), (9, True))
    ]
    with PostgresDispatchUnitOfWork(db) as uow:
        for attempt in attempts:
            uow.proofs.add(attempt)
        uow.commit()
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/console/ops/orders/{order.id}")
    proofs = page.locator("dl.proof")
    expect(proofs).to_have_count(2)
    screenshot(page, f"order-proofs-{width}")
    between = proofs.first.evaluate(BORDER_BOTTOM) + proofs.last.evaluate(BORDER_TOP)
    assert between >= 1, "two attempts are told apart by a divider"
    assert proofs.first.evaluate(BORDER_TOP) == 0, "nothing to divide above the first attempt"
    assert proofs.last.evaluate(BORDER_BOTTOM) == 0, "a divider under the last attempt divides nothing"
