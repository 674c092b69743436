"""A password given on a pipe (`printf '%s\n' "$pw" | crowdship rewards policy-create …`, a job with no terminal)
is read from it quietly: Python's getpass, finding no terminal, printed 'Warning: Password input may be echoed.'
on stderr after the question, though nothing is echoed anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_password_read_from_a_pipe_comes_with_no_warning_of_an_echo(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "CROWDSHIP_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/crowdship",  # nobody listens: refused at once
        "CROWDSHIP_LOCAL_DIR": str(tmp_path),
    }
    # A session of its own has no controlling terminal: getpass cannot open /dev/tty, as in a job or a pipe.
    result = subprocess.run(
        [sys.executable, "-m", "cli", "rewards", "policy-create", "docs/examples/policy.json", "--actor", "a@b.org"],
        input="Orbit-Lamp-77\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        start_new_session=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "echoed" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: PostgreSQL at 127.0.0.1:1 cannot be reached")
