"""The acceptance model: its fit, its default before there is data, and how it enters a batch's problem."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from dispatch.acceptance import (
    DEFAULT_MODEL,
    MIN_ANSWERS,
    AcceptanceModel,
    AcceptanceWeighting,
    Answer,
    OfferFeatures,
    fit_acceptance,
    with_acceptance,
)
from dispatch.matching import parse_problem

NOON = datetime(2026, 12, 19, 12, 0, tzinfo=UTC)


def _answers(model: AcceptanceModel, count: int, seed: int) -> list[Answer]:
    """Offers with features spread as a store's would be, answered by `model`'s own probabilities."""
    rng = np.random.default_rng(seed)
    answers = []
    for _ in range(count):
        features = OfferFeatures(
            reward_cents=int(rng.integers(250, 1_200)),
            detour_m=int(rng.integers(0, 6_000)),
            stops=int(rng.integers(1, 4)),
            bags=int(rng.integers(1, 7)),
            at=NOON + timedelta(minutes=int(rng.integers(0, 24 * 60))),
        )
        answers.append(Answer(features, bool(rng.random() < model.probability(features))))
    return answers


def test_the_fit_recovers_known_coefficients() -> None:
    """On 30 000 answers drawn from a known model, every coefficient comes back within 0.1."""
    truth = AcceptanceModel(
        intercept=0.4, per_reward_dollar=0.5, per_detour_km=-0.6, per_extra_stop=-0.3, per_bag=-0.15,
        hour_sin=0.3, hour_cos=-0.2,
    )  # fmt: skip
    fitted = fit_acceptance(_answers(truth, 30_000, seed=7))
    assert fitted.answers == 30_000
    assert abs(fitted.intercept - truth.intercept) < 0.15
    for got, expected in zip(fitted.coefficients, truth.coefficients, strict=True):
        assert abs(got - expected) < 0.1, (fitted, truth)


def test_the_default_holds_until_there_are_enough_answers_of_both_kinds() -> None:
    """Too few answers, or only acceptances, give the documented default back unchanged."""
    few = _answers(DEFAULT_MODEL, MIN_ANSWERS - 1, seed=1)
    assert fit_acceptance(few) == DEFAULT_MODEL
    all_yes = [Answer(a.features, True) for a in _answers(DEFAULT_MODEL, 2 * MIN_ANSWERS, seed=2)]
    assert fit_acceptance(all_yes) == DEFAULT_MODEL
    assert fit_acceptance(_answers(DEFAULT_MODEL, 2 * MIN_ANSWERS, seed=3)).answers == 2 * MIN_ANSWERS


def test_the_default_reads_as_documented() -> None:
    """Four in five accept a short paid detour; a dollar more raises the odds by half, a km lowers them 40 %."""
    short = OfferFeatures(reward_cents=300, detour_m=1_000, stops=1, bags=1, at=NOON)
    assert 0.7 < DEFAULT_MODEL.probability(short) < 0.85
    richer = OfferFeatures(reward_cents=400, detour_m=1_000, stops=1, bags=1, at=NOON)
    longer = OfferFeatures(reward_cents=300, detour_m=2_000, stops=1, bags=1, at=NOON)

    def odds(features: OfferFeatures) -> float:
        p = DEFAULT_MODEL.probability(features)
        return p / (1 - p)

    assert math.isclose(odds(richer) / odds(short), 1.5, rel_tol=1e-9)
    assert math.isclose(odds(longer) / odds(short), 0.6, rel_tol=1e-9)


def test_the_time_of_day_is_cyclic() -> None:
    """A minute before and after midnight are neighbours, whatever the hour coefficients."""
    model = AcceptanceModel(0.0, 0.0, 0.0, 0.0, 0.0, hour_sin=2.0, hour_cos=1.0)
    midnight = datetime(2026, 12, 20, tzinfo=UTC)
    before, after = midnight - timedelta(minutes=1), midnight + timedelta(minutes=1)
    assert abs(model.intercept_at(before) - model.intercept_at(after)) < 0.02
    assert abs(model.intercept_at(midnight) - model.intercept_at(midnight + timedelta(hours=12))) > 1.5


def test_a_batch_problem_gets_every_trip_in_the_problems_units() -> None:
    """Cents and km: the reward term per cent, the detour term per km, the hour folded into the intercept."""
    model = AcceptanceModel(0.2, 0.5, -0.6, -0.3, -0.1, hour_sin=1.0, hour_cos=0.0)
    problem = {
        "format": "crowdship-match/1",
        "store": {"id": "S", "location": [0.0, 0.0]},
        "orders": [{"id": "o1", "location": [1.0, 0.0]}],
        "trips": [{"id": "t1", "destination": [2.0, 0.0]}, {"id": "t2", "destination": [0.0, 2.0]}],
    }
    six_am = datetime(2026, 12, 19, 6, 0, tzinfo=UTC)  # a quarter of the circle: sin = 1
    weighted = with_acceptance(problem, AcceptanceWeighting(model, decline_penalty_cents=40), at=six_am)
    section = weighted["acceptance"]
    assert section["decline_penalty"] == 40.0
    assert [item["trip"] for item in section["trips"]] == ["t1", "t2"]
    first = section["trips"][0]
    assert math.isclose(first["intercept"], 1.2)
    assert math.isclose(first["per_reward"], 0.005)
    assert (first["per_detour"], first["per_extra_stop"], first["per_size"]) == (-0.6, -0.3, -0.1)
    assert "acceptance" not in problem
    parsed = parse_problem(weighted).acceptance
    assert parsed is not None
    assert parsed.for_trip("t2") is not None
