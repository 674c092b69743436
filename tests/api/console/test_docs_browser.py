"""`/docs` in a real browser with every request to another host refused: Swagger UI still draws the API, and
works under the page's content security policy without a single violation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Route, expect


def test_swagger_ui_draws_the_api_with_no_other_host(
    new_page: Callable[[], Page], live_server: str, screenshot: Callable[[Page, str], Path]
) -> None:
    page = new_page()
    ours = urlsplit(live_server).netloc
    elsewhere: list[str] = []

    def only_ours(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    violations: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", note)
    page.route("**/*", only_ours)
    page.goto("/docs")
    expect(page.get_by_role("heading", name="Crowdship API")).to_be_visible()
    expect(page.get_by_text("/finance/batches").first).to_be_visible()
    page.locator("#operations-health-health_health_get").get_by_role("button").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    screenshot(page, "swagger-ui")
    assert elsewhere == []
    assert violations == []
