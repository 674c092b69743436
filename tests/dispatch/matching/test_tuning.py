"""The matcher's tuning: one frozen object, validated, and what `solve` is steered by."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest
from matching_builders import orders_with_windows_and_a_fleet

from dispatch.matching import solve
from dispatch.matching.tuning import DEFAULT_TUNING, MatcherTuning


def test_the_default_tuning_cannot_be_changed_in_place() -> None:
    """Frozen, sections included: a variant is a copy, and the default stays what every caller relies on."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_TUNING.work_share = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_TUNING.routing.check_seconds = 1.0  # type: ignore[misc]
    variant = replace(DEFAULT_TUNING, routing=replace(DEFAULT_TUNING.routing, min_checks=7))
    assert variant.routing.min_checks == 7
    assert DEFAULT_TUNING.routing.min_checks == MatcherTuning().routing.min_checks


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_work_share_outside_zero_to_one_is_refused(share: float) -> None:
    """The work budget is a share of the time limit: none, a negative one or more than all of it is a mistake."""
    with pytest.raises(ValueError, match="work_share"):
        MatcherTuning(work_share=share)


def test_solve_sizes_its_work_by_the_tuning_it_is_given() -> None:
    """A smaller work share in the tuning passed to `solve` means less budgeted work, within that share."""
    problem = orders_with_windows_and_a_fleet()
    small = solve(problem, time_limit=1.0, seed=0, tuning=replace(DEFAULT_TUNING, work_share=0.1))
    larger = solve(problem, time_limit=1.0, seed=0, tuning=replace(DEFAULT_TUNING, work_share=0.3))
    assert 0.0 < small.stats["work_seconds"] <= 0.1 + 0.05
    assert small.stats["work_seconds"] < larger.stats["work_seconds"] <= 0.3 + 0.1
