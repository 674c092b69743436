"""Errors are RFC 9457 problems everywhere: named fields on 422, 404, 409 for illegal moves, no stack traces."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import httpx2
import pytest
from api_support import Account, assert_problem, check_in, order_body
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.json_bodies import JsonBodyRoute
from crowdship.clock import ManualClock
from dispatch.model import Store
from routing.geo import GeoPoint


def test_a_bad_field_is_named_in_a_422_problem(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """A latitude out of range is refused, and the problem names `dropoff.lat`."""
    body = order_body(store, clock)
    body["dropoff"]["lat"] = 123.0
    problem = assert_problem(
        client.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": "a"}), 422
    )
    assert [error["field"] for error in problem["errors"]] == ["dropoff.lat"]
    assert problem["instance"] == "/ops/orders"


def test_an_order_outside_the_service_area_is_refused_with_the_reason(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """A drop-off about 50 km away: 422, field `dropoff`, how far outside, and nothing stored."""
    far = GeoPoint(30.9, -84.2)
    body = order_body(store, clock, dropoff=far)
    problem = assert_problem(
        client.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": "b"}), 422
    )
    assert problem["errors"][0]["field"] == "dropoff"
    assert f" m outside the service area of {store.name}" in problem["detail"]
    assert client.get("/ops/orders", headers=ops.headers).json()["total"] == 0


def test_domain_rule_errors_name_their_field(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """A window that ends before it starts is refused by the domain, naming `window_latest`."""
    body = order_body(store, clock, window_latest=clock.now().isoformat())
    body["window_earliest"] = body["window_latest"]
    problem = assert_problem(
        client.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": "c"}), 422
    )
    assert problem["errors"][0]["field"] == "window_latest"


def test_an_unknown_id_is_a_404_problem(client: TestClient, ops: Account) -> None:
    """Unknown order id: 404 problem; an id that is not a UUID: 422 naming the path parameter."""
    assert_problem(client.get("/ops/orders/00000000-0000-4000-8000-000000000000", headers=ops.headers), 404)
    problem = assert_problem(client.get("/ops/orders/not-a-uuid", headers=ops.headers), 422)
    assert problem["errors"][0]["field"] == "order_id"


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    """Even the router's own 404 is a problem document."""
    assert_problem(client.get("/no/such/route"), 404)


def test_an_unexpected_error_is_a_generic_500_without_its_cause(app: FastAPI) -> None:
    """A bug inside a handler gives a generic 500 problem; the message of the exception does not leak."""

    def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/explode")
    problem = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert problem["detail"]


