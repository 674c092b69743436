"""A reward reversed from the console in a real browser, with the keyboard only: finance finds the shopper's
rewards, opens "Reverse this reward" under one, reads what it takes back, gives a reason and confirms; the
reward shows as reversed and the wallet is empty."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
from playwright.sync_api import Page, expect
from rewards_flow import Owed

from crowdship.units import format_dollars
from dispatch.accounts import Role


def test_finance_reverses_a_disputed_reward_from_the_rewards_page_with_the_keyboard(
    api: httpx2.Client,
    signed_in: Callable[..., Page],
    owed_live: Callable[..., Owed],
    screenshot: Callable[[Page, str], Path],
) -> None:
    ana, credit = owed_live("Ana")
    amount = format_dollars(credit.amount_cents)

    page = signed_in(Role.FINANCE, "fiona")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Rewards").click()
    page.get_by_label("Shopper (name or id)").fill("Ana")
    page.get_by_label("Shopper (name or id)").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rewards of Ana")

    opener = page.get_by_text("Reverse this reward", exact=False).first
    opener.focus()
    page.keyboard.press("Enter")  # a <summary>: the keyboard opens it
    reason = page.get_by_label("Reason for reversing the reward of order IMPORT-", exact=False)
    expect(reason).to_be_visible()
    expect(page.get_by_text(f"Reversing takes {amount} back from Ana's cash payable")).to_be_visible()
    reason.fill("The recipient says the bags never came")
    screenshot(page, "reverse-form")
    reason.press("Tab")
    expect(page.get_by_role("button", name="Reverse this reward")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text(f"is reversed: {amount} taken back.")
    expect(page.get_by_role("heading", level=2).first).to_contain_text("reversed")
    expect(page.get_by_text("Reverse this reward")).to_have_count(0)
    screenshot(page, "reversed")
    assert api.get("/shopper/wallet", headers=ana.headers).json()["cash_payable_cents"] == 0
