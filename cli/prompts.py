"""Passwords asked for on stderr, so that `$(crowdship ...)` captures only what a command prints."""

from __future__ import annotations

import getpass
import sys
import warnings

import typer

from crowdship.errors import InvalidInput


def ask_hidden(question: str, *, otherwise: str) -> str:
    """The hidden answer to `question`. An input that ends before it (a script, a job with no terminal) is a
    refusal saying `otherwise`, how else to give it, where click would print a bare `Aborted!`; Ctrl-C at a
    terminal still aborts. Without a terminal, Python's warning that the answer may be echoed is not shown."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            return str(typer.prompt(question, hide_input=True, err=True))
    except typer.Abort:
        if sys.stdin is not None and sys.stdin.isatty():
            raise
        raise InvalidInput("password", f"none given: the input ended before one was typed; {otherwise}") from None
