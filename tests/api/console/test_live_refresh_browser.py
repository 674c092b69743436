"""A view that refreshes itself (the live store view, the simulation runs) and cannot reach the server says so,
in a real browser (Debian's Chromium): the live view kept 'As of 13:01:25; refreshed every few seconds', its
figures and its heading's "live" badge while every refresh failed, so an operator watched a frozen store as if
it were live. It says since when it is not refreshed and why, greys what it shows, says "not live" in its
heading, and once a refresh comes through again it is live as before."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from console_support import add_waiting_orders
from playwright.sync_api import Page, Route, expect
from psycopg_pool import ConnectionPool

from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
REFRESH_WAIT_MS = 20_000
"""Two refreshes of the panel at most (every 5 s), on a loaded machine."""


def _unavailable(route: Route) -> None:
    route.fulfill(status=503, headers={"Retry-After": "5"}, body="<p>Unavailable</p>", content_type="text/html")


def test_a_live_view_whose_refreshes_fail_says_it_is_out_of_date_until_they_come_through_again(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    add_waiting_orders(db, store, 2)
    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/stores/{store.id}/live")
    panel = page.locator("#live-panel")
    expect(panel.locator("table.waiting a")).to_have_count(2)
    stale = page.get_by_role("alert")
    expect(stale).to_have_count(0)
    badge = page.get_by_role("heading", level=1).locator(".badge")
    expect(badge).to_have_text("live")

    page.route("**/live/panel", _unavailable)
    expect(stale).to_contain_text("Not refreshed since", timeout=REFRESH_WAIT_MS)
    expect(stale).to_contain_text("the server is not answering (503)")
    expect(stale).to_contain_text("may be out of date")
    expect(panel).to_have_class("stale")
    expect(badge).to_have_text("not live")  # the heading's badge said "live" over a frozen panel
    expect(badge).not_to_have_class(re.compile(r"(^|\s)live(\s|$)"))
    screenshot(page, "live-stale")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "live-stale-390")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.unroute("**/live/panel")
    expect(stale).to_have_count(0, timeout=REFRESH_WAIT_MS)
    expect(panel).not_to_have_class("stale")
    expect(panel.locator("table.waiting a")).to_have_count(2)
    expect(badge).to_have_text("live")
    expect(badge).to_have_class(re.compile(r"(^|\s)live(\s|$)"))


def test_a_live_view_that_cannot_reach_the_console_at_all_says_so(
    signed_in: Callable[..., Page], store: Store, screenshot: Screenshot
) -> None:
    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/stores/{store.id}/live")
    page.route("**/live/panel", lambda route: route.abort("connectionrefused"))
    stale = page.get_by_role("alert")
    expect(stale).to_contain_text("the console cannot be reached", timeout=REFRESH_WAIT_MS)
    screenshot(page, "live-unreachable")
