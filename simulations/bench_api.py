"""`crowdship bench api`: location updates per second and accept latency against a real server on loopback.

A fresh database is made on the configured PostgreSQL server (and dropped afterwards); the API runs in a
uvicorn subprocess on a free port; the load comes from this process (asyncio, raw keep-alive HTTP/1.1) with a bounded
number of requests in flight and a bounded time. Not a test: it prints a table.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

from crowdship import migrate
from crowdship.db import open_pool
from crowdship.settings import get_settings
from crowdship.units import Cents, counted
from dispatch.accounts import Role, User
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Offer, Order, Shopper, Store, Trip, TrustTier
from routing.areas import circular_area
from routing.geo import GeoPoint

STORE = GeoPoint(30.4627, -84.2211)


def bench_app_factory() -> FastAPI:
    """What the uvicorn subprocess serves: the app on the settings of its environment, with the matcher loaded
    before it listens. A service loads it on a thread once started (seconds of CPU, mostly holding the
    interpreter's lock, numba compiling too on a fresh checkout): measured during that, location updates paid
    for it (on 2 cores, several seconds of a 10-second run and a p99 in the hundreds of milliseconds)."""
    import dispatch.matching.solver  # noqa: F401  (loaded once per process: the app's warm-up then finds it)
    from api.app import create_app, settle_garbage_collection

    app = create_app(get_settings())
    settle_garbage_collection()
    return app


@dataclass(frozen=True)
class Fixture:
    tokens: list[str]
    offer_tokens: list[tuple[str, str]]
    """(offer id, its shopper's token) for the accept phase."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _seed(database_url: str, secret: str, shoppers: int, accepts: int) -> Fixture:
    from api.security import issue_token

    now = datetime.now(UTC)
    store = Store(
        name="Bench store", location=STORE, service_area=circular_area(STORE, 12_000), fallback_cost_cents=Cents(899)
    )
    tokens: list[str] = []
    offer_tokens: list[tuple[str, str]] = []
    with open_pool(database_url, max_size=2) as pool, PostgresDispatchUnitOfWork(pool) as uow:
        uow.stores.add(store)
        for index in range(max(shoppers, accepts)):
            shopper = Shopper(display_name=f"Bench {index}", trust_tier=TrustTier.GOLD, identity_verified=True)
            user = User(
                email=f"bench{index}@example.org",
                password_hash="-",
                role=Role.SHOPPER,
                shopper_id=shopper.id,
                created_at=now,
            )
            uow.shoppers.add(shopper)
            uow.users.add(user)
            token = issue_token(user, secret=secret, ttl=timedelta(hours=1), now=now)
            tokens.append(token)
            # Positions are kept only during a trip: every shopper sending them is on one.
            trip = Trip(
                shopper_id=shopper.id,
                store_id=store.id,
                destination=GeoPoint(30.50, -84.22),
                capacity_bags=2,
                checked_in_at=now,
                leave_by=now + timedelta(hours=1),
                max_detour_m=3000,
            )
            uow.trips.add(trip)
            if index < accepts:
                order = Order(
                    store_id=store.id,
                    external_ref=f"BENCH-{index}",
                    dropoff=GeoPoint(30.48, -84.219),
                    dropoff_address="1 Bench Rd",
                    recipient_name="Pat Bench",
                    window_earliest=now,
                    window_latest=now + timedelta(hours=3),
                    dispatch_deadline=now + timedelta(hours=2),
                    size_bags=1,
                    value_cents=Cents(2000),
                    created_at=now,
                )
                order.offer()
                offer = Offer(
                    trip_id=trip.id,
                    stops=(order.id,),
                    extra_distance_m=800,
                    extra_duration_s=120,
                    reward_quote_cents=Cents(300),
                    created_at=now,
                    expires_at=now + timedelta(minutes=30),
                )
                uow.orders.add(order)
                uow.offers.add(offer)
                offer_tokens.append((str(offer.id), token))
        uow.commit()
    return Fixture(tokens[:shoppers], offer_tokens)


class _Connection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: httpx costs more CPU per request than the
    server under test, and the load generator shares the machine with it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, path: str, token: str, body: bytes = b"") -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        await self._writer.drain()
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self._reader.readexactly(length)
        return int(status_line.split()[1])

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


async def _location_phase(
    port: int, tokens: list[str], *, seconds: float, concurrency: int, rounds: int | None = None
) -> tuple[int, dict[int, int], list[float], float]:
    """Updates round-robin over the shoppers for `seconds` (or exactly `rounds` updates per shopper). Counts
    and times the accepted ones (202) only: a refusal (429 over the rate limit, anything else) is not
    throughput, and shows in the status codes."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    counter = 0

    async def worker(worker_index: int) -> None:
        nonlocal counter
        connection = await _Connection.open(port)
        index = worker_index
        try:
            while (index < rounds * len(tokens)) if rounds is not None else (time.perf_counter() < deadline):
                token = tokens[index % len(tokens)]
                body = json.dumps({"lat": 30.46 + (index % 1000) * 1e-5, "lon": -84.22}).encode()
                index += concurrency
                started = time.perf_counter()
                status = await connection.post("/shopper/location", token, body)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    latencies.append(time.perf_counter() - started)
                    counter += 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return counter, statuses, latencies, time.perf_counter() - started


async def _accept_phase(
    port: int, offers: list[tuple[str, str]], concurrency: int
) -> tuple[list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(offers)

    async def worker() -> None:
        connection = await _Connection.open(port)
        try:
            while queue:
                offer_id, token = queue.pop()
                started = time.perf_counter()
                status = await connection.post(f"/shopper/offers/{offer_id}/accept", token)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses


_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree_cpu_s(root_pid: int) -> float:
    """CPU seconds (user and system) spent so far by a process and its descendants still running, read from
    /proc (Linux): a multi-worker uvicorn serves from processes forked off the one started."""
    parents: dict[int, int] = {}
    spent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:  # ended meanwhile
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])  # fields after the command: state, ppid, ..., utime (12th), stime (13th)
        spent[pid] = int(fields[11]) + int(fields[12])
    total = 0
    for pid, ticks in spent.items():
        ancestor = pid
        while ancestor not in (root_pid, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root_pid:
            total += ticks
    return total / _CLOCK_TICKS_PER_S


def _ms(values: list[float], quantile: float) -> str:
    return f"{np.quantile(np.array(values), quantile) * 1000:.1f}" if values else "-"


def run_bench_api(
    console: Console, *, seconds: float, shoppers: int, concurrency: int, accepts: int, workers: int = 1
) -> dict[str, Any]:
    settings = get_settings()
    with migrate.throwaway_database(settings.require_database_url(), "crowdship_bench_api") as database_url:
        server: subprocess.Popen[bytes] | None = None
        try:
            secret = secrets.token_hex(32)  # the server's own key, for this run only
            fixture = _seed(database_url, secret, shoppers, accepts)
            port = _free_port()
            env = {
                **os.environ,
                "CROWDSHIP_DATABASE_URL": database_url,
                "CROWDSHIP_LOG_LEVEL": "WARNING",
                "CROWDSHIP_SECRET_KEY": secret,
            }
            server = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "--factory", "simulations.bench_api:bench_app_factory",
                    "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                    "--log-level", "warning", "--no-access-log",
                ],
                env=env,
            )  # fmt: skip
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_up(base_url)
            # Warm-up: every shopper's first update of an interval is also written to PostGIS; measure the
            # steady state after that, as in a live store where positions arrive every few seconds.
            asyncio.run(_location_phase(port, fixture.tokens, seconds=0.0, concurrency=concurrency, rounds=1))
            load_before = os.getloadavg()
            server_cpu_before, client_cpu_before = process_tree_cpu_s(server.pid), time.process_time()
            count, statuses, latencies, elapsed = asyncio.run(
                _location_phase(port, fixture.tokens, seconds=seconds, concurrency=concurrency)
            )
            server_cpu = process_tree_cpu_s(server.pid) - server_cpu_before
            client_cpu = time.process_time() - client_cpu_before
            accept_latencies, accept_statuses = asyncio.run(
                _accept_phase(port, fixture.offer_tokens, min(concurrency, 16))
            )
            load_after = os.getloadavg()
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=20)

    results = {
        "location_updates": count,
        "location_rate": count / elapsed,
        "location_statuses": statuses,
        "location_p50_ms": _ms(latencies, 0.5),
        "location_p99_ms": _ms(latencies, 0.99),
        "server_cpu_us_per_update": server_cpu / count * 1e6 if count else None,
        "client_cpu_us_per_update": client_cpu / count * 1e6 if count else None,
        "accepts": len(accept_latencies),
        "accept_statuses": accept_statuses,
        "accept_p50_ms": _ms(accept_latencies, 0.5),
        "accept_p99_ms": _ms(accept_latencies, 0.99),
    }
    table = Table(
        "measure", "value", title=f"API on loopback: {counted(workers, 'uvicorn worker')}, {os.cpu_count()} cores"
    )
    table.add_row(
        "accepted location updates", f"{count} in {elapsed:.1f} s ({concurrency} in flight, {shoppers} shoppers)"
    )
    table.add_row("accepted location updates / s", f"{results['location_rate']:.0f}")
    table.add_row("location status codes", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    table.add_row(
        "accepted update latency p50 / p99 (ms)", f"{results['location_p50_ms']} / {results['location_p99_ms']}"
    )
    if count:
        table.add_row(
            "CPU per accepted update, server / load generator (µs)",
            f"{results['server_cpu_us_per_update']:.0f} / {results['client_cpu_us_per_update']:.0f}",
        )
    table.add_row(
        "accepts", f"{len(accept_latencies)} ({', '.join(f'{k}: {v}' for k, v in sorted(accept_statuses.items()))})"
    )
    table.add_row("accept latency p50 / p99 (ms)", f"{results['accept_p50_ms']} / {results['accept_p99_ms']}")
    table.add_row("load average before / after", f"{load_before[0]:.2f} / {load_after[0]:.2f}")
    console.print(table)
    console.print("The load generator runs on the same machine as the server (and other people's work).")
    return results


def _wait_until_up(base_url: str) -> None:
    deadline = time.monotonic() + 180  # numba compiles the matcher first on a fresh checkout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:  # refused while it starts, or a 503 (`HTTPError` is one) until both servers answer
            pass
        time.sleep(0.1)
    raise RuntimeError("the API server did not start")
