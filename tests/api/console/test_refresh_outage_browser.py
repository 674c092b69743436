"""The live store view and the list of simulation runs in progress refresh themselves every few seconds; while a
server behind the console is away, a refresh is answered 503 (the console's Unavailable page) or not at all, and
htmx leaves the part as it was. The page says so, with when it was last refreshed, keeps trying without
reloading itself, and the notice goes once a refresh comes through again. In a real browser; the outage's answer
is the one the console gives with PostgreSQL unreachable, served to the browser's refreshes by Playwright."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, expect

from api.app import create_app
from composition.simulation_runs import RunStatus
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
REFRESH_WAIT_MS = 20_000
"""Two refreshes of the panel at most (every 5 s), on a loaded machine."""


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The app keeps its simulation runs under this test's own folder (`<local_dir>/runs`)."""
    return settings.model_copy(
        update={"location_sample_interval_s": 30.0, "matcher_time_limit_s": 1.0, "local_dir": tmp_path}
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _outage_answer(page: Page, api_settings: Settings, clock: ManualClock, path: str) -> tuple[str, str]:
    """What the console answers for `path`, signed in as the page is, with PostgreSQL unreachable."""
    away = api_settings.model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{_closed_port()}/none"})
    with TestClient(create_app(away, clock=clock), raise_server_exceptions=False) as outage:
        for cookie in page.context.cookies():
            outage.cookies.set(cookie["name"], cookie["value"])
        answer = outage.get(path)
    assert answer.status_code == 503, answer.text
    return answer.text, answer.headers["Retry-After"]


def test_the_live_view_says_it_is_not_refreshed_while_a_server_is_away_and_recovers_by_itself(
    signed_in: Callable[..., Page],
    store: Store,
    api_settings: Settings,
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    page = signed_in(Role.OPS)
    panel = f"/console/ops/stores/{store.id}/live/panel"
    page.goto(f"/console/ops/stores/{store.id}/live")
    page.evaluate("window.notReloaded = true")
    notice = page.locator("#live-refresh-notice")
    expect(notice).to_be_hidden()
    body, retry_after = _outage_answer(page, api_settings, clock, panel)

    def unavailable(route: Route) -> None:
        route.fulfill(
            status=503, body=body, content_type="text/html; charset=utf-8", headers={"Retry-After": retry_after}
        )

    page.route(f"**{panel}", unavailable)
    expect(notice).to_be_visible(timeout=REFRESH_WAIT_MS)
    expect(notice).to_have_attribute("role", "alert")
    expect(notice).to_contain_text("Not refreshed since")
    expect(notice).to_contain_text("a server behind the console is not answering")
    expect(notice).to_contain_text("still trying every 5 s")
    expect(page.locator("#live-panel")).to_have_class("stale")
    screenshot(page, "live-outage")

    page.unroute(f"**{panel}")
    page.route(f"**{panel}", lambda route: route.abort("connectionrefused"))  # the console's own server away
    expect(notice).to_contain_text("the console's server cannot be reached", timeout=REFRESH_WAIT_MS)

    page.unroute(f"**{panel}")
    expect(notice).to_be_hidden(timeout=REFRESH_WAIT_MS)
    expect(page.locator("#live-panel")).not_to_have_class("stale")
    assert page.evaluate("window.notReloaded") is True, "the page reloaded itself"


def test_the_runs_in_progress_say_they_are_not_refreshed_while_a_server_is_away_and_recover_by_themselves(
    signed_in: Callable[..., Page], api_settings: Settings, clock: ManualClock
) -> None:
    run_dir = api_settings.local_dir / "runs" / "20260101T000000-abcdef"
    run_dir.mkdir(parents=True)
    running = RunStatus(  # this test's own process stands for the run's child: alive, so the run stays running
        id=run_dir.name,
        kind="simulate",
        scenario="demo.toml",
        title="Demo day",
        state="running",
        progress=0.3,
        created_at=datetime.now(UTC),
        pid=os.getpid(),
    )
    (run_dir / "status.json").write_text(running.model_dump_json())
    page = signed_in(Role.OPS)
    page.goto("/console/ops/simulations")
    page.evaluate("window.notReloaded = true")
    notice = page.locator("#runs-refresh-notice")
    expect(notice).to_be_hidden()
    listed = "/console/ops/simulations/runs"
    body, retry_after = _outage_answer(page, api_settings, clock, f"{listed}?limit=20&offset=0")

    def unavailable(route: Route) -> None:
        route.fulfill(
            status=503, body=body, content_type="text/html; charset=utf-8", headers={"Retry-After": retry_after}
        )

    page.route(f"**{listed}*", unavailable)
    expect(notice).to_be_visible(timeout=REFRESH_WAIT_MS)
    expect(notice).to_contain_text("Not refreshed since")
    expect(notice).to_contain_text("still trying every 2 s")
    expect(page.locator("#runs")).to_have_class("stale")

    page.unroute(f"**{listed}*")
    expect(notice).to_be_hidden(timeout=REFRESH_WAIT_MS)
    expect(page.locator("#runs")).not_to_have_class("stale")
    assert page.evaluate("window.notReloaded") is True, "the page reloaded itself"
