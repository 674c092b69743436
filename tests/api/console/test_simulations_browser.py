"""Simulations from the console in a real browser: an ops user runs two short days from the form, watches
them progress, opens a report (the store's map on its grid), compares the two days; a bad form value is told
next to its field; finance is refused the page. Runs are real `crowdship simulate` children."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from composition.simulation_runs import RunStatus
from crowdship.settings import Settings
from dispatch.accounts import Role

Screenshot = Callable[[Page, str], Path]
RUN_TIMEOUT_MS = 120_000
SLOW_MS = 30_000
"""Starting a child, or loading a report with plotly inlined, on a loaded 2-core machine."""
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The app keeps its runs under this test's own folder (`<local_dir>/runs`)."""
    return settings.model_copy(
        update={"location_sample_interval_s": 30.0, "matcher_time_limit_s": 1.0, "local_dir": tmp_path}
    )


def start(page: Page, scenario: str, *, seed: str = "", hours: str = "") -> None:
    page.locator(f"input[name=scenario][value='{scenario}']").check()
    page.get_by_label("Seed").fill(seed)
    page.get_by_label("Hours").fill(hours)
    page.get_by_role("button", name="Start").click()


def test_ops_runs_two_days_watches_them_opens_a_report_and_compares_them(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    page = signed_in(Role.OPS)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Simulations").click()
    expect(page.get_by_role("heading", name="Simulations", exact=True)).to_be_visible()
    screenshot(page, "simulations-empty")

    start(page, "demo.toml", seed="1", hours="1")
    expect(page.get_by_role("status").first).to_contain_text("started", timeout=SLOW_MS)
    start(page, "demo.toml", seed="2", hours="1")
    runs = page.locator("#runs tbody tr")
    expect(runs).to_have_count(2, timeout=SLOW_MS)
    expect(page.locator("#runs")).to_have_attribute("hx-trigger", re.compile(r"every \d+s"))
    screenshot(page, "simulations-running")

    # The table refreshes itself (htmx) until both are finished; no reload here.
    expect(page.locator("#runs .badge", has_text="finished")).to_have_count(2, timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#runs")).not_to_have_attribute("hx-trigger", re.compile(".+"))
    # The comparison's choices came with the last refresh: the two days are offered without a reload.
    expect(page.get_by_label("First run")).to_contain_text("seed 1")
    expect(page.get_by_label("Second run")).to_contain_text("seed 2")
    screenshot(page, "simulations-finished")

    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Two simulated days side by side")).to_be_visible(timeout=SLOW_MS)
    comparison = page.locator("table.comparison")
    expect(comparison.locator("tr.setting", has_text="seed")).to_contain_text("1")
    expect(comparison.locator("tr[data-figure='orders'] th")).to_have_text("orders")
    expect(comparison.locator("tr.diff").first).to_be_visible()  # another seed, another day
    screenshot(page, "simulations-compare")
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone the table scrolls in its own box
    wide: int = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "simulations-compare-390")
    assert wide <= 390, f"the comparison is {wide} px wide in a 390 px window"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name="the second day's report").click()  # each day's report, from the comparison
    expect(page.locator("svg#day-map")).to_be_visible(timeout=SLOW_MS)

    page.goto("/console/ops/simulations")
    page.get_by_role("link", name=re.compile("^Open report")).first.click()
    expect(page.locator("svg#day-map")).to_be_visible(timeout=SLOW_MS)
    expect(page.locator("svg#day-map [data-layer='dropoffs'] circle").first).to_be_attached()
    # the charts run under the sandbox policy
    expect(page.locator(".plotly-graph-div").first).to_be_visible(timeout=SLOW_MS)
    screenshot(page, "simulation-report")


