"""`crowdship services status` names the servers the environment points at as people name them: "the
environment points PostgreSQL at …", where it said "points the database at" and "points the redis at"."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app


def test_status_names_postgresql_and_redis_set_in_the_environment(tmp_path: Path) -> None:
    environment = {
        "CROWDSHIP_LOCAL_DIR": str(tmp_path),
        "CROWDSHIP_DATABASE_URL": "postgresql://db.example:5432/crowdship",
        "CROWDSHIP_REDIS_URL": "redis://cache.example:6379/0",
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, ["services", "status"], env=environment)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "the environment points PostgreSQL at postgresql://db.example:5432/crowdship",
        "the environment points Redis at redis://cache.example:6379/0",
    ]
