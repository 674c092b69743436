"""The caps' day and week are the policy's own (`PolicyParameters.timezone`), never UTC's: a delivery at 23:30 in
New York (04:30 UTC the next day) counts towards the New York day and week it was made in, for the quote and the
credit alike, and a day of 25 hours (daylight saving ends) is one day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from rewards.policy import EarningsSoFar
from rewards.services import earnings_so_far
from tests.rewards.conftest import NOW, PLAIN_PARAMETERS, World, credit, publish_policy

NEW_YORK = {**PLAIN_PARAMETERS, "timezone": "America/New_York", "daily_cap_cents": 5_000, "weekly_cap_cents": 9_000}


def _earned(world: World, shopper_id: UUID, at: datetime) -> EarningsSoFar:
    with world.rewards() as uow:
        policy = uow.repos.policies.in_force_at(at)
        return earnings_so_far(uow.repos, shopper_id, at, policy)


def test_a_delivery_late_in_the_evening_counts_in_the_local_day_and_week_it_was_made_in(world: World) -> None:
    """Sunday 22 November 23:30 EST is Monday 04:30 UTC: Sunday's day and the week from Monday 16 November count
    it (at 20:00 and 23:45 that Sunday); from Monday 00:15 EST a new day and a new week begin."""
    publish_policy(world.rewards(), NEW_YORK, now=NOW - timedelta(days=30))
    shopper = world.add_shopper()
    late_sunday = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    amount = credit(world, world.order().id, shopper.id, delivered_at=late_sunday).amount_cents
    assert _earned(world, shopper.id, datetime(2026, 11, 23, 1, 0, tzinfo=UTC)) == EarningsSoFar(amount, amount)
    assert _earned(world, shopper.id, datetime(2026, 11, 23, 4, 45, tzinfo=UTC)) == EarningsSoFar(amount, amount)
    assert _earned(world, shopper.id, datetime(2026, 11, 23, 5, 15, tzinfo=UTC)) == EarningsSoFar(0, 0)
    assert _earned(world, shopper.id, datetime(2026, 11, 22, 4, 45, tzinfo=UTC)) == EarningsSoFar(0, amount)


def test_the_day_daylight_saving_ends_is_one_day_of_25_hours(world: World) -> None:
    """1 November 2026 in New York: 00:30 EDT (04:30 UTC) and 23:30 EST (04:30 UTC the next day) are one day."""
    publish_policy(world.rewards(), NEW_YORK, now=datetime(2026, 10, 1, tzinfo=UTC))
    shopper = world.add_shopper()
    first = credit(world, world.order().id, shopper.id, delivered_at=datetime(2026, 11, 1, 4, 30, tzinfo=UTC))
    last = credit(world, world.order().id, shopper.id, delivered_at=datetime(2026, 11, 2, 4, 30, tzinfo=UTC))
    both = first.amount_cents + last.amount_cents
    assert _earned(world, shopper.id, datetime(2026, 11, 1, 17, 0, tzinfo=UTC)) == EarningsSoFar(both, both)
    assert _earned(world, shopper.id, datetime(2026, 11, 2, 5, 30, tzinfo=UTC)) == EarningsSoFar(0, 0)
