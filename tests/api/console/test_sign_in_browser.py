"""Signing in to the console in a real browser (Debian's Chromium): the form is usable from the keyboard,
each role sees its own sections, a shopper is refused with a readable message."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from console_support import StaffLogin, sign_in
from playwright.sync_api import Page, expect

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]


def test_sign_in_form_is_keyboard_usable(
    new_page: Callable[[], Page], make_login: Callable[..., StaffLogin], screenshot: Screenshot
) -> None:
    login = make_login(Role.FINANCE)
    page = new_page()
    page.goto("/console")
    expect(page).to_have_url("/console/sign-in?next=%2Fconsole")
    expect(page.get_by_label("E-mail address")).to_be_focused()
    page.keyboard.type(login.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(login.password)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    screenshot(page, "sign-in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()


def test_finance_sees_finance_and_no_operations(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.FINANCE)
    navigation = page.get_by_role("navigation", name="Sections")
    expect(navigation.get_by_role("link", name="Payout batches")).to_be_visible()
    expect(navigation.get_by_text("Operations")).to_have_count(0)
    screenshot(page, "home-finance")


def test_ops_sees_no_finance_section(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.OPS)
    expect(page.get_by_role("navigation", name="Sections").get_by_text("Finance")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Sections").get_by_text("Operations")).to_be_visible()
    screenshot(page, "home-ops")


def test_admin_sees_both_sections(signed_in: Callable[..., Page]) -> None:
    page = signed_in(Role.ADMIN)
    navigation = page.get_by_role("navigation", name="Sections")
    expect(navigation.get_by_text("Operations")).to_be_visible()
    expect(navigation.get_by_text("Finance")).to_be_visible()


def test_a_shopper_cannot_sign_in(
    new_page: Callable[[], Page], make_login: Callable[..., StaffLogin], screenshot: Screenshot
) -> None:
    page = new_page()
    sign_in(page, make_login(Role.SHOPPER))
    expect(page.get_by_role("alert")).to_contain_text("Shoppers use the Crowdship app")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "shopper-refused")


def test_a_wrong_password_is_told_next_to_the_form(
    new_page: Callable[[], Page], make_login: Callable[..., StaffLogin], screenshot: Screenshot
) -> None:
    login = make_login(Role.OPS)
    page = new_page()
    sign_in(page, StaffLogin(login.user_id, login.email, "not-the-password", login.role))
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail address or password.")
    expect(page.get_by_label("E-mail address")).to_have_value(login.email)
    expect(page.get_by_label("Password")).to_be_focused()  # the e-mail is kept: the password is typed again
    screenshot(page, "wrong-password")


def test_sign_out_returns_to_the_sign_in_page(signed_in: Callable[..., Page]) -> None:
    page = signed_in(Role.FINANCE)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/console")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_live_view_goes_to_sign_in_when_the_session_ends(
    signed_in: Callable[..., Page], store: Store, clock: ManualClock, api_settings: Settings, screenshot: Screenshot
) -> None:
    """The 5-second refresh finds the session over: the whole page goes to sign-in (not into the panel), and
    signing in again would come back to the live view."""
    page = signed_in(Role.OPS)
    live = f"/console/ops/stores/{store.id}/live"
    page.goto(live)
    clock.advance(timedelta(seconds=api_settings.access_token_ttl_s + 60))
    expect(page).to_have_url(re.compile(rf"/console/sign-in\?next={re.escape(quote(live, safe=''))}$"), timeout=15_000)
    expect(page.get_by_role("heading", name="Sign in")).to_have_count(1)
    screenshot(page, "sign-in-after-expiry")


def test_an_unknown_address_is_a_page_of_the_console(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.OPS)
    response = page.goto("/console/nope")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="No such page")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "no-such-page")
    page.get_by_role("link", name="Back to the console").click()
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
