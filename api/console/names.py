"""Names where records hold ids: texts written with ids in them (a ledger entry's "reward for order <id>", a
held line's "carried over from batch <id>") and the subjects of the audit log, said with the order's
reference, the shopper's name and the batch's period. Each page reads them with one query per kind."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from uuid import UUID

from fastapi import Request

from api.console.formats import period_words
from api.console.periods import page_zone
from api.dependencies import AppServices
from dispatch.services import queries
from rewards import services as rewards_services
from rewards.repositories import RewardsUnitOfWork

UUID_TEXT = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def ids_in(texts: Iterable[str | None]) -> set[UUID]:
    """Every id written in these texts."""
    return {UUID(found) for text in texts if text for found in UUID_TEXT.findall(text)}


def names_of(request: Request, uow: RewardsUnitOfWork, ids: Iterable[UUID]) -> dict[UUID, str]:
    """What each id is to a person, whatever it is the id of: an order by its reference, a shopper by name, a
    payout batch by its period ("of" and `period_words`); three reads, whatever the number of ids."""
    wanted = set(ids)
    if not wanted:
        return {}
    context = _services(request).context
    periods = rewards_services.batch_periods(uow, wanted)
    zone = page_zone(request, uow) if periods else None
    return {
        **{batch_id: f"of {period_words(*period, zone)}" for batch_id, period in periods.items()},
        **queries.shopper_names(context, wanted),
        **queries.order_references(context, wanted),
    }


def named(text: str, names: Mapping[UUID, str]) -> str:
    """`text` with each id it holds replaced by its name, or by its first 8 characters when it has none."""
    return UUID_TEXT.sub(lambda found: names.get(UUID(found.group()), found.group()[:8]), text)


def _services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services
