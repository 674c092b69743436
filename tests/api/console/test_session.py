"""The console's session and forms, over HTTP: the cookie's flags, CSRF on every POST, redirects to sign-in,
no open redirect after it, and a deactivation ending the session at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx2
import jwt
import pytest
from api_support import Account, ingest
from console_support import StaffLogin, sign_in_client
from fastapi.testclient import TestClient

from api.console.session import CSRF_FIELD, SESSION_COOKIE, SESSION_LIFETIME
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.model import Store


@pytest.fixture
def clock() -> ManualClock:
    """A session's lifetime and an hour behind the real time: tokens issued as a test moves the clock on, through a
    whole session too, are never dated in the future (PyJWT checks their `iat` against the real time)."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0) - SESSION_LIFETIME - timedelta(hours=1))


def _csrf(client: TestClient, path: str = "/console/sign-in") -> str:
    page = client.get(path)
    found = re.search(rf'name="{CSRF_FIELD}" value="([0-9a-f]+)"', page.text)
    assert found, "the page's form carries a CSRF token"
    return found.group(1)


def _sign_in(client: TestClient, login: StaffLogin, *, next_url: str = "/console") -> httpx2.Response:
    answer: httpx2.Response = client.post(
        "/console/sign-in",
        data={"email": login.email, "password": login.password, "next": next_url, CSRF_FIELD: _csrf(client)},
        follow_redirects=False,
    )
    return answer


