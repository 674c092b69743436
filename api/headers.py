"""Headers every answer carries, whatever produced it (a route, a problem, a redirect, a late answer)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
"""No site may frame a page (a console form shown under a decoy could have staff approve money unawares), no body
is read as another type than it says (a CSV or JSON sniffed as HTML), and links leave without the page's URL."""

NOT_STORED = (b"cache-control", b"no-store")
"""Almost every answer is someone's: a recipient's one-time code, a shopper's ledger, a bank file, who is signed
in. A browser's disk cache or a shared proxy would keep it for the next person at that machine or behind that
proxy, so nothing is stored unless the answer says otherwise (`cacheable` paths: script and style files)."""


class SecurityHeaders:
    """Adds `SECURITY_HEADERS`, and `NOT_STORED` outside the `cacheable` path prefixes, to the start of every HTTP
    answer; a header the app set itself is kept."""

    def __init__(self, app: ASGIApp, *, cacheable: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cacheable = cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = SECURITY_HEADERS
        if not str(scope.get("path", "")).startswith(self.cacheable):
            added = (*SECURITY_HEADERS, NOT_STORED)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in added if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
