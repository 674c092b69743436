"""Console pages over HTTP (no browser), as rendered HTML: what a refused form, a broken link and an unknown
address say, and what the live view lists and announces."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from api_support import ON_THE_WAY, Account, check_in, current_offer, ingest, run_batch
from console_support import (
    StaffLogin,
    add_an_open_trip,
    add_an_order_for_later,
    add_waiting_orders,
    form_token,
    said,
)
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.console.session import CSRF_FIELD
from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Shopper, Store
from dispatch.offer_explanation import BATCH_REASON_TEXT
from dispatch.services.store_view import MAX_LISTED
from routing.geo import GeoPoint


def _store_form(client: TestClient, **fields: str) -> dict[str, str]:
    """The new store form filled in well but for its area, with `fields` over it (dotted names as keywords:
    `**{"opening_hours.monday.opens": "08:00"}`)."""
    form = {
        CSRF_FIELD: form_token(client, "/console/ops/stores/new"),
        "name": "Southside",
        "location.lat": "30.4627",
        "location.lon": "-84.2211",
        "fallback_cost": "8.99",
    }
    form.update(fields)
    return form


def test_a_store_form_tells_every_bad_day_and_every_bad_field_at_once(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    """A malformed Friday, a Monday that closes before it opens, an empty name and no area, in one answer."""
    sign_in_as(Role.OPS)
    days = {
        "opening_hours.monday.opens": "08:00",
        "opening_hours.monday.closes": "07:00",
        "opening_hours.friday.opens": "9:00",
        "opening_hours.friday.closes": "17:00",
    }
    page = client.post("/console/ops/stores/new", data=_store_form(client, name="", **days))
    assert page.status_code == 422
    assert "Monday closes: must be after opens" in page.text
    assert "Friday opens: must be a time as hh:mm" in page.text
    assert "Name: must not be empty" in page.text
    assert "Service area: is required" in page.text
    assert page.text.count('class="has-error"') == 2  # the two days' rows, each with its own message


def test_a_broken_link_is_a_sentence_not_pydantics_message(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    sign_in_as(Role.FINANCE)
    page = client.get("/console/finance/batches/not-a-uuid")
    assert page.status_code == 422
    assert "This link is broken: the batch id is not valid." in page.text
    assert "Input should be" not in page.text


def test_a_batch_to_the_last_day_there_is_is_a_readable_form_error_not_a_500(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    """To 9999-12-31: the day after it cannot be written; the form answers 422 naming "To", like any bad date."""
    sign_in_as(Role.FINANCE)
    form = {
        CSRF_FIELD: form_token(client, "/console/finance/batches"),
        "idempotency_key": "far-future",
        "period_start": "2026-12-01",
        "period_end": "9999-12-31",
    }
    page = client.post("/console/finance/batches", data=form)
    assert page.status_code == 422
    assert "To: must be between 2000-01-01 and 2100-01-01 (UTC)" in said(page.text)
    assert 'id="e-period_end"' in page.text
    assert 'value="9999-12-31"' in page.text  # the form keeps what was typed


def test_an_unknown_console_address_is_a_console_page_with_the_way_home(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    signed_out = client.get("/console/nope")
    assert signed_out.status_code == 404
    assert signed_out.headers["content-type"].startswith("text/html")
    assert "No such page" in signed_out.text
    assert 'href="/console"' in signed_out.text
    sign_in_as(Role.FINANCE)
    signed_in = client.get("/console/finance/nope")
    assert "No such page" in signed_in.text
    assert "Sign out" in signed_in.text  # in the layout, with the reader's navigation
    assert "Payout batches" in signed_in.text
    wrong_method = client.delete("/console/finance/audit")
    assert wrong_method.status_code == 405
    assert "No such page" in wrong_method.text


def test_outside_the_console_an_unknown_address_stays_a_json_problem(client: TestClient) -> None:
    answer = client.get("/ops/nope")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert client.get("/consolex").headers["content-type"] == "application/problem+json"


def test_a_refusal_and_a_broken_link_keep_the_navigation_and_sign_out(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    sign_in_as(Role.FINANCE)
    refused = client.get("/console/ops/stores")
    assert refused.status_code == 403
    broken = client.get("/console/finance/batches/not-a-uuid")
    for page in (refused, broken):
        assert "Sign out" in page.text
        assert 'aria-label="Sections"' in page.text


def test_the_live_view_says_how_many_it_left_out_and_links_the_whole_list(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], db: ConnectionPool, store: Store
) -> None:
    add_waiting_orders(db, store, MAX_LISTED + 1)
    sign_in_as(Role.OPS)
    page = client.get(f"/console/ops/stores/{store.id}/live").text
    assert f"First {MAX_LISTED} of {MAX_LISTED + 1}" in page
    assert f'href="/console/ops/orders?store_id={store.id}&amp;status=pending">see all pending orders' in page


def test_the_live_view_says_a_repeated_reason_once_and_announces_only_a_short_status(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], db: ConnectionPool, store: Store
) -> None:
    """Not the whole panel re-read by a screen reader every five seconds: a polite line of counts, swapped in
    out of band with each refresh."""
    add_waiting_orders(db, store, 3)
    sign_in_as(Role.OPS)
    page = client.get(f"/console/ops/stores/{store.id}/live").text
    assert "aria-live" not in page
    assert '<p id="live-status" class="visually-hidden" role="status">' in page
    assert page.count(">same as above<") == 2  # the first row says why; the next two refer to it
    panel = client.get(f"/console/ops/stores/{store.id}/live/panel", headers={"HX-Request": "true"}).text
    assert '<p id="live-status" hx-swap-oob="innerHTML">3 pending, 0 offered' in panel


def test_an_unknown_status_lists_the_statuses_in_words(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    sign_in_as(Role.OPS)
    page = client.get("/console/ops/orders", params={"status": "lost"}).text
    refusal = re.search(r'<div class="problem" role="alert" id="problem">(.*?)</div>', page, re.DOTALL)
    assert refusal is not None
    assert "There is no status “lost”: choose one of pending, offered, accepted, picked up," in refusal.group(1)
    assert "picked_up" not in refusal.group(1)


def test_a_service_area_nested_too_deeply_is_told_on_the_form(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    sign_in_as(Role.OPS)
    page = client.post("/console/ops/stores/new", data=_store_form(client, name="Deep", service_area="[" * 5_000))
    assert page.status_code == 422
    assert "Service area: nested too deeply to be GeoJSON" in page.text


def test_a_form_with_more_fields_than_any_console_form_is_refused_not_a_500(client: TestClient) -> None:
    """Before the CSRF check and without signing in: the parser's own limit becomes a readable refusal."""
    body = "&".join(f"f{index}=1" for index in range(600))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    for path in ("/console/sign-out", "/console/sign-in"):
        page = client.post(path, content=body, headers=headers)
        assert page.status_code == 422, path
        assert "more than 500 fields" in page.text
    token = client.post("/auth/token", content=body, headers=headers)
    assert token.status_code == 422
    assert token.json()["errors"][0]["field"] == "form"


