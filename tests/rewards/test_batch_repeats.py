"""A finance decision on a payout batch repeated by the one who made it (a retry after a lost answer, a second
click) answers with the batch as it is and changes nothing, audit log included; made by someone else on a batch
another already moved, it is still refused. On PostgreSQL and in memory alike."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from dispatch.errors import IllegalTransition
from rewards.payouts import BatchStatus, LineAlreadyHeld, PayoutBatch
from rewards.services import (
    approve_payout_batch,
    hold_payout_line,
    payout_batch,
    prepare_payout_batch,
    reject_payout_batch,
    release_payout_line,
)
from tests.rewards.conftest import FINANCE_A, FINANCE_B, NOW, PERIOD, World, credit


def _one_line_batch(world: World) -> PayoutBatch:
    bob = world.add_shopper()
    credit(world, world.order(proof_by=bob).id, bob.id)
    with world.rewards() as uow:
        return prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key=str(uuid4())
        ).batch


def _actions(world: World, batch_id: UUID) -> list[str]:
    with world.rewards() as uow:
        return [entry.action for entry in uow.repos.audit.for_subject("payout_batch", batch_id)]


@pytest.mark.usefixtures("policy")
def test_a_hold_repeated_by_its_holder_answers_the_batch_as_it_is_and_keeps_the_first_reason(world: World) -> None:
    batch = _one_line_batch(world)
    line_id = batch.lines[0].id
    with world.rewards() as uow:
        first = hold_payout_line(
            uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_B, now=NOW
        )
    with world.rewards() as uow:
        again = hold_payout_line(
            uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_B, now=NOW
        )
    with world.rewards() as uow:
        reworded = hold_payout_line(
            uow, batch_id=batch.id, line_id=line_id, reason="other", actor_id=FINANCE_B, now=NOW
        )
    assert again.revision == reworded.revision == first.revision == 1
    assert (reworded.line(line_id).hold_reason, reworded.line(line_id).held_by) == ("check ID", FINANCE_B)
    assert _actions(world, batch.id) == ["batch.prepared", "line.held"]


@pytest.mark.usefixtures("policy")
def test_a_hold_on_a_line_someone_else_holds_is_still_refused(world: World) -> None:
    batch = _one_line_batch(world)
    line_id = batch.lines[0].id
    with world.rewards() as uow:
        hold_payout_line(uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow, pytest.raises(LineAlreadyHeld):
        hold_payout_line(uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_A, now=NOW)


@pytest.mark.usefixtures("policy")
def test_a_hold_retried_after_the_batch_was_approved_answers_the_batch_as_it_is(world: World) -> None:
    """The hold committed, its answer was lost, a second person approved meanwhile: the line is held by the one
    retrying, which is what they asked for, so the retry is answered rather than refused as too late."""
    batch = _one_line_batch(world)
    line_id = batch.lines[0].id
    with world.rewards() as uow:
        hold_payout_line(uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        again = hold_payout_line(
            uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_A, now=NOW
        )
    assert (again.status, again.line(line_id).held) == (BatchStatus.APPROVED, True)


@pytest.mark.usefixtures("policy")
def test_a_release_of_a_line_not_held_changes_nothing_and_writes_no_audit_entry(world: World) -> None:
    batch = _one_line_batch(world)
    line_id = batch.lines[0].id
    with world.rewards() as uow:
        hold_payout_line(uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        first = release_payout_line(uow, batch_id=batch.id, line_id=line_id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        again = release_payout_line(uow, batch_id=batch.id, line_id=line_id, actor_id=FINANCE_B, now=NOW)
    assert (again.revision, again.line(line_id).held) == (first.revision, False) == (2, False)
    assert _actions(world, batch.id) == ["batch.prepared", "line.held", "line.released"]


@pytest.mark.usefixtures("policy")
def test_a_release_retried_after_the_batch_was_approved_answers_the_batch_as_it_is(world: World) -> None:
    batch = _one_line_batch(world)
    line_id = batch.lines[0].id
    with world.rewards() as uow:
        hold_payout_line(uow, batch_id=batch.id, line_id=line_id, reason="check ID", actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow:
        release_payout_line(uow, batch_id=batch.id, line_id=line_id, actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        again = release_payout_line(uow, batch_id=batch.id, line_id=line_id, actor_id=FINANCE_A, now=NOW)
    assert (again.status, again.line(line_id).held) == (BatchStatus.APPROVED, False)


@pytest.mark.usefixtures("policy")
def test_a_rejection_repeated_by_its_rejecter_answers_the_batch_as_it_is_and_keeps_the_first_reason(
    world: World,
) -> None:
    batch = _one_line_batch(world)
    with world.rewards() as uow:
        reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="wrong period", now=NOW)
    with world.rewards() as uow:
        again = reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="wrong period", now=NOW)
    with world.rewards() as uow:
        reworded = reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="another", now=NOW)
    assert (again.status, again.rejected_by, reworded.rejection_reason) == (
        BatchStatus.REJECTED,
        FINANCE_B,
        "wrong period",
    )
    assert _actions(world, batch.id) == ["batch.prepared", "batch.rejected"]


@pytest.mark.usefixtures("policy")
def test_a_rejection_by_someone_else_of_a_rejected_batch_is_still_refused(world: World) -> None:
    batch = _one_line_batch(world)
    with world.rewards() as uow:
        reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="wrong period", now=NOW)
    with world.rewards() as uow, pytest.raises(IllegalTransition):
        reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, reason="wrong period", now=NOW)
    with world.rewards() as uow:
        assert payout_batch(uow, batch_id=batch.id).rejected_by == FINANCE_B
