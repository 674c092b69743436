"""What the commands print to a pipe (a script, grep, make): sentences whole on their line, tables laid out at 160
columns rather than rich's 80."""

from __future__ import annotations

import pytest
from rich.table import Table

from cli.output import console


def test_a_sentence_printed_to_a_pipe_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = "replayed under the new policy: " + ", ".join(f"figure {n} moved by {n} cents" for n in range(20))
    assert len(sentence) > 300
    console.print(sentence)
    assert capsys.readouterr().out == sentence + "\n"


def test_a_table_printed_to_a_pipe_is_laid_out_at_160_columns(capsys: pytest.CaptureFixture[str]) -> None:
    table = Table("store", "note")
    table.add_row("Southside", "x" * 300)
    console.print(table)
    widths = {len(line) for line in capsys.readouterr().out.splitlines()}
    assert widths == {160}
