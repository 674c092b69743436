"""Operations in the console, in a real browser (Debian's Chromium): an ops user creates a store (a refused
area first, then a good one shown on the map), an order is taken in and a shopper checks in through the API,
the live store view refreshes by itself when a batch offers the order, another order is found by reference
and cancelled after a confirmation, the delivered order shows its history and proof photo reference, the
shopper's tier is set, an incident's claim is recorded (reviewing the tier) and it is resolved; a picked-up
order whose shopper was deactivated is marked not delivered with the keyboard, taken back and requeued; finance
and shoppers are refused. Every page is saved under `.local/screenshots/` (test--page.png)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2
import pytest
from api_support import HOME, ON_THE_WAY, Account, check_in, ingest
from console_support import StaffLogin, add_waiting_orders, sign_in
from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store, TrustTier
from routing.areas import circular_area, service_area_to_geojson
from routing.geo import GeoPoint

Screenshot = Callable[[Page, str], Path]
STORE_AT = GeoPoint(30.4627, -84.2211)


@pytest.fixture
def clock() -> ManualClock:
    """Half an hour behind the wall clock: the test moves it forward by minutes, and a token must never be
    issued in the future by the wall clock (PyJWT refuses an `iat` ahead of it) when the console renews it."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30))


def _create_store(page: Page, db: ConnectionPool, screenshot: Screenshot) -> Store:
    page.goto("/console/ops/stores")
    expect(page.get_by_role("heading", name="Stores")).to_be_visible()
    screenshot(page, "stores-empty")
    page.get_by_role("link", name="New store").click()
    page.get_by_label("Name").fill("Crowdship Southside")
    page.get_by_label("Latitude").fill(str(STORE_AT.lat))
    page.get_by_label("Longitude").fill(str(STORE_AT.lon))
    page.get_by_label("Fallback courier cost ($)").fill("$8.99")
    elsewhere = service_area_to_geojson(circular_area(GeoPoint(30.7, -84.2), 3_000, segments=16))
    page.get_by_label("Service area (GeoJSON)").fill(json.dumps(elsewhere))
    for day, opens, closes in (
        ("Monday", "07:00", "23:00"),
        ("Saturday", "08:00", "24:00"),
        ("Sunday", "09:00", "20:00"),
    ):
        page.get_by_label(f"{day} opens").fill(opens)
        page.get_by_label(f"{day} closes").fill(closes)
    for day, opens, closes in (("Monday", "08:00", "07:00"), ("Friday", "18:00", "09:00")):  # both backwards
        page.get_by_label(f"{day} opens").fill(opens)
        page.get_by_label(f"{day} closes").fill(closes)
    page.get_by_role("button", name="Create store").click()
    for day in ("Monday", "Friday"):  # every day's error in one answer, each next to its day
        expect(page.get_by_role("row", name=day)).to_contain_text("must be after opens")
        expect(page.get_by_label(f"{day} closes")).to_have_attribute("aria-invalid", "true")
    # and the area's, in the same answer: nothing is told only on the next submission
    expect(page.get_by_label("Service area (GeoJSON)")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "store-form-hours-refused")
    page.get_by_label("Monday opens").fill("07:00")
    page.get_by_label("Monday closes").fill("23:00")
    page.get_by_label("Friday opens").fill("")
    page.get_by_label("Friday closes").fill("")
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("alert")).to_have_text("Service area: must contain the store's own location.")
    expect(page.get_by_label("Service area (GeoJSON)")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "store-form-refused")
    area = service_area_to_geojson(circular_area(STORE_AT, 6_000, segments=48))
    page.get_by_label("Service area (GeoJSON)").fill(json.dumps(area))
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("status")).to_contain_text("Store “Crowdship Southside” created.")
    expect(page.locator("svg#store-map")).to_be_visible()
    expect(page.get_by_label("Saturday closes")).to_have_value("24:00")
    expect(page.get_by_label("Fallback courier cost ($)")).to_have_value("8.99")
    screenshot(page, "store-edit-with-map")
    match = re.search(r"/console/ops/stores/([0-9a-f-]{36})/edit", page.url)
    assert match, page.url
    with PostgresDispatchUnitOfWork(db) as uow:
        store = uow.stores.get(UUID(match.group(1)))
    assert store.fallback_cost_cents == 899  # dollars typed, exact cents kept
    return store


