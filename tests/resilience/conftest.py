"""A world of its own for the fault tests: a PostgreSQL and a Redis started for this module only (the rest of
the suite shares the project's servers and must not see them die), the schema, and the API and a dispatcher
running as real processes against them, as in production."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from api.security import issue_token
from crowdship import migrate
from crowdship.db import open_pool
from crowdship.local_servers import LocalPostgres, LocalRedis, process_alive, process_command_line
from crowdship.settings import get_settings
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Shopper, Store, TrustTier
from routing.areas import circular_area
from routing.geo import GeoPoint

STORE_AT = GeoPoint(30.4627, -84.2211)
REQUEST_DEADLINE_S = 3.0
HOME = GeoPoint(30.5000, -84.2211)
ON_THE_WAY = GeoPoint(30.4800, -84.2190)


def order_body(world: World, ref: str) -> dict[str, Any]:
    """An order for the world's store, on the way of its shoppers, in a window opening now."""
    now = time.time()
    return {
        "store_id": str(world.store.id),
        "external_ref": ref,
        "dropoff": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon},
        "dropoff_address": "1200 Magnolia Dr",
        "recipient_name": "Jade Moreau",
        "window_earliest": iso_utc(now),
        "window_latest": iso_utc(now + 3 * 3600),
        "size_bags": 1,
        "value_cents": 2500,
    }


def iso_utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Servers:
    """The module's own PostgreSQL and Redis, which the tests stop, kill and start again."""

    postgres: LocalPostgres
    redis: LocalRedis
    database_url: str = ""
    redis_url: str = ""

    def start(self) -> None:
        self.database_url = self.postgres.up()
        self.redis_url = self.redis.up()

    def crash_postgres(self) -> None:
        """Immediate shutdown: no checkpoint, crash recovery at the next start, every connection cut."""
        self.postgres._run(
            [
                str(self.postgres.bin_dir() / "pg_ctl"),
                "stop",
                "-w",
                "-m",
                "immediate",
                "-D",
                str(self.postgres.data_dir),
            ]
        )

    @contextmanager
    def postgres_frozen(self) -> Iterator[None]:
        """SIGSTOP to this module's postmaster and every process it started, SIGCONT to them all afterwards, come
        what may: the server stays up, its connections open, and nothing answers (a paused VM, a stalled disk)."""
        postmaster = self.postgres._pid()
        assert postmaster is not None
        assert "postgres" in process_command_line(postmaster)
        with _stopped([postmaster, *_children(postmaster)]):
            yield

    @contextmanager
    def redis_frozen(self) -> Iterator[None]:
        pid = int(self.redis.pid_file.read_text())
        assert "redis-server" in process_command_line(pid)
        with _stopped([pid]):
            yield

    def kill_redis(self) -> None:
        """SIGKILL: Redis keeps nothing on disk here, so it comes back empty."""
        pid = int((self.redis.pid_file).read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.redis.pid_file.unlink(missing_ok=True)


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


@contextmanager
def _stopped(pids: list[int]) -> Iterator[None]:
    stopped = []
    try:
        for pid in pids:
            with suppress(ProcessLookupError):  # a child that ended meanwhile
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class World:
    servers: Servers
    base_url: str
    api: Process
    dispatcher: Process
    store: Store
    ops: dict[str, str]
    shoppers: list[tuple[Shopper, dict[str, str]]] = field(default_factory=list)
    secret: str = ""
    """The API's signing key: a test signs in people of its own with it (`World.sign_in`)."""

    def sign_in(self, user: User) -> dict[str, str]:
        """The headers of `user`, added to the database and signed in (a token, as `/auth/token` gives)."""
        now = datetime.now(UTC)
        with open_pool(self.servers.database_url, max_size=1) as pool, PostgresDispatchUnitOfWork(pool) as uow:
            uow.users.add(user)
            uow.commit()
        token = issue_token(user, secret=self.secret, ttl=timedelta(hours=2), now=now)
        return {"Authorization": f"Bearer {token}"}

    def http(self, timeout: float = 10.0) -> httpx2.Client:
        return httpx2.Client(base_url=self.base_url, timeout=timeout)


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    """Polls until `condition()` is truthy; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except httpx2.TransportError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(every)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    root = get_settings().local_dir / "resilience" / f"{os.getpid()}-{secrets.token_hex(3)}"
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    own = Servers(LocalPostgres(root), LocalRedis(root))
    try:
        own.start()
        migrate.upgrade(own.database_url)
        yield own
    finally:
        own.redis.down()
        own.postgres.down()
        shutil.rmtree(root, ignore_errors=True)


def _spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def _seed(database_url: str, secret: str) -> tuple[Store, dict[str, str], list[tuple[Shopper, dict[str, str]]]]:
    now = datetime.now(UTC)
    store = Store("Resilient store", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    ops = User(email="ops@example.org", password_hash="-", role=Role.OPS, created_at=now)
    shoppers = []
    with open_pool(database_url, max_size=1) as pool, PostgresDispatchUnitOfWork(pool) as uow:
        uow.stores.add(store)
        uow.users.add(ops)
        for index in range(3):
            shopper = Shopper(f"Shopper {index}", trust_tier=TrustTier.GOLD, identity_verified=True)
            user = User(
                email=f"s{index}@example.org",
                password_hash="-",
                role=Role.SHOPPER,
                shopper_id=shopper.id,
                created_at=now,
            )
            uow.shoppers.add(shopper)
            uow.users.add(user)
            token = issue_token(user, secret=secret, ttl=timedelta(hours=2), now=now)
            shoppers.append((shopper, {"Authorization": f"Bearer {token}"}))
        uow.commit()
    ops_token = issue_token(ops, secret=secret, ttl=timedelta(hours=2), now=now)
    return store, {"Authorization": f"Bearer {ops_token}"}, shoppers


@pytest.fixture(scope="module")
def world(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    secret = secrets.token_hex(32)
    store, ops, shoppers = _seed(servers.database_url, secret)
    port = _free_port()
    env = {
        **os.environ,
        "CROWDSHIP_DATABASE_URL": servers.database_url,
        "CROWDSHIP_REDIS_URL": servers.redis_url,
        "CROWDSHIP_SECRET_KEY": secret,
        "CROWDSHIP_ENVIRONMENT": "production",
        "CROWDSHIP_LOG_FORMAT": "json",
        "CROWDSHIP_MATCHER_TIME_LIMIT_S": "0.5",
        # Short, so that the freezing tests see the bounds act within a few seconds.
        "CROWDSHIP_REQUEST_DEADLINE_S": str(REQUEST_DEADLINE_S),
        "CROWDSHIP_DISPATCH_STALL_S": "2",
    }
    logs = tmp_path_factory.mktemp("processes")
    crowdship = str(Path(sys.executable).parent / "crowdship")
    api = _spawn("api", [crowdship, "api", "--port", str(port)], env, logs)
    dispatcher = _spawn("dispatcher", [crowdship, "dispatcher", "--cadence", "0.5"], env, logs)
    base_url = f"http://127.0.0.1:{port}"
    made = World(servers, base_url, api, dispatcher, store, ops, shoppers, secret)
    try:
        # Generous: on two busy cores the API's first start may compile the matcher's loop (numba) too.
        wait_for(lambda: httpx2.get(f"{base_url}/health", timeout=2).status_code == 200, timeout=120, what="the API")
        yield made
    finally:
        for process in (api, dispatcher):
            process.popen.send_signal(signal.SIGTERM)
        for process in (api, dispatcher):
            try:
                process.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.popen.kill()
