"""Who is signed in to the console and what they may send: the session cookie, the staff member's roles,
and forms with CSRF protection (pages are drawn by `web`).

The session cookie carries the API's own bearer token (`api.security.issue_token`), so a deactivated account
is stopped at once, exactly as on the API. Cookies are HttpOnly and SameSite=Strict; every POST also carries
a CSRF token (a form field, or the `X-CSRF-Token` header that htmx sends) that must match the HMAC of the
browser's CSRF cookie and of the session's account under the service's signing key, and a POST whose
`Origin` is another site's, or `null`, is refused. Cookies are not kept apart by port: a page of another port
of the same host is the same site, so it may set the CSRF cookie to one it fetched with its token, and a form
it bounces here (307) says `Origin: null`; the token it holds was minted for nobody's session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from api.dependencies import OPS_ROLES, AppServices, Services
from api.forms import url_encoded_fields
from api.security import Principal, issue_token, read_token
from dispatch.accounts import Role, User, epoch_milliseconds
from dispatch.services import accounts
from rewards.permissions import FINANCE_ROLES

CONSOLE_PREFIX = "/console"
SIGN_IN_URL = f"{CONSOLE_PREFIX}/sign-in"
SESSION_COOKIE = "crowdship_session"
CSRF_COOKIE = "crowdship_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

STAFF_ROLES = (Role.OPS, Role.FINANCE, Role.ADMIN)
SESSION_LIFETIME = timedelta(hours=12)
"""How long a console session lasts from its sign-in, however often its pages renew it (a working day): the live
store page refreshes itself every few seconds, so renewals alone would keep a console left open signed in for
good."""
"""Everyone who may sign in to the console; operations' pages are for `OPS_ROLES`, finance's for
`FINANCE_ROLES`."""


BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


# --- The signed-in staff member --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in: the token's principal and the account's e-mail (read once per page)."""

    principal: Principal
    email: str

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def sees_operations(self) -> bool:
        return self.role in OPS_ROLES

    @property
    def sees_finance(self) -> bool:
        return self.role in FINANCE_ROLES