def _watch_it_offered(page: Page, api: httpx2.Client, ops: Account, store: Store, screenshot: Screenshot) -> None:
    page.goto(f"/console/ops/stores/{store.id}/live")
    expect(page.get_by_test_id("count-pending")).to_have_text("1")
    expect(page.get_by_test_id("count-open-offers")).to_have_text("0")
    expect(page.locator("table.waiting").get_by_text("not batched yet")).to_be_visible()
    screenshot(page, "store-live-waiting")
    # A batch runs elsewhere (the dispatcher's endpoint): the page picks it up by itself, without a reload.
    assert api.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()["offers"]
    expect(page.get_by_test_id("count-open-offers")).to_have_text("1", timeout=15_000)
    expect(page.get_by_test_id("count-offered")).to_have_text("1")
    expect(page.get_by_role("link", name="WEB-5001")).to_be_visible()
    screenshot(page, "store-live-offered")


def _cancel_another(
    page: Page, api: httpx2.Client, ops: Account, second: dict[str, Any], screenshot: Screenshot
) -> None:
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Orders").click()
    page.get_by_label("Reference starts with").fill("web-5002")
    page.get_by_label("Reference starts with").press("Enter")
    expect(page.get_by_role("link", name="WEB-5002")).to_be_visible()
    expect(page.get_by_role("link", name="WEB-5001")).to_have_count(0)
    screenshot(page, "orders-search")
    page.get_by_role("link", name="WEB-5002").click()
    expect(page.get_by_role("heading", name="Why it has no shopper")).to_be_visible()
    expect(page.get_by_text(re.compile(r"The last batch \(.*\) left it waiting: [a-z ,()]+\."))).to_be_visible()
    expect(page.get_by_text("already has an open or accepted offer")).to_be_visible()
    screenshot(page, "order-waiting")
    page.get_by_role("link", name="Cancel order…").click()
    expect(page.get_by_role("heading", name="Cancel order WEB-5002?")).to_be_visible()
    expect(page.get_by_role("link", name="No, keep it")).to_be_focused()  # Enter at once cancels nothing
    screenshot(page, "order-cancel-confirm")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Order WEB-5002")).to_be_visible()
    page.get_by_role("link", name="Cancel order…").click()
    expect(page.get_by_role("link", name="No, keep it")).to_be_focused()  # the page has loaded: keys reach it
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Yes, cancel the order")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Order WEB-5002 cancelled.")
    expect(page.locator("table.timeline")).to_contain_text("cancelled by you")
    expect(page.locator("table.timeline")).not_to_contain_text("by operations")
    expect(page.get_by_text("No delivery attempt.", exact=True)).to_be_visible()  # closed: no "yet"
    screenshot(page, "order-cancelled")
    assert api.get(f"/ops/orders/{second['order_id']}", headers=ops.headers).json()["status"] == "cancelled"


def _carry_and_deliver(
    page: Page,
    api: httpx2.Client,
    ana: Account,
    trip: dict[str, Any],
    first: dict[str, Any],
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    """The shopper accepts, picks up, reports a torn bag on the way and delivers with a photo (the clock moves
    less than the console session's 15 minutes in the whole test)."""
    clock.advance(timedelta(seconds=20))  # within the offer's minute
    offer = api.get("/shopper/offers/current", headers=ana.headers).json()
    assert api.post(f"/shopper/offers/{offer['id']}/accept", headers=ana.headers).status_code == 200
    page.goto(f"/console/ops/stores/{trip['store_id']}/live")
    expect(page.get_by_role("cell", name="WEB-5001")).to_be_visible()  # the trip carries it: its route is drawn
    expect(page.locator("svg#live-map polyline title", has_text=re.compile(r"^Ana's route$"))).to_have_count(1)
    expect(page.locator("svg#live-map path title", has_text=re.compile(r"^Ana's destination$"))).to_have_count(1)
    screenshot(page, "store-live-accepted")
    clock.advance(timedelta(minutes=3))
    picked = api.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [first["bag_code"]]}, headers=ana.headers
    )
    assert picked.status_code == 200, picked.text
    clock.advance(timedelta(minutes=4))
    incident = api.post(
        f"/shopper/orders/{first['order_id']}/incidents",
        json={"kind": "damage", "description": "one bag tore on the stairs"},
        headers=ana.headers,
    )
    assert incident.status_code == 201, incident.text
    clock.advance(timedelta(minutes=1))
    delivered = api.post(
        f"/shopper/orders/{first['order_id']}/delivery",
        json={
            "position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon},
            "code": first["delivery_code"],
            "photo_ref": "proofs/web-5001-door.jpg",
        },
        headers=ana.headers,
    )
    assert delivered.status_code == 200, delivered.text


