"""Every page of the console as a person with only a keyboard, a screen reader or a phone meets it, in a real
browser (Debian's Chromium), at 390 and 1280 px: a skip link first, every control reached by Tab in the page's
order with a visible focus ring, every field named by its label, headings in order, tables with header cells,
text with enough contrast against what is behind it, and nothing wider than the window but tables inside their
scrolling box. Pages are saved under `.local/screenshots/` (test--page.png)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from console_support import add_an_open_trip, add_an_order_for_later
from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool
from rewards_flow import Owed

from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]

AUDIT = """() => {
  const problems = [];
  const visible = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const say = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + ' "' + (e.textContent || '').trim().slice(0, 40) + '"';
  // Nothing wider than the window, but tables inside their scrolling box.
  if (document.documentElement.scrollWidth > innerWidth) {
    for (const e of document.querySelectorAll('main *, header *')) {
      if (e.closest('.table-scroll, .visually-hidden, .skip') || !visible(e)) continue;
      if (e.getBoundingClientRect().right > innerWidth + 1) problems.push('overflows the window: ' + say(e));
    }
    problems.push('page is ' + document.documentElement.scrollWidth + ' px wide');
  }
  // Every field named by a label.
  for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = e.labels && e.labels.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
    if (!labelled) problems.push('field without a label: ' + say(e) + ' name=' + e.name);
  }
  // Headings in order: one h1 first, no level skipped going down.
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const level = +h.tagName[1];
    if (last === 0 && level !== 1) problems.push('first heading is ' + say(h));
    if (last && level > last + 1) problems.push('heading skips a level: ' + say(h));
    last = level;
  }
  if (document.querySelectorAll('h1').length !== 1) problems.push(document.querySelectorAll('h1').length + ' h1');
  // Tables with header cells.
  for (const t of document.querySelectorAll('table')) {
    if (!t.querySelector('th')) problems.push('table without header cells: ' + say(t));
  }
  // No tab order of its own making.
  for (const e of document.querySelectorAll('[tabindex]')) {
    if (+e.getAttribute('tabindex') > 0) problems.push('positive tabindex: ' + say(e));
  }
  // Text contrast against the background it is drawn on.
  const rgb = c => { const m = c.match(/[\\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; };
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const behind = e => { let colour = [255, 255, 255];
    for (let n = e; n; n = n.parentElement) { const c = rgb(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) { colour = c.slice(0, 3); break; } } return colour; };
  for (const e of document.querySelectorAll('body *')) {
    if (!visible(e) || e.closest('svg, .stale, .visually-hidden, .skip, :disabled, option')) continue;
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(e);
    const fg = rgb(s.color).slice(0, 3), bg = behind(e);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize), bold = +s.fontWeight >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) problems.push('contrast ' + ratio.toFixed(2) + ' < ' + needed + ': ' + say(e));
  }
  return problems;
}"""
"""What a page breaks of the rules above, each in words naming the element."""

FOCUS = """() => { const e = document.activeElement; const s = getComputedStyle(e);
  if (e.dataset.audited) return ['again', 0];
  e.dataset.audited = 'yes';
  const rgb = c => { const m = c.match(/[\\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; };
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const start = parseFloat(s.outlineOffset) < 0 ? e : e.parentElement;
  let bg = [255, 255, 255];
  for (let n = start; n; n = n.parentElement) { const c = rgb(getComputedStyle(n).backgroundColor);
    if (c[3] > 0) { bg = c.slice(0, 3); break; } }
  const [a, b] = [lum(rgb(s.outlineColor).slice(0, 3)), lum(bg)].sort((x, y) => y - x);
  const ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 ? (a + 0.05) / (b + 0.05) : 0;
  const words = (e.textContent || e.name || '').trim().slice(0, 30);
  return [e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + words, ring];
}"""
"""The focused element in words and the contrast of its focus ring against what is around it (0: none)."""


def _tab_through(page: Page, presses: int = 80) -> list[str]:
    """Presses Tab from the skip link, the first thing on every page to take the focus; what each press reached
    that shows no focus ring, or one too faint to see."""
    first: str = page.evaluate(
        "() => [...document.querySelectorAll(FOCUSABLE)].filter(e => e.tabIndex >= 0)[0].className".replace(
            "FOCUSABLE", "'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]'"
        )
    )
    problems = [] if first == "skip" else [f"the first thing to take the focus is {first!r}, not the skip link"]
    page.focus("a.skip")
    for _ in range(presses):
        where, ring = page.evaluate(FOCUS)
        if where == "again":
            break
        if ring < 3 and not where.startswith("body"):
            problems.append(f"focus ring {ring:.2f}:1 on {where}")
        page.keyboard.press("Tab")
    return problems


def _pages(store: Store, order_id: str, shopper_id: str) -> dict[Role, list[str]]:
    return {
        Role.OPS: [
            "/console",
            "/console/ops/stores",
            "/console/ops/stores/new",
            f"/console/ops/stores/{store.id}/edit",
            f"/console/ops/stores/{store.id}/live",
            "/console/ops/orders",
            f"/console/ops/orders/{order_id}",
            f"/console/ops/orders/{order_id}/cancel",
            "/console/ops/shoppers",
            f"/console/ops/shoppers/{shopper_id}",
            "/console/ops/incidents",
            "/console/ops/simulations",
            "/console/finance/policies",
            "/console/nowhere",
        ],
        Role.FINANCE: [
            "/console",
            "/console/finance/batches",
            "/console/finance/reconciliation",
            "/console/finance/rewards",
            "/console/finance/ledger",
            "/console/finance/policies",
            "/console/finance/audit",
        ],
    }


@pytest.mark.parametrize("width", [390, 1280])
def test_every_page_keeps_to_the_keyboard_and_reading_rules_at_phone_and_desktop_width(
    signed_in: Callable[..., Page],
    new_page: Callable[..., Page],
    db: ConnectionPool,
    store: Store,
    screenshot: Screenshot,
    width: int,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    order = add_an_order_for_later(db, store, "WEB-AUDIT-1", now)
    trip = add_an_open_trip(db, store, "Ana", store.location, now)
    signed_out = new_page()
    signed_out.set_viewport_size({"width": width, "height": 844})
    signed_out.goto("/console/sign-in")
    found = {"sign-in": signed_out.evaluate(AUDIT) + _tab_through(signed_out)}
    for role, paths in _pages(store, str(order.id), str(trip.shopper_id)).items():
        page = signed_in(role)
        page.set_viewport_size({"width": width, "height": 844})
        for path in paths:
            page.goto(path)
            name = f"{role.value}-{path.removeprefix('/console').strip('/').replace('/', '-')[-30:] or 'home'}-{width}"
            screenshot(page, name)
            found[f"{role.value} {path}"] = page.evaluate(AUDIT) + _tab_through(page)
    broken = {where: problems for where, problems in found.items() if problems}
    assert not broken, "\n".join(f"{where}: {'; '.join(problems)}" for where, problems in broken.items())


@pytest.mark.parametrize("width", [390, 1280])
def test_the_first_tab_shows_the_skip_link_which_takes_the_focus_past_the_navigation(
    signed_in: Callable[..., Page], screenshot: Screenshot, width: int
) -> None:
    """The skip link showed in white over the header, with a yellow ring that was 1.5:1 against the page; it is
    now a yellow box, and every other focus ring on the page's light ground is dark."""
    page = signed_in(Role.FINANCE)
    page.set_viewport_size({"width": width, "height": 844})
    page.goto("/console/finance/batches")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    screenshot(page, f"skip-link-{width}")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    reached = page.evaluate("document.activeElement.closest('main') !== null")
    assert reached, "the Tab after the skip link went back to the navigation"
    screenshot(page, f"first-in-main-{width}")


@pytest.mark.parametrize("width", [390, 1280])
def test_finance_pages_with_money_in_them_keep_to_the_same_rules(
    signed_in: Callable[..., Page], owed_live: Callable[..., Owed], screenshot: Screenshot, width: int
) -> None:
    """A batch with its lines (a hold form on each), a shopper's ledger and rewards, a reversal's form and an audit
    log with entries: the pages above had none of these."""
    ana, credit = owed_live("Ana")
    page = signed_in(Role.FINANCE)
    page.set_viewport_size({"width": width, "height": 844})
    page.goto("/console/finance/batches")
    page.get_by_role("button", name="Prepare batch").click()
    page.get_by_role("row").filter(has_text="Ana").first.wait_for()
    found = {}
    for name, path in (
        ("batch", page.url),
        ("ledger", f"/console/finance/ledger?shopper_id={ana.shopper_id}"),
        ("rewards", f"/console/finance/rewards?shopper_id={ana.shopper_id}"),
        ("reversal", f"/console/finance/orders/{credit.order_id}/reward-reversal"),
        ("audit", "/console/finance/audit"),
        ("policies", "/console/finance/policies"),
    ):
        page.goto(path)
        screenshot(page, f"{name}-{width}")
        found[name] = page.evaluate(AUDIT) + _tab_through(page, presses=120)
    broken = {where: problems for where, problems in found.items() if problems}
    assert not broken, "\n".join(f"{where}: {'; '.join(problems)}" for where, problems in broken.items())


def test_refused_forms_keep_to_the_same_rules_on_a_phone(
    signed_in: Callable[..., Page], new_page: Callable[..., Page], screenshot: Screenshot
) -> None:
    """A refused form adds a problem box, errors under fields and aria-invalid: none of it may widen the page,
    lose a field's label or fall under the contrast its text needs."""
    stranger = new_page()
    stranger.set_viewport_size({"width": 390, "height": 844})
    stranger.goto("/console/sign-in")
    stranger.get_by_label("E-mail address").fill("nobody@example.org")
    stranger.get_by_label("Password").fill("wrong password")
    stranger.get_by_label("Password").press("Enter")
    expect(stranger.get_by_role("alert")).to_be_visible()
    found = {"sign-in": stranger.evaluate(AUDIT) + _tab_through(stranger)}
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/ops/stores/new")
    page.get_by_label("Name").fill("Southside")
    page.get_by_label("Latitude").fill("30.4627")
    page.get_by_label("Longitude").fill("-84.2211")
    page.get_by_label("Fallback courier cost ($)").fill("eight dollars")
    page.get_by_label("Service area (GeoJSON)").fill('{"type": "Point"}')
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("alert")).to_be_visible()
    screenshot(page, "store-refused-390")
    found["store"] = page.evaluate(AUDIT) + _tab_through(page)
    page.goto("/console/ops/orders?status=bogus")
    expect(page.get_by_role("alert")).to_be_visible()
    found["orders"] = page.evaluate(AUDIT) + _tab_through(page)
    broken = {where: problems for where, problems in found.items() if problems}
    assert not broken, "\n".join(f"{where}: {'; '.join(problems)}" for where, problems in broken.items())
