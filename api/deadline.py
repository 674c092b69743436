"""Every request is answered within a deadline, whatever its backing servers do.

The pool's wait, the connection check, the statement timeout and Redis's socket timeouts bound each step; this
bounds the whole: a request whose response has not started when the deadline passes is answered 503 with
Retry-After at once (a query under way on a server that was stopped mid-answer waits for no timeout of its
own). A response that has started, an event stream or a long export, runs on: its client already has an answer.

The work behind a late request is not stopped, only no longer waited for: an endpoint running on a worker
thread goes on until its server answers, and anything it writes is kept then. The 503 therefore says the
request may or may not have been applied; a retry with the same `Idempotency-Key` is applied once either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import UNAVAILABLE_RETRY_S, problem_response
from crowdship.logging import get_logger

log = get_logger(__name__)

LATE_HEADERS = {"Retry-After": str(UNAVAILABLE_RETRY_S)}
LATE_DETAIL = (
    "the request did not finish in time: a backing service is not answering; it may or may not have been applied, "
    "retry shortly (with the same Idempotency-Key where one is taken)"
)


class RequestDeadline:
    """Answers 503 for a request whose response has not started within `deadline_s` seconds."""

    def __init__(self, app: ASGIApp, deadline_s: float, late_response: LateResponse | None = None) -> None:
        self.app = app
        self.deadline_s = deadline_s
        self.late_response = late_response or late_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = abandoned = False

        async def send_unless_abandoned(message: Message) -> None:
            nonlocal started
            if abandoned:  # the client has had its 503: what the late work says goes nowhere
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        work = asyncio.ensure_future(self.app(scope, receive, send_unless_abandoned))
        try:
            await asyncio.wait({work}, timeout=self.deadline_s)
        except asyncio.CancelledError:
            work.cancel()
            raise
        if work.done() or started:
            await work  # its outcome (or, for a response under way, the rest of it) as it comes
            return
        abandoned = True
        work.cancel()  # awaits no further; work on a worker thread ends when its server answers
        work.add_done_callback(_note_late_outcome)
        log.warning(
            "request deadline passed", method=scope.get("method"), path=scope.get("path"), deadline_s=self.deadline_s
        )
        response = self.late_response(Request(scope))
        await response(scope, receive, send)


LateResponse = Callable[[Request], Response]
"""What a request past its deadline is answered: by default a 503 problem with Retry-After."""


def late_problem(request: Request) -> Response:
    return problem_response(request, 503, LATE_DETAIL, headers=LATE_HEADERS)


def _note_late_outcome(work: asyncio.Future[None]) -> None:
    """Collects the abandoned work's outcome, so that asyncio does not report it as never retrieved."""
    with contextlib.suppress(asyncio.CancelledError):
        error = work.exception()
        if error is not None:
            log.warning("abandoned request ended with an error", error=type(error).__name__)