def _accepted(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    shopper: Account,
    *refs: str,
    dropoffs: dict[str, GeoPoint] | None = None,
    **trip_fields: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Orders offered together to the shopper's new trip and accepted (not picked up yet); `dropoffs` moves
    some orders' drop-off (by reference), `trip_fields` go in the check-in (`max_detour_m=20_000`)."""
    moved = dropoffs or {}
    receipts = [ingest(client, ops, store, clock, ref=ref, dropoff=moved.get(ref, ON_THE_WAY)) for ref in refs]
    trip = check_in(client, shopper, store, clock, **trip_fields)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    assert sorted(stop["order_id"] for stop in offer["stops"]) == sorted(r["order_id"] for r in receipts)
    assert client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers).status_code == 200
    return receipts, trip


def _carrying_cell(page: str, shopper_name: str) -> str:
    """The "Carrying" cell of the shopper's row in the live view's table of trips."""
    row = re.search(rf">{shopper_name}</a></td>.*?</tr>", page, re.DOTALL)
    assert row is not None, f"no trip of {shopper_name} listed"
    cells: list[str] = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.DOTALL)
    return cells[3]


def test_the_live_view_lists_a_failed_order_whose_bags_are_to_be_taken_back(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """Marked not delivered, the order is failed and its trip goes on without it (or is over): no other list
    of the view shows it, yet nothing moves it on until someone takes its bags back."""
    ana = make_shopper("Ana")
    (failed, carried), trip = _accepted(client, ops, store, clock, ana, "WEB-FAILED-1", "WEB-CARRIED-2")
    picked = client.post(
        f"/shopper/trips/{trip['id']}/pickup",
        json={"bag_codes": [failed["bag_code"], carried["bag_code"]]},
        headers=ana.headers,
    )
    assert picked.status_code == 200, picked.text
    said = client.post(
        f"/ops/orders/{failed['order_id']}/not-delivered", json={"reason": "Bag left at the depot"}, headers=ops.headers
    )
    assert said.status_code == 200, said.text
    sign_in_as(Role.OPS)
    page = client.get(f"/console/ops/stores/{store.id}/live").text
    needs_action = re.search(r'<table class="needs-action">(.*?)</table>', page, re.DOTALL)
    assert needs_action is not None
    assert f'href="/console/ops/orders/{failed["order_id"]}">WEB-FAILED-1</a>' in needs_action.group(1)
    assert "WEB-CARRIED-2" not in needs_action.group(1)
    assert '<span class="stat-n" data-testid="count-failed">1</span>' in page
    carrying = _carrying_cell(page, "Ana")  # the trip goes on with the other order only
    assert "WEB-CARRIED-2" in carrying
    assert "WEB-FAILED-1" not in carrying
    panel = client.get(f"/console/ops/stores/{store.id}/live/panel", headers={"HX-Request": "true"}).text
    assert "past deadline, 1 failed with bags to take back." in panel

    taken_back = client.post(f"/ops/orders/{failed['order_id']}/returned", headers=ops.headers)
    assert taken_back.status_code == 200, taken_back.text
    page = client.get(f"/console/ops/stores/{store.id}/live").text
    assert '<table class="needs-action">' not in page  # returned: it waits in the store now
    waiting = re.search(r'<table class="waiting[^"]*">(.*?)</table>', page, re.DOTALL)
    assert waiting is not None
    assert "WEB-FAILED-1" in waiting.group(1)


def test_the_live_view_no_longer_carries_or_routes_a_cancelled_order(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """Cancelled after its shopper accepted it: the trip carries the other order, and the map neither draws
    the cancelled drop-off nor routes the trip through it."""
    ana = make_shopper("Ana")
    far = GeoPoint(30.4500, -84.2400)
    (_, cancelled), _ = _accepted(
        client, ops, store, clock, ana, "WEB-KEPT-1", "WEB-CANCELLED-2",
        dropoffs={"WEB-CANCELLED-2": far}, max_detour_m=20_000,
    )  # fmt: skip
    sign_in_as(Role.OPS)
    before = client.get(f"/console/ops/stores/{store.id}/live").text
    assert "WEB-CANCELLED-2" in _carrying_cell(before, "Ana")
    assert client.post(f"/ops/orders/{cancelled['order_id']}/cancel", headers=ops.headers).status_code == 200

    page = client.get(f"/console/ops/stores/{store.id}/live").text
    carrying = _carrying_cell(page, "Ana")
    assert "WEB-KEPT-1" in carrying
    assert "WEB-CANCELLED-2" not in carrying
    live_map = re.search(r'<svg[^>]*id="live-map".*?</svg>', page, re.DOTALL)
    assert live_map is not None
    assert "WEB-CANCELLED-2" not in live_map.group(0)
    routes = re.search(r'<g data-layer="routes".*?</g>', live_map.group(0), re.DOTALL)
    assert routes is not None
    (route,) = re.findall(r'<polyline points="([^"]+)"', routes.group(0))
    assert len(route.split()) == 3  # the store, the one drop-off left, the destination


def test_cancelling_and_handing_to_the_fleet_each_ask_first_with_the_safe_choice_focused(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], ops: Account, store: Store, clock: ManualClock
) -> None:
    """Both cannot be undone: the order's page links to a page that asks, whose focused choice keeps the order
    (Enter right after it opens does no harm); a cancelled order's page says it is cancelled already."""
    kept = ingest(client, ops, store, clock, ref="WEB-ASK-1")
    sign_in_as(Role.OPS)
    order_page = client.get(f"/console/ops/orders/{kept['order_id']}").text
    assert f'<a class="button secondary" href="/console/ops/orders/{kept["order_id"]}/fallback">' in order_page
    assert 'action="/console/ops/orders/{}/fallback"'.format(kept["order_id"]) not in order_page

    asked = client.get(f"/console/ops/orders/{kept['order_id']}/fallback")
    assert asked.status_code == 200
    assert "Hand order WEB-ASK-1 to the courier fleet?" in said(asked.text)
    assert 'fallback cost of <span class="money">$8.99</span>' in asked.text
    assert re.search(r"<button[^>]*>Yes, hand it to the courier fleet</button>", asked.text)
    assert not re.search(r"<button[^>]*autofocus", asked.text)
    assert re.search(r"<a [^>]*autofocus>No, keep it for shoppers</a>", asked.text)

    cancel = client.get(f"/console/ops/orders/{kept['order_id']}/cancel").text
    assert "Cancel order WEB-ASK-1?" in said(cancel)
    assert not re.search(r"<button[^>]*autofocus", cancel)
    assert re.search(r"<a [^>]*autofocus>No, keep it</a>", cancel)

    form = {CSRF_FIELD: form_token(client, f"/console/ops/orders/{kept['order_id']}/cancel")}
    done = client.post(f"/console/ops/orders/{kept['order_id']}/cancel", data=form)
    assert "Order WEB-ASK-1 cancelled." in said(done.text)
    again = client.get(f"/console/ops/orders/{kept['order_id']}/cancel").text
    assert "Order WEB-ASK-1 is already cancelled" in said(again)
    assert "Cancel order WEB-ASK-1?" not in said(again)
    assert "Yes, cancel the order" not in again
    fleet = client.get(f"/console/ops/orders/{kept['order_id']}/fallback").text
    assert "Order WEB-ASK-1 cannot go to the courier fleet" in said(fleet)
    assert "Yes, hand it" not in fleet


def test_an_order_handed_to_the_fleet_after_the_confirmation_says_so(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], ops: Account, store: Store, clock: ManualClock
) -> None:
    handed = ingest(client, ops, store, clock, ref="WEB-FLEET-1")
    sign_in_as(Role.OPS)
    path = f"/console/ops/orders/{handed['order_id']}/fallback"
    done = client.post(path, data={CSRF_FIELD: form_token(client, path)})
    assert "Order WEB-FLEET-1 handed to the courier fleet." in said(done.text)
    assert "Hand to the courier fleet…" not in done.text
    assert "Order WEB-FLEET-1 is already with the courier fleet" in said(client.get(path).text)


