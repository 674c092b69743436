"""A refused form puts the keyboard focus on its first refused field, in a real browser (Debian's Chromium): the
page came back with the focus on its body, so a person with only a keyboard tabbed through the navigation and
every field above to reach the one to correct. A page that focuses something itself (a confirmation's safe choice)
keeps it. A search page focuses nothing on arrival: its focused search box popped a phone's keyboard over the
results; the keyboard reaches it first after the link that skips to the content."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from dispatch.accounts import Role
from dispatch.model import Store

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


def test_a_refused_filter_of_a_search_page_is_focused(signed_in: Callable[..., Page]) -> None:
    page = signed_in(Role.OPS)
    page.goto("/console/ops/orders?status=bogus")
    expect(page.get_by_role("alert")).to_contain_text("There is no status “bogus”")
    expect(page.get_by_role("combobox", name="Status")).to_be_focused()


def test_a_search_page_on_a_phone_focuses_nothing_and_the_keyboard_reaches_its_box_first(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    for path, box in (("/console/ops/orders", "Reference starts with"), ("/console/ops/shoppers", "Name starts with")):
        page.goto(path)
        page.wait_for_load_state("load")
        focused = page.evaluate("document.activeElement.tagName")
        assert focused == "BODY", f"{path} focused a {focused} on arrival: a phone's keyboard pops up over it"
        screenshot(page, path.rsplit("/", 1)[-1] + "-390-arrived")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        expect(page.get_by_label(box)).to_be_focused()


def test_a_stores_edit_form_focuses_nothing_on_arrival_and_a_new_one_its_name(
    signed_in: Callable[..., Page], store: Store
) -> None:
    """Editing, ops come to change any field (often the area, on the map below): the name focused popped a phone's
    keyboard over the form. A new store starts with its name."""
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/console/ops/stores/{store.id}/edit")
    page.wait_for_load_state("load")
    assert page.evaluate("document.activeElement.tagName") == "BODY"
    page.goto("/console/ops/stores/new")
    expect(page.get_by_label("Name")).to_be_focused()
