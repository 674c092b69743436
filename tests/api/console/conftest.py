"""Fixtures of the console's browser tests: the real app on a live server, Debian's Chromium driven by
Playwright, staff accounts with real passwords signed in through the sign-in form, and full-page screenshots
of each page under `.local/screenshots/` (named test--page), to be looked at."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from api_support import Account
from console_support import PASSWORD, StaffLogin, sign_in, sign_in_client
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from psycopg_pool import ConnectionPool
from rewards_flow import Owed, publish_policy, shoppers_owed

from crowdship.clock import ManualClock
from dispatch.accounts import Role, User
from dispatch.adapters.passwords import Argon2Passwords
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Shopper, Store, TrustTier

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / ".local" / "screenshots"


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """Per module, not per session: the sync driver runs an event loop in this thread until it stops, and
    tests of other modules that run their own (`asyncio.run`) must not find it running."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/bootstrap.sh (it installs the OS packages)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    # No sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
    launched = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return Argon2Passwords().hash(PASSWORD)  # hashed once: Argon2 is slow on purpose


@pytest.fixture
def make_login(db: ConnectionPool, clock: ManualClock, password_hash: str) -> Callable[..., StaffLogin]:
    """An account with a real password, to sign in through the form like a person."""

    def make(role: Role, name: str | None = None) -> StaffLogin:
        label = name or role.value
        shopper = Shopper(display_name=label.title(), trust_tier=TrustTier.SILVER) if role is Role.SHOPPER else None
        user = User(
            email=f"{label}-{time.monotonic_ns()}@example.org",
            password_hash=password_hash,
            role=role,
            created_at=clock.now(),
            shopper_id=shopper.id if shopper else None,
        )
        with PostgresDispatchUnitOfWork(db) as uow:
            if shopper is not None:
                uow.shoppers.add(shopper)
            uow.users.add(user)
            uow.commit()
        return StaffLogin(user.id, user.email, PASSWORD, role)

    return make


@pytest.fixture
def sign_in_as(client: TestClient, make_login: Callable[..., StaffLogin]) -> Callable[..., StaffLogin]:
    """Signs the test client (no browser) in to the console with a new account of `role`, through the form:
    `sign_in_as(Role.OPS)`, `sign_in_as(Role.FINANCE, "fiona")`; returns the login."""

    def sign(role: Role, name: str | None = None) -> StaffLogin:
        login = make_login(role, name)
        sign_in_client(client, login)
        return login

    return sign


@pytest.fixture
def api(live_server: str) -> Iterator[httpx2.Client]:
    """An HTTP client of the live server, for what the browser tests set up or check through the API."""
    # Generous: the first batch of a process imports the matcher, on a machine other tests share.
    with httpx2.Client(base_url=live_server, timeout=60) as client:
        yield client


@pytest.fixture
def owed_live(
    api: httpx2.Client,
    ops: Account,
    approver: Account,
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> Callable[..., Owed]:
    """The `owed` fixture of the browser tests: the test policy published through the live server."""
    publish_policy(api, ops, approver)
    return shoppers_owed(db, store, clock, make_shopper)


@pytest.fixture
def console_url(live_server: str) -> str:
    return f"{live_server}/console"


@pytest.fixture
def new_page(browser: Browser, live_server: str) -> Iterator[Callable[..., Page]]:
    """Fresh browser contexts (each its own cookies), closed after the test; `new_page(timezone_id="...")`
    opens one in that time zone (the machine's otherwise)."""
    contexts: list[BrowserContext] = []

    def open_page(*, timezone_id: str | None = None) -> Page:
        context = browser.new_context(
            base_url=live_server, viewport={"width": 1280, "height": 800}, timezone_id=timezone_id
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def signed_in(new_page: Callable[..., Page], make_login: Callable[..., StaffLogin]) -> Callable[..., Page]:
    """A page signed in with a new account of `role`; `signed_in(Role.FINANCE, "fiona")`, and in a time zone
    with `signed_in(Role.OPS, timezone_id="America/New_York")`."""

    def open_as(role: Role, name: str | None = None, *, timezone_id: str | None = None) -> Page:
        page = new_page(timezone_id=timezone_id)
        sign_in(page, make_login(role, name))
        assert page.url.rstrip("/").endswith("/console"), f"sign-in as {role.value} did not reach the console"
        return page

    return open_as


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, screenshot_dir: Path) -> Callable[[Page, str], Path]:
    """Saves a full-page screenshot as `.local/screenshots/<test>--<name>.png` and returns its path."""
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)

    def take(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{test}--{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