def _refusal(page: str) -> str:
    found = re.search(r'<div class="problem" role="alert" id="problem">(.*?)</div>', page, re.DOTALL)
    assert found is not None, "the page says what is wrong"
    return said(found.group(1))


def test_a_filter_with_a_value_it_does_not_know_lists_nothing_and_says_so(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], ops: Account, store: Store, clock: ManualClock
) -> None:
    """Not every order or incident as if there were no filter: a 422 page naming the filter and its choices."""
    ingest(client, ops, store, clock, ref="WEB-LISTED-1")
    sign_in_as(Role.OPS)
    assert "WEB-LISTED-1" in client.get("/console/ops/orders", params={"store_id": str(store.id)}).text
    for value in ("bogus", str(uuid4())):
        page = client.get("/console/ops/orders", params={"store_id": value})
        assert page.status_code == 422
        assert f"There is no store “{value}”: choose one of the stores listed." in _refusal(page.text)
        assert "WEB-LISTED-1" not in page.text
        assert '<select id="f-store" name="store_id" aria-invalid="true"' in page.text
    both = client.get("/console/ops/orders", params={"store_id": "bogus", "status": "lost"})
    assert "There is no status “lost”" in _refusal(both.text)
    assert "There is no store “bogus”" in _refusal(both.text)

    for name, what, choices in (
        ("status", "status", "open, resolved or any"),
        ("kind", "kind", "damage, theft, accident, other or any"),
        ("store_id", "store", "the stores listed"),
    ):
        page = client.get("/console/ops/incidents", params={name: "bogus"})
        assert page.status_code == 422, name
        assert f"There is no {what} “bogus”: choose one of {choices}." in _refusal(page.text)
        assert f'name="{name}" aria-invalid="true"' in page.text
    assert client.get("/console/ops/incidents", params={"status": "", "kind": "theft"}).status_code == 200


