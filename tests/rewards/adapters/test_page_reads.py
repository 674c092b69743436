"""What a finance page reads about its rows in one go, on PostgreSQL and in memory alike: the payees' names
and the periods of the batches a held line was carried over from."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from rewards.payouts import PayoutBatch
from rewards.services.books import payee_names
from tests.rewards.conftest import NOW, World


def test_the_periods_of_several_batches_are_read_together(world: World) -> None:
    """An unknown id is left out; asking for none reads nothing."""
    first = PayoutBatch(NOW - timedelta(days=14), NOW - timedelta(days=7), prepared_by=uuid4(), prepared_at=NOW)
    second = PayoutBatch(NOW - timedelta(days=7), NOW, prepared_by=uuid4(), prepared_at=NOW)
    with world.rewards() as uow:
        for batch in (first, second):
            uow.repos.payouts.add(batch)
        uow.commit()
    with world.rewards() as uow:
        assert uow.repos.payouts.periods([first.id, second.id, uuid4()]) == {
            first.id: (first.period_start, first.period_end),
            second.id: (second.period_start, second.period_end),
        }
        assert uow.repos.payouts.periods([]) == {}


def test_payee_names_are_read_together(world: World) -> None:
    ana, ben = world.add_shopper("Ana"), world.add_shopper("Ben")
    with world.rewards() as uow:
        assert payee_names(uow, [ana.id, ben.id, uuid4()]) == {ana.id: ana.display_name, ben.id: ben.display_name}