def test_an_illegal_state_change_is_a_409_problem(
    client: TestClient, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Picking up on a trip that was cancelled: the lifecycle refuses it with 409 (cancelling it again is a
    repeat, answered as the first: `test_concurrency`)."""
    shopper = make_shopper()
    trip = check_in(client, shopper, store, clock)
    assert client.post(f"/shopper/trips/{trip['id']}/cancel", headers=shopper.headers).status_code == 200
    pickup = client.post(f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": ["BAG-1"]}, headers=shopper.headers)
    problem = assert_problem(pickup, 409)
    assert problem["type"] == "/problems/illegal-transition"


def test_every_problem_type_follows_one_scheme(client: TestClient, ops: Account) -> None:
    """Framework errors and domain errors alike: `/problems/<slug>`, never `about:blank`."""
    cases = [
        (client.get("/no/such/route"), 404, "/problems/not-found"),
        (client.delete("/health"), 405, "/problems/method-not-allowed"),
        (client.get("/ops/orders"), 401, "/problems/not-authenticated"),
        (client.get("/ops/orders/not-a-uuid", headers=ops.headers), 422, "/problems/invalid-input"),
        (
            client.get("/ops/orders/00000000-0000-4000-8000-000000000000", headers=ops.headers),
            404,
            "/problems/not-found",
        ),
    ]
    for response, status, type_ in cases:
        assert assert_problem(response, status)["type"] == type_


def test_a_method_not_allowed_names_every_method_the_path_answers(
    client: TestClient, make_shopper: Callable[..., Account]
) -> None:
    """Two routes share `/shopper/trips` (GET lists, POST checks in): a PUT is told both, not the first route's."""
    refused = client.put("/shopper/trips", headers=make_shopper().headers, json={})
    assert_problem(refused, 405)
    assert refused.headers["Allow"] == "GET, POST"


def test_a_malformed_json_body_is_a_400_naming_the_body(client: TestClient, ops: Account) -> None:
    """A syntax error's position is not a field: the problem names `body` and says where the JSON broke."""
    response = client.post(
        "/ops/orders",
        content=b'{"store_id": ',
        headers={**ops.headers, "Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 400)
    assert problem["type"] == "/problems/malformed-request"
    assert problem["errors"] == [{"field": "body", "message": problem["detail"]}]
    assert "not valid JSON" in problem["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"lat": 30.45, "lat": 0.0, "lon": -84.2}',
        b'{"destination": {"lat": 30.45, "lon": -84.2, "lon": 0}, "capacity_bags": 2}',
    ],
    ids=["top-level", "nested"],
)
def test_a_member_written_twice_in_one_object_is_a_400_naming_it(
    client: TestClient, make_shopper: Callable[..., Account], body: bytes
) -> None:
    """JSON leaves a repeated member to the parser: this one kept the last, a proxy or a log reader may keep the
    first, and the two would disagree on what was asked. It is refused, naming the member; nothing is read."""
    shopper = make_shopper()
    for path in ("/shopper/location", "/shopper/trips"):
        response = client.post(path, content=body, headers={**shopper.headers, "Content-Type": "application/json"})
        problem = assert_problem(response, 400)
        assert problem["type"] == "/problems/malformed-request"
        assert problem["errors"][0]["field"] == "body"
        name = "lat" if b'"lat": 0.0' in body else "lon"
        assert f"'{name}'" in problem["detail"]
        assert "more than once" in problem["detail"]


def test_a_body_nested_too_deeply_to_read_is_a_400_naming_the_body(
    client: TestClient, make_shopper: Callable[..., Account]
) -> None:
    """Thousands of brackets within the size limit: the parser gives up, and the problem says why."""
    shopper = make_shopper()
    body = b'{"lat": ' + b"[" * 20_000 + b"]" * 20_000 + b', "lon": 0}'
    response = client.post(
        "/shopper/location", content=body, headers={**shopper.headers, "Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400)
    assert problem["errors"] == [{"field": "body", "message": problem["detail"]}]
    assert "nested too deeply" in problem["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/json"]
)
def test_a_body_that_is_not_json_is_a_415_naming_the_type_expected(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, content_type: str
) -> None:
    """A client that forgot its Content-Type header (or sent a form) was told that its body "should be a valid
    dictionary", though it was one: it is told which type to send instead, and nothing is taken in."""
    response = client.post(
        "/ops/orders",
        content=json.dumps(order_body(store, clock)).encode(),
        headers={**ops.headers, "Idempotency-Key": "k-415", "Content-Type": content_type},
    )
    problem = assert_problem(response, 415)
    assert problem["type"] == "/problems/unsupported-media-type"
    assert "application/json" in problem["detail"]
    assert client.get("/ops/orders", headers=ops.headers).json()["total"] == 0


def test_a_body_without_a_content_type_is_a_415_too(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """The client that forgot its Content-Type header altogether, not only the one that sent another type."""
    response = client.post(
        "/ops/orders",
        content=json.dumps(order_body(store, clock)).encode(),
        headers={**ops.headers, "Idempotency-Key": "k-415-none"},
    )
    assert "content-type" not in response.request.headers
    problem = assert_problem(response, 415)
    assert "application/json" in problem["detail"]
    assert client.get("/ops/orders", headers=ops.headers).json()["total"] == 0


def test_a_json_body_is_taken_with_or_without_a_charset_or_as_a_json_subtype(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    for index, content_type in enumerate(
        ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
    ):
        response = client.post(
            "/ops/orders",
            content=json.dumps(order_body(store, clock, ref=f"WEB-{index}")).encode(),
            headers={**ops.headers, "Idempotency-Key": f"k-json-{index}", "Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


def test_every_route_that_takes_a_json_body_reads_it_strictly(app: FastAPI) -> None:
    """A router added later without `route_class=JsonBodyRoute` would take repeated members and any media type."""
    routes = [
        route
        for included in app.routes
        # FastAPI keeps each included router whole (`original_router`), its routes as the router built them.
        for route in (included.original_router.routes if hasattr(included, "original_router") else [included])
    ]
    taking_json = [
        route
        for route in routes
        if isinstance(route, APIRoute) and route.body_field is not None and not route.path.startswith("/console")
    ]
    assert len(taking_json) > 20
    assert [route.path for route in taking_json if not isinstance(route, JsonBodyRoute)] == []


def test_an_unknown_query_parameter_is_refused_naming_it(client: TestClient, ops: Account) -> None:
    """A misspelt filter would otherwise be ignored and list everything."""
    problem = assert_problem(client.get("/ops/orders", params={"stauts": "pending"}, headers=ops.headers), 422)
    assert [error["field"] for error in problem["errors"]] == ["stauts"]
    assert client.get("/ops/orders", params={"status": "pending"}, headers=ops.headers).status_code == 200


def test_a_body_over_the_limit_is_a_413_problem(client: TestClient, ops: Account) -> None:
    """Bodies are capped (1 MB by default), whatever the route: the rest is never read."""
    response = client.post(
        "/ops/orders",
        content=b"x" * 1_100_000,
        headers={**ops.headers, "Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert assert_problem(response, 413)["type"] == "/problems/content-too-large"


def test_a_streamed_body_over_the_limit_is_a_413_problem(client: TestClient) -> None:
    """Without a Content-Length the body is counted as it arrives and refused once over the limit."""

    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b"x" * 10_000

    response = client.post("/auth/register", content=chunks(), headers={"Content-Type": "application/json"})
    assert assert_problem(response, 413)["type"] == "/problems/content-too-large"


def test_a_500_is_logged_once_in_a_few_lines(
    app: FastAPI, live_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through a real server: one log event (not a second one from the server), no locals, no secrets."""

    def explode() -> None:
        password = "hunter2-hunter2"
        raise RuntimeError(f"secret internals: password={password}")

    app.add_api_route("/explode", explode)
    capsys.readouterr()
    assert httpx2.get(f"{live_server}/explode").status_code == 500
    time.sleep(0.2)
    logged = capsys.readouterr().err
    assert logged.count("unhandled error") == 1
    assert "Exception in ASGI application" not in logged
    assert "hunter2" not in logged
    assert len(logged.splitlines()) <= 10


def test_every_documented_operation_refuses_an_unknown_query_parameter_first(client: TestClient) -> None:
    """Before anything else (signing in included): every operation of the OpenAPI document answers a request
    carrying a parameter it does not take with a 422 naming it."""
    operations = [
        (method, path)
        for path, item in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in item
    ]
    assert len(operations) > 60
    for method, path in operations:
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = client.request(method.upper(), url, params={"bogus": "1"})
        assert response.status_code == 422, (method, path, response.status_code)
        assert [error["field"] for error in response.json()["errors"]] == ["bogus"], (method, path)
