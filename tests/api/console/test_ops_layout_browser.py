"""Operations pages keep their layout whatever people typed, in a real browser (Debian's Chromium): a very
long word in an incident's description, long names and addresses wrap inside their boxes, order references
stay on one line, and wide tables scroll inside their own box rather than widening the page, at 390 (a phone),
900 and 1280 px. Every page is saved under `.local/screenshots/` (test--page.png)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from api_support import HOME, ON_THE_WAY
from console_support import add_an_open_trip, add_an_order_for_later
from playwright.sync_api import Locator, Page, expect
from psycopg_pool import ConnectionPool

from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.incidents import Incident, IncidentKind
from dispatch.model import Order, OrderStatus, Store
from tests.dispatch.adapters.test_contract import an_order

Screenshot = Callable[[Page, str], Path]
LONG_WORD = "x" * 300
LONG_NAME = "Maximiliana-Wilhelmina-Konstantinopoulou-Featherstonehaugh"
REFERENCES = [f"WEB-261205-{index:04d}-02" for index in range(1, 6)]


def _page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def _seed(db: ConnectionPool, store: Store) -> tuple[Order, Incident]:
    """Orders with long references (one with a long address and recipient), a shopper with a long name, and
    an incident whose description is one 300-character word."""
    now = datetime.now(UTC).replace(microsecond=0)
    trip = add_an_open_trip(db, store, LONG_NAME, HOME, now)
    orders = [replace(an_order(store, ON_THE_WAY, ref), id=uuid4(), created_at=now) for ref in REFERENCES]
    orders[0] = replace(
        orders[0], dropoff_address=f"Apartment {LONG_WORD[:120]}, 1200 Magnolia Dr", recipient_name=LONG_NAME
    )
    incident = Incident(
        order_id=orders[0].id,
        trip_id=trip.id,
        shopper_id=trip.shopper_id,
        kind=IncidentKind.DAMAGE,
        description=f"The bag tore: {LONG_WORD} and so on",
        reported_at=now,
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        for order in orders:
            uow.orders.add(order)
        uow.incidents.add(incident)
        uow.commit()
    return orders[0], incident


@pytest.mark.parametrize("width", [390, 900, 1280])
def test_long_text_wraps_and_tables_stay_inside_the_page(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot, width: int
) -> None:
    order, incident = _seed(db, store)
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": width, "height": 800})
    for name, path in (
        ("orders", "/console/ops/orders"),
        ("order", f"/console/ops/orders/{order.id}"),
        ("incidents", "/console/ops/incidents"),
        ("incident", f"/console/ops/incidents/{incident.id}"),
        ("shoppers", "/console/ops/shoppers"),
        ("live", f"/console/ops/stores/{store.id}/live"),
        ("stores", "/console/ops/stores"),
        ("policies", "/console/finance/policies"),
    ):
        page.goto(path)
        screenshot(page, f"{name}-{width}")
        assert _page_width(page) <= width, f"{name} is {_page_width(page)} px wide in a {width} px window"
    page.goto("/console/ops/orders")
    for reference in REFERENCES:
        link = page.get_by_role("link", name=reference, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box is not None
        assert box["height"] < 30, (reference, box)  # one line, not broken at its hyphens


def test_a_status_of_two_words_stays_on_one_line_in_a_narrow_column(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """The status "picked up" in the orders list (and an order's history) is one badge: broken over two lines
    it reads as two statuses."""
    now = datetime.now(UTC).replace(microsecond=0)
    order = replace(an_order(store, ON_THE_WAY, "WEB-PICKED-UP"), id=uuid4(), created_at=now)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.orders.add(replace(order, status=OrderStatus.PICKED_UP))
        uow.commit()
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 900, "height": 800})
    page.goto("/console/ops/orders")
    badge = page.get_by_role("row").filter(has_text="WEB-PICKED-UP").locator(".badge")
    expect(badge).to_have_text("picked up")
    screenshot(page, "orders-picked-up")
    heights = badge.evaluate("b => [b.getBoundingClientRect().height, parseFloat(getComputedStyle(b).lineHeight)]")
    assert heights[0] < 1.5 * heights[1], f"the badge is {heights[0]} px high for lines of {heights[1]} px"


def test_each_stores_links_say_which_store_they_open(
    signed_in: Callable[..., Page], store: Store, screenshot: Screenshot
) -> None:
    """With several stores a screen reader's list of links reads "Live view, Edit, Live view, Edit...": each
    names its store (visually hidden; the row shows it already)."""
    page = signed_in(Role.OPS)
    page.goto("/console/ops/stores")
    expect(page.get_by_role("link", name=f"Live view of {store.name}", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=f"Edit {store.name}", exact=True)).to_be_visible()
    screenshot(page, "stores")


def test_each_stores_links_are_in_sight_on_a_phone(
    signed_in: Callable[..., Page], store: Store, screenshot: Screenshot
) -> None:
    """At 390 px the stores' table showed a store's name, its location and half its fallback cost: its opening
    hours and its Edit link lay off to the side. Each store is laid out on its own lines there now."""
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/ops/stores")
    edit = page.get_by_role("link", name=f"Edit {store.name}", exact=True)
    expect(edit).to_be_visible()
    screenshot(page, "stores-390")
    box = edit.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390, "the Edit link lies off the side of the window"


def test_a_shoppers_offers_setting_stays_on_one_line_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """The shoppers' list fits a phone only just: "opted in" broke over two lines and made every row twice as
    tall as its name."""
    add_an_open_trip(db, store, "Chloe C.", HOME, datetime.now(UTC).replace(microsecond=0))
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/ops/shoppers")
    offers = (
        page.locator("tbody tr", has=page.get_by_role("link", name="Chloe C.", exact=True)).get_by_role("cell").last
    )
    expect(offers).to_contain_text("opted")
    screenshot(page, "shoppers-390")
    assert _lines_of_text(offers, offers.inner_text().strip()) == 1


def _a_waiting_orders_page_on_a_phone(signed_in: Callable[..., Page], db: ConnectionPool, store: Store) -> Page:
    """The page, at 390 px, of an order waiting for a later window while Chloe C.'s trip is open."""
    now = datetime.now(UTC).replace(microsecond=0)
    add_an_open_trip(db, store, "Chloe C.", HOME, now)
    order = add_an_order_for_later(db, store, "WEB-WAITING", now)
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/console/ops/orders/{order.id}")
    return page


def test_the_trips_that_could_not_take_an_order_keep_their_words_whole_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """The table of open trips under "Why it has no shopper" sits in a box whose text may break anywhere (a
    long reason); its cells must not inherit that: at 390 px "Chloe C." broke into "Chl / oe C." rather than
    the table scrolling in its box."""
    page = _a_waiting_orders_page_on_a_phone(signed_in, db, store)
    why = page.locator("section.callout")
    name = why.get_by_role("link", name="Chloe C.", exact=True)
    expect(name).to_be_visible()
    screenshot(page, "order-why-390")
    for word in name.inner_text().split():
        assert _lines_of_word(name, word) == 1, f"{word!r} of {name.inner_text()!r} is broken over lines"
    assert _page_width(page) <= 390


def _lines_of_word(element: Locator, word: str) -> int:
    """On how many lines the word, in the element's own text, is drawn."""
    lines: int = element.evaluate(
        """(e, word) => {
            const node = [...e.childNodes].find(n => n.nodeType === 3 && n.textContent.includes(word));
            const range = document.createRange();
            const start = node.textContent.indexOf(word);
            range.setStart(node, start); range.setEnd(node, start + word.length);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        }""",
        word,
    )
    return lines


def test_what_the_last_batch_said_keeps_room_for_its_words_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """The live view's waiting orders at 390 px: the reason is not squeezed to its longest word (one word a line
    made every row six lines high)."""
    now = datetime.now(UTC).replace(microsecond=0)
    order = add_an_order_for_later(db, store, "WEB-TOO-FAR", now)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.orders.record_unassigned({order.id: "no_trip_within_detour"}, now)  # as a batch does
        uow.commit()
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/console/ops/stores/{store.id}/live")
    row = page.locator("table.waiting tr", has_text="WEB-TOO-FAR")
    said = row.get_by_role("cell").last
    expect(said).to_contain_text("every detour is too long")
    screenshot(page, "live-waiting-390")
    lines = said.evaluate("c => c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight)")
    assert lines <= 4, f"the reason takes {lines:.1f} lines"
    assert _page_width(page) <= 390


def test_the_order_actions_keep_clear_of_why_it_waits_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """At 390 px the actions wrap under the title, and the last one sat flush on the yellow box below it."""
    page = _a_waiting_orders_page_on_a_phone(signed_in, db, store)
    last_action = page.get_by_role("link", name="Issue a new delivery code…")
    why = page.locator("section.callout")
    expect(why).to_be_visible()
    screenshot(page, "order-actions-390")
    action_box, why_box = last_action.bounding_box(), why.bounding_box()
    assert action_box is not None
    assert why_box is not None
    gap = why_box["y"] - (action_box["y"] + action_box["height"])
    assert gap >= 8, f"the box starts {gap:.0f} px under the last action"


def test_an_orders_history_keeps_room_for_its_words_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """The order page's history at 390 px: what happened is not squeezed beside the time to a word or two a line
    (an incident's description took fifteen lines), nor scrolled off to the side: it is under its time."""
    now = datetime.now(UTC).replace(microsecond=0)
    order = add_an_order_for_later(db, store, "WEB-HISTORY", now)
    trip = add_an_open_trip(db, store, "Hana", HOME, now)
    description = "The bag tore on the doorstep; the eggs were broken and the customer was unhappy about it."
    incident = Incident(
        order_id=order.id,
        trip_id=trip.id,
        shopper_id=trip.shopper_id,
        kind=IncidentKind.DAMAGE,
        description=description,
        reported_at=now,
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.incidents.add(incident)
        uow.commit()
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/console/ops/orders/{order.id}")
    detail = page.locator("table.timeline tr", has_text="incident").get_by_role("cell").last
    expect(detail).to_contain_text("the customer was unhappy")
    screenshot(page, "order-history-390")
    lines = detail.evaluate(
        "c => { const s = getComputedStyle(c); "
        "return (c.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom)) / parseFloat(s.lineHeight) }"
    )
    assert lines <= 4, f"what happened takes {lines:.1f} lines"
    assert _page_width(page) <= 390
    box, cell = page.locator(".table-scroll", has=detail), detail.bounding_box()
    assert cell is not None
    assert cell["x"] + cell["width"] <= 390, "what happened lies off the side of the window"
    expect(box).not_to_have_attribute("tabindex", "0")  # laid out under its time, nothing to scroll to


def _lines_of_text(element: Locator, text: str) -> int:
    """On how many lines `text` is drawn, wherever it lies among the element's descendants' text."""
    lines: int = element.evaluate(
        """(e, text) => {
            const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode()) && !node.textContent.includes(text)) {}
            const range = document.createRange();
            const start = node.textContent.indexOf(text);
            range.setStart(node, start); range.setEnd(node, start + text.length);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        }""",
        text,
    )
    return lines


def test_an_order_reference_stays_whole_in_titles_and_breadcrumbs_on_a_phone(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """At 390 px the order page's title broke as 'Order WEB-261205-1259- / 20' (at the reference's hyphens, so
    that it read as another reference); the reference goes to a line of its own instead, whole, on the order's
    page and on its action pages (title and breadcrumb). A reference longer than the whole line wraps rather than
    widening the page."""
    now = datetime.now(UTC).replace(microsecond=0)
    reference = "WEB-261205-1259-20"
    too_long = "WEB-" + "-".join(f"{n:04d}" for n in range(12))
    orders = [replace(an_order(store, ON_THE_WAY, ref), id=uuid4(), created_at=now) for ref in (reference, too_long)]
    trip = add_an_open_trip(db, store, "Elif", HOME, now)
    incident = Incident(  # its title broke as 'Damage on order WEB- / 261205-1259-20'
        order_id=orders[0].id,
        trip_id=trip.id,
        shopper_id=trip.shopper_id,
        kind=IncidentKind.DAMAGE,
        description="The bag tore.",
        reported_at=now,
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        for order in orders:
            uow.orders.add(order)
        uow.incidents.add(incident)
        uow.commit()
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    order = orders[0]
    for name, path in (
        ("order", f"/console/ops/orders/{order.id}"),
        ("cancel", f"/console/ops/orders/{order.id}/cancel"),
        ("fallback", f"/console/ops/orders/{order.id}/fallback"),
        ("delivery-code", f"/console/ops/orders/{order.id}/delivery-code"),
        ("incident", f"/console/ops/incidents/{incident.id}"),
    ):
        page.goto(path)
        title = page.get_by_role("heading", level=1)
        expect(title).to_contain_text(reference)
        screenshot(page, f"reference-{name}-390")
        assert _lines_of_text(title, reference) == 1, f"{name}: the title breaks {reference} over lines"
        crumbs = page.locator("main p.muted").first
        if reference in crumbs.inner_text():
            assert _lines_of_text(crumbs, reference) == 1, f"{name}: the breadcrumb breaks {reference} over lines"
        assert _page_width(page) <= 390, f"{name} is {_page_width(page)} px wide"
    page.goto(f"/console/ops/orders/{order.id}/cancel")  # its question mark is read with it, no space between
    expect(page.get_by_role("heading", level=1)).to_have_accessible_name(f"Cancel order {reference}?")
    page.goto(f"/console/ops/orders/{orders[1].id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(too_long[:20])
    screenshot(page, "reference-too-long-390")
    assert _page_width(page) <= 390, f"a long reference makes the order page {_page_width(page)} px wide"


OUTSIDE_MAIN = """() => {
    const main = document.querySelector('main');
    const edge = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
    return [...main.querySelectorAll('form input:not([type=hidden]), form select, form textarea')]
        .filter(field => field.getBoundingClientRect().right > edge + 1)
        .map(field => `${field.name}: ${Math.round(field.getBoundingClientRect().right)} > ${Math.round(edge)} px`);
}"""
"""The form fields of a page that reach past the right edge of its content (into its margin, or off screen)."""


def test_form_fields_stay_inside_a_phones_page_with_a_long_store_name(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """The store filter of the orders and incidents lists is as wide as its longest store's name: 580 px on a
    390 px phone for a store of 68 characters, which cut it off and widened the page. The shopper field of the
    ledger and rewards pages (38 characters wide) reached 10 px into the page's margin."""
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(
            replace(store, id=uuid4(), name="Crowdship Supercentre Tallahassee West Tennessee St & Ocala Rd")
        )
        uow.commit()
    page = signed_in(Role.ADMIN)
    page.set_viewport_size({"width": 390, "height": 844})
    for name, path in (
        ("orders", "/console/ops/orders"),
        ("incidents", "/console/ops/incidents"),
        ("ledger", "/console/finance/ledger"),
        ("rewards", "/console/finance/rewards"),
    ):
        page.goto(path)
        screenshot(page, f"fields-{name}-390")
        outside: list[str] = page.evaluate(OUTSIDE_MAIN)
        assert not outside, f"{name}: fields past the page's edge: {outside}"
        assert _page_width(page) <= 390, f"{name} is {_page_width(page)} px wide in a 390 px window"
