"""What `crowdship COMMAND --help` prints beside each option: a flag takes no value, so it shows none (typer's
panel printed `<bool>` beside `--help`, `--once` or `--quiet`, as if they wanted `--once true`), a flag that is
off unless given is one switch (`--once`, not `--once / --no-once [default: no-once]`), and an option given
several times says so in words, not as a Python type (`<list[str]>`)."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from cli.main import app


def _paths(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found.extend(_paths(command, (*path, name)))
        else:
            found.append((*path, name))
    return found


def _root() -> TyperGroup:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    return root


def _command(path: tuple[str, ...]) -> Any:
    command: Any = _root()
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return command


PATHS = _paths(_root())


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(path) or "crowdship" for path in PATHS])
def test_help_shows_no_python_type_beside_a_flag_or_a_repeated_option(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "<bool>" not in text
    assert "list[" not in text


def test_a_flag_shows_nothing_beside_it_and_an_option_its_value() -> None:
    lines = {line.split()[1]: line for line in _help(("dispatcher",)).splitlines() if line.startswith("│ --")}
    assert lines["--once"].split()[2:4] == ["Run", "one"]
    assert lines["--help"].split()[2:4] == ["Show", "this"]
    assert "<float range>" in lines["--cadence"]


def test_a_flag_off_unless_given_is_a_single_switch() -> None:
    two_sided = []
    for path in PATHS:
        for param in _command(path).params:
            if isinstance(param, TyperOption) and param.is_flag and param.default is False and param.secondary_opts:
                two_sided.append(f"{' '.join(path)} {param.opts[0]}")
    assert two_sided == []


def test_bench_matchers_group_option_says_it_may_be_repeated() -> None:
    (group,) = [param for param in _command(("bench", "matcher")).params if param.name == "group"]
    assert group.metavar == "<str>"  # as every other option of text shows it
    assert "repeat" in (group.help or "")


def test_db_migrates_default_revision_is_said_in_words() -> None:
    """Alembic's `heads` is its name for the newest revision; the help says the newest, as the README does."""
    text = " ".join(_help(("db", "migrate")).split())
    assert "Target revision (default: the newest)" in text
    assert "heads" not in text
