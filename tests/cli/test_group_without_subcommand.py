"""A command group run without a subcommand (`crowdship`, `crowdship rewards`) is a newcomer asking what is there:
every group answers alike, with its help on stdout and exit status 0, so that a script or a pipe to `less` sees
a success and nothing on stderr; a mistyped subcommand stays a usage error (status 2)."""

from __future__ import annotations

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from cli.main import app


def _groups() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    return [(), *((name,) for name, command in root.commands.items() if isinstance(command, TyperGroup))]


def test_every_group_is_found() -> None:
    assert {path[0] for path in _groups() if path} == {"services", "db", "users", "rewards", "bench"}


@pytest.mark.parametrize("path", _groups(), ids=lambda path: " ".join(("crowdship", *path)))
def test_a_group_without_a_subcommand_prints_its_help_and_succeeds(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, list(path), env={"COLUMNS": "200"}, prog_name="crowdship")
    assert (result.exit_code, result.stderr) == (0, "")
    assert f"Usage: {' '.join(('crowdship', *path))} [OPTIONS] COMMAND [ARGS]..." in result.stdout
    assert "Commands" in result.stdout


def test_a_mistyped_subcommand_is_still_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["rewards", "policy-creat"])
    assert result.exit_code == 2
    assert "No such command 'policy-creat'" in result.stderr
