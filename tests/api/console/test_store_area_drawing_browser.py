"""A store's service area drawn on the map of its form, in a real browser (Debian's Chromium): clicks on the map
become a GeoJSON Polygon in the form's box, saved with the store; a new store is shown on the map as typed
(nothing saved) before its area is drawn. Screenshots under `.local/screenshots/`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool
from shapely import Point

from crowdship.settings import DEFAULT_STREET_NETWORKS_DIR
from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
SQUARE = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7)]
"""Corners as fractions of the map's width and height (the map is centred on the store)."""


def _click_corners(page: Page) -> None:
    """Clicks each corner of SQUARE on the map area of the form's map (its legend below left out)."""
    svg = page.locator("svg[data-projection]")
    box = svg.bounding_box()
    assert box is not None
    view_height = float(svg.evaluate("s => s.viewBox.baseVal.height"))
    map_height = box["height"] * float(svg.get_attribute("data-map-height") or 0) / view_height
    for x, y in SQUARE:
        svg.click(position={"x": box["width"] * x, "y": map_height * y})


def _drawn_ring(page: Page) -> list[list[float]]:
    area = json.loads(page.get_by_label("Service area (GeoJSON)").input_value())
    assert area["type"] == "Polygon"
    ring: list[list[float]] = area["coordinates"][0]
    return ring


def test_ops_draw_a_stores_area_on_its_map_and_save_it(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/stores/{store.id}/edit")
    page.get_by_role("button", name="Draw the area on the map").click()
    expect(page.get_by_role("button", name="Use this area")).to_be_disabled()
    _click_corners(page)
    expect(page.get_by_role("status")).to_contain_text("Drawing: 4 corners.")
    page.get_by_role("button", name="Use this area").click()
    ring = _drawn_ring(page)
    assert len(ring) == 5
    assert ring[0] == ring[-1]
    lons, lats = [lon for lon, _ in ring], [lat for _, lat in ring]
    assert min(lons) < store.location.lon < max(lons)
    assert min(lats) < store.location.lat < max(lats)
    expect(page.get_by_label("Service area (GeoJSON)")).to_be_focused()
    screenshot(page, "area-drawn")
    page.get_by_role("button", name="Save store").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    assert _drawn_ring(page) == ring  # the box shows the area as saved
    with PostgresDispatchUnitOfWork(db) as uow:
        saved = uow.stores.get(store.id)
    assert saved is not None
    assert saved.service_area.contains(Point(store.location.lon, store.location.lat))
    assert saved.service_area.bounds == (min(lons), min(lats), max(lons), max(lats))


def test_a_new_store_is_shown_on_the_map_as_typed_and_its_area_drawn_there(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    page = signed_in(Role.OPS)
    page.goto("/console/ops/stores/new")
    page.get_by_label("Name").fill("Piedmont Avenue")
    page.get_by_role("button", name="Show on the map").click()
    expect(page.get_by_role("alert")).to_contain_text("Type the store's latitude and longitude to see it on the map.")
    expect(page.get_by_label("Name")).to_have_value("Piedmont Avenue")

    page.get_by_label("Latitude").fill("37.8244")
    page.get_by_label("Longitude").fill("-122.2312")
    page.get_by_role("button", name="Show on the map").click()
    expect(page.get_by_role("heading", name="Service area as typed, not saved")).to_be_visible()
    # Piedmont's streets where the shared data is beside the clone; else the grid says there are none
    base = "OpenStreetMap" if DEFAULT_STREET_NETWORKS_DIR.is_dir() else "no street data for this place"
    expect(page.locator("svg[data-projection]")).to_contain_text(base)
    expect(page.get_by_label("Name")).to_have_value("Piedmont Avenue")
    page.get_by_role("button", name="Draw the area on the map").click()
    _click_corners(page)
    page.get_by_role("button", name="Use this area").click()
    screenshot(page, "new-store-area-drawn")
    page.get_by_label("Fallback courier cost ($)").fill("7.50")
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("status")).to_have_text("Store “Piedmont Avenue” created.")
    assert len(_drawn_ring(page)) == 5
