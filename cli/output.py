"""Where the commands print: one rich console for every subcommand."""

import sys

from rich.console import Console

# Output piped or run under make is not a terminal; rich would then wrap tables at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
