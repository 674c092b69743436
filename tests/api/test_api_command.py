"""`crowdship api` as deployed: uvicorn reads the client's address from X-Forwarded-For only when the request
comes from a proxy of `CROWDSHIP_TRUSTED_PROXIES`, so that the per-address sign-in limit counts clients behind
the proxy, and nobody else can pick the address they are counted under."""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx2
import pytest

from crowdship.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _api(settings: Settings, trusted_proxies: str | None, peer: str) -> Iterator[httpx2.Client]:
    """The API as its own process, two sign-ins per client address and minute; the client connects from `peer`
    (a loopback address of its own, so that no other test's sign-ins are counted with its). `trusted_proxies`
    None leaves `CROWDSHIP_TRUSTED_PROXIES` to its default."""
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if key != "CROWDSHIP_TRUSTED_PROXIES"} | {
        "CROWDSHIP_ENVIRONMENT": "test",
        "CROWDSHIP_DATABASE_URL": settings.require_database_url(),
        "CROWDSHIP_REDIS_URL": settings.require_redis_url(),
        "CROWDSHIP_SECRET_KEY": secrets.token_hex(32),  # the suite's own key is public: the command refuses it
        "CROWDSHIP_LOGIN_ATTEMPTS_PER_ADDRESS": "2",
    }
    if trusted_proxies is not None:
        environment["CROWDSHIP_TRUSTED_PROXIES"] = trusted_proxies
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "crowdship"), "api", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            transport = httpx2.HTTPTransport(local_address=peer)
            with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, transport=transport) as client:
                _wait_until_it_answers(client, process, log)
                yield client
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_it_answers(client: httpx2.Client, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"the API exited: {log.read().decode(errors='replace')[-2000:]}")
        assert time.monotonic() < deadline, "the API did not answer /health within a minute"
        time.sleep(0.2)


def _sign_in(client: httpx2.Client, forwarded_for: str) -> int:
    response = client.post(
        "/auth/token",
        data={"username": "nobody@example.org", "password": "not the password"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def _unused(prefix: str) -> str:
    """An address under `prefix` no other test (or run within the minute) is counted under."""
    return f"{prefix}.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(2, 255)}"


@pytest.mark.usefixtures("db")
def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_sign_in_limit(api_settings: Settings) -> None:
    proxy, one, other = _unused("127"), _unused("10"), _unused("10")
    with _api(api_settings, trusted_proxies=proxy, peer=proxy) as client:
        assert [_sign_in(client, one) for _ in range(3)] == [401, 401, 429]
        assert _sign_in(client, other) == 401


@pytest.mark.usefixtures("db")
def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(api_settings: Settings) -> None:
    """The peer is not a trusted proxy: whatever address it forwards, its sign-ins count as its own."""
    peer = _unused("127")
    with _api(api_settings, trusted_proxies="192.0.2.1", peer=peer) as client:
        statuses = [_sign_in(client, _unused("10")) for _ in range(3)]
    assert statuses == [401, 401, 429]


@pytest.mark.usefixtures("db")
def test_by_default_no_peer_names_the_address_it_is_counted_under(api_settings: Settings) -> None:
    """Not even one on the API's own machine: any process there connects from 127.0.0.1, and trusted as a proxy
    it could name a new address for each guess and sign in (or register) without limit."""
    with _api(api_settings, trusted_proxies=None, peer="127.0.0.1") as client:
        statuses = [_sign_in(client, _unused("10")) for _ in range(3)]
    assert statuses[-1] == 429


def _raw_request(port: int, head: bytes) -> bytes:
    """Sends `head` (a request's line and headers) in pieces as a client would, and reads the answer's start."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            for start in range(0, len(head), 65_536):
                sock.sendall(head[start : start + 65_536])
        except OSError:  # the server answered and closed while the rest was still being sent
            pass
        return sock.recv(200)


@pytest.mark.usefixtures("db")
def test_a_request_with_megabytes_of_headers_is_refused_before_it_is_read_whole(api_settings: Settings) -> None:
    """uvicorn's httptools parser holds every header of a request in memory with no limit of its own: a few
    clients each sending megabytes of headers would take the process's memory. Browsers send a few kilobytes."""
    with _api(api_settings, trusted_proxies=None, peer="127.0.0.1") as client:
        port = client.base_url.port
        assert port is not None
        usual = b"GET /health HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 8_000 + b"\r\n\r\n"
        assert _raw_request(port, usual).startswith(b"HTTP/1.1 200")
        huge = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Filler: " + b"a" * 4_000_000 + b"\r\n\r\n"
        assert _raw_request(port, huge).startswith(b"HTTP/1.1 431")
        many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: a\r\n" % n for n in range(20_000)) + b"\r\n"
        assert _raw_request(port, many).startswith(b"HTTP/1.1 431")
        assert client.get("/health").status_code == 200, "the server goes on serving"
