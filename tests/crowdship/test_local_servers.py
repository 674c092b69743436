"""The project's own servers start, stop and restart idempotently, and recover from a crash."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from crowdship.local_servers import LocalServices, find_free_port, process_alive
from crowdship.settings import PROJECT_ROOT, get_settings


@pytest.fixture
def services() -> Iterator[LocalServices]:
    """A second, private pair of servers in its own folder under the local dir; stopped and removed after."""
    parent = get_settings().local_dir / "test-services"
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=parent))
    root.chmod(0o755)  # the postgres user must be able to reach the cluster inside
    local = LocalServices(root)
    yield local
    local.down()
    shutil.rmtree(root, ignore_errors=True)


def _postgres_answers(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=5) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        row = connection.execute("SELECT PostGIS_Lib_Version()").fetchone()
    return row is not None and bool(row[0])


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        persistence = client.config_get("save")["save"], client.config_get("appendonly")["appendonly"]
        return bool(client.ping()) and persistence == ("", "no")
    finally:
        client.close()


def test_up_down_up_is_idempotent(services: LocalServices) -> None:
    """up twice gives the same servers, down twice is fine, and up again brings them back on the same ports."""
    first = services.up()
    assert services.up() == first
    assert _postgres_answers(first["CROWDSHIP_DATABASE_URL"])
    assert _redis_answers(first["CROWDSHIP_REDIS_URL"])
    assert services.env_file.read_text().splitlines() == [f"{k}={v}" for k, v in first.items()]
    assert all(status.running for status in services.status())

    services.down()
    services.down()
    assert not any(status.running for status in services.status())
    assert not services.env_file.exists()

    again = services.up()
    assert again == first  # the previous ports were free, so the URLs stayed the same
    assert _postgres_answers(again["CROWDSHIP_DATABASE_URL"])


def test_servers_started_by_two_processes_at_once_are_one_pair(services: LocalServices) -> None:
    """Test workers on a fresh checkout all start the servers together: each gets the same URLs, and the
    folder ends up with one cluster and one redis, not an `initdb` failure."""
    starter = (
        "import json, sys; from pathlib import Path; from crowdship.local_servers import LocalServices; "
        "print(json.dumps(LocalServices(Path(sys.argv[1])).up()))"
    )
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", starter, str(services.root)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    answers = [starter.communicate(timeout=120) for starter in starters]
    assert [process.returncode for process in starters] == [0, 0, 0], [error for _, error in answers]
    urls = {output.strip().splitlines()[-1] for output, _ in answers}  # the logs share stdout
    assert len(urls) == 1, urls
    assert _postgres_answers(services.up()["CROWDSHIP_DATABASE_URL"])


def test_a_stale_redis_pid_file_is_replaced(services: LocalServices) -> None:
    """A pid file naming a dead process, or one that is not redis, does not stop redis from starting."""
    services.redis.root.mkdir(parents=True, exist_ok=True)
    finished = subprocess.Popen(["true"])
    finished.wait()
    services.redis.pid_file.write_text(f"{finished.pid}\n")
    assert not services.redis.status().running
    url = services.up(postgres=False)["CROWDSHIP_REDIS_URL"]
    assert _redis_answers(url)
    services.redis.down()

    services.redis.pid_file.write_text(f"{os.getpid()}\n")  # alive, but it is this test, not redis
    assert not services.redis.status().running
    assert _redis_answers(services.up(postgres=False)["CROWDSHIP_REDIS_URL"])


def test_postgres_comes_back_after_a_crash(services: LocalServices) -> None:
    """After the server is killed (leaving its pid file behind), up starts it again with the data intact."""
    url = services.up(redis=False)["CROWDSHIP_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE survivor (note text)")
        connection.execute("INSERT INTO survivor VALUES ('still here')")
    pid = services.postgres.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (services.postgres.data_dir / "postmaster.pid").exists()  # stale: its process is gone
    assert not services.postgres.status().running

    url = services.up(redis=False)["CROWDSHIP_DATABASE_URL"]
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT note FROM survivor").fetchall() == [("still here",)]


def test_servers_named_in_the_environment_are_used_and_nothing_is_started(tmp_path: Path) -> None:
    """With both URLs set, `crowdship services up` starts nothing and creates no data folder."""
    local_dir = tmp_path / "local"
    environment = {
        **os.environ,
        "CROWDSHIP_DATABASE_URL": "postgresql://someone@db.internal:5432/crowdship",
        "CROWDSHIP_REDIS_URL": "redis://cache.internal:6379/0",
        "CROWDSHIP_LOCAL_DIR": str(local_dir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli", "services", "up"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "using those servers" in result.stdout
    assert not local_dir.exists()


def test_the_environment_naming_the_local_servers_own_urls_starts_them_when_stopped(services: LocalServices) -> None:
    """A shell that sourced `.local/services.env` names the local servers themselves: after `services down`,
    `services up` starts them again on their ports instead of saying it uses servers that are not there."""
    urls = services.up()
    services.down()
    environment = {**os.environ, **urls, "CROWDSHIP_LOCAL_DIR": str(services.root)}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "services", "up"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "using those servers" not in result.stdout
    assert all(status.running for status in services.status())
    assert _postgres_answers(urls["CROWDSHIP_DATABASE_URL"])
    assert _redis_answers(urls["CROWDSHIP_REDIS_URL"])


def _services_up(local_dir: Path) -> subprocess.CompletedProcess[str]:
    """`crowdship services up` for PostgreSQL alone (Redis named in the environment) in `local_dir`."""
    environment = {**os.environ, "CROWDSHIP_REDIS_URL": "redis://cache.internal:6379/0"}
    environment.pop("CROWDSHIP_DATABASE_URL", None)
    environment["CROWDSHIP_LOCAL_DIR"] = str(local_dir)
    return subprocess.run(
        [sys.executable, "-m", "cli", "services", "up"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=60,
    )


def test_a_local_folder_that_is_a_file_is_a_bad_setting_told_on_stderr(tmp_path: Path) -> None:
    """As every command's refusal: `error: <why>` on stderr, status 1, naming the setting; no traceback."""
    in_the_way = tmp_path / "local"
    in_the_way.write_text("not a folder")
    result = _services_up(in_the_way)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: CROWDSHIP_LOCAL_DIR=")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the servers as the postgres user")
