"""Console pages over HTTP (no browser), as rendered HTML: what a refused form, a broken link and an unknown
address say, and what the live view lists and announces."""

from __future__ import annotations

import re
from collections.abc import Callable

from console_support import StaffLogin, add_waiting_orders, form_token, sign_in_client
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.console.web import CSRF_FIELD
from dispatch.accounts import Role
from dispatch.model import Store
from dispatch.services.store_view import MAX_LISTED


def test_a_store_form_tells_every_bad_day_and_every_bad_field_at_once(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    """A malformed Friday, a Monday that closes before it opens, an empty name and no area, in one answer."""
    sign_in_client(client, make_login(Role.OPS))
    form = {
        CSRF_FIELD: form_token(client, "/console/ops/stores/new"),
        "name": "",
        "location.lat": "30.4627",
        "location.lon": "-84.2211",
        "fallback_cost_cents": "899",
        "opening_hours.monday.opens": "08:00",
        "opening_hours.monday.closes": "07:00",
        "opening_hours.friday.opens": "9:00",
        "opening_hours.friday.closes": "17:00",
    }
    page = client.post("/console/ops/stores/new", data=form)
    assert page.status_code == 422
    assert "Monday closes: must be after opens" in page.text
    assert "Friday opens: must be a time as hh:mm" in page.text
    assert "Name: must not be empty" in page.text
    assert "Service area: is required" in page.text
    assert page.text.count('class="has-error"') == 2  # the two days' rows, each with its own message


def test_a_broken_link_is_a_sentence_not_pydantics_message(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    sign_in_client(client, make_login(Role.FINANCE))
    page = client.get("/console/finance/batches/not-a-uuid")
    assert page.status_code == 422
    assert "This link is broken: the batch id is not valid." in page.text
    assert "Input should be" not in page.text


def test_a_batch_to_the_last_day_there_is_is_a_readable_form_error_not_a_500(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    """To 9999-12-31: the day after it cannot be written; the form answers 422 naming "To", like any bad date."""
    sign_in_client(client, make_login(Role.FINANCE))
    form = {
        CSRF_FIELD: form_token(client, "/console/finance/batches"),
        "idempotency_key": "far-future",
        "period_start": "2026-12-01",
        "period_end": "9999-12-31",
    }
    page = client.post("/console/finance/batches", data=form)
    assert page.status_code == 422
    assert "To: must be between 2000-01-01 and 2100-01-01 (UTC)" in page.text
    assert 'id="e-period_end"' in page.text
    assert 'value="9999-12-31"' in page.text  # the form keeps what was typed


def test_an_unknown_console_address_is_a_console_page_with_the_way_home(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    signed_out = client.get("/console/nope")
    assert signed_out.status_code == 404
    assert signed_out.headers["content-type"].startswith("text/html")
    assert "No such page" in signed_out.text
    assert 'href="/console"' in signed_out.text
    sign_in_client(client, make_login(Role.FINANCE))
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
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    sign_in_client(client, make_login(Role.FINANCE))
    refused = client.get("/console/ops/stores")
    assert refused.status_code == 403
    broken = client.get("/console/finance/batches/not-a-uuid")
    for page in (refused, broken):
        assert "Sign out" in page.text
        assert 'aria-label="Sections"' in page.text


def test_the_live_view_says_how_many_it_left_out_and_links_the_whole_list(
    client: TestClient, make_login: Callable[..., StaffLogin], db: ConnectionPool, store: Store
) -> None:
    add_waiting_orders(db, store, MAX_LISTED + 1)
    sign_in_client(client, make_login(Role.OPS))
    page = client.get(f"/console/ops/stores/{store.id}/live").text
    assert f"First {MAX_LISTED} of {MAX_LISTED + 1}" in page
    assert f'href="/console/ops/orders?store_id={store.id}&amp;status=pending">see all pending orders' in page


def test_the_live_view_says_a_repeated_reason_once_and_announces_only_a_short_status(
    client: TestClient, make_login: Callable[..., StaffLogin], db: ConnectionPool, store: Store
) -> None:
    """Not the whole panel re-read by a screen reader every five seconds: a polite line of counts, swapped in
    out of band with each refresh."""
    add_waiting_orders(db, store, 3)
    sign_in_client(client, make_login(Role.OPS))
    page = client.get(f"/console/ops/stores/{store.id}/live").text
    assert "aria-live" not in page
    assert '<p id="live-status" class="visually-hidden" role="status">' in page
    assert page.count(">same as above<") == 2  # the first row says why; the next two refer to it
    panel = client.get(f"/console/ops/stores/{store.id}/live/panel", headers={"HX-Request": "true"}).text
    assert '<p id="live-status" hx-swap-oob="innerHTML">3 pending, 0 offered' in panel


def test_an_unknown_status_lists_the_statuses_in_words(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    sign_in_client(client, make_login(Role.OPS))
    page = client.get("/console/ops/orders", params={"status": "lost"}).text
    refusal = re.search(r'<div class="problem" role="alert" id="problem">(.*?)</div>', page, re.DOTALL)
    assert refusal is not None
    assert "There is no status “lost”: choose one of pending, offered, accepted, picked up," in refusal.group(1)
    assert "picked_up" not in refusal.group(1)


def test_a_service_area_nested_too_deeply_is_told_on_the_form(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    sign_in_client(client, make_login(Role.OPS))
    form = {
        CSRF_FIELD: form_token(client, "/console/ops/stores/new"),
        "name": "Deep",
        "location.lat": "30.4627",
        "location.lon": "-84.2211",
        "fallback_cost_cents": "899",
        "service_area": "[" * 5_000,
    }
    page = client.post("/console/ops/stores/new", data=form)
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
