"""`crowdship api` refuses a port in use or a missing signing key before it loads the application: loading it
imports the matcher (numba), which takes seconds (tens on a busy machine), and a newcomer whose port 8000 was
taken sat through that silence only to be told to pick another port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

_PROBE = """
import sys
from typer.testing import CliRunner
from cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
print(result.exit_code, "api.app" in sys.modules, result.stderr.strip())
"""


def _api(*args: str, env: dict[str, str]) -> tuple[int, bool, str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "api", *args], capture_output=True, text=True, env=env, check=True
    )
    code, loaded, message = done.stdout.strip().split(" ", 2)
    return int(code), loaded == "True", message


def test_a_port_in_use_is_refused_without_loading_the_application() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, loaded, message = _api("--port", str(port), env=dict(os.environ))
    assert (code, loaded) == (1, False)
    assert message.startswith(f"error: port {port} is already in use on 127.0.0.1")


def test_a_missing_signing_key_is_refused_without_loading_the_application(tmp_path: object) -> None:
    env = {name: value for name, value in os.environ.items() if name != "CROWDSHIP_SECRET_KEY"}
    env |= {"CROWDSHIP_ENVIRONMENT": "development", "CROWDSHIP_LOCAL_DIR": str(tmp_path)}
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    code, loaded, message = _api("--port", str(port), env=env)
    assert (code, loaded) == (1, False)
    assert message.startswith("error: CROWDSHIP_SECRET_KEY is not set")
