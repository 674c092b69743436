"""A batch's period in running text on a phone (390 px), in a real browser: each date stays whole on its line
("2026-12-01", never "2026-" then "12-01"), in the page's title, its breadcrumb and the pay page's question."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page
from rewards_flow import Owed

from dispatch.accounts import Role

Screenshot = Callable[[Page, str], Path]
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _lines_of(element: Locator, part: str) -> int:
    """How many lines `part` of the element's text takes on screen, wherever it lies in the element."""
    counted: int = element.evaluate(
        """(element, part) => {
            const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
            let text = '', nodes = [];
            while (walker.nextNode()) {
                nodes.push([walker.currentNode, text.length]);
                text += walker.currentNode.data;
            }
            const start = text.indexOf(part), end = start + part.length;
            const at = offset => { const [node, from] = nodes.filter(([, from]) => from <= offset).pop();
                                   return [node, offset - from]; };
            const range = document.createRange();
            range.setStart(...at(start));
            const [last, offset] = at(end - 1);
            range.setEnd(last, offset + 1);
            return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
        }""",
        part,
    )
    return counted


def test_the_dates_of_a_batchs_period_are_not_broken_at_their_hyphens_on_a_phone(
    signed_in: Callable[..., Page], owed_live: Callable[..., Owed], screenshot: Screenshot
) -> None:
    owed_live("Ana")
    page = signed_in(Role.FINANCE)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/console/finance/batches")
    page.get_by_role("button", name="Prepare batch").click()
    page.get_by_role("row").filter(has_text="Ana").first.wait_for()
    screenshot(page, "batch-period-390")
    places = [page.get_by_role("heading", level=1), page.locator("main p.muted").first, page.locator("dl dd").first]
    for place in places:
        dates = DATE.findall(place.inner_text())
        assert dates, place.inner_text()
        for date in dates:
            assert _lines_of(place, date) == 1, f"{date} is broken over two lines in “{place.inner_text()}”"
