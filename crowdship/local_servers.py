"""The project's own PostgreSQL + PostGIS and Redis servers, for development and tests.

Both run from the OS packages, listen on 127.0.0.1 on ports picked free at start, and keep their data
under the local folder (`.local/` by default). `up` and `down` are idempotent and survive a stale pid file.
PostgreSQL refuses to run as root, so when invoked as root the cluster belongs to the `postgres` user.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crowdship.logging import get_logger

log = get_logger(__name__)

DATABASE_NAME = "crowdship"
SUPERUSER = "postgres"
ENV_FILE_NAME = "services.env"
LOCK_FILE_NAME = "services.lock"


class ServiceError(RuntimeError):
    """A local server could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    url: str | None
    pid: int | None
    detail: str


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now. Like PostgreSQL and Redis, the probe sets SO_REUSEADDR,
    so connections of a stopped server lingering in TIME_WAIT do not count as taking the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def process_alive(pid: int) -> bool:
    """True while a process of that id exists, ours or another user's (a server started as `postgres` when
    running as root answers signal 0 with a permission error: it is there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _pick_port(port_file: Path) -> int:
    """The port used last time if it is still free, so that URLs stay stable across restarts."""
    previous = _read_int(port_file)
    port = previous if previous is not None and port_is_free(previous) else find_free_port()
    port_file.write_text(f"{port}\n")
    return port


class LocalPostgres:
    def __init__(self, root: Path) -> None:
        self.root = root / "postgres"
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log_file = self.root / "server.log"
        self.port_file = self.root / "port"
        self.run_as = SUPERUSER if os.geteuid() == 0 else None

    # -- discovery -----------------------------------------------------------------------------------
    def bin_dir(self) -> Path:
        """The newest installed PostgreSQL that has PostGIS, else the newest at all."""
        versions = sorted(
            (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        )
        if not versions:
            found = shutil.which("pg_ctl")
            if found is None:
                raise ServiceError(
                    "PostgreSQL is not installed: run scripts/bootstrap.sh (or `make test`), "
                    "or set CROWDSHIP_DATABASE_URL to use an existing server"
                )
            return Path(found).parent
        with_postgis = [
            p for p in versions if Path(f"/usr/share/postgresql/{p.parent.name}/extension/postgis.control").exists()
        ]
        if not with_postgis:
            version = versions[-1].parent.name
            raise ServiceError(
                f"PostGIS is missing for PostgreSQL {version}: apt-get install -y postgresql-{version}-postgis-3"
            )
        return with_postgis[-1]

    def url(self, port: int, database: str = DATABASE_NAME) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"

    # -- process control -----------------------------------------------------------------------------
    def _run(self, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ServiceError(
                f"{' '.join(args[:2])} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}\nsee {self.log_file}"
            )
        return result

    def _prepare_folders(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as is None:
            return
        owner = pwd.getpwnam(self.run_as)
        for path in (
            self.root,
            self.socket_dir,
            *([self.data_dir] if self.data_dir.exists() else []),
        ):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        probe = subprocess.run(["runuser", "-u", self.run_as, "--", "test", "-w", str(self.root)], check=False)
        if probe.returncode != 0:
            raise ServiceError(
                f"the {self.run_as} user cannot reach {self.root}: clone the project somewhere it can "
                "traverse, or set CROWDSHIP_LOCAL_DIR to such a folder"
            )

    def _pid(self) -> int | None:
        return _read_int(self.data_dir / "postmaster.pid")

    def _port(self) -> int | None:
        """The port of the running server, from the fourth line of postmaster.pid."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, ValueError, IndexError):
            return None

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run([str(self.bin_dir() / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return result.returncode == 0

    def status(self) -> ServiceStatus:
        if not self.is_running():
            state = "stopped" if (self.data_dir / "PG_VERSION").exists() else "not initialised"
            return ServiceStatus("postgres", False, None, None, f"{state} ({self.data_dir})")
        port = self._port()
        url = self.url(port) if port else None
        return ServiceStatus("postgres", True, url, self._pid(), f"data in {self.data_dir}")

    def up(self) -> str:
        bin_dir = self.bin_dir()
        self._prepare_folders()
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initdb", data_dir=str(self.data_dir))
            if self.data_dir.exists():
                shutil.rmtree(self.data_dir)  # a half-made cluster from an interrupted initdb
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                ]
            )
        if not self.is_running():
            port = _pick_port(self.port_file)
            # fsync off: a development server may lose data if the machine itself crashes, never when the
            # server process dies (commits still reach the OS before they return).
            options = (
                f"-p {port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200 -c fsync=off -c full_page_writes=off"
            )
            log.info("postgres starting", port=port)
            self._run(
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                ]
            )
        running_port = self._port()
        if running_port is None:
            raise ServiceError(f"postgres is running but its port is unknown; see {self.log_file}")
        self._ensure_database(running_port)
        return self.url(running_port)

    def _ensure_database(self, port: int) -> None:
        psql = str(self.bin_dir() / "psql")
        base = [psql, "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, "-d", "postgres", "-tAc"]
        exists = self._run([*base, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"])
        if exists.stdout.strip() != "1":
            self._run([*base, f"CREATE DATABASE {DATABASE_NAME}"])

    def down(self) -> None:
        if not self.is_running():
            return
        log.info("postgres stopping")
        self._run([str(self.bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)])


class LocalRedis:
    def __init__(self, root: Path) -> None:
        self.root = root / "redis"
        self.pid_file = self.root / "redis.pid"
        self.port_file = self.root / "port"
        self.log_file = self.root / "redis.log"

    def url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def _live_pid(self) -> int | None:
        """The pid of our redis-server, or None; a pid file naming anything else is stale and removed."""
        pid = _read_int(self.pid_file)
        if pid is None:
            return None
        if process_alive(pid) and "redis-server" in process_command_line(pid):
            return pid
        log.info("redis stale pid file removed", pid=pid)
        self.pid_file.unlink(missing_ok=True)
        return None

    def status(self) -> ServiceStatus:
        pid = self._live_pid()
        if pid is None:
            return ServiceStatus("redis", False, None, None, "stopped")
        port = _read_int(self.port_file)
        return ServiceStatus("redis", True, self.url(port) if port else None, pid, "no persistence")

    def up(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError(
                "redis-server is not installed: run scripts/bootstrap.sh (or `make test`), "
                "or set CROWDSHIP_REDIS_URL to use an existing server"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        if self._live_pid() is None:
            port = _pick_port(self.port_file)
            log.info("redis starting", port=port)
            subprocess.run(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(self.pid_file),
                    "--logfile",
                    str(self.log_file),
                    "--dir",
                    str(self.root),
                ],
                check=True,
                capture_output=True,
            )
            self._wait_until_ready(port)
        running_port = _read_int(self.port_file)
        if running_port is None:
            raise ServiceError(f"redis is running but its port file {self.port_file} is unreadable")
        return self.url(running_port)

    def _wait_until_ready(self, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise ServiceError(f"redis did not answer on port {port}; see {self.log_file}")

    def down(self) -> None:
        pid = self._live_pid()
        if pid is None:
            return
        log.info("redis stopping", pid=pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if process_alive(pid):
            raise ServiceError(f"redis (pid {pid}) did not stop")
        self.pid_file.unlink(missing_ok=True)


class LocalServices:
    """Both servers, plus the env file through which the settings find them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.postgres = LocalPostgres(root)
        self.redis = LocalRedis(root)
        self.env_file = root / ENV_FILE_NAME

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One starter at a time: test workers that start together would otherwise both run `initdb` on
        the same folder, or both start a server on it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE_NAME).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def up(self, *, postgres: bool = True, redis: bool = True) -> dict[str, str]:
        with self._exclusive():
            urls: dict[str, str] = {}
            if postgres:
                urls["CROWDSHIP_DATABASE_URL"] = self.postgres.up()
            if redis:
                urls["CROWDSHIP_REDIS_URL"] = self.redis.up()
            self.env_file.write_text("".join(f"{key}={value}\n" for key, value in urls.items()))
            return urls

    def own_urls(self) -> dict[str, str]:
        """The URLs the servers of this folder have (or had last), by setting name: an environment naming one
        of them means this server, not another one, even while it is stopped."""
        ports = {
            "CROWDSHIP_DATABASE_URL": (_read_int(self.postgres.port_file), self.postgres.url),
            "CROWDSHIP_REDIS_URL": (_read_int(self.redis.port_file), self.redis.url),
        }
        return {name: url(port) for name, (port, url) in ports.items() if port is not None}

    def down(self) -> None:
        with self._exclusive():
            self.redis.down()
            self.postgres.down()
            self.env_file.unlink(missing_ok=True)

    def status(self) -> list[ServiceStatus]:
        return [self.postgres.status(), self.redis.status()]
