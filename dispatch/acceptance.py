"""How likely a shopper is to accept an offer: a logistic model over what the offer asks and pays.

Estimated from the recorded answers (accepted = 1; declined or left to expire = 0) with scikit-learn's
`LogisticRegression`: a well-kept, widely used implementation whose L-BFGS fit of a handful of
coefficients over a few thousand answers takes milliseconds, with a mild L2 penalty that keeps the fit
finite when the history separates perfectly (e.g. nobody ever declined a short detour).

Features of an offer (each with its unit in its name):

- `reward_dollars`: the quote (the model's coefficient is per dollar, so that it reads like a price);
- `detour_km`: the extra distance;
- `extra_stops`: drop-offs beyond the first;
- `bags`: the bags the offer carries;
- `hour_sin`, `hour_cos`: the time of day (UTC hours on a circle: 23:30 is next to 00:30).

Before there is enough history (`MIN_ANSWERS`, with both answers present) the `DEFAULT_MODEL` holds: about
four in five shoppers accept a paid detour of a kilometre or two; each dollar more raises the odds by half
(odds x1.5), each km of detour lowers them by about 40 % (odds x0.6), each extra stop by a quarter, each bag by a
tenth, and the hour does not matter. These are a prior, not a measurement: refit as soon as answers exist.

`with_acceptance` puts the model into a batch's `crowdship-match/1` problem as its optional `acceptance`
section (`dispatch.matching.acceptance`), so the matcher minimises the expected cost of its offers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from dispatch.matching.acceptance import DeclineRule

MIN_ANSWERS = 200
"""Fewer answers than this (or answers of one kind only) keep the default model."""

MAX_ANSWERS = 20_000
"""The most answers a fit reads: a bounded sample, the most recent first."""

DEFAULT_DECLINE_PENALTY_CENTS = 0
"""What a declined offer costs per order beyond leaving the order for later (see the benchmark's notes)."""

DEFAULT_DECLINE_RULE: DeclineRule = "fallback"
"""How the matcher prices a declined route: its orders' fallback, or a re-offer at the same price."""

REGULARISATION_C = 10.0
"""scikit-learn's inverse L2 strength: weak, only there to keep separable histories finite."""


@dataclass(frozen=True)
class OfferFeatures:
    """What a shopper weighs in an offer, in the units the model's coefficients use."""

    reward_cents: int
    detour_m: int
    stops: int
    bags: int
    at: datetime

    def row(self) -> list[float]:
        """The features in the order of `AcceptanceModel.coefficients`: dollars, detour km, stops after the first,
        bags, and the hour of the day as a point on a circle (23:00 is next to 00:00)."""
        angle = _hour_angle(self.at)
        return [
            self.reward_cents / 100.0,
            self.detour_m / 1000.0,
            float(max(0, self.stops - 1)),
            float(self.bags),
            math.sin(angle),
            math.cos(angle),
        ]


@dataclass(frozen=True)
class Answer:
    """One recorded offer and whether it was accepted (declined and expired both count as no)."""

    features: OfferFeatures
    accepted: bool


def _hour_angle(at: datetime) -> float:
    utc = at.astimezone(UTC)
    hours = utc.hour + utc.minute / 60.0 + utc.second / 3600.0
    return 2.0 * math.pi * hours / 24.0


@dataclass(frozen=True)
class AcceptanceModel:
    """P(accept) = 1 / (1 + exp(-(intercept + sum of coefficient * feature)))."""

    intercept: float
    per_reward_dollar: float
    per_detour_km: float
    per_extra_stop: float
    per_bag: float
    hour_sin: float = 0.0
    hour_cos: float = 0.0
    answers: int = 0
    """How many answers it was fitted on; 0 for the default."""

    @property
    def coefficients(self) -> tuple[float, ...]:
        return (
            self.per_reward_dollar,
            self.per_detour_km,
            self.per_extra_stop,
            self.per_bag,
            self.hour_sin,
            self.hour_cos,
        )

    def probability(self, features: OfferFeatures) -> float:
        score = self.intercept + float(np.dot(self.coefficients, features.row()))
        return 1.0 / (1.0 + math.exp(-max(-500.0, min(500.0, score))))

    def intercept_at(self, at: datetime) -> float:
        """The intercept with the time of day folded in (what stays fixed for every route of one batch)."""
        angle = _hour_angle(at)
        return self.intercept + self.hour_sin * math.sin(angle) + self.hour_cos * math.cos(angle)


DEFAULT_MODEL = AcceptanceModel(
    intercept=0.5,
    per_reward_dollar=math.log(1.5),
    per_detour_km=math.log(0.6),
    per_extra_stop=math.log(0.75),
    per_bag=math.log(0.9),
)


def fit_acceptance(
    answers: Sequence[Answer], *, default: AcceptanceModel = DEFAULT_MODEL, with_reward: bool = True
) -> AcceptanceModel:
    """The logistic model that best explains `answers`; `default` while they are too few or all alike.

    `with_reward` False leaves the quote out (its coefficient 0): where the reward is a fixed function of
    detour, stops and bags (one policy in force), their coefficients then carry its effect, and the model
    does not depend on the matcher pricing a route exactly as the offer's quote will.
    """
    if len(answers) < MIN_ANSWERS:
        return default
    labels = np.array([answer.accepted for answer in answers], dtype=np.int64)
    if labels.min() == labels.max():
        return default
    from sklearn.linear_model import LogisticRegression  # imported here: only a fit needs it

    features: npt.NDArray[np.float64] = np.array([answer.features.row() for answer in answers], dtype=np.float64)
    if not with_reward:
        features = features[:, 1:]
    fitted = LogisticRegression(C=REGULARISATION_C, max_iter=1_000).fit(features, labels)
    weights = [float(value) for value in fitted.coef_[0]]
    if not with_reward:
        weights = [0.0, *weights]
    return AcceptanceModel(
        intercept=float(fitted.intercept_[0]),
        per_reward_dollar=weights[0],
        per_detour_km=weights[1],
        per_extra_stop=weights[2],
        per_bag=weights[3],
        hour_sin=weights[4],
        hour_cos=weights[5],
        answers=len(answers),
    )


@dataclass(frozen=True)
class AcceptanceWeighting:
    """What a batch needs to weigh its offers by acceptance: the model and the price of a decline."""

    model: AcceptanceModel = DEFAULT_MODEL
    decline_penalty_cents: int = DEFAULT_DECLINE_PENALTY_CENTS
    reward_term: bool = True
    """False: the matcher's routes are weighed without a reward term (see `fit_acceptance(with_reward=)`)."""
    decline: DeclineRule = DEFAULT_DECLINE_RULE
    """How the matcher prices a declined route (`dispatch.matching.acceptance`)."""


def with_acceptance(problem: Mapping[str, Any], weighting: AcceptanceWeighting, *, at: datetime) -> dict[str, Any]:
    """The batch's problem (money in cents, distance in km, as `dispatch.batching` builds it) with an
    `acceptance` section for every trip: the matcher then prices a route at its expected cost.

    The route's reward is the matcher's own price of it (`compensation`), so the model's reward term
    applies to that; time of day is fixed for the batch and folded into each trip's intercept.
    """
    model = weighting.model
    intercept = model.intercept_at(at)
    terms = {
        "intercept": intercept,
        "per_reward": model.per_reward_dollar / 100.0 if weighting.reward_term else 0.0,
        "per_detour": model.per_detour_km,
        "per_extra_stop": model.per_extra_stop,
        "per_size": model.per_bag,
    }
    return {
        **problem,
        "acceptance": {
            "decline_penalty": float(weighting.decline_penalty_cents),
            "decline": weighting.decline,
            "trips": [{"trip": trip["id"], **terms} for trip in problem.get("trips", [])],
        },
    }
