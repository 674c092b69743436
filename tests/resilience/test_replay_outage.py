"""`crowdship replay` reads a store's recorded day from PostgreSQL, then plays it on the simulator. PostgreSQL
crashing while it reads ends the command at once, as every one-shot command does with a server away: `error:`
naming the server and why on stderr, status 1, no traceback; once the server is back the same command runs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.resilience.conftest import Servers, _seed, wait_for

pytestmark = pytest.mark.slow

POLICY_FILE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policy.json"


def test_a_replay_whose_database_crashes_as_it_reads_fails_with_the_reason_and_runs_again(servers: Servers) -> None:
    store, _, _ = _seed(servers.database_url, "x" * 64)
    env = {**os.environ, "CROWDSHIP_DATABASE_URL": servers.database_url, "CROWDSHIP_REDIS_URL": servers.redis_url}
    command = [str(Path(sys.executable).parent / "crowdship"), "replay", "--store", str(store.id)]
    command += ["--day", time.strftime("%Y-%m-%d", time.gmtime()), "--policy", str(POLICY_FILE), "--timezone", "UTC"]
    locker = psycopg.connect(servers.database_url)
    locker.execute("LOCK TABLE delivery_rewards IN ACCESS EXCLUSIVE MODE")  # the replay's read waits half-way
    replay = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def reading() -> bool:
            with psycopg.connect(servers.database_url, autocommit=True) as probe:
                row = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()
            return bool(row and row[0])

        wait_for(reading, timeout=60, what="the replay to read the day")
        servers.crash_postgres()
        crashed = time.monotonic()
        _, stderr = replay.communicate(timeout=30)
        took = time.monotonic() - crashed
    finally:
        if replay.poll() is None:
            replay.kill()
        with contextlib.suppress(psycopg.Error):
            locker.close()
        servers.postgres.up()
    assert replay.returncode == 1, stderr
    assert stderr.startswith("error: PostgreSQL at 127.0.0.1:"), stderr
    assert "Traceback" not in stderr
    assert took < 10, f"the replay ended {took:.1f} s after the crash"

    again = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "replayed" in again.stdout
