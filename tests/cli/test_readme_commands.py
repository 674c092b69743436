"""The README's table of commands is the first thing a new user tries: every command and option it names exists,
and every command the CLI has is in the table (a renamed option or a new command shows up here, not in a
user's terminal)."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.core import TyperGroup

from cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> list[str]:
    section = README.read_text().split("\n## The command line\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for line in section.splitlines():
        if line.startswith("| `crowdship"):
            first_cell = line.strip("|").split(" | ")[0]
            commands.extend(re.findall(r"`(crowdship [^`]+)`", first_cell))
    return commands


def _options(command: object) -> set[str]:
    return {option for param in getattr(command, "params", []) for option in (*param.opts, *param.secondary_opts)}


def test_every_command_and_option_of_the_readme_exists() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    documented = _documented()
    assert len(documented) > 12
    for text in documented:
        tokens = text.split()[1:]
        words = []
        for token in tokens:
            if token.startswith(("-", "[")):
                break
            if token not in {"|", "\\|"} and token.islower():
                words.append(token)
        command = root.commands.get(words[0])
        assert command is not None, f"{text}: no command {words[0]}"
        leaves = [command]
        if isinstance(command, TyperGroup):
            assert words[1:], f"{text}: names no subcommand of {words[0]}"
            leaves = [command.commands[word] for word in words[1:] if word in command.commands]
            assert len(leaves) == len(words[1:]), f"{text}: {words[1:]} against {sorted(command.commands)}"
        for option in re.findall(r"--[a-z][a-z-]*", text):
            for leaf in leaves:
                assert option in _options(leaf), f"{text}: {leaf.name} has no {option}"


def test_every_command_of_the_cli_is_in_the_readme() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    named = {tuple(word for word in text.split()[1:3] if word.islower()) for text in _documented()}
    flat = " ".join(text for text in _documented())
    for name, command in root.commands.items():
        if isinstance(command, TyperGroup):
            for sub in command.commands:
                assert re.search(rf"crowdship {name} [^`]*\b{re.escape(sub)}\b", flat), (
                    f"{name} {sub} is not in the README"
                )
        else:
            assert any(words[:1] == (name,) for words in named), f"{name} is not in the README"
