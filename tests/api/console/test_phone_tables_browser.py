"""A wide table on a phone, in a real browser (Debian's Chromium): it scrolls sideways in its own box, and that box
says so. At 390 px the orders list showed its reference and store and cut the status off at the window's edge
with nothing to tell that more columns lay beyond, and the keyboard alone could not scroll it (a column with no
link in it was out of reach). Now the box that scrolls is a named tab stop the arrow keys scroll, and its cut edge
fades while there is more to see; a table that fits is left as it was. Pages are saved under
`.local/screenshots/` (test--page.png)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from api_support import ON_THE_WAY
from console_support import add_an_open_trip, add_an_order_for_later
from playwright.sync_api import Locator, Page, ViewportSize, expect
from psycopg_pool import ConnectionPool

from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
PHONE: ViewportSize = {"width": 390, "height": 844}


def _is_focused(element: Locator) -> bool:
    focused: bool = element.evaluate("e => e === document.activeElement")
    return focused


def _tab_to(page: Page, element: Locator, presses: int = 60) -> None:
    """Presses Tab until `element` has the focus, as a person with only a keyboard would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if _is_focused(element):
            return
    raise AssertionError(f"Tab never reached the element in {presses} presses")


def test_a_table_cut_off_on_a_phone_is_a_named_tab_stop_the_arrow_keys_scroll(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    add_an_order_for_later(db, store, "WEB-PHONE-1", now)
    page = signed_in(Role.OPS)
    page.set_viewport_size(PHONE)
    page.goto("/console/ops/orders")
    box = page.locator(".table-scroll").first
    expect(box).to_have_attribute("tabindex", "0")
    expect(box).to_have_attribute("role", "region")
    expect(box).to_have_accessible_name(re.compile(r"^Orders.*scrolls sideways"))
    expect(box).to_have_class(re.compile(r"\bmore-right\b"))  # its cut edge fades: there is more to the right
    last_column = box.get_by_role("columnheader").last
    expect(last_column).not_to_be_in_viewport()
    screenshot(page, "orders-390")

    _tab_to(page, box)
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    scrolled: int = box.evaluate("b => b.scrollLeft")
    assert scrolled > 0, "the arrow keys did not scroll the focused table"
    expect(box).not_to_have_class(re.compile(r"\bmore-right\b"))  # at its end: nothing more to the right
    expect(last_column).to_be_in_viewport()
    screenshot(page, "orders-390-scrolled")


def test_a_table_that_fits_is_no_tab_stop_and_does_not_fade(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store
) -> None:
    add_an_order_for_later(db, store, "WEB-WIDE-1", datetime.now(UTC).replace(microsecond=0))
    page = signed_in(Role.OPS)
    page.goto("/console/ops/orders")  # 1280 px: the whole table fits
    box = page.locator(".table-scroll").first
    expect(box.get_by_role("link", name="WEB-WIDE-1")).to_be_visible()
    expect(box).not_to_have_attribute("tabindex", "0")
    expect(box).not_to_have_attribute("role", "region")
    expect(box).not_to_have_class(re.compile(r"\bmore-right\b"))


def test_the_live_view_keeps_its_tables_tab_stops_when_it_refreshes(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store
) -> None:
    """The live panel is replaced every few seconds (htmx): its new tables are marked again. (The trips' table:
    the waiting orders are laid out one under another on a phone, and do not scroll.)"""
    now = datetime.now(UTC).replace(microsecond=0)
    add_an_open_trip(db, store, "Chloe C.", ON_THE_WAY, now)
    page = signed_in(Role.OPS)
    page.set_viewport_size(PHONE)
    page.goto(f"/console/ops/stores/{store.id}/live")
    trips = page.locator("#live-panel .table-scroll", has=page.get_by_role("link", name="Chloe C."))
    expect(trips).to_have_attribute("tabindex", "0")
    with page.expect_response(re.compile(r"/live/panel"), timeout=15_000):
        pass
    page.wait_for_timeout(200)  # the swap follows the response
    expect(trips).to_have_attribute("tabindex", "0")
    expect(trips).to_have_accessible_name(re.compile(r"^Trips.*scrolls sideways"))


def test_a_filter_button_wrapped_to_its_own_line_sits_under_the_filters(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """At 390 px the incidents' Filter button wraps under the store's select (as wide as its longest name);
    the room kept above it for a label it does not have (to line it up beside labelled fields) left a gap of
    two lines there."""
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(replace(store, id=uuid4(), name="Crowdship Supercentre Northeast"))
        uow.commit()
    page = signed_in(Role.OPS)
    page.set_viewport_size(PHONE)
    page.goto("/console/ops/incidents")
    select, button = page.get_by_label("Store"), page.get_by_role("button", name="Filter")
    expect(select).to_be_visible()
    screenshot(page, "incidents-filters-390")
    select_box, button_box = select.bounding_box(), button.bounding_box()
    assert select_box is not None
    assert button_box is not None
    assert button_box["y"] > select_box["y"] + select_box["height"], "the button is on a line of its own"
    gap = button_box["y"] - (select_box["y"] + select_box["height"])
    assert gap <= 24, f"the button sits {gap:.0f} px under the last filter"  # the row's gap between lines, 1rem


def _text_right(cell: Locator) -> float:
    """Where the words of `cell` end on the screen (not the cell's own box, which spans the whole table)."""
    right: float = cell.evaluate(
        "c => { const r = document.createRange(); r.selectNodeContents(c); return r.getBoundingClientRect().right; }"
    )
    return right


def test_an_empty_tables_message_stays_clear_of_its_faded_edge_on_a_phone(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    """The words "No simulation has been run from the console yet." ran on across the whole (scrolling) table,
    their end under the fade of the box's cut-off right edge, and past it."""
    page = signed_in(Role.OPS)
    page.set_viewport_size(PHONE)
    page.goto("/console/ops/simulations")
    message = page.get_by_role("cell", name="No simulation has been run from the console yet.")
    box = page.locator(".table-scroll", has=message)
    expect(box).to_have_class(re.compile(r"\bmore-right\b"))  # the table is cut off, its edge faded
    screenshot(page, "simulations-empty-390")
    box_right: float = box.evaluate("b => b.getBoundingClientRect().right")
    fade: float = page.evaluate("() => 2.5 * parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert _text_right(message) <= box_right - fade, "the message runs under the faded edge"


def test_the_live_views_waiting_orders_show_each_reason_under_its_order_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """What the last batch said of a waiting order was its last column, scrolled off to the side at 390 px,
    and its rows were tall and mostly empty. On a phone each row puts the reason under its order, in sight."""
    now = datetime.now(UTC).replace(microsecond=0)
    add_an_order_for_later(db, store, "WEB-STACK-1", now)
    add_an_order_for_later(db, store, "WEB-STACK-2", now)
    page = signed_in(Role.OPS)
    page.set_viewport_size(PHONE)
    page.goto(f"/console/ops/stores/{store.id}/live")
    row = page.locator("table.waiting tbody tr").first
    said = row.locator("td.said")
    expect(said).to_contain_text("not batched yet")
    screenshot(page, "live-waiting-390")
    reference, reason = row.get_by_role("link").bounding_box(), said.bounding_box()
    assert reference is not None
    assert reason is not None
    assert reason["x"] + reason["width"] <= PHONE["width"], "the reason runs off the side of the window"
    assert reason["y"] >= reference["y"] + reference["height"], "the reason is under the order"
    assert reason["x"] <= reference["x"] + 1, "the reason starts where the order does"
    box = page.locator(".table-scroll", has=page.locator("table.waiting"))
    expect(box).not_to_have_attribute("tabindex", "0")  # nothing lies beyond the window to scroll to


def test_a_trip_carrying_nothing_says_so_on_one_line_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store
) -> None:
    """The trips' table scrolls on a phone, its columns as narrow as their words: "nothing yet" broke over two
    lines, and every row of trips not yet offered anything was twice as tall as its words."""
    add_an_open_trip(db, store, "Ana", ON_THE_WAY, datetime.now(UTC).replace(microsecond=0))
    page = signed_in(Role.OPS)
    page.set_viewport_size(PHONE)
    page.goto(f"/console/ops/stores/{store.id}/live")
    carrying = page.get_by_role("row", name=re.compile(r"^Ana ")).get_by_text("nothing yet")
    lines: int = carrying.evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
    )
    assert lines == 1, f"'nothing yet' takes {lines} lines"
