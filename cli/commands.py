"""The apps every `crowdship` command group is made of, so that `--help` reads the same everywhere: typer's help
panel prints a type beside every option, `<bool>` beside a flag too (`--help <bool>`, `--once <bool>`), as if
it took a value; here a flag shows nothing there, and an option that takes one still shows its type."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption


def _flags_without_a_type(params: Iterable[object]) -> None:
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # what the panel prints in the type column, where `<bool>` stood


class Command(TyperCommand):
    def format_help(self, ctx: Any, formatter: Any) -> None:  # typer vendors click; its classes are private
        _flags_without_a_type(self.get_params(ctx))  # `--help` itself is made here, on the first call
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _flags_without_a_type(self.get_params(ctx))
        super().format_help(ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """A group run alone is someone asking what it holds, not a mistake: click answers with the help but as a
        usage error (status 2), so a script saw a failure; here it is the help on stdout and status 0, as `--help`."""
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help())
            ctx.exit(0)
        return super().parse_args(ctx, args)


class Commands(typer.Typer):
    """A `typer.Typer` whose group and commands are `Group` and `Command` unless a class is given."""

    def __init__(self, *, cls: type[TyperGroup] = Group, **options: Any) -> None:
        super().__init__(cls=cls, **options)

    def command(  # type: ignore[override]  # the same call, with this module's class by default
        self, name: str | None = None, *, cls: type[TyperCommand] = Command, **options: Any
    ) -> Callable[[Any], Any]:
        return super().command(name, cls=cls, **options)