def test_a_bad_value_is_told_next_to_its_field_and_the_form_keeps_what_was_typed(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    page = signed_in(Role.OPS)
    page.goto("/console/ops/simulations")
    page.get_by_label("Hours").evaluate("input => input.removeAttribute('max')")  # as a script could send it
    start(page, "demo.toml", seed="5", hours="30")
    expect(page.get_by_role("alert")).to_contain_text("Hours: ")
    expect(page.get_by_label("Hours")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Seed")).to_have_value("5")
    expect(page.locator("#runs tbody tr")).to_have_text("No simulation has been run from the console yet.")
    screenshot(page, "simulations-refused")

    start(page, "sweep_demo.toml", seed="5")
    expect(page.get_by_role("alert")).to_contain_text("a sweep runs its grid as written: leave seed and hours empty")


def test_the_form_is_keyboard_usable(signed_in: Callable[..., Page]) -> None:
    page = signed_in(Role.OPS)
    page.goto("/console/ops/simulations")
    page.get_by_role("radio", name="Demo day at the Northeast supercentre").focus()
    page.keyboard.press("ArrowDown")  # the arrow keys choose among the scenarios, as in any group of radios
    expect(page.get_by_role("radio", name="Tallahassee")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Seed")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Hours")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Start")).to_be_focused()


def test_each_scenario_reads_whole_on_a_phone(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    """The scenario was a drop-down, which at 390 px showed "Demo day at the Northeast superce" and cut the rest
    (the day's length, the file) off; each is now a radio whose words wrap in the card."""
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/ops/simulations")
    group = page.get_by_role("group", name="Scenario")
    expect(group.get_by_role("radio", name="Demo day at the Northeast supercentre (demo.toml, 10 h)")).to_be_checked()
    screenshot(page, "scenarios-390")
    card = page.locator("section.card", has=group).bounding_box()
    assert card is not None
    for label in group.locator("label").all():
        box = label.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= card["x"] + card["width"], f"{label.text_content()!r} runs out of its card"
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), f"{label.text_content()!r} is cut off"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "scenarios-1280")


def test_an_unknown_run_has_no_report_and_a_malformed_id_is_refused(signed_in: Callable[..., Page]) -> None:
    page = signed_in(Role.OPS)
    answer = page.goto("/console/ops/simulations/20260101T000000-abcdef/report")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("alert")).to_have_text("No simulation run '20260101T000000-abcdef'.")
    assert page.request.get("/console/ops/simulations/..%2F..%2Fsecret/report").status == 404
    assert page.request.get("/console/ops/simulations/compare?left=x&right=y").status == 422


def test_finance_is_refused_the_simulations_page(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.FINANCE)
    answer = page.goto("/console/ops/simulations")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_text("This page is for ops or admin")).to_be_visible()
    screenshot(page, "simulations-finance-refused")


def _put_run(runs: Path, run_id: str, state: str, title: str = "Demo day", **more: object) -> None:
    """A run as the registry keeps it (its status file), without starting a child: one that never ends."""
    folder = runs / run_id
    folder.mkdir(parents=True)
    status = RunStatus(
        id=run_id, kind="simulate", scenario="demo.toml", title=title, state=state, created_at=NOW, **more
    )
    (folder / "status.json").write_text(status.model_dump_json(), encoding="utf-8")


def test_the_runs_refresh_keeps_the_keyboard_focus_on_a_report_link(
    signed_in: Callable[..., Page], api_settings: Settings, screenshot: Screenshot
) -> None:
    """While a run goes on the table refreshes itself; a person who tabbed to a finished run's report link
    keeps it focused (Enter opens that report), rather than being sent back to the top of the page."""
    runs = api_settings.local_dir / "runs"
    _put_run(runs, "20260101T000000-aaaaaa", "finished", seed=1, finished_at=NOW)
    (runs / "20260101T000000-aaaaaa" / "report.html").write_text("<h1>A day</h1>", encoding="utf-8")
    _put_run(runs, "20260101T000100-bbbbbb", "running", seed=2, started_at=NOW, pid=os.getpid(), progress=0.5)
    page = signed_in(Role.OPS)
    page.goto("/console/ops/simulations")
    report = page.get_by_role("link", name=re.compile("^Open report"))
    expect(page.locator("#runs")).to_have_attribute("hx-trigger", re.compile(r"every \d+s"))
    page.get_by_role("button", name="Start").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if report.evaluate("link => link === document.activeElement"):
            break
    expect(report).to_be_focused()
    page.evaluate(  # marked in the page, and waited for by the locator (the page's policy allows no eval)
        "document.body.addEventListener('htmx:afterSettle', () => { document.body.dataset.refreshed = 'yes' })"
    )
    expect(page.locator("body")).to_have_attribute("data-refreshed", "yes", timeout=SLOW_MS)
    expect(page.get_by_role("link", name=re.compile("^Open report"))).to_be_focused()
    screenshot(page, "simulations-focus-kept")


def test_a_comparison_link_naming_a_run_that_is_not_kept_says_so_and_focuses_that_side(
    signed_in: Callable[..., Page], api_settings: Settings, screenshot: Screenshot
) -> None:
    """A bookmarked comparison whose second day was removed said 'Bad link' or 'No simulation run ...' on a page
    with nothing to do next; it says which run and why, and offers the finished days again with the focus on
    the side to choose anew."""
    runs = api_settings.local_dir / "runs"
    for run_id, seed in (("20260101T000000-aaaaaa", 1), ("20260101T000100-bbbbbb", 2)):
        _put_run(runs, run_id, "finished", seed=seed, finished_at=NOW)
        (runs / run_id / "summary.json").write_text('{"summary": {"orders": 1}}', encoding="utf-8")
    page = signed_in(Role.OPS)
    answer = page.goto("/console/ops/simulations/compare?left=20260101T000000-aaaaaa&right=20251231T230000-ffffff")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text("The second run, 20251231T230000-ffffff, is not kept")
    expect(page.get_by_label("Second run")).to_be_focused()
    expect(page.get_by_label("First run")).to_have_value("20260101T000000-aaaaaa")  # the side the link had right
    screenshot(page, "compare-refused")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "compare-refused-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    lines = page.get_by_role("alert").evaluate(  # the run id whole, not "20251231T230000- / ffffff"
        """(e, id) => { const w = document.createTreeWalker(e, NodeFilter.SHOW_TEXT); let n;
            while ((n = w.nextNode()) && !n.textContent.includes(id)) {}
            const r = document.createRange(), i = n.textContent.indexOf(id);
            r.setStart(n, i); r.setEnd(n, i + id.length);
            return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }""",
        "20251231T230000-ffffff",
    )
    assert lines == 1, "the run id is broken over lines"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_label("Second run").select_option("20260101T000100-bbbbbb")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Compare")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("table.comparison")).to_be_visible()


