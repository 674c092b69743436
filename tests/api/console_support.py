"""Helpers of the console's browser tests: an account that signs in through the form, and signing in."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from playwright.sync_api import Page

from dispatch.accounts import Role

PASSWORD = "console-Test-passphrase-42"


@dataclass(frozen=True)
class StaffLogin:
    user_id: UUID
    email: str
    password: str
    role: Role


def sign_in(page: Page, login: StaffLogin) -> None:
    """Through the sign-in form, as a person would (Enter submits)."""
    page.goto("/console/sign-in")
    page.get_by_label("E-mail address").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_load_state()
