"""A request whose response has not started within the deadline is answered 503 with Retry-After; one that
answers in time, or whose response (a stream) has started, is left alone. The endpoints here stand for a
server that stopped answering: they wait on an event the test holds."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import httpx2
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from api.deadline import RequestDeadline
from api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers

DEADLINE_S = 0.3


def _app(released: threading.Event, finished: list[str]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestDeadline, deadline_s=DEADLINE_S)

    @app.get("/quick")
    async def quick() -> dict[str, str]:
        return {"answer": "in time"}

    @app.get("/on-a-thread")
    def on_a_thread() -> dict[str, str]:
        released.wait(30)  # a query on a server that stopped answering
        finished.append("on-a-thread")
        return {"answer": "late"}

    @app.get("/awaiting")
    async def awaiting() -> dict[str, str]:
        await asyncio.sleep(30)
        return {"answer": "late"}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.sleep(DEADLINE_S * 3)
            yield b"second\n"

        return StreamingResponse(parts(), media_type="text/plain")

    return app


async def _get(app: FastAPI, *paths: str) -> list[httpx2.Response]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:
        return list(await asyncio.gather(*(client.get(path) for path in paths)))


def test_a_request_not_answered_by_the_deadline_gets_a_retryable_503_and_its_work_is_let_finish() -> None:
    released, finished = threading.Event(), list[str]()
    app = _app(released, finished)
    try:
        thread_late, awaiting_late = asyncio.run(_get(app, "/on-a-thread", "/awaiting"))
    finally:
        released.set()
    for _ in range(100):  # the work on its thread was not stopped: it ends once its "server" answers
        if finished:
            break
        time.sleep(0.1)
    assert finished == ["on-a-thread"]
    for late in (thread_late, awaiting_late):
        assert late.status_code == 503
        assert late.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert int(late.headers["retry-after"]) > 0
        assert "may or may not have been applied" in late.json()["detail"]


def test_a_request_answered_in_time_is_untouched() -> None:
    (response,) = asyncio.run(_get(_app(threading.Event(), []), "/quick"))
    assert response.status_code == 200
    assert response.json() == {"answer": "in time"}


def test_a_response_started_in_time_runs_on_past_the_deadline() -> None:
    (response,) = asyncio.run(_get(_app(threading.Event(), []), "/stream"))
    assert response.status_code == 200
    assert response.text == "first\nsecond\n"
