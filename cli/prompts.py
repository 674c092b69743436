"""Passwords asked for on stderr, so that `$(crowdship ...)` captures only what a command prints."""

from __future__ import annotations

import sys

import typer

from crowdship.errors import InvalidInput


def ask_hidden(question: str, *, otherwise: str) -> str:
    """The hidden answer to `question`, typed at a terminal. Without one (a pipe, a job), the answer is the next
    line of stdin, read as it is: Python's getpass would print that the input may be echoed, and where a
    terminal is open beside the pipe, ask there and leave the pipe unread. An input that ends before it is a
    refusal saying `otherwise`, how else to give it, where click would print a bare `Aborted!`; Ctrl-C at a
    terminal still aborts."""
    if sys.stdin is not None and sys.stdin.isatty():
        return str(typer.prompt(question, hide_input=True, err=True))
    typer.echo(f"{question}: ", err=True, nl=False)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    typer.echo(err=True)  # nothing typed shows, so the line the question began is ended here
    if not line:
        raise InvalidInput("password", f"none given: the input ended before one was typed; {otherwise}")
    return line.removesuffix("\n").removesuffix("\r")
