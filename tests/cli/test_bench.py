"""`crowdship bench ...`: a mistyped value of a comma-separated option is a usage error (status 2, naming the
option), told before any work starts, not a traceback after the first minute of measuring."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app


@pytest.mark.parametrize(
    ("arguments", "option", "told"),
    [
        (["matcher", "--no-archetti", "--sizes", "10"], "--sizes", "'10'"),
        (["matcher", "--no-archetti", "--sizes", "10x"], "--sizes", "'10x'"),
        (["matcher", "--no-archetti", "--sizes", "0x10"], "--sizes", "'0x10'"),
        (["matcher", "--no-archetti", "--sizes", ""], "--sizes", "at least one"),
        (["matcher", "--no-archetti", "--synthetic-limits", "abc"], "--synthetic-limits", "'abc'"),
        (["matcher", "--no-archetti", "--synthetic-limits", "-1"], "--synthetic-limits", "'-1'"),
        (["rewards", "--threads", "x"], "--threads", "'x'"),
        (["rewards", "--threads", "0"], "--threads", "'0'"),
        (["acceptance", "--seeds", "x"], "--seeds", "'x'"),
        (["acceptance", "--seeds", "-3"], "--seeds", "'-3'"),
        (["acceptance", "--arms", "blind,nope"], "--arms", "'nope'"),
        (["routing", "--sizes", "100x"], "--sizes", "'100x'"),
    ],
)
def test_a_bad_value_of_a_comma_separated_option_is_a_usage_error_before_any_work(
    arguments: list[str], option: str, told: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulations import bench_acceptance, bench_matcher, bench_rewards, bench_routing

    def started(*_: object, **__: object) -> None:
        raise AssertionError("the benchmark started")

    for module, name in (
        (bench_matcher, "one_order_timing"),
        (bench_matcher, "run_synthetic"),
        (bench_rewards, "run_rewards_benchmark"),
        (bench_acceptance, "run_acceptance_benchmark"),
        (bench_routing, "run_routing_benchmark"),
    ):
        monkeypatch.setattr(module, name, started)
    result = CliRunner().invoke(app, ["bench", *arguments], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert option in result.stderr
    assert told in result.stderr


def test_bench_routing_measures_the_sizes_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quick look on a small machine need not wait for the 5 000 x 10 000 row: `--sizes` picks the rows."""
    from simulations import bench_routing

    asked: dict[str, object] = {}
    monkeypatch.setattr(bench_routing, "run_routing_benchmark", lambda _console, **given: asked.update(given))
    result = CliRunner().invoke(app, ["bench", "routing", "--sizes", "20x30,50x80", "--repeats", "1"])
    assert result.exit_code == 0, result.output
    assert asked["sizes"] == [(20, 30), (50, 80)]
    assert CliRunner().invoke(app, ["bench", "routing"]).exit_code == 0
    assert asked["sizes"] == list(bench_routing.DEFAULT_SIZES)
