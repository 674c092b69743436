"""The simulation report in Debian's Chromium: every chart and the map has an accessible name saying what it
shows, the charts' drawings are named the same (again after a zoom), and no button offers to upload the day
to plotly's cloud. A full-page screenshot goes to `.local/screenshots/`, to be looked at."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from typer.testing import CliRunner

from cli.main import app

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "screenshots"
SCENARIO = """
name = "report day"
hours = 1
[[stores]]
name = "Store"
location = { lat = 30.4627, lon = -84.2211 }
[orders]
per_hour = 20
[shoppers]
per_hour = 60
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/bootstrap.sh (it installs the OS packages)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def _report(tmp_path: Path, browser: Browser) -> tuple[Page, dict[str, object]]:
    scenario = tmp_path / "report_day.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto((out / "report.html").as_uri())
    page.wait_for_function("document.querySelectorAll('svg.main-svg[role=img]').length === 4")
    return page, json.loads((out / "summary.json").read_text())["summary"]


def _unnamed_images_outside_buttons(snapshot: str) -> list[str]:
    """Lines of the accessibility tree that are images without a name, unless a named button holds them."""
    lines = snapshot.splitlines()
    found = []
    for index, line in enumerate(lines):
        if line.strip() != "- img":
            continue
        depth = len(line) - len(line.lstrip())
        parent = next((above for above in reversed(lines[:index]) if len(above) - len(above.lstrip()) < depth), "")
        if not re.match(r'\s*- button "[^"]+"', parent):
            found.append(f"{parent.strip()} > {line.strip()}")
    return found


def test_every_chart_and_the_map_is_named_by_what_it_shows(tmp_path: Path, browser: Browser) -> None:
    page, summary = _report(tmp_path, browser)
    try:
        figures = page.get_by_role("figure")
        names = [figures.nth(index).get_attribute("aria-label") or "" for index in range(figures.count())]
        assert figures.count() == 5
        assert page.get_by_role("figure", name="report day: drop-offs by outcome and shopper routes").count() == 1
        charts = names[1:]
        assert all(name for name in charts), names
        assert charts[0].startswith("Stacked bar chart: orders by the hour they were placed, split by outcome.")
        assert f"{summary['orders']} orders placed" in charts[0]
        assert charts[1].startswith("Chart of each batch through the day")
        assert charts[2].startswith("Two histograms of the deliveries by shoppers")
        assert charts[3].startswith("Histogram of the matcher's time per batch")
        for name in charts:
            assert page.get_by_role("img", name=name, exact=True).count() == 1  # the chart's drawing itself
        snapshot = page.locator("body").aria_snapshot()
        assert _unnamed_images_outside_buttons(snapshot) == []
        assert page.locator("[data-title='Share chart...']").count() == 0

        page.evaluate("Plotly.relayout(document.querySelector('.js-plotly-plot'), {'yaxis.range': [0, 3]})")
        assert page.get_by_role("img", name=charts[0], exact=True).count() == 1
        assert _unnamed_images_outside_buttons(page.locator("body").aria_snapshot()) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "simulation-report.png"), full_page=True)
    finally:
        page.close()
