"""`crowdship match`'s search is bounded: it spends its whole `--time-limit`, so a limit of years (or `inf`)
would run for ever."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app


@pytest.mark.parametrize("limit", ["1e9", "inf", "601"])
def test_a_search_longer_than_ten_minutes_is_refused_before_it_starts(limit: str) -> None:
    result = CliRunner().invoke(
        app, ["match", "docs/examples/match-problem.json", "--time-limit", limit], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "--time-limit" in result.output
    assert "600" in result.output
