"""`/docs` in a real browser with every request to another host refused: Swagger UI still draws the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect


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

    page.route("**/*", only_ours)
    page.goto("/docs")
    expect(page.get_by_role("heading", name="Crowdship API")).to_be_visible()
    expect(page.get_by_text("/finance/batches").first).to_be_visible()
    screenshot(page, "swagger-ui")
    assert elsewhere == []
