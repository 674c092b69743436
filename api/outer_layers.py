"""The API's outermost ASGI layers, each answering with a problem document (`api.problems`): a request body over
the size limit is refused before it is read, and an error nothing else handled becomes one generic 500, logged
once."""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import BodyTooLarge, problem_response
from crowdship.logging import get_logger

log = get_logger(__name__)


class BodyLimit:
    """Refuses a request body over `max_bytes` with a 413 problem: at once when its Content-Length says so, or
    as soon as a streamed body goes over; what is beyond the limit is never read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Request(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, send_tracking)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = str(BodyTooLarge(self.max_bytes))
        await problem_response(Request(scope), 413, detail, headers={"Connection": "close"})(scope, receive, send)


class UnexpectedErrors:
    """Turns an error no handler knew into a generic 500 problem, logged once, in a few lines, without locals
    (Starlette's own last resort logs it and re-raises, and the server then logs it a second time)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as error:
            log.error("unhandled error", method=scope.get("method"), path=scope.get("path"), exc_info=error)
            if not started:
                response = problem_response(Request(scope), 500, "an unexpected error occurred; it has been logged")
                await response(scope, receive, send)
