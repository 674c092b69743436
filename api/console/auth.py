"""Signing in and out of the console, and its home page. Sign-in is the API's (`/auth/token`): the same
accounts, the same throttle and lockout, the same signed token, kept in an HttpOnly cookie. Staff only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.problems import FormProblem, readable_problem
from api.console.session import (
    CONSOLE_PREFIX,
    SESSION_COOKIE,
    STAFF_ROLES,
    Form,
    StaffUser,
    safe_console_path,
    start_session,
)
from api.console.web import redirect, render
from api.dependencies import Services
from api.problems import ProblemException
from api.routers.auth import _client_address
from api.security import read_token
from dispatch.services import accounts

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)

NextUrl = Annotated[str, Query(alias="next", max_length=500)]
SHOPPER_REFUSED = (
    "This console is for operations, finance and administrators. Shoppers use the Crowdship app; "
    "your account was not signed in here."
)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next_url: NextUrl = CONSOLE_PREFIX) -> HTMLResponse:
    return render(request, "sign_in.html", None, next_url=safe_console_path(next_url), email="")


@router.post("/sign-in", response_model=None)
async def sign_in(request: Request, services: Services, form: Form) -> Response:
    email, password = form.get("email").strip()[:254], form.get("password")[:1000]
    address = _client_address(request)
    next_url = safe_console_path(form.get("next", CONSOLE_PREFIX))

    def refused(problem: FormProblem) -> HTMLResponse:
        return render(request, "sign_in.html", None, problem=problem, next_url=next_url, email=email)

    if not email or not password:
        missing = {name: "is required" for name, value in (("email", email), ("password", password)) if not value}
        return refused(FormProblem("Enter your e-mail address and your password.", missing, 422))
    try:
        async with services.login_throttle.judging(email=email, address=address):
            user = await run_in_threadpool(
                accounts.authenticate, services.context, services.passwords, email=email, password=password
            )
    except ProblemException as error:  # over a limit: refused before the password is checked
        over_limit = refused(readable_problem(error))
        if "Retry-After" in error.headers:  # as the API says it: when to try again
            over_limit.headers["Retry-After"] = error.headers["Retry-After"]
        return over_limit
    if user is None:
        return refused(FormProblem("Wrong e-mail address or password.", {}, 401))
    await services.login_throttle.succeeded(email=email, address=address)
    if user.role not in STAFF_ROLES:
        return refused(FormProblem(SHOPPER_REFUSED, {}, 403))
    response: RedirectResponse = redirect(request, next_url)
    start_session(request, response, user)
    return response


@router.post("/sign-out", response_model=None)
async def sign_out(request: Request, services: Services, form: Form) -> Response:
    """Ends the session on the server too (`accounts.end_sessions`), not only the cookie in this browser."""
    _ = form  # read for its CSRF check: nobody can be signed out by another site
    token = request.cookies.get(SESSION_COOKIE)
    now = services.context.clock.now()
    principal = read_token(token, secret=services.signing_key, now=now) if token else None
    if principal is not None:
        await run_in_threadpool(accounts.end_sessions, services.context, principal.user_id)
        services.accounts.forget(principal.user_id)
    response = redirect(request, f"{CONSOLE_PREFIX}/sign-in", flash="You are signed out.", kind="info")
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PREFIX, httponly=True, samesite="strict")
    return response


@router.get("", response_class=HTMLResponse)
async def home(request: Request, user: StaffUser) -> HTMLResponse:
    return render(request, "home.html", user)
