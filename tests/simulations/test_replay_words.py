"""What `crowdship replay` says of its offers reads as English whatever their count."""

from __future__ import annotations

from rewards.recorded_day import DayFigures
from simulations.replay_result import ReplayResult, offers_line

DAY = DayFigures(orders=1, delivered=1, fallback=0, cancelled=0, payouts_cents=300, fallback_cents=0)


def test_one_offer_is_said_in_the_singular() -> None:
    result = ReplayResult(recorded=DAY, replayed=DAY, offers=1, answered_as_recorded=1, answered_by_model=0)
    assert offers_line(result).startswith("1 offer in the replay: 1 answered as the shopper answered")


def test_several_offers_are_said_in_the_plural() -> None:
    result = ReplayResult(recorded=DAY, replayed=DAY, offers=3, answered_as_recorded=1, answered_by_model=2)
    line = offers_line(result)
    assert line.startswith("3 offers in the replay: 1 answered as the shopper answered")
    assert "2 by the simulator's acceptance model" in line
