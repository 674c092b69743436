"""Where the commands print: one rich console for every subcommand."""

import sys
from typing import NoReturn

import typer
from rich.console import Console

# Output piped or run under make is not a terminal: rich would then lay tables out at 80 columns, so they get 160;
# and sentences are not folded at all (soft wrap), so a line read by a script or grep is the line printed.
_TERMINAL = sys.stdout.isatty()
console = Console(width=None if _TERMINAL else 160, soft_wrap=not _TERMINAL)


def fail(message: str) -> NoReturn:
    """Ends a command that cannot go on: `error: <message>` on stderr, exit status 1 (as every command does)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
