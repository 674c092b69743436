"""What a finance page reads about its rows in one go, on PostgreSQL and in memory alike: the payees' names
and the periods of the batches a held line was carried over from."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from rewards.payouts import BatchExport, PayoutBatch
from rewards.services.books import payee_names, payout_line_payees
from rewards.services.payouts import prepare_payout_batch
from tests.rewards.conftest import NOW, World, credit


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


@pytest.mark.usefixtures("policy")
def test_the_payees_of_several_payout_lines_are_read_together(world: World) -> None:
    """What the audit log names a held line by; an unknown id is left out, asking for none reads nothing."""
    ana, ben = world.add_shopper("Ana"), world.add_shopper("Ben")
    for shopper in (ana, ben):
        credit(world, world.order(proof_by=shopper).id, shopper.id)
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=7),
            period_end=NOW + timedelta(days=1),
            actor_id=uuid4(),
            now=NOW,
            idempotency_key=str(uuid4()),
        ).batch
    with world.rewards() as uow:
        assert payout_line_payees(uow, [*(line.id for line in batch.lines), uuid4()]) == {
            line.id: line.shopper_id for line in batch.lines
        }
        assert {line.shopper_id for line in batch.lines} == {ana.id, ben.id}
        assert payout_line_payees(uow, []) == {}


def test_which_download_of_its_batch_each_export_was_is_read_together(world: World) -> None:
    """What the audit log says an export by: its batch's first download of the bank file, or a later one;
    counted per batch, oldest first; an unknown id is left out, asking for none reads nothing."""
    first = PayoutBatch(NOW - timedelta(days=14), NOW - timedelta(days=7), prepared_by=uuid4(), prepared_at=NOW)
    second = PayoutBatch(NOW - timedelta(days=7), NOW, prepared_by=uuid4(), prepared_at=NOW)
    with world.rewards() as uow:
        for batch in (first, second):
            uow.repos.payouts.add(batch)
        uow.commit()
    first.exports = [BatchExport(uuid4(), NOW + timedelta(minutes=minute)) for minute in (1, 5, 3)]
    second.exports = [BatchExport(uuid4(), NOW + timedelta(minutes=2))]
    with world.rewards() as uow:
        for batch in (first, second):
            uow.repos.payouts.save(batch)
        uow.commit()
    with world.rewards() as uow:
        asked = [*(export.id for export in first.exports), second.exports[0].id, uuid4()]
        assert uow.repos.payouts.export_numbers(asked) == {
            first.exports[0].id: 1,
            first.exports[1].id: 3,
            first.exports[2].id: 2,
            second.exports[0].id: 1,
        }
        assert uow.repos.payouts.export_numbers([]) == {}
