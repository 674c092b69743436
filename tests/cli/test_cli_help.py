"""`crowdship --help` and each group's help list their commands with one line each: typer keeps a docstring's
line breaks in that list, so a summary folded over two lines showed up broken mid-sentence."""

from __future__ import annotations

import inspect

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from cli.main import app


def _commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    found = []
    for name, command in group.commands.items():
        found.append(((*path, name), command.short_help or command.help or ""))
        if isinstance(command, TyperGroup):
            found.extend(_commands(command, (*path, name)))
    return found


def test_every_commands_summary_is_one_line() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    commands = _commands(group)
    assert len(commands) > 20
    folded = [" ".join(path) for path, text in commands if "\n" in inspect.cleandoc(text).split("\n\n")[0]]
    assert folded == []


def test_the_listing_shows_the_replay_summary_unbroken() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Replay a store's recorded day under another reward policy or matcher setting" in result.output


def test_every_commands_help_keeps_each_paragraph_on_one_line() -> None:
    """`crowdship COMMAND --help` prints each paragraph after the summary with the docstring's own line breaks,
    so one folded in the source showed up broken mid-sentence (`replay --help`, `rewards policies --help`)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    folded = [
        " ".join(path)
        for path, _ in _commands(group)
        for paragraph in inspect.cleandoc(_help(group, path)).split("\n\n")[1:]
        if "\n" in paragraph and not paragraph.startswith("\b")
    ]
    assert folded == []


def _help(group: TyperGroup, path: tuple[str, ...]) -> str:
    command: object = group
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return getattr(command, "help", None) or ""


def test_simulate_and_sweep_tell_where_their_results_go_without_out() -> None:
    """`--out` is optional; a new user looking for the report learns the folder from `--help`."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    helps = {
        name: next(getattr(param, "help", None) for param in group.commands[name].params if param.name == "out")
        for name in ("simulate", "sweep")
    }
    assert helps == {
        "simulate": "Folder for the results (default: .local/simulations/SCENARIO)",
        "sweep": "Folder for the table and chart (default: .local/sweeps/GRID)",
    }


def test_bench_simulation_tells_where_its_results_go_without_out() -> None:
    """It writes where `simulate` writes for the same scenario (and so replaces that day's report)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    bench = group.commands["bench"]
    assert isinstance(bench, TyperGroup)
    (out,) = [param for param in bench.commands["simulation"].params if param.name == "out"]
    assert getattr(out, "help", None) == (
        "Folder for the results (default: .local/simulations/SCENARIO, where `simulate` writes the same scenario)"
    )


def test_every_argument_is_named_in_capitals_as_the_readme_names_it() -> None:
    """`crowdship rewards policy-approve VERSION` in the README, not the parameter's Python name `{version}` in
    the usage line (`{parameters_file}`, `[revision]` alike)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    lowercase = []
    for path, _ in _commands(group):
        command: object = group
        for name in path:
            assert isinstance(command, TyperGroup)
            command = command.commands[name]
        for param in getattr(command, "params", []):
            if param.param_type_name == "argument" and not (param.metavar or "x")[0].isupper():
                lowercase.append(f"{' '.join(path)} {param.name}")
    assert lowercase == []
    usage = CliRunner().invoke(app, ["rewards", "policy-approve", "--help"], env={"COLUMNS": "200"}).output
    assert "policy-approve [OPTIONS] {VERSION}" in usage  # typer braces a required argument