def test_a_store_form_tells_only_the_real_error_of_a_point_area_and_an_empty_time(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    """A Point pasted as the area is not a missing area; a day that opens but has no closing time is told its
    closing time is required, without quoting the empty text."""
    sign_in_as(Role.OPS)
    point = '{"type": "Point", "coordinates": [-84.2211, 30.4627]}'
    page = client.post(
        "/console/ops/stores/new",
        data=_store_form(client, service_area=point, **{"opening_hours.monday.opens": "08:00"}),
    )
    assert page.status_code == 422
    refusal = _refusal(page.text)
    assert "Service area (type): expected 'Polygon', 'MultiPolygon' or 'Feature'" in refusal
    assert "is required" not in refusal.replace("Monday closes: is required, as hh:mm", "")
    assert "Monday closes: is required, as hh:mm" in refusal
    assert "not &#39;&#39;" not in page.text
    assert '<small id="e-service_area" class="error">type: expected' in page.text
    empty = client.post("/console/ops/stores/new", data=_store_form(client, service_area=""))
    assert "Service area: is required" in _refusal(empty.text)


def test_an_order_history_says_who_did_what_once_and_names_shoppers_not_trip_ids(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """ "cancelled by you", not "cancelled by operations by you"; "offered to Ana's trip", not to "trip 9c0abce4",
    in the history and the table of offers; the live map's route and destination by her name too."""
    ana = make_shopper("Ana")
    (carried, cancelled), _ = _accepted(client, ops, store, clock, ana, "WEB-NAMED-1", "WEB-NAMED-2")
    sign_in_as(Role.OPS)
    path = f"/console/ops/orders/{cancelled['order_id']}/cancel"
    client.post(path, data={CSRF_FIELD: form_token(client, path)})
    page = client.get(f"/console/ops/orders/{cancelled['order_id']}").text
    timeline = re.search(r'<table class="timeline[^"]*">(.*?)</table>', page, re.DOTALL)
    assert timeline is not None
    lines = html.unescape(re.sub(r"<[^>]+>", "", timeline.group(1)))
    assert "cancelled by you" in lines
    assert "by operations" not in lines
    assert re.search(r"offered to Ana's trip with 1 other order for \$[0-9.]+, \d+ m out of the way", lines)
    assert not re.search(r"trip [0-9a-f]{8}", lines)
    offers = page[page.index("<h2>Offers</h2>") :]
    assert re.search(rf'<a href="/console/ops/shoppers/{ana.shopper_id}" title="trip [0-9a-f-]{{36}}">Ana</a>', offers)

    live = client.get(f"/console/ops/stores/{store.id}/live").text
    assert "<title>Ana's route</title>" in live
    assert "<title>Ana's destination</title>" in live
    assert not re.search(r"<title>trip [0-9a-f]{8}", live)
    del carried


def test_an_offer_on_the_order_page_says_why_its_price_by_component_and_the_trip_it_beat(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """The offer's row opens on its price: the reward by component (adding up to the quote), its detour and stops,
    and the cheapest other trip that could have carried it, or that none could."""
    ana = make_shopper("Ana")
    (offered,), _ = _accepted(client, ops, store, clock, ana, "WEB-WHY-1")
    sign_in_as(Role.OPS)
    page = client.get(f"/console/ops/orders/{offered['order_id']}").text
    offers = page[page.index("<h2>Offers</h2>") :]
    why = re.search(r"<details class=\"why-price\">(.*?)</details>", offers, re.DOTALL)
    assert why is not None, "the offer's row does not explain its price"
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", why.group(1))).split())
    quote = re.search(r'<td class="num"><span class="money">\$([0-9.]+)</span></td>', offers)
    assert quote is not None
    parts = [float(amount.replace("$", "")) for amount in re.findall(r"<dd>.*?(-?\$-?[0-9.]+).*?</dd>", why.group(1))]
    assert len(parts) >= 2, words
    assert round(sum(parts), 2) == float(quote.group(1)), words
    assert "Distance $" in words
    assert re.search(r"\d+ m and \d+ min out of the way, 1 stop", words), words
    assert "No other trip could carry it." in words


def test_a_new_delivery_code_is_asked_for_shown_once_and_the_old_one_stops_working(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    ana = make_shopper("Ana")
    (receipt,), trip = _accepted(client, ops, store, clock, ana, "WEB-CODE-1")
    sign_in_as(Role.OPS)
    order_url = f"/console/ops/orders/{receipt['order_id']}"
    assert f'href="{order_url}/delivery-code">Issue a new delivery code…</a>' in client.get(order_url).text
    asked = client.get(f"{order_url}/delivery-code").text
    assert "Issue a new delivery code for order WEB-CODE-1?" in said(asked)
    assert "the code they have now stops working" in asked
    assert re.search(r"<a [^>]*autofocus>No, keep the current code</a>", asked)
    assert not re.search(r"<button[^>]*autofocus", asked)

    issued = client.post(
        f"{order_url}/delivery-code", data={CSRF_FIELD: form_token(client, f"{order_url}/delivery-code")}
    )
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    shown = re.search(r'<code data-testid="delivery-code">([^<]+)</code>', issued.text)
    assert shown is not None
    code = shown.group(1)
    assert code != receipt["delivery_code"]
    assert "It is shown only this once." in issued.text
    assert "Only a salted hash of it is kept" in issued.text
    assert code not in client.get(order_url).text  # nowhere else, not on the order's page

    picked = client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=ana.headers
    )
    assert picked.status_code == 200, picked.text
    door = {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}
    delivery = f"/shopper/orders/{receipt['order_id']}/delivery"
    old = client.post(delivery, json={"position": door, "code": receipt["delivery_code"]}, headers=ana.headers)
    assert old.status_code == 422, old.text
    new = client.post(delivery, json={"position": door, "code": code}, headers=ana.headers)
    assert new.status_code == 200, new.text
    closed = client.get(f"{order_url}/delivery-code").text
    assert "Order WEB-CODE-1 takes no new delivery code" in said(closed)
    assert "Yes, issue a new code" not in closed


def test_shoppers_are_found_by_the_start_of_their_name(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], db: ConnectionPool
) -> None:
    with PostgresDispatchUnitOfWork(db) as uow:
        for name in ("Ana Lima", "anabel Ruiz", "Ben Ode", "100% Ana"):
            uow.shoppers.add(Shopper(display_name=name))
        uow.commit()
    sign_in_as(Role.OPS)
    everyone = client.get("/console/ops/shoppers").text
    assert all(name in everyone for name in ("Ana Lima", "anabel Ruiz", "Ben Ode"))
    found = client.get("/console/ops/shoppers", params={"name": "  ANA "}).text
    assert "Ana Lima" in found
    assert "anabel Ruiz" in found
    assert "Ben Ode" not in found
    assert "100% Ana" not in found  # the start of the name, not anywhere in it
    assert 'value="ANA"' in found
    assert ">1\u20132 of 2<" in found
    assert "100% Ana" in client.get("/console/ops/shoppers", params={"name": "100%"}).text  # % is a character
    none = client.get("/console/ops/shoppers", params={"name": "Zed"}).text
    assert "No shopper's name starts with “<bdi>Zed</bdi>”." in none
    paged = client.get("/console/ops/shoppers", params={"name": "ana", "limit": 1, "offset": 1}).text
    assert "anabel Ruiz" in paged
    assert "Ana Lima" not in paged
    assert 'href="/console/ops/shoppers?name=ana&amp;limit=1&amp;offset=0" rel="prev"' in paged


def test_the_ledger_before_a_shopper_is_named_says_what_to_do(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    """Not a form above an empty page: it says what naming a shopper shows."""
    sign_in_as(Role.FINANCE)
    page = client.get("/console/finance/ledger")
    assert page.status_code == 200
    assert "Name a shopper (the start of their name will do) to see every entry" in page.text
    refused = client.get("/console/finance/ledger", params={"shopper_id": "Nobody-by-this-name"})
    assert "No shopper's name starts with" in html.unescape(refused.text)
    assert "Name a shopper (the start" not in refused.text  # the refusal says it, once


def test_open_trips_are_named_by_their_shopper_not_by_an_id(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], db: ConnectionPool, store: Store
) -> None:
    """On an order waiting for a shopper and on the live view, a trip is its shopper's: the trip's id is only
    in the link's title (for the API), not a column of eight hex digits beside the name."""
    now = datetime.now(UTC).replace(microsecond=0)
    trip = add_an_open_trip(db, store, "Chloe C.", ON_THE_WAY, now)
    order = add_an_order_for_later(db, store, "WEB-WAITING", now)
    sign_in_as(Role.OPS)
    short = str(trip.id)[:8]
    for path in (f"/console/ops/orders/{order.id}", f"/console/ops/stores/{store.id}/live"):
        page = client.get(path).text
        assert f'title="trip {trip.id}">Chloe C.</a>' in page, path
        assert f">{short}<" not in page, path


def test_an_order_whose_offer_was_declined_says_so_on_its_page_and_the_live_view(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """Back in the pool after a decline, before the next batch: not 'not batched yet' (a batch offered it) nor
    'the last batch left it waiting' (it offered it), but that the shopper declined it, in words."""
    declined = ingest(client, ops, store, clock, ref="WEB-DECLINED-1")
    ana = make_shopper("Ana")
    check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, ana)['id']}/decline", headers=ana.headers)
    said = html.escape(BATCH_REASON_TEXT["offer_declined"])
    sign_in_as(Role.OPS)

    page = client.get(f"/console/ops/orders/{declined['order_id']}").text
    why = re.search(r'<section class="callout" aria-labelledby="why">(.*?)</section>', page, re.DOTALL)
    assert why is not None, "the order page does not say why it waits"
    assert said in why.group(1)
    assert "The last batch" not in why.group(1)
    live = client.get(f"/console/ops/stores/{store.id}/live").text
    assert f"{said} (1)" in live
    assert "not batched yet" not in live


@pytest.mark.parametrize(
    ("said", "window"),
    [("leave_after", {"minutes_from_now": 50, "hours": 2}), ("leave_before", {"minutes_from_now": 0, "hours": 0.33})],
)
def test_an_offer_on_the_order_page_says_when_its_shopper_may_leave_the_store_in_utc(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    said: str,
    window: dict[str, float],
) -> None:
    """A window opening in 50 minutes (leave no earlier), one closing in 20 (leave no later): the offer told the
    shopper when to leave the store, and the order page listed the offer without it."""
    opens = clock.now() + timedelta(minutes=window["minutes_from_now"])
    receipt = ingest(
        client, ops, store, clock, ref=f"WEB-LEAVE-{said}",
        window_earliest=opens.isoformat(), window_latest=(opens + timedelta(hours=window["hours"])).isoformat(),
    )  # fmt: skip
    ana = make_shopper("Ana")
    check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    leave = datetime.fromisoformat(current_offer(client, ana)["breakdown"][said]).astimezone(UTC)
    sign_in_as(Role.OPS)
    page = client.get(f"/console/ops/orders/{receipt['order_id']}").text
    offers = page[page.index("<h2>Offers</h2>") :]
    assert "<th>Leave the store</th>" in offers
    shown = f'<time datetime="{leave.isoformat()}">{leave.strftime("%Y-%m-%d %H:%M")} UTC</time>'
    word = "after" if said == "leave_after" else "by"
    assert re.search(rf"<td[^>]*>{word} {re.escape(shown)}</td>", offers), offers


def test_a_right_to_left_shopper_name_in_a_sentence_is_isolated_from_the_text_around_it(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """A Hebrew name ending in digits ("שלום 500") put bare into "offered to שלום 500's trip with…" took the
    digits and the words after it into its right-to-left run, which a browser then shows reordered: each name a
    shopper typed is a <bdi> of its own in a sentence."""
    name = "שלום 500"
    shalom = make_shopper("Shalom")  # an account's e-mail is made of the name: renamed after
    with db.connection() as connection:
        connection.execute("UPDATE shoppers SET display_name = %s WHERE id = %s", (name, shalom.shopper_id))
    (receipt,), _ = _accepted(client, ops, store, clock, shalom, "WEB-BIDI-1")
    sign_in_as(Role.OPS)
    page = client.get(f"/console/ops/orders/{receipt['order_id']}").text
    isolated = f"<bdi>{name}</bdi>"
    assert f"offered to {isolated}'s trip" in page
    carried = re.search(r"<dt>Carried by</dt><dd>(.*?)</dd>", page, re.DOTALL)
    assert carried is not None
    assert f">{isolated}</a>, on the trip checked in" in carried.group(1)
    assert f'<a href="/console/ops/stores/{store.id}/live"><bdi>{store.name}</bdi></a>' in page
    money = client.get(f"/console/ops/shoppers/{shalom.shopper_id}").text
    assert f"No referrer is recorded for {isolated}:" in money
