"""Fitting the acceptance model on the recorded answers, through the dispatch unit of work.

The model is refitted where it is used (at each dispatcher start, and by the simulator as its day goes on)
rather than kept in a table: it is a handful of coefficients fitted in milliseconds on a bounded sample of
the most recent answers, so a stored copy would only add a migration and a way to go stale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from crowdship.logging import get_logger
from dispatch.acceptance import DEFAULT_MODEL, MAX_ANSWERS, AcceptanceModel, Answer, OfferFeatures, fit_acceptance
from dispatch.model import OfferStatus
from dispatch.repositories import LiveUnitOfWork

log = get_logger(__name__)

LOOKBACK = timedelta(days=28)
"""Answers older than this are not read: shoppers' habits and the reward policy change."""

REFIT_EVERY = timedelta(hours=1)
"""How often the model is refitted on the answers since: by the live dispatcher, a replay and the acceptance
benchmark alike, so that what the simulator compares behaves as live does."""


def recorded_answers(
    uow: LiveUnitOfWork, *, now: datetime, store_id: UUID | None = None, lookback: timedelta = LOOKBACK,
    limit: int = MAX_ANSWERS,
) -> list[Answer]:  # fmt: skip
    """The most recent answers (at most `limit`, made within `lookback` of `now`) as model samples."""
    limit = max(0, min(limit, MAX_ANSWERS))
    answered = uow.offers.answered(store_id=store_id, since=now - lookback, limit=limit)
    return [
        Answer(
            OfferFeatures(
                reward_cents=int(item.offer.reward_quote_cents),
                detour_m=item.offer.extra_distance_m,
                stops=len(item.offer.stops),
                bags=item.bags,
                at=item.offer.created_at,
            ),
            accepted=item.offer.status is OfferStatus.ACCEPTED,
        )
        for item in answered
    ]


def fit_from_history(
    unit_of_work: Callable[[], LiveUnitOfWork], *, now: datetime, store_id: UUID | None = None,
    lookback: timedelta = LOOKBACK, limit: int = MAX_ANSWERS, default: AcceptanceModel = DEFAULT_MODEL,
    with_reward: bool = True,
) -> AcceptanceModel:  # fmt: skip
    """The acceptance model fitted on the recorded answers; `default` while there are too few."""
    with unit_of_work() as uow:
        answers = recorded_answers(uow, now=now, store_id=store_id, lookback=lookback, limit=limit)
    model = fit_acceptance(answers, default=default, with_reward=with_reward)
    log.info("acceptance model", answers=len(answers), fitted=model.answers > 0)
    return model