def _shopper_and_incident(page: Page, ana: Account, screenshot: Screenshot) -> None:
    page.goto("/console/ops/shoppers")
    screenshot(page, "shoppers")
    page.get_by_role("link", name="Ana").click()
    page.get_by_label("Tier").select_option("Gold")
    page.get_by_role("button", name="Set tier").click()
    expect(page.get_by_role("status")).to_have_text("Ana's trust tier is now Gold.")
    screenshot(page, "shopper")
    page.goto("/console/ops/incidents")
    reported = page.get_by_role("row").filter(has_text="one bag tore on the stairs")
    expect(reported.get_by_role("link", name="Ana")).to_be_visible()  # names, not ids
    expect(reported.get_by_role("link", name="WEB-5001")).to_be_visible()
    screenshot(page, "incidents-open")
    reported.get_by_role("link").first.click()
    page.get_by_label("Insurer's claim reference").fill("AXA-77")
    page.get_by_label("Amount claimed ($)").fill("45.999")
    page.get_by_role("button", name="Record claim").click()
    expect(page.locator("#e-amount")).to_have_text("must be an amount in dollars and cents, like 45.99")
    page.get_by_label("Amount claimed ($)").fill("$45.99")
    page.get_by_role("button", name="Record claim").click()
    expect(page.get_by_role("status")).to_contain_text("trust tier went from Gold to Bronze")
    expect(page.get_by_role("row").filter(has_text="AXA-77")).to_contain_text("$45.99")
    screenshot(page, "incident-claim-recorded")
    page.get_by_label("What was done about it").fill("Customer refunded; the bag supplier was told")
    page.get_by_role("button", name="Resolve incident").click()
    expect(page.get_by_role("status")).to_contain_text("Incident resolved.")
    screenshot(page, "incident-resolved")
    page.goto(f"/console/ops/shoppers/{ana.shopper_id}")
    expect(page.get_by_label("Tier")).to_have_value("1")  # bronze


