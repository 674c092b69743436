"""The console's new store form sent twice (a double click, a reload of the answer) creates one store: the form
carries a key minted as it is shown, the one `Idempotency-Key` the API's `POST /ops/stores` takes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from console_support import StaffLogin
from fastapi.testclient import TestClient
from test_ops_stores import AREA

from api.console.session import CSRF_FIELD
from dispatch.accounts import Role


def hidden(page: str, name: str) -> str:
    found = re.findall(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"the page has a hidden {name}"
    return str(found[0])


def test_the_new_store_form_sent_twice_creates_one_store(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    """The second submission lands on the same store's page, and the stores list holds that store alone; the
    form shown again (another new store) carries another key."""
    sign_in_as(Role.OPS)
    shown = client.get("/console/ops/stores/new").text
    key = hidden(shown, "idempotency_key")
    assert len(key) == 32
    form = {
        CSRF_FIELD: hidden(shown, CSRF_FIELD),
        "idempotency_key": key,
        "name": "Twice Street",
        "location.lat": "30.4627",
        "location.lon": "-84.2211",
        "fallback_cost": "8.99",
        "service_area": json.dumps(AREA),
    }
    first = client.post("/console/ops/stores/new", data=form, follow_redirects=False)
    again = client.post("/console/ops/stores/new", data=form, follow_redirects=False)
    assert (first.status_code, again.status_code) == (303, 303), again.text
    assert first.headers["location"] == again.headers["location"]
    listed = client.get("/console/ops/stores", params={"limit": 200}).text
    store_id = first.headers["location"].split("/")[-2]
    assert set(re.findall(r"/console/ops/stores/([0-9a-f-]{36})/", listed)) == {store_id}
    assert hidden(client.get("/console/ops/stores/new").text, "idempotency_key") != key


def test_a_refused_new_store_form_is_shown_again_with_its_key(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    """Nothing was created, so the form shown again keeps the key it was first shown with (a new key each time
    it is refused would let a corrected form sent twice create two stores)."""
    sign_in_as(Role.OPS)
    shown = client.get("/console/ops/stores/new").text
    form = {CSRF_FIELD: hidden(shown, CSRF_FIELD), "idempotency_key": hidden(shown, "idempotency_key"), "name": ""}
    refused = client.post("/console/ops/stores/new", data=form)
    assert refused.status_code == 422
    assert hidden(refused.text, "idempotency_key") == form["idempotency_key"]
