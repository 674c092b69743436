"""The live store view refreshes itself every few seconds; a person going through it with the keyboard keeps
their place: the link they had reached is still the focused one after a refresh, in a real browser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from console_support import add_waiting_orders
from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool

from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
REFRESH_WAIT_MS = 20_000
"""Two refreshes of the panel at most, on a loaded machine."""


def test_a_refresh_of_the_live_view_keeps_the_keyboard_focus_where_it_was(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    add_waiting_orders(db, store, 3)
    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/stores/{store.id}/live")
    listed = page.locator("table.waiting a").all_inner_texts()
    assert len(listed) == 3
    reached = page.get_by_role("link", name=listed[0])
    page.get_by_role("link", name="All orders").focus()
    for _ in range(10):  # Tab on, as a person does, to the first waiting order
        page.keyboard.press("Tab")
        if reached.evaluate("link => link === document.activeElement"):
            break
    expect(reached).to_be_focused()
    page.evaluate(  # marked in the page, and waited for by the locator (the page's policy allows no eval)
        "document.getElementById('live-panel')"
        ".addEventListener('htmx:afterSettle', () => { document.body.dataset.refreshed = 'yes' })"
    )
    expect(page.locator("body")).to_have_attribute("data-refreshed", "yes", timeout=REFRESH_WAIT_MS)
    expect(page.get_by_role("link", name=listed[0])).to_be_focused()
    page.keyboard.press("Tab")  # and Tab goes on from there, not from the top of the page
    expect(page.get_by_role("link", name=listed[1])).to_be_focused()
    screenshot(page, "live-focus-kept")
