"""The web console for staff (ops, finance, admin), served by the API at `/console`: server-rendered Jinja2
pages, htmx and a small stylesheet served from `static/` (nothing from a CDN), no build step.

Adding a page:
1. One router module per area: `api/console/ops_<area>.py` or `api/console/finance_<area>.py`, with
   `router = APIRouter(prefix=CONSOLE_PREFIX + "/ops/<area>", include_in_schema=False)`; list it in
   `AREA_ROUTERS` below.
2. Its templates under `templates/ops/` or `templates/finance/`, each `{% extends "base.html" %}` and using
   `macros.html` (form fields with their errors, the CSRF field, the pagination macro, money).
3. Handlers take `OpsUser` / `FinanceUser` / `StaffUser` (redirects to sign-in, or refuses another role),
   `Form` on POST (CSRF checked) from `web`, and `PageQuery` for lists from `paging`; they call the same use
   cases as the API, through the same dependencies (`api.dependencies`, `api.rewards_dependencies`), never
   SQL. Catch `CONSOLE_ERRORS` (`problems`) around a use case and pass `readable_problem(error)` to
   `render(..., problem=...)`; after a change, answer `redirect(request, url, flash="...")`.
4. Add a link in the navigation of its role's section (`templates/ops/_nav.html` for operations, and its
   entry on the home page in `templates/ops/_home.html`, both included by the base layout when they exist;
   pass `nav="<key>"` to `render` to mark the current link), and a browser test under
   `tests/api/console/` that takes a screenshot of the page (`screenshot(page, "name")`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from psycopg import errors as pg_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console import (
    auth,
    finance_audit,
    finance_batches,
    finance_books,
    finance_corrections,
    finance_policies,
    ops_incidents,
    ops_orders,
    ops_shopper_money,
    ops_shoppers,
    ops_simulations,
    ops_stores,
)
from api.console.problems import link_problem, readable_problem
from api.console.session import (
    CONSOLE_PREFIX,
    SIGN_IN_URL,
    ConsoleForbidden,
    ConsoleUser,
    SignInRequired,
    is_htmx,
    signed_in_user,
)
from api.console.web import STATIC_DIR, STATIC_URL, render
from crowdship.db import CommitOutcomeUnknown
from crowdship.errors import DomainError
from crowdship.outages import BACKING_SERVICE_ERRORS

AREA_ROUTERS = [
    auth.router,
    finance_batches.router,
    finance_books.router,
    finance_corrections.router,
    finance_policies.router,
    finance_audit.router,
    ops_stores.router,
    ops_orders.router,
    ops_shoppers.router,
    ops_shopper_money.router,
    ops_incidents.router,
    ops_simulations.router,
]


def install_console(app: FastAPI) -> None:
    """Mounts the console's routes, its static files and the handlers that turn its refusals into pages."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="console-static")
    for router in AREA_ROUTERS:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PREFIX, status_code=307)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:  # browsers ask for it on every page, /docs included
        return RedirectResponse(f"{STATIC_URL}/favicon.svg", status_code=308)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)
        sign_in = f"{SIGN_IN_URL}?{urlencode({'next': error.next_url})}"
        if is_htmx(request):  # a part of a page: htmx takes the whole page to sign-in, not into the part
            return Response(status_code=401, headers={"HX-Redirect": sign_in, "Cache-Control": "no-store"})
        return RedirectResponse(sign_in, status_code=303)

    @app.exception_handler(ConsoleForbidden)
    async def forbidden(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, ConsoleForbidden)
        user = await signed_in_user(request)
        return render(request, "problem.html", user, status_code=403, heading="Not allowed", message=error.message)

    # A page that cannot be shown (an unknown batch, a malformed link, no such address) is told as a page of
    # the console, with its navigation, not as JSON; the API's own routes keep their problem details.
    console_errors = (DomainError, RequestValidationError, StarletteHTTPException, pg_errors.DataError)
    for error_class in (*console_errors, *BACKING_SERVICE_ERRORS):
        app.add_exception_handler(error_class, _readable_on_console_pages(app.exception_handlers[error_class]))


UNAVAILABLE_HEADING = "Unavailable"
NOT_ANSWERING = "A server behind the console is not answering: nothing was done. Try again in a moment."
COMMIT_LOST = (
    "The database stopped answering as the change was being saved: it may have been done. Look before doing it "
    "again; the same form sent again (go back, send it) does it at most once."
)
UNSTORABLE = (
    "What was typed or linked holds a character or a number the database cannot store (such as an invisible NUL "
    "character from a pasted text): nothing was done. Go back, retype it and try again."
)


def unavailable_page(request: Request, message: str, headers: Mapping[str, str]) -> HTMLResponse:
    """A console page for a request a backing server did not let through: said as a page, without asking the
    servers who is signed in (the navigation waits for the next page)."""
    page = render(request, "problem.html", None, status_code=503, heading=UNAVAILABLE_HEADING, message=message)
    page.headers.update(headers)
    return page


def on_console_page(request: Request) -> bool:
    path = request.url.path
    return path == CONSOLE_PREFIX or path.startswith(f"{CONSOLE_PREFIX}/")


def _readable_on_console_pages(api_handler: Any) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, error: Exception) -> Response:
        if not _on_console_page(request, error):
            response: Response = await api_handler(request, error)
            return response
        if isinstance(error, BACKING_SERVICE_ERRORS):
            problem = await api_handler(request, error)  # logged, with its Retry-After, as for the API
            message = COMMIT_LOST if isinstance(error, CommitOutcomeUnknown) else NOT_ANSWERING
            return unavailable_page(request, message, {"Retry-After": problem.headers["Retry-After"]})
        user = await signed_in_user(request)
        if isinstance(error, pg_errors.DataError):
            await api_handler(request, error)  # logged as for the API
            return render(request, "problem.html", user, status_code=422, heading="Refused", message=UNSTORABLE)
        if isinstance(error, StarletteHTTPException):
            return _no_such_page(request, user, error)
        if isinstance(error, RequestValidationError):
            message = link_problem(error.errors())
            return render(request, "problem.html", user, status_code=422, heading="Bad link", message=message)
        problem = readable_problem(error)
        heading = "Not found" if problem.status == 404 else "Refused"
        return render(
            request, "problem.html", user, status_code=problem.status, heading=heading, message=problem.message
        )

    return handle


def _on_console_page(request: Request, error: Exception) -> bool:
    """Under /console; for the HTTP layer's own errors, only an unknown address or method (a body too large
    keeps the API's answer)."""
    if not on_console_page(request):
        return False
    return not isinstance(error, StarletteHTTPException) or error.status_code in (404, 405)


def _no_such_page(request: Request, user: ConsoleUser | None, error: StarletteHTTPException) -> HTMLResponse:
    if error.status_code == 405:
        message = "This address is not meant to be opened like this; follow a link of the console instead."
        return render(request, "problem.html", user, status_code=405, heading="No such page", message=message)
    message = f"There is no page at {request.url.path[:200]}."
    return render(request, "problem.html", user, status_code=404, heading="No such page", message=message)