def test_unauthenticated_page_redirects_to_sign_in_with_the_way_back(client: TestClient) -> None:
    answer = client.get("/console", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole"


def test_the_root_leads_to_the_console(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.headers["location"] == "/console"


def test_session_cookie_is_httponly_strict_and_carries_the_api_token(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    answer = _sign_in(client, make_login(Role.FINANCE))
    assert answer.status_code == 303
    cookie = next(value for value in answer.headers.get_list("set-cookie") if value.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    token = client.cookies[SESSION_COOKIE]
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "finance"


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, make_login: Callable[..., StaffLogin]) -> None:
    login = make_login(Role.FINANCE)
    _csrf(client)
    answer = client.post("/console/sign-in", data={"email": login.email, "password": login.password})
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize("move", ["cancel", "requeue", "fallback", "returned"])
def test_an_order_is_not_moved_by_a_post_without_the_csrf_token(
    client: TestClient,
    make_login: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    move: str,
) -> None:
    """The order's actions read no field of their form, but its CSRF check still stands in front of each."""
    order = ingest(client, ops, store, clock, ref=f"WEB-CSRF-{move}")
    sign_in_client(client, make_login(Role.OPS))
    answer = client.post(f"/console/ops/orders/{order['order_id']}/{move}", data={}, follow_redirects=False)
    assert answer.status_code == 403
    assert "reload the page" in answer.text
    assert client.get(f"/ops/orders/{order['order_id']}", headers=ops.headers).json()["status"] == "pending"


def test_a_post_from_another_site_is_refused(client: TestClient, make_login: Callable[..., StaffLogin]) -> None:
    login = make_login(Role.FINANCE)
    token = _csrf(client)
    answer = client.post(
        "/console/sign-in",
        data={"email": login.email, "password": login.password, CSRF_FIELD: token},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403


def test_a_post_whose_origin_is_null_is_refused(
    client: TestClient, make_login: Callable[..., StaffLogin], ops: Account, store: Store, clock: ManualClock
) -> None:
    """A form another page bounced here (307) says `Origin: null`: not the console's own, whatever it carries."""
    order = ingest(client, ops, store, clock, ref="WEB-CSRF-NULL")
    sign_in_client(client, make_login(Role.OPS))
    path = f"/console/ops/orders/{order['order_id']}/cancel"
    answer = client.post(path, data={CSRF_FIELD: _csrf(client, path)}, headers={"Origin": "null"})
    assert answer.status_code == 403
    assert "another site" in answer.text
    assert client.get(f"/ops/orders/{order['order_id']}", headers=ops.headers).json()["status"] == "pending"


def test_a_form_token_minted_for_another_session_moves_nothing(
    client: TestClient, make_login: Callable[..., StaffLogin], ops: Account, store: Store, clock: ManualClock
) -> None:
    """A page of another port of the host may set the console's CSRF cookie (cookies are not kept apart by
    port) to one it fetched, with its token, from the sign-in page or from a session of its own: here the
    browser keeps that cookie throughout, and neither token passes under the session of the person it was
    set on."""
    order = ingest(client, ops, store, clock, ref="WEB-CSRF-TOSSED")
    path = f"/console/ops/orders/{order['order_id']}/cancel"
    anonymous = _csrf(client)
    sign_in_client(client, make_login(Role.OPS, "forger"))
    own_session = _csrf(client, "/console")
    client.cookies.delete(SESSION_COOKIE)
    sign_in_client(client, make_login(Role.OPS))
    for token in (anonymous, own_session):
        answer = client.post(path, data={CSRF_FIELD: token}, follow_redirects=False)
        assert answer.status_code == 403
        assert "reload the page" in answer.text
    assert client.get(f"/ops/orders/{order['order_id']}", headers=ops.headers).json()["status"] == "pending"
    assert client.post(path, data={CSRF_FIELD: _csrf(client, path)}, follow_redirects=False).status_code == 303


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "/auth/me", "/console\\@evil"])
def test_sign_in_never_redirects_outside_the_console(
    client: TestClient, make_login: Callable[..., StaffLogin], next_url: str
) -> None:
    answer = _sign_in(client, make_login(Role.FINANCE), next_url=next_url)
    assert answer.headers["location"] == "/console"


def test_a_shopper_is_refused_with_a_readable_message(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    answer = _sign_in(client, make_login(Role.SHOPPER))
    assert answer.status_code == 403
    assert "Shoppers use the Crowdship app" in answer.text
    assert SESSION_COOKIE not in client.cookies


def test_deactivating_an_account_ends_its_console_session_at_once(
    client: TestClient, make_login: Callable[..., StaffLogin], make_staff: Callable[[Role], Account]
) -> None:
    login = make_login(Role.FINANCE)
    _sign_in(client, login)
    assert client.get("/console", follow_redirects=False).status_code == 200
    admin = make_staff(Role.ADMIN)
    deactivated = client.post(f"/admin/users/{login.user_id}/deactivate", headers=admin.headers)
    assert deactivated.status_code == 200
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(client: TestClient, make_login: Callable[..., StaffLogin]) -> None:
    _sign_in(client, make_login(Role.OPS))
    answer = client.post("/console/sign-out", data={CSRF_FIELD: _csrf(client, "/console")}, follow_redirects=False)
    assert answer.status_code == 303
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_session_cookie_kept_from_before_sign_out_no_longer_opens_the_console(
    client: TestClient, make_login: Callable[..., StaffLogin], clock: ManualClock
) -> None:
    """Signing out ends the session on the server, not only in this browser: a copy of the cookie (another
    tab's, a shared machine's, one read off the wire) is refused, and so is the account's API token."""
    login = make_login(Role.OPS)
    _sign_in(client, login)
    kept = client.cookies[SESSION_COOKIE]
    client.post("/console/sign-out", data={CSRF_FIELD: _csrf(client, "/console")}, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, kept, path="/console")
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert client.get("/ops/orders", headers={"Authorization": f"Bearer {kept}"}).status_code == 401
    client.cookies.clear()
    clock.advance(timedelta(seconds=1))
    _sign_in(client, login)
    assert client.get("/console", follow_redirects=False).status_code == 200, "signing in again opens a new one"


def test_signing_in_again_a_moment_after_signing_out_in_the_same_second_opens_the_console(
    client: TestClient, make_login: Callable[..., StaffLogin], clock: ManualClock
) -> None:
    """A password manager (or a person quick on the keys) signs in again within the second of signing out: the
    new session was issued after the cut, and tokens say when to the millisecond, so it is not taken for the
    ended one."""
    login = make_login(Role.OPS)
    _sign_in(client, login)
    client.post("/console/sign-out", data={CSRF_FIELD: _csrf(client, "/console")}, follow_redirects=False)
    clock.advance(timedelta(milliseconds=3))
    _sign_in(client, login)
    assert client.get("/console", follow_redirects=False).status_code == 200


def test_a_renewed_session_keeps_the_issue_time_of_its_sign_in(
    client: TestClient, make_login: Callable[..., StaffLogin], clock: ManualClock
) -> None:
    """A page checks the session, then renews it as it answers: were the renewal dated when the page answered, a
    sign-out committed in between would be undone by the page's cookie, issued after the cut. Dated at the
    sign-in, every renewal of a session that was signed out of is refused."""
    _sign_in(client, make_login(Role.OPS))
    signed_in = jwt.decode(client.cookies[SESSION_COOKIE], options={"verify_signature": False})
    clock.advance(timedelta(minutes=1))
    assert client.get("/console", follow_redirects=False).status_code == 200
    renewed = jwt.decode(client.cookies[SESSION_COOKIE], options={"verify_signature": False})
    assert renewed["exp"] == signed_in["exp"] + 60, "renewed: it lasts from this page"
    assert renewed["iat"] == signed_in["iat"]


def test_the_login_lockout_applies_to_the_console(client: TestClient, make_login: Callable[..., StaffLogin]) -> None:
    login = make_login(Role.FINANCE)
    for _ in range(5):
        wrong = client.post(
            "/console/sign-in", data={"email": login.email, "password": "wrong", CSRF_FIELD: _csrf(client)}
        )
        assert "Wrong e-mail address or password" in wrong.text
    locked = _sign_in(client, login)
    assert locked.status_code == 429
    assert "locked" in locked.text


def test_a_locked_sign_in_page_says_when_to_try_again(
    client: TestClient, make_login: Callable[..., StaffLogin]
) -> None:
    """The console's 429 carries the Retry-After the API's does: a client or proxy waits instead of retrying."""
    login = make_login(Role.FINANCE)
    for _ in range(5):
        client.post("/console/sign-in", data={"email": login.email, "password": "wrong", CSRF_FIELD: _csrf(client)})
    locked = _sign_in(client, login)
    api = client.post("/auth/token", data={"username": login.email, "password": login.password})
    assert locked.status_code == api.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= int(api.headers["Retry-After"]) + 1


def test_each_page_renews_the_session_and_an_idle_one_expires(
    client: TestClient, make_login: Callable[..., StaffLogin], clock: ManualClock, api_settings: Settings
) -> None:
    _sign_in(client, make_login(Role.FINANCE))
    ttl = timedelta(seconds=api_settings.access_token_ttl_s)
    clock.advance(ttl * 0.8)
    page = client.get("/console", follow_redirects=False)
    assert page.status_code == 200
    assert any(value.startswith(f"{SESSION_COOKIE}=") for value in page.headers.get_list("set-cookie"))
    clock.advance(ttl * 0.8)  # past the first token's end, within the renewed one's
    assert client.get("/console", follow_redirects=False).status_code == 200
    clock.advance(ttl * 1.1)
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_session_renewed_all_along_ends_a_working_day_after_its_sign_in(
    client: TestClient, make_login: Callable[..., StaffLogin], clock: ManualClock, api_settings: Settings
) -> None:
    """The live store page refreshes itself every few seconds, and every page renews the session: a console left
    open (or a copied cookie kept warm) stayed signed in for good. Renewed or not, a session lasts
    `SESSION_LIFETIME` from its sign-in; then the person signs in again."""
    login = make_login(Role.OPS)
    _sign_in(client, login)
    signed_in_at = clock.now()
    step = timedelta(seconds=api_settings.access_token_ttl_s) * 0.9
    while clock.now() + step < signed_in_at + SESSION_LIFETIME:
        clock.advance(step)
        assert client.get("/console", follow_redirects=False).status_code == 200
    clock.set(signed_in_at + SESSION_LIFETIME + timedelta(seconds=1))
    ended = client.get("/console", follow_redirects=False)
    assert ended.status_code == 303
    assert ended.headers["location"].startswith("/console/sign-in")
    _sign_in(client, login)
    assert client.get("/console", follow_redirects=False).status_code == 200


def test_a_link_with_tracking_parameters_still_opens_the_sign_in_page(client: TestClient) -> None:
    """People follow links: the console ignores query parameters it does not use, while the API refuses them."""
    page = client.get("/console/sign-in", params={"utm_source": "newsletter"})
    assert page.status_code == 200
    assert "Sign in" in page.text
    assert client.get("/health", params={"utm_source": "newsletter"}).status_code == 422


def test_an_htmx_refresh_without_a_session_takes_the_whole_page_to_sign_in(client: TestClient) -> None:
    """Not the sign-in page swapped into the live panel: htmx follows `HX-Redirect`, back to the page after."""
    live = "/console/ops/stores/00000000-0000-0000-0000-000000000001/live"
    answer = client.get(
        f"{live}/panel",
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{live}"},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"] == f"/console/sign-in?next={quote(live, safe='')}"
    assert "Sign in" not in answer.text


def test_an_htmx_refresh_never_returns_to_another_site(client: TestClient) -> None:
    answer = client.get(
        "/console/ops/stores",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/console/x"},
        follow_redirects=False,
    )
    assert answer.headers["hx-redirect"] == "/console/sign-in?next=%2Fconsole"


@pytest.mark.parametrize(
    ("referer", "back_to"),
    [
        ("http://testserver/console/ops/stores/new?x=1", "/console/ops/stores/new?x=1"),
        ("https://evil.example/console/ops/stores/new", "/console"),
        ("http://testserver/auth/me", "/console"),
        (None, "/console"),
    ],
)
def test_a_form_sent_after_the_session_ended_returns_to_its_own_page(
    client: TestClient, referer: str | None, back_to: str
) -> None:
    """The return link is the same-site Referer's console path, never an outside address."""
    headers = {"Referer": referer} if referer else {}
    answer = client.post("/console/ops/stores/new", data={"name": "x"}, headers=headers, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/sign-in?next={quote(back_to, safe='')}"


@pytest.mark.parametrize("path", ["/console/sign-in", "/console", "/console/no-such-page", "/docs", "/health"])
def test_no_other_site_can_frame_a_page_or_have_a_body_sniffed_as_another_type(client: TestClient, path: str) -> None:
    """A console page framed by another site under a decoy ("click here") could have staff approve a batch or a
    policy unawares; a JSON or CSV body read as HTML could run script. Every answer, a redirect or a 404 as well,
    forbids both."""
    answer = client.get(path, follow_redirects=False)
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/console/sign-in", "/console/no-such-page"])
def test_a_console_page_runs_only_the_consoles_own_script_files(client: TestClient, path: str) -> None:
    """No inline script, no script or form target elsewhere: markup slipped into a page could run nothing."""
    policy = client.get(path).headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
