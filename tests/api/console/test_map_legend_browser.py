"""The maps of the console read on a phone, in a real browser (Debian's Chromium): their legend was drawn inside
the SVG at 12 px of a 520 px wide map, which a phone shows 307 px wide (the legend at 7 px) and the live view's
column at 1280 px shows 418 px wide (at 9.6 px). The legend is the page's own text beside the map, at the
page's size, whatever the map's scale; the map keeps its words for screen readers (its title and description)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import pytest
from console_support import add_waiting_orders
from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool

from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
SMALLEST_PX = 12.0

RENDERED_SIZES = """box => [...box.querySelectorAll('text, li')].filter(e => e.textContent.trim()).map(e => {
    const size = parseFloat(getComputedStyle(e).fontSize);
    const svg = e.closest('svg');
    const scale = svg ? svg.getBoundingClientRect().width / svg.viewBox.baseVal.width : 1;
    return [e.textContent.trim(), size * scale];
})"""
"""Each text of a map's legend as drawn on screen: its words and its size in CSS pixels."""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_legend_of_the_live_and_the_store_maps_is_readable(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot, width: int
) -> None:
    add_waiting_orders(db, store, 2)
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": width, "height": 844})
    for name, path in (
        ("live", f"/console/ops/stores/{store.id}/live"),
        ("edit", f"/console/ops/stores/{store.id}/edit"),
    ):
        page.goto(path)
        legend = page.locator(".map-legend, svg g[data-layer=legend]").first
        expect(legend).to_contain_text("service area")
        if name == "live":
            expect(legend).to_contain_text("drop-offs pending (2)")
        screenshot(page, f"map-legend-{name}-{width}")
        sizes: list[tuple[str, float]] = legend.evaluate(RENDERED_SIZES)
        assert sizes, f"{name}: no legend text"
        small = [(words, round(size, 1)) for words, size in sizes if size < SMALLEST_PX]
        assert not small, f"{name} at {width} px: legend text under {SMALLEST_PX} px: {small}"
        wide: int = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} is {wide} px wide in a {width} px window"


@pytest.mark.parametrize("width", [390, 1280])
def test_the_words_drawn_inside_the_maps_read_at_12_px_or_more(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot, width: int
) -> None:
    """The store's name and the scale bar's length are drawn inside the map, at 11 and 12 px of its 520: 6.5 px
    on a phone, 8.8 px in the live view's column at 1280 px. The edit page's map, shown at its full size on a
    wide screen, keeps the sizes it was drawn with."""
    add_waiting_orders(db, store, 2)
    page = signed_in(Role.OPS)
    page.set_viewport_size({"width": width, "height": 844})
    for name, path in (
        ("live", f"/console/ops/stores/{store.id}/live"),
        ("edit", f"/console/ops/stores/{store.id}/edit"),
    ):
        page.goto(path)
        drawn = page.locator(".map svg[viewBox]").first
        expect(drawn.locator("text").first).to_be_visible()
        page.wait_for_load_state("load")
        screenshot(page, f"map-words-{name}-{width}")
        sizes: list[tuple[str, float]] = drawn.evaluate(RENDERED_SIZES)
        assert {words for words, _ in sizes} >= {store.name}, f"{name}: the store's name is not on the map"
        small = [(words, round(size, 1)) for words, size in sizes if size < SMALLEST_PX - 0.05]
        assert not small, f"{name} at {width} px: words on the map under {SMALLEST_PX} px: {small}"
        if name == "edit" and width == 1280:
            assert drawn.evaluate("svg => svg.getBoundingClientRect().width") == 520
            assert drawn.locator("text", has_text=store.name).get_attribute("font-size") == "12"
        wide: int = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} is {wide} px wide in a {width} px window"


NAME_BOX = """text => {
    const svg = text.ownerSVGElement, view = svg.viewBox.baseVal, box = text.getBBox();
    const scale = svg.getBoundingClientRect().width / view.width;
    return {words: text.textContent, left: box.x - view.x, right: view.x + view.width - (box.x + box.width),
            share: box.width / view.width, px: parseFloat(getComputedStyle(text).fontSize) * scale};
}"""
"""Where a store's name lies on its map: its words, its room to the map's left and right edges (map units), the
share of the map's width it covers and its size on screen in CSS pixels."""


def test_a_long_store_name_stays_inside_a_phones_map_and_leaves_most_of_it_clear(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    """Enlarged to read at 12 px on a phone, a store's name of 38 characters ran off the map's edge or lay across
    nearly its whole width (the drop-offs under it hidden). It is shortened on screen to at most 60 % of the map's
    width and kept inside it; whole in the star's title and the page's heading, and whole on a wide screen."""
    name = "Crowdship Supercentre West Tennessee St"
    long_named = replace(store, id=uuid4(), name=name)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(long_named)
        uow.commit()
    page = signed_in(Role.OPS)
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 844})
        page.goto(f"/console/ops/stores/{long_named.id}/edit")
        label = page.locator(".map svg[viewBox] g[data-layer=stores] text").first
        expect(label).to_be_visible()
        page.wait_for_load_state("load")
        screenshot(page, f"long-store-name-{width}")
        placed = label.evaluate(NAME_BOX)
        assert min(placed["left"], placed["right"]) >= 0, f"at {width} px the name runs off the map: {placed}"
        assert placed["share"] <= 0.6, f"at {width} px the name covers {placed['share']:.0%} of the map's width"
        assert placed["px"] >= SMALLEST_PX - 0.05, f"at {width} px the name is drawn at {placed['px']:.1f} px"
        if width == 390:
            assert placed["words"].endswith("…")
            assert name.startswith(placed["words"][:-1].rstrip())
        else:
            assert placed["words"] == name
        expect(page.locator(".map svg g[data-layer=stores] path title").first).to_have_text(name)
