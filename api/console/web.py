"""What every console page is drawn with: the base layout and its filters, flash messages, redirects after a
form (who is signed in and what forms they may send is `session`; readable problems are in `problems`,
pagination in `paging`)."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid4

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.console.formats import (
    dates_kept_whole,
    has_seconds,
    history_detail,
    in_utc,
    instant,
    money,
    period_words,
    reason_words,
    tokens_kept_whole,
    utc_text,
    words,
)
from api.console.paging import page_url
from api.console.periods import days_zone
from api.console.problems import FormProblem
from api.console.session import (
    CONSOLE_PREFIX,
    CSRF_COOKIE,
    CSRF_FIELD,
    ConsoleUser,
    csrf_token_for,
    renew_session,
    secure_cookies,
    sign,
)
from api.dependencies import AppServices
from crowdship.units import counted, format_duration
from dispatch.services import accounts

STATIC_URL = f"{CONSOLE_PREFIX}/static"
FLASH_COOKIE = "crowdship_flash"

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""The content security policy of every console page: the console's own script files, stylesheets, images and
requests only, no inline script or style, forms sent to the console alone, and framed by nobody. Markup that
slipped into a page (a name, a note, a reference escaped wrongly) could run no script there."""


TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=TEMPLATES_DIR)


templates.env.filters["money"] = money
templates.env.filters["utc"] = in_utc
templates.env.filters["instant"] = instant
templates.env.filters["words"] = words
templates.env.filters["counted"] = counted
templates.env.filters["duration"] = format_duration
templates.env.filters["reason"] = reason_words
templates.env.filters["period"] = period_words
templates.env.filters["dates_whole"] = dates_kept_whole
templates.env.filters["kept_whole"] = tokens_kept_whole
templates.env.filters["days_zone"] = days_zone
templates.env.filters["utc_text"] = utc_text
templates.env.filters["has_seconds"] = has_seconds
templates.env.filters["history"] = history_detail


def new_idempotency_key() -> str:
    """A key for a form about to be shown (the store form, the till, a reward reversal): its submissions, a double
    click or a reload, act once."""
    return uuid4().hex


templates.env.globals["new_idempotency_key"] = new_idempotency_key


# --- Flash messages --------------------------------------------------------------------------------------

FlashKind = Literal["success", "error", "info"]


@dataclass(frozen=True)
class Flash:
    kind: FlashKind
    text: str


def _read_flashes(request: Request, secret: str) -> list[Flash]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return []
    payload, signature = raw.rsplit(".", 1)
    if not hmac.compare_digest(signature, sign(secret, f"flash:{payload}")):
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(payload.encode()))
        return [Flash(kind=item[0], text=str(item[1])[:500]) for item in items[:5]]
    except (ValueError, TypeError, IndexError):
        return []


def redirect(request: Request, url: str, *, flash: str | None = None, kind: FlashKind = "success") -> RedirectResponse:
    """Post/redirect/get: 303 to `url` (a console path), with a message shown once on the next page."""
    if not url.startswith("/") or url.startswith("//"):
        url = CONSOLE_PREFIX
    response = RedirectResponse(url, status_code=303)
    renew_session(request, response)
    if flash:
        secret: str = request.app.state.services.signing_key
        payload = base64.urlsafe_b64encode(json.dumps([[kind, flash]]).encode()).decode()
        response.set_cookie(
            FLASH_COOKIE,
            f"{payload}.{sign(secret, f'flash:{payload}')}",
            max_age=60,
            path=CONSOLE_PREFIX,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
        )
    return response


def _secure(request: Request) -> bool:
    return bool(request.app.state.services.settings.environment == "production")


# --- Rendering -------------------------------------------------------------------------------------------


def people(request: Request, user_ids: Iterable[UUID | None]) -> dict[UUID, str]:
    """The accounts a page names (who prepared, approved, resolved...), by e-mail: the `people` of `ui.person`."""
    services: AppServices = request.app.state.services
    return accounts.account_emails(services.context, user_ids)


def render(
    request: Request,
    template: str,
    user: ConsoleUser | None,
    *,
    status_code: int = 200,
    problem: FormProblem | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the base layout: navigation for `user`'s role, the flash messages, a CSRF token for its
    forms, and `problem` (a refused form) shown next to the form. A refused form answers with its status."""
    services: AppServices = request.app.state.services
    secret = services.signing_key
    csrf_token, new_cookie = csrf_token_for(request, services)
    flashes = _read_flashes(request, secret)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf_token": csrf_token,
            "csrf_field": CSRF_FIELD,
            "flashes": flashes,
            "problem": problem,
            "page_url": lambda **changes: page_url(request, **changes),
            "static_url": STATIC_URL,
            **context,
        },
        status_code=problem.status if problem is not None and status_code == 200 else status_code,
    )
    secure = secure_cookies(request)
    if new_cookie is not None:
        response.set_cookie(
            CSRF_COOKIE, new_cookie, path=CONSOLE_PREFIX, httponly=True, samesite="strict", secure=secure
        )
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path=CONSOLE_PREFIX, httponly=True, samesite="strict", secure=secure)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    renew_session(request, response)
    return response