def test_a_server_that_cannot_start_is_told_on_stderr_like_any_refusal(tmp_path: Path) -> None:
    """The postgres user cannot reach a folder under a private one: the servers' own error, on stderr."""
    private = tmp_path / "private"
    (private / "local").mkdir(parents=True)
    private.chmod(0o700)
    result = _services_up(private / "local")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: the postgres user cannot reach")


def test_a_local_server_that_is_down_is_told_how_to_start_and_another_server_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's own PostgreSQL, stopped: the refusal says `crowdship services up` starts it. A server of
    someone else's at the same address is not the project's to start: only 'is it up?'."""
    local = tmp_path / "local"
    (local / "postgres").mkdir(parents=True)
    port = find_free_port()
    (local / "postgres" / "port").write_text(f"{port}\n")
    monkeypatch.setenv("CROWDSHIP_LOCAL_DIR", str(local))
    answers = {}
    try:
        for whose, url in (
            ("ours", f"postgresql://postgres@127.0.0.1:{port}/crowdship"),
            ("theirs", f"postgresql://someone@127.0.0.1:{port}/elsewhere"),
        ):
            monkeypatch.setenv("CROWDSHIP_DATABASE_URL", url)
            get_settings.cache_clear()
            answers[whose] = CliRunner().invoke(app, ["db", "status"])
    finally:
        get_settings.cache_clear()
    assert [answer.exit_code for answer in answers.values()] == [1, 1]
    assert answers["ours"].stderr.strip().endswith("is it up? `crowdship services up` starts it")
    assert answers["theirs"].stderr.strip().endswith("cannot be reached: Connection refused; is it up?")
