"""`crowdship bench api` reports what each accepted update cost the server in CPU, counting every process that
serves the API (a multi-worker uvicorn forks its workers off the process it was started as)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from simulations.bench_api import process_tree_cpu_s

_SPIN = (
    "import time\n"
    "end = time.process_time() + 0.6\n"
    "while time.process_time() < end: pass\n"
    "print('spun', flush=True)\n"
    "time.sleep(30)"
)
_SPIN_IN_A_CHILD = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {_SPIN!r}], stdout=sys.stdout)
time.sleep(30)
"""


def test_the_cpu_of_a_process_counts_what_its_children_spend() -> None:
    """A parent asleep whose child spins 0.6 s of CPU: the tree has spent about that, the parent alone nearly
    nothing."""
    parent = subprocess.Popen([sys.executable, "-c", _SPIN_IN_A_CHILD], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == b"spun"
        spent = process_tree_cpu_s(parent.pid)
        assert 0.55 <= spent < 2.0
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the child with it
        parent.wait()


def test_the_cpu_of_a_sleeping_process_stays_put() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        before = process_tree_cpu_s(sleeper.pid)
        time.sleep(0.5)
        assert process_tree_cpu_s(sleeper.pid) - before < 0.05
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_served_app_has_loaded_the_matcher_before_it_answers() -> None:
    """The API loads the matcher on a thread after it starts (seconds of CPU, holding the interpreter's lock
    most of the time); the benchmark measures the steady state, so its app has loaded it before serving."""
    check = (
        "import sys\n"
        "from simulations.bench_api import bench_app_factory\n"
        "bench_app_factory()\n"
        "print('dispatch.matching.solver' in sys.modules)\n"
    )
    env = {**os.environ, "CROWDSHIP_SECRET_KEY": "k" * 8 + os.urandom(16).hex()}
    answer = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, check=True, timeout=300)
    assert answer.stdout.strip() == b"True"
