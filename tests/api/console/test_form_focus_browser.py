"""A refused form puts the keyboard focus on its first refused field, in a real browser (Debian's Chromium): the
page came back with the focus on its body, so a person with only a keyboard tabbed through the navigation and
every field above to reach the one to correct. A page that focuses something itself (a search box, a
confirmation's safe choice) keeps it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from dispatch.accounts import Role

Screenshot = Callable[[Page, str], Path]


def test_a_refused_batch_period_focuses_the_date_to_correct(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    page = signed_in(Role.FINANCE)
    page.goto("/console/finance/batches")
    page.get_by_label("From").fill("2001-01-01")
    page.get_by_label("To (included)").fill("2000-01-01")
    page.get_by_label("To (included)").press("Enter")
    expect(page.get_by_role("alert")).to_have_text("To: must be after “From”.")
    expect(page.get_by_label("To (included)")).to_be_focused()
    screenshot(page, "period-refused-focused")


def test_a_refused_store_form_focuses_its_first_refused_field(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    page = signed_in(Role.OPS)
    page.goto("/console/ops/stores/new")
    page.get_by_label("Name").fill("Southside")
    page.get_by_label("Latitude").fill("30.4627")
    page.get_by_label("Longitude").fill("-84.2211")
    page.get_by_label("Fallback courier cost ($)").fill("eight dollars")
    page.get_by_label("Service area (GeoJSON)").fill('{"type": "Point"}')
    page.get_by_role("button", name="Create store").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Fallback courier cost")
    expect(page.get_by_label("Fallback courier cost ($)")).to_be_focused()
    screenshot(page, "store-refused-focused")


def test_a_page_that_focuses_its_own_field_keeps_it_when_a_filter_is_refused(signed_in: Callable[..., Page]) -> None:
    page = signed_in(Role.OPS)
    page.goto("/console/ops/orders?status=bogus")
    expect(page.get_by_role("alert")).to_contain_text("There is no status “bogus”")
    expect(page.get_by_label("Reference starts with")).to_be_focused()
