"""Times on console pages in the viewer's own time zone: the server writes UTC (what a browser without
scripts keeps), and the page's script rewrites each `<time>` in the browser's zone with its abbreviation,
also in the parts htmx swaps in."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2
from api_support import Account, ingest
from playwright.sync_api import Page, expect

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store

NEW_YORK = ZoneInfo("America/New_York")
EN_DASH = "\N{EN DASH}"


def _in_new_york(instant: datetime) -> datetime:
    return instant.astimezone(NEW_YORK)


def test_an_order_window_is_shown_in_the_viewers_time_zone(
    signed_in: Callable[..., Page],
    api: httpx2.Client,
    ops: Account,
    store: Store,
    clock: ManualClock,
    screenshot: Callable[[Page, str], Path],
) -> None:
    receipt = ingest(api, ops, store, clock, ref="WEB-TZ-1")
    order = api.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()
    start = _in_new_york(datetime.fromisoformat(order["window_earliest"]))
    end = _in_new_york(datetime.fromisoformat(order["window_latest"]))
    end_shown = end.strftime("%H:%M" if end.date() == start.date() else "%Y-%m-%d %H:%M")
    page = signed_in(Role.OPS, timezone_id="America/New_York")

    page.goto("/console/ops/orders")
    window = page.get_by_role("row").filter(has_text="WEB-TZ-1").get_by_role("cell").nth(5)
    expect(window).to_have_text(f"{start:%Y-%m-%d %H:%M} {EN_DASH} {end_shown} {end.tzname()}")
    assert end.tzname() in ("EST", "EDT")
    screenshot(page, "orders-in-new-york")

    page.goto(f"/console/ops/stores/{store.id}/live")
    refreshed = page.get_by_test_id("refreshed")
    expect(refreshed).to_have_text(re.compile(r"^As of \d\d:\d\d:\d\d E[SD]T; "))
    with page.expect_response(re.compile(r"/live/panel$")):
        pass  # the panel is swapped in by htmx: its new times are rewritten too
    expect(refreshed).to_have_text(re.compile(r"^As of \d\d:\d\d:\d\d E[SD]T; "))
    expect(page.locator("time", has_text="UTC")).to_have_count(0)


def test_the_servers_utc_text_stays_as_the_title(
    signed_in: Callable[..., Page], api: httpx2.Client, ops: Account, store: Store, clock: ManualClock
) -> None:
    """The server's own text, kept as the title once the script has rewritten it."""
    ingest(api, ops, store, clock, ref="WEB-TZ-2")
    page = signed_in(Role.OPS, timezone_id="America/New_York")
    page.goto("/console/ops/orders")
    taken_in = page.get_by_role("row").filter(has_text="WEB-TZ-2").locator("time").last
    expect(taken_in).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