class SignInRequired(Exception):
    """No valid session: the handler answers with a redirect to the sign-in page, back here afterwards."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class ConsoleForbidden(Exception):
    """Signed in, but this page needs another role (or the form's CSRF token did not match)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def safe_console_path(url: str) -> str:
    """Only a console path: never another site (`//evil.example`) or another part of the service."""
    if url.startswith(CONSOLE_PREFIX) and not url.startswith("//") and "\\" not in url:
        return url
    return CONSOLE_PREFIX


def _same_site_path(request: Request, url: str | None) -> str:
    """The path (and query) of a URL of this very site the browser names (a Referer, htmx's current URL)."""
    if not url:
        return CONSOLE_PREFIX
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.url.netloc:
        return CONSOLE_PREFIX
    return safe_console_path(parts.path + (f"?{parts.query}" if parts.query else ""))


def is_htmx(request: Request) -> bool:
    """A request htmx made to swap part of a page in: it cannot be answered with a whole other page."""
    return request.headers.get("hx-request") == "true"


def return_link(request: Request) -> str:
    """Where signing in again leads: the page the person was on. For a part htmx refreshes, the page around
    it; for a form sent after the session ended, the page the form was on (its same-site Referer)."""
    if is_htmx(request):
        return _same_site_path(request, request.headers.get("hx-current-url"))
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return safe_console_path(f"{request.url.path}{query}")
    return _same_site_path(request, request.headers.get("referer"))


async def console_user(request: Request, services: Services) -> ConsoleUser:
    token = request.cookies.get(SESSION_COOKIE)
    now = services.context.clock.now()
    principal = read_token(token, secret=services.signing_key, now=now) if token else None
    if principal is None or principal.role not in STAFF_ROLES or _outlived(principal, now):
        raise SignInRequired(return_link(request))
    # Asked every page (not cached): a page is not a hot path, and a deactivation or a change of role must
    # apply at once. The role is the account's as stored now.
    user = await run_in_threadpool(_active_user, services, principal)
    if user is None or user.role not in STAFF_ROLES:
        raise SignInRequired(return_link(request))
    request.state.session_user = user  # the session is renewed by the page's response (`render`, `redirect`)
    request.state.session_issued_at_ms = principal.issued_at_ms
    return ConsoleUser(principal=Principal(user.id, user.role, user.shopper_id), email=user.email)


async def signed_in_user(request: Request) -> ConsoleUser | None:
    """Who is signed in, if anyone: a page drawn outside its route (not found, refused, a broken link) keeps
    the navigation and the Sign out of the person reading it."""
    try:
        return await console_user(request, request.app.state.services)
    except SignInRequired:
        return None


def _outlived(principal: Principal, now: datetime) -> bool:
    """Whether the session was signed in to longer ago than `SESSION_LIFETIME` (its renewals keep that time)."""
    return epoch_milliseconds(now) - principal.issued_at_ms > SESSION_LIFETIME // timedelta(milliseconds=1)


def _active_user(services: AppServices, principal: Principal) -> User | None:
    if not services.accounts.ask(principal):
        return None
    user = accounts.get_user(services.context, principal.user_id)
    return user if user.active else None


def start_session(request: Request, response: Response, user: User, *, issued_at_ms: int | None = None) -> None:
    """Puts a new API token for `user` in the session cookie. Every page renews it, so a session ends after
    `access_token_ttl_s` without a page (15 minutes by default), or `SESSION_LIFETIME` after its sign-in, and the
    cookie never outlives its token. A
    renewal keeps the sign-in's issue time (`issued_at_ms`): the page checked the session before it answers, and
    a sign-out committed meanwhile must not be undone by a cookie dated after it."""
    services: AppServices = request.app.state.services
    ttl = timedelta(seconds=services.settings.access_token_ttl_s)
    now = services.context.clock.now()
    token = issue_token(user, secret=services.signing_key, ttl=ttl, now=now, session_issued_at_ms=issued_at_ms)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        path=CONSOLE_PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def renew_session(request: Request, response: Response) -> None:
    user = getattr(request.state, "session_user", None)
    if user is not None:
        start_session(request, response, user, issued_at_ms=request.state.session_issued_at_ms)


def require_console_roles(*roles: Role) -> Callable[[Request, Services], Coroutine[Any, Any, ConsoleUser]]:
    async def check(request: Request, services: Services) -> ConsoleUser:
        user = await console_user(request, services)
        if user.role not in roles:
            allowed = " or ".join(role.value for role in roles)
            raise ConsoleForbidden(f"This page is for {allowed}; you are signed in as {user.role.value}.")
        return user

    return check


StaffUser = Annotated[ConsoleUser, Depends(require_console_roles(*STAFF_ROLES))]
OpsUser = Annotated[ConsoleUser, Depends(require_console_roles(*OPS_ROLES))]
FinanceUser = Annotated[ConsoleUser, Depends(require_console_roles(*FINANCE_ROLES))]


# --- CSRF and forms ---------------------------------------------------------------------------------------


def sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def _session_account(request: Request, services: AppServices) -> str:
    """The id of the account whose valid session the request carries, or "" with none: what a CSRF token is
    minted for, so that a token minted for one session (or for none, on the sign-in page) passes no other."""
    token = request.cookies.get(SESSION_COOKIE)
    principal = read_token(token, secret=services.signing_key, now=services.context.clock.now()) if token else None
    return str(principal.user_id) if principal is not None else ""


def _csrf_token(secret: str, cookie: str, account: str) -> str:
    return sign(secret, f"csrf:{cookie}:{account}")


def csrf_token_for(request: Request, services: AppServices) -> tuple[str, str | None]:
    """The token to put in this page's forms (for the browser's CSRF cookie and the session's account), and a
    new CSRF cookie value when the browser has none yet."""
    cookie = request.cookies.get(CSRF_COOKIE)
    new_cookie = None
    if not cookie or len(cookie) > 100:
        cookie = new_cookie = secrets.token_urlsafe(32)
    return _csrf_token(services.signing_key, cookie, _session_account(request, services)), new_cookie


@dataclass(frozen=True)
class FormData:
    """A submitted form (url-encoded): the last value of each field, every value with `all`."""

    values: Mapping[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[-1] if found else default

    def all(self, name: str) -> list[str]:
        return list(self.values.get(name, []))

    def model(self, schema: type[BaseModelT], names: Iterable[str] | None = None) -> BaseModelT:
        """The form validated by an API schema; empty fields count as absent. Raises pydantic's
        ValidationError, which `readable_problem` turns into messages per field."""
        wanted = set(names) if names is not None else set(schema.model_fields)
        data = {name: self.get(name) for name in wanted if self.get(name).strip() != ""}
        return schema.model_validate(data)


SESSIONLESS_FORMS = frozenset({SIGN_IN_URL, f"{CONSOLE_PREFIX}/sign-out"})
"""The forms sent without a session; any other needs one, and is taken to sign-in (and back) without it."""


async def read_form(request: Request, services: Services) -> FormData:
    """The url-encoded body of a POST, after the CSRF check (parsed here, as /auth/token does: no multipart)."""
    origin = request.headers.get("origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.url.netloc):
        raise ConsoleForbidden("This form was sent from another site and was refused.")
    account = _session_account(request, services)
    if not account and request.url.path not in SESSIONLESS_FORMS:
        raise SignInRequired(return_link(request))
    values = url_encoded_fields(await request.body())
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER) or (values.get(CSRF_FIELD) or [""])[-1]
    expected = _csrf_token(services.signing_key, cookie, account)
    if not cookie or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ConsoleForbidden("This form has expired or was not sent from the console; reload the page and retry.")
    values.pop(CSRF_FIELD, None)
    return FormData(values)


Form = Annotated[FormData, Depends(read_form)]


async def asked_by_the_console(request: Request) -> None:
    """For a GET that records something (a bank file's download): refused when the browser says another site
    asked for it (`Sec-Fetch-Site`), such as an image or a link on a page of another port of this host, which
    is the same site and so sends the session along. A link of the console, or an address typed, passes; so
    does a client that sends no such header (it sends no cookie unless told to)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise ConsoleForbidden("This download was asked for by another site and was refused: use the console's link.")


AskedByTheConsole = [Depends(asked_by_the_console)]

CONSOLE_KEY = re.compile(r"[\x21-\x7e]{1,64}")
"""A key the console mints for a money form (32 hex digits; printable ASCII, at most 64 characters: with its
`console-<kind>:` prefix and the caller's id it fits the 200 characters the ledger keeps)."""


def console_idempotency_key(sent: str, kind: str) -> str:
    """The key a money form was shown with, under the console's prefix for `kind`, so that a form sent twice
    acts once; a fresh one when the form carries none. One the console would not have minted (altered on its
    way) is refused as a form the console did not send."""
    if not sent:
        return f"console-{kind}:{secrets.token_hex(16)}"
    if not CONSOLE_KEY.fullmatch(sent):
        raise ConsoleForbidden("This form has expired or was not sent from the console; reload the page and retry.")
    return f"console-{kind}:{sent}"


def secure_cookies(request: Request) -> bool:
    return bool(request.app.state.services.settings.environment == "production")
