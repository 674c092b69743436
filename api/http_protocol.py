"""How `crowdship api` reads HTTP/1.1: uvicorn's httptools protocol with a bound on a request's head (its line and
headers). httptools keeps every header of a request in memory and has no limit of its own, so a handful of
clients each sending megabytes of headers would take the process's memory before any route or limit of the
application ran; h11, uvicorn's other parser, stops at 16 KiB, and so do most proxies at 8 to 32 KiB."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_REQUEST_HEAD_BYTES = 64 * 1024
"""A browser's request head is a few kilobytes (cookies included); four times nginx's largest default buffer."""

_TOO_LARGE = b"request head (line and headers) larger than 65536 bytes"


class BoundedHeadProtocol(HttpToolsProtocol):
    """Answers 431 and closes the connection once a request's head passes `MAX_REQUEST_HEAD_BYTES`: bytes are
    counted from the request's first byte until its headers are complete, as they arrive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._reading_head = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._reading_head = True

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._reading_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
            self._reading_head = False
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_LARGE), _TOO_LARGE)
            )
            self.transport.close()
