"""`python -m cli` is the `crowdship` command."""

from cli.main import app

app()