SHOWN_AND_ROOM = """s => {
    const text = s.options[s.selectedIndex].text, end = text.indexOf(s.value) + s.value.length;
    const pen = document.createElement("canvas").getContext("2d"), style = getComputedStyle(s);
    pen.font = style.font;
    const arrow = 24;  // Chromium's drop-down arrow, inside the box
    const room = s.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - arrow;
    return [end >= s.value.length ? pen.measureText(text.slice(0, end)).width : Infinity, room]; }"""
"""How wide the chosen option's text is up to the end of its run id, and how much of it the closed drop-down
shows."""


def test_on_a_phone_the_compare_drop_downs_show_each_chosen_runs_id_whole(
    signed_in: Callable[..., Page], api_settings: Settings, screenshot: Screenshot
) -> None:
    """At 390 px a closed drop-down showed "seed 1 · A weekday at the … · 2026010" and cut the run id, which tells
    two runs of one scenario apart, and which the page's messages name."""
    runs = api_settings.local_dir / "runs"
    for run_id, seed in (("20260101T000000-aaaaaa", 1), ("20260101T000100-bbbbbb", 2)):
        _put_run(runs, run_id, "finished", "A weekday at the Tallahassee supercentre", seed=seed, finished_at=NOW)
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/ops/simulations")
    screenshot(page, "compare-choices-390")
    for label, run_id in (("First run", "20260101T000000-aaaaaa"), ("Second run", "20260101T000100-bbbbbb")):
        select = page.get_by_label(label)
        expect(select).to_have_value(run_id)
        expect(select.locator("option:checked")).to_contain_text("seed")
        shown, room = select.evaluate(SHOWN_AND_ROOM)
        assert shown <= room, f"{label}: the text up to the run id is {shown:.0f} px in {room:.0f} px"


def test_on_a_phone_the_runs_table_keeps_each_run_id_on_one_line(
    signed_in: Callable[..., Page], api_settings: Settings, screenshot: Screenshot
) -> None:
    """At 390 px the runs table broke an id as "20260101T000100- / bbbbbb", which reads as two ids; the table
    scrolls sideways in its own box instead."""
    runs = api_settings.local_dir / "runs"
    _put_run(runs, "20260101T000000-aaaaaa", "finished", "A weekday at the Tallahassee supercentre", finished_at=NOW)
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/ops/simulations")
    cell = page.locator("#runs tbody tr td").first
    expect(cell).to_have_text("20260101T000000-aaaaaa")
    screenshot(page, "runs-390")
    lines = cell.evaluate(
        "c => { const r = document.createRange(); r.selectNodeContents(c);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
    )
    assert lines == 1, "the run id is broken over lines"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_run_ending_is_announced_by_the_status_that_stays_on_the_page(
    signed_in: Callable[..., Page], api_settings: Settings, screenshot: Screenshot
) -> None:
    """The runs' status ("1 run in progress") was inside the table's box, which each refresh replaced: a live
    region inserted anew is not announced, so a screen reader never said that the run had ended. It now stays
    on the page, outside the table, and the refresh changes its words."""
    runs = api_settings.local_dir / "runs"
    _put_run(runs, "20260101T000100-bbbbbb", "running", seed=2, started_at=NOW, pid=os.getpid(), progress=0.5)
    page = signed_in(Role.OPS)
    page.goto("/console/ops/simulations")
    status = page.get_by_role("status").filter(has_text="in progress")
    expect(status).to_have_text("1 run in progress; this list refreshes by itself.")
    assert status.evaluate("e => e.closest('#runs') === null"), "the status is replaced with the table"
    status.evaluate("e => { e.dataset.kept = 'yes' }")
    _put_run(runs, "20260101T000200-cccccc", "finished", seed=3, finished_at=NOW)
    (runs / "20260101T000100-bbbbbb" / "status.json").unlink()
    (runs / "20260101T000100-bbbbbb").rmdir()
    kept = page.locator("#runs-status[data-kept='yes']")
    expect(kept).to_have_text("No run in progress.", timeout=SLOW_MS)
    expect(kept).to_have_attribute("role", "status")
    screenshot(page, "simulations-run-ended")
