"""The acceptance benchmark's arms run the day as they say: the blind one with neither acceptance weighting
nor prospects, the aware ones refitting the model as the day goes, and its comparison says which seeds
improved on both counts."""

from __future__ import annotations

import pytest

from crowdship.errors import InvalidInput
from dispatch.acceptance import AcceptanceWeighting
from dispatch.prospects import DEFAULT_PROSPECTS
from simulations.bench_acceptance import ARM_NAMES, Row, WeighedDay, arms, comparison_table, run_arm
from simulations.scenario import Scenario


def test_each_arm_sets_acceptance_and_prospects_as_named() -> None:
    weighting = AcceptanceWeighting()
    chosen = {arm.name: arm for arm in arms(ARM_NAMES, weighting)}
    assert (chosen["blind"].acceptance, chosen["blind"].prospects) == (None, None)
    assert (chosen["aware"].acceptance, chosen["aware"].prospects) == (weighting, None)
    assert (chosen["blind+prospects"].acceptance, chosen["blind+prospects"].prospects) == (None, DEFAULT_PROSPECTS)
    assert chosen["aware+prospects"].acceptance == weighting
    assert chosen["aware+prospects"].prospects == DEFAULT_PROSPECTS


def test_an_unknown_arm_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="'psychic'"):
        arms(["blind", "psychic"], AcceptanceWeighting())


def test_an_aware_day_refits_as_it_goes_and_keeps_its_prospects(tiny_scenario: Scenario) -> None:
    """A three-hour day (its batches run on until the last order is settled) refits every hour: a model per
    hour at least, the last one in the context."""
    arm = arms(["aware+prospects"], AcceptanceWeighting())[0]
    day = WeighedDay(tiny_scenario, arm)
    result = day.run()
    assert len(day.models) >= tiny_scenario.hours
    assert day.ctx.prospects == DEFAULT_PROSPECTS
    assert day.ctx.acceptance is not None
    assert day.ctx.acceptance.model == day.models[-1]
    assert result.orders


def test_a_blind_arm_is_the_plain_simulated_day(tiny_scenario: Scenario) -> None:
    """Same seed, same figures as the simulator's own day: the blind arm adds nothing."""
    from simulations.engine import DaySimulation
    from simulations.results import summarise

    row, model = run_arm(tiny_scenario, tiny_scenario.seed, arms(["blind"], AcceptanceWeighting())[0])
    plain = summarise(DaySimulation(tiny_scenario).run())
    assert model is None
    assert row.cost_per_order_cents == pytest.approx(plain.cost_per_order_cents)
    assert row.shopper_share == pytest.approx(plain.shopper_share)


def _row(seed: int, matcher: str, cost: float, share: float) -> Row:
    return Row(seed, matcher, cost, share, 0, 0, 0, 0, 0, 0.0)


def test_the_comparison_marks_a_seed_better_only_when_cost_falls_and_share_rises() -> None:
    rows = [
        _row(1, "blind", 350.0, 0.93), _row(1, "aware", 340.0, 0.94),
        _row(2, "blind", 350.0, 0.93), _row(2, "aware", 340.0, 0.92),
        _row(3, "blind", 350.0, 0.93), _row(3, "aware", 350.0, 0.95),
    ]  # fmt: skip
    table = comparison_table(rows, "blind", "aware")
    cells = [list(column.cells) for column in table.columns]
    assert cells[0] == ["1", "2", "3"]
    assert cells[1] == ["-10.0", "-10.0", "+0.0"]
    assert cells[2] == ["+1.00 pt", "-1.00 pt", "+2.00 pt"]
    assert cells[3] == ["yes", "no", "no"]
