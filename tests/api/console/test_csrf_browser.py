"""Cross-site request forgery from another port of the console's own host, in Chromium.

Cookies are not kept apart by port: a page served from another port of 127.0.0.1 (another service on the
machine, or any page of it an attacker can write) is of the same site as the console, so the browser sends the
SameSite=Strict session along with what that page makes it send, and that page's server may set the console's
CSRF cookie to one it fetched, with its form token, from the console's sign-in page. A form it posts to itself
and bounces to the console with a 307 arrives with `Origin: null`. None of this may move an order; and a link
or an image of that page may not download a batch's bank file in the person's name (a download is recorded: the
batch counts as sent to the bank)."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Callable, Iterator

import httpx2
import pytest
from api_support import Account, ingest
from playwright.sync_api import Page, expect
from rewards_flow import Owed, prepare_batch

from api.console.session import CSRF_COOKIE, CSRF_FIELD
from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], object]


def _anonymous_form_pair(live_server: str) -> tuple[str, str]:
    """What anyone gets from the sign-in page without signing in: a CSRF cookie and the form token for it."""
    page = httpx2.get(f"{live_server}/console/sign-in")
    found = re.search(rf'name="{CSRF_FIELD}" value="([0-9a-f]+)"', page.text)
    assert found
    return page.cookies[CSRF_COOKIE], found.group(1)


@pytest.fixture
def forger(live_server: str) -> Iterator[Callable[[str], str]]:
    """A server on another port of 127.0.0.1: its page sets the console's CSRF cookie to the pair it fetched
    and posts a form, with the pair's token, to itself, which bounces it (307) to `target`. Returns its URL."""
    cookie, token = _anonymous_form_pair(live_server)
    servers: list[http.server.HTTPServer] = []

    def serve(target: str) -> str:
        class Forger(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = (
                    f'<form id="f" method="post" action="/bounce"><input name="{CSRF_FIELD}" value="{token}"></form>'
                    "<script>document.getElementById('f').submit()</script>"
                ).encode()
                self.send_response(200)
                self.send_header("Set-Cookie", f"{CSRF_COOKIE}={cookie}; Path=/console; HttpOnly; SameSite=Strict")
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(307)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = http.server.HTTPServer(("127.0.0.1", 0), Forger)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_of_the_host_cannot_cancel_an_order(
    api: httpx2.Client,
    signed_in: Callable[..., Page],
    forger: Callable[[str], str],
    ops: Account,
    store: Store,
    clock: ManualClock,
    live_server: str,
    screenshot: Screenshot,
) -> None:
    order = ingest(api, ops, store, clock, ref="WEB-FORGED-1")
    page = signed_in(Role.OPS)
    page.goto(forger(f"{live_server}/console/ops/orders/{order['order_id']}/cancel"))
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot(page, "forged-cancel-refused")
    assert api.get(f"/ops/orders/{order['order_id']}", headers=ops.headers).json()["status"] == "pending"
    page.goto("/console")  # the console's own forms still work afterwards: its pages mint a token again
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def page_elsewhere() -> Iterator[Callable[[str], str]]:
    """A server on another port of 127.0.0.1 serving one page of `html`; returns its URL."""
    servers: list[http.server.HTTPServer] = []

    def serve(html: str) -> str:
        class Page(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = http.server.HTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_of_the_host_cannot_download_a_bank_file_in_someones_name(
    api: httpx2.Client,
    signed_in: Callable[..., Page],
    page_elsewhere: Callable[[str], str],
    owed_live: Callable[..., Owed],
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    live_server: str,
) -> None:
    owed_live("Ana")
    batch = prepare_batch(api, finance, clock, "forged-export")
    assert api.post(f"/finance/batches/{batch['id']}/approve", headers=second_finance.headers).status_code == 200
    export = f"{live_server}/console/finance/batches/{batch['id']}/export"
    page = signed_in(Role.FINANCE)
    page.goto(page_elsewhere(f'<img src="{export}" alt="">'), wait_until="load")  # after the image's answer
    assert api.get(f"/finance/batches/{batch['id']}", headers=finance.headers).json()["exports"] == []
    page.goto(f"/console/finance/batches/{batch['id']}")
    expect(page.get_by_text("exported by")).to_have_count(0)
    with page.expect_download() as downloaded:  # the page's own link still downloads it
        page.get_by_role("link", name=re.compile("CSV")).click()
    assert downloaded.value.suggested_filename == f"payout-batch-{batch['id']}.csv"
