"""The installer tells a user without root exactly which command to run, instead of failing obscurely."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from crowdship.settings import PROJECT_ROOT

BOOTSTRAP = PROJECT_ROOT / "scripts" / "bootstrap.sh"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the installer as an unprivileged user")
def test_without_root_missing_packages_stop_the_install_with_the_command_to_run() -> None:
    """As `nobody`, on a machine where dpkg reports nothing installed, the script names the apt-get command."""
    with tempfile.TemporaryDirectory() as folder:  # pytest's tmp_path is private to root; nobody must reach this
        home = Path(folder)
        home.chmod(0o755)
        result = _bootstrap_as_nobody(home)
    assert result.returncode != 0
    versions = sorted((p.parent.name for p in Path("/usr/lib/postgresql").glob("*/bin")), key=int)
    expected = f"postgresql-{versions[-1]}-postgis-3" if versions else "postgresql postgresql-postgis"
    assert f"sudo apt-get update && sudo apt-get install -y {expected}" in result.stderr


def _bootstrap_as_nobody(home: Path) -> subprocess.CompletedProcess[str]:
    stubs = home / "bin"
    stubs.mkdir()
    # The OS package database is the one thing replaced: it answers "not installed" for every package.
    (stubs / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (stubs / "dpkg-query").chmod(0o755)
    environment = {
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "HOME": str(home),
        "CROWDSHIP_REDIS_URL": "redis://127.0.0.1:1/0",  # only the database packages are in question here
    }
    command = ["runuser", "-u", "nobody", "--", "env", "-i", *[f"{k}={v}" for k, v in environment.items()]]
    return subprocess.run([*command, "bash", str(BOOTSTRAP)], capture_output=True, text=True, check=False, timeout=60)
