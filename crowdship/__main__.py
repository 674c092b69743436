"""`python -m crowdship` is the `crowdship` command."""

from crowdship.cli import app

app()