def test_ops_run_a_store_from_the_console(
    signed_in: Callable[..., Page],
    api: httpx2.Client,
    db: ConnectionPool,
    ops: Account,
    make_shopper: Callable[..., Account],
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    page = signed_in(Role.OPS)
    store = _create_store(page, db, screenshot)
    first = ingest(api, ops, store, clock, ref="WEB-5001", dropoff=ON_THE_WAY)
    ana = make_shopper("Ana", tier=TrustTier.SILVER, home=HOME)
    trip = check_in(api, ana, store, clock)
    assert api.post("/shopper/location", json={"lat": 30.4700, "lon": -84.2205}, headers=ana.headers).status_code == 202
    clock.advance(timedelta(minutes=1))
    _watch_it_offered(page, api, ops, store, screenshot)

    clock.advance(timedelta(seconds=15))
    second = ingest(api, ops, store, clock, ref="WEB-5002", dropoff=GeoPoint(30.4500, -84.2400))
    assert not api.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()["offers"]
    _cancel_another(page, api, ops, second, screenshot)

    _carry_and_deliver(page, api, ana, trip, first, clock, screenshot)
    page.goto(f"/console/ops/orders/{first['order_id']}")
    expect(page.get_by_test_id("photo-ref")).to_have_text("proofs/web-5001-door.jpg")
    expect(page.locator("table.timeline")).to_contain_text("picked up")
    expect(page.locator("dl.facts").first).to_contain_text("Delivered byAna, on the trip checked in")
    screenshot(page, "order-delivered")
    page.locator("details.why-price summary").click()  # the offer's price, opened by its parts
    expect(page.locator("details.why-price")).to_contain_text("No other trip could carry it.")
    screenshot(page, "order-offer-price-in-parts")

    _shopper_and_incident(page, ana, screenshot)
    page.goto("/console/ops/incidents?status=")
    expect(page.get_by_role("link", name="WEB-5001")).to_have_count(1)
    screenshot(page, "incidents-all")
    page.goto(f"/console/ops/stores/{store.id}/live")
    screenshot(page, "store-live-after")
    page.goto("/console/ops/stores")
    expect(page.get_by_role("row").filter(has_text="Crowdship Southside")).to_contain_text("$8.99")
    screenshot(page, "stores")
    page.goto("/console/ops/stores?offset=100")
    expect(page.get_by_text("Nothing on this page: it lies past the last store.")).to_be_visible()
    page.get_by_role("link", name="First page").click()
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text("of ")


def test_finance_gets_no_operations_pages(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.FINANCE)
    expect(page.get_by_role("navigation", name="Sections").get_by_role("link", name="Stores")).to_have_count(0)
    for path in ("/console/ops/stores", "/console/ops/orders", "/console/ops/shoppers", "/console/ops/incidents"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 403, path
        expect(page.get_by_text("This page is for ops or admin")).to_be_visible()
    screenshot(page, "finance-refused")


def test_a_shopper_cannot_open_operations_pages(
    new_page: Callable[[], Page], make_login: Callable[..., StaffLogin], screenshot: Screenshot
) -> None:
    page = new_page()
    sign_in(page, make_login(Role.SHOPPER))
    page.goto("/console/ops/stores/new")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    screenshot(page, "shopper-refused")


def test_a_forged_post_without_the_csrf_token_changes_nothing(
    api: httpx2.Client, signed_in: Callable[..., Page], ops: Account, live_server: str
) -> None:
    """The session cookie alone (a form posted from another site) is refused with 403."""
    page = signed_in(Role.OPS)
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    response = httpx2.post(
        f"{live_server}/console/ops/stores/new",
        data={"name": "Forged", "location.lat": "30.46", "location.lon": "-84.22"},
        cookies=cookies,
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "Forged" not in [
        store["name"] for store in api.get("/ops/stores", params={"limit": 200}, headers=ops.headers).json()["items"]
    ]


def test_the_live_view_keeps_long_references_on_one_line_at_1280_px(
    signed_in: Callable[..., Page], db: ConnectionPool, store: Store, screenshot: Screenshot
) -> None:
    add_waiting_orders(db, store, 12)
    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/stores/{store.id}/live")
    first = page.get_by_role("link", name="WEB-LONG-REFERENCE-0011")
    expect(first).to_be_visible()
    box = first.bounding_box()
    assert box is not None
    assert box["height"] < 30, box  # one line of text, not three
    expect(page.locator("table.waiting").get_by_text("same as above")).to_have_count(11)
    legend = page.locator("#live-map-legend")  # the page's own text under the map
    map_box, legend_box = page.locator("svg#live-map").bounding_box(), legend.bounding_box()
    assert map_box is not None
    assert legend_box is not None
    assert legend_box["x"] + legend_box["width"] <= map_box["x"] + map_box["width"] + 1  # nothing clipped
    screenshot(page, "store-live-many-waiting")


def test_ops_mark_an_order_not_delivered_with_the_keyboard_then_take_it_back_and_requeue_it(
    signed_in: Callable[..., Page],
    api: httpx2.Client,
    ops: Account,
    store: Store,
    make_shopper: Callable[..., Account],
    make_staff: Callable[[Role], Account],
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    """Ana picked the order up and was deactivated on the road. From the order's page, by keyboard alone: a
    blank reason is refused beside the field, a reason marks it not delivered (her trip ends); then its bags are
    taken back and it is put back in the queue."""
    receipt = ingest(api, ops, store, clock, ref="WEB-6001", dropoff=ON_THE_WAY)
    ana = make_shopper("Ana", home=HOME)
    trip = check_in(api, ana, store, clock)
    assert api.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()["offers"]
    offer = api.get("/shopper/offers/current", headers=ana.headers).json()
    assert api.post(f"/shopper/offers/{offer['id']}/accept", headers=ana.headers).status_code == 200
    picked = api.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=ana.headers
    )
    assert picked.status_code == 200, picked.text
    admin = make_staff(Role.ADMIN)
    assert api.post(f"/admin/users/{ana.user_id}/deactivate", headers=admin.headers).status_code == 200

    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/orders/{receipt['order_id']}")
    expect(page.get_by_role("button", name="Bags are back in the store")).to_have_count(0)
    page.get_by_role("link", name="Mark not delivered…").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Mark order WEB-6001 not delivered?")).to_be_visible()
    reason = page.get_by_label("Why it will not be delivered")
    expect(reason).to_be_focused()
    page.keyboard.type("   ")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Mark not delivered")).to_be_focused()
    page.keyboard.press("Enter")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#e-reason")).to_be_visible()
    screenshot(page, "order-not-delivered-refused")
    reason.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Shopper deactivated mid-trip; bags not recovered")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(
        "Order WEB-6001 marked not delivered; the trip that carried it is over."
    )
    expect(page.locator("table.timeline")).to_contain_text(
        "not delivered: “Shopper deactivated mid-trip; bags not recovered” by you"
    )
    screenshot(page, "order-not-delivered")
    trips = api.get("/ops/trips", params={"shopper_id": str(ana.shopper_id)}, headers=ops.headers).json()["items"]
    assert [listed["status"] for listed in trips] == ["completed"]

    # Her trip is over and the order waits for nobody: the store's live view lists it until its bags are back.
    page.goto(f"/console/ops/stores/{store.id}/live")
    expect(page.get_by_role("heading", name="Failed on the road: bags to take back")).to_be_visible()
    expect(page.get_by_test_id("count-failed")).to_have_text("1")
    screenshot(page, "store-live-failed")
    page.locator("table.needs-action").get_by_role("link", name="WEB-6001").click()

    page.get_by_role("button", name="Bags are back in the store").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Order WEB-6001 is back in the store.")
    page.get_by_role("button", name="Put back in the queue").click()
    expect(page.get_by_role("status")).to_contain_text("Order WEB-6001 is back in the queue for shoppers.")
    expect(page.locator("dl.facts dt", has_text="Carried")).to_have_text("Carried last by")  # nobody carries it now
    screenshot(page, "order-requeued-after-not-delivered")
    assert api.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "pending"


def test_ops_hand_an_order_to_the_courier_fleet_only_after_saying_yes(
    signed_in: Callable[..., Page],
    api: httpx2.Client,
    ops: Account,
    store: Store,
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    """The order's page asks first, on a page of its own whose focused choice keeps the order: Enter right
    after it opens hands nothing on; saying yes by keyboard does."""
    receipt = ingest(api, ops, store, clock, ref="WEB-7001", dropoff=ON_THE_WAY)
    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/orders/{receipt['order_id']}")
    page.get_by_role("link", name="Hand to the courier fleet…").click()
    expect(page.get_by_role("heading", name="Hand order WEB-7001 to the courier fleet?")).to_be_visible()
    expect(page.get_by_role("link", name="No, keep it for shoppers")).to_be_focused()
    screenshot(page, "order-fallback-confirm")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Order WEB-7001")).to_contain_text("pending")
    page.get_by_role("link", name="Hand to the courier fleet…").click()
    expect(page.get_by_role("link", name="No, keep it for shoppers")).to_be_focused()  # loaded: keys reach it
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Yes, hand it to the courier fleet")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Order WEB-7001 handed to the courier fleet.")
    screenshot(page, "order-handed-to-fleet")
    assert api.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "fallback"


def test_ops_issue_a_new_delivery_code_and_read_it_once(
    signed_in: Callable[..., Page],
    api: httpx2.Client,
    ops: Account,
    store: Store,
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    receipt = ingest(api, ops, store, clock, ref="WEB-8001", dropoff=ON_THE_WAY)
    page = signed_in(Role.OPS)
    page.goto(f"/console/ops/orders/{receipt['order_id']}")
    page.get_by_role("link", name="Issue a new delivery code…").click()
    expect(page.get_by_role("link", name="No, keep the current code")).to_be_focused()
    screenshot(page, "delivery-code-confirm")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Yes, issue a new code")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New delivery code for order WEB-8001")).to_be_focused()
    code = page.get_by_test_id("delivery-code")
    expect(code).to_have_text(re.compile(r"^\S+$"))
    assert code.inner_text() != receipt["delivery_code"]
    expect(page.get_by_text("It is shown only this once.")).to_be_visible()
    screenshot(page, "delivery-code-shown")
