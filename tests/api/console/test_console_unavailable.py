"""A console page that a backing server does not let through is a page of the console saying so (503 with
Retry-After), not the API's JSON problem; the API's own routes keep their problem details."""

from __future__ import annotations

import socket
from collections.abc import Callable

from console_support import StaffLogin
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.app import _late_answer, create_app
from api.problems import PROBLEM_MEDIA_TYPE
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens here once the socket is closed


def test_a_console_page_while_postgres_is_away_says_so_as_a_page(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    api_settings: Settings,
    clock: ManualClock,
) -> None:
    sign_in_as(Role.OPS)
    away = api_settings.model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{_closed_port()}/none"})
    with TestClient(create_app(away, clock=clock), raise_server_exceptions=False) as outage:
        outage.cookies.update(client.cookies)
        page = outage.get("/console/ops/orders")
        api = outage.get("/ops/orders")
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["Retry-After"]) > 0
    assert "<h1>Unavailable</h1>" in page.text
    assert "nothing was done" in page.text
    assert api.status_code in (401, 503)  # its token is checked against the accounts first; either way JSON
    assert api.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_a_console_page_past_the_request_deadline_is_a_page_and_an_api_route_a_problem(
    client: TestClient,
) -> None:
    def late(path: str) -> tuple[int, str, str, str]:
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": [], "app": client.app}
        answer = _late_answer(Request(scope))
        return (
            answer.status_code,
            answer.headers["content-type"],
            answer.headers["Retry-After"],
            bytes(answer.body).decode(),
        )

    status, media, retry, body = late("/console/ops/orders")
    assert (status, media.split(";")[0], int(retry) > 0) == (503, "text/html", True)
    assert "may or may not have been done" in body
    status, media, retry, body = late("/ops/orders")
    assert (status, media, int(retry) > 0) == (503, PROBLEM_MEDIA_TYPE, True)
    assert "Idempotency-Key" in body
