"""The console's content security policy, in Chromium: its pages run the console's own script files and
nothing else, so markup that slipped into a page (a name, a note, a reference) could not run script there; and
the console's own scripts (htmx, the area drawing, local times) work under it without a single violation."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from api_support import Account, ingest
from playwright.sync_api import ConsoleMessage, Page, expect

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
INJECTED = '<img id="injected" src="/nothing-here" onerror="document.title = \'ran\'">'


def _violations(page: Page) -> list[str]:
    """The browser's reports of what the page's policy refused, as they come."""
    found: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", note)
    return found


def test_markup_slipped_into_a_console_page_runs_no_script(signed_in: Callable[..., Page]) -> None:
    """An inline handler in markup put into the page (as an unescaped name would be) does not run."""
    page = signed_in(Role.OPS)
    page.evaluate("html => document.querySelector('main').insertAdjacentHTML('beforeend', html)", INJECTED)
    expect(page.locator("#injected")).to_have_count(1)
    time.sleep(0.5)  # the image's error has long been reported by then
    assert page.title() != "ran"


def test_the_consoles_own_scripts_work_under_its_policy(
    signed_in: Callable[..., Page],
    api: httpx2.Client,
    ops: Account,
    store: Store,
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    """The pages with the console's scripts at work: htmx refreshing a store's live panel, the drawing of an
    area on a store's map, local times, wide tables; the browser reports no refusal."""
    ingest(api, ops, store, clock, ref="WEB-CSP-1")
    page = signed_in(Role.OPS)
    violations = _violations(page)
    page.goto(f"/console/ops/stores/{store.id}/live")
    with page.expect_response(lambda answer: answer.url.endswith("/live/panel"), timeout=15_000):
        pass  # htmx's refresh of the panel, every few seconds
    expect(page.get_by_role("link", name="WEB-CSP-1").first).to_be_visible()
    page.goto(f"/console/ops/stores/{store.id}/edit")
    page.get_by_role("button", name="Draw the area on the map").click()
    expect(page.get_by_role("button", name="Use this area")).to_be_disabled()
    page.goto("/console/ops/orders")
    expect(page.get_by_role("link", name="WEB-CSP-1").first).to_be_visible()
    screenshot(page, "orders-under-policy")
    assert violations == []
