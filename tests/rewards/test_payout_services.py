"""Payouts and reconciliation, on PostgreSQL and in memory alike: batches with four eyes, holds, screening,
anomaly flags, paying once, and the books checked against payouts and deliveries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta, timezone
from typing import cast
from uuid import uuid4

import pytest

from crowdship.errors import InvalidInput
from crowdship.idempotency import IdempotencyKeyReused
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.errors import IllegalTransition
from dispatch.evidence import LocationSample
from rewards.anomalies import FlagCode
from rewards.ledger import AccountKind, TransactionKind
from rewards.payouts import (
    BatchChanged,
    BatchStatus,
    FourEyesViolation,
    HoldPlacedByAnother,
    PayoutBatch,
    ReleasedAnothersHold,
)
from rewards.reconciliation import DiscrepancyKind
from rewards.records import NothingToPay
from rewards.services import (
    approve_payout_batch,
    export_payout_batch_csv,
    hold_payout_line,
    pay_payout_batch,
    payout_batch,
    payout_batches,
    prepare_payout_batch,
    reconciliation_report,
    register_referral,
    reject_payout_batch,
    release_payout_line,
    shopper_ledger,
)
from routing.geo import GeoPoint
from tests.rewards.conftest import (
    FINANCE_A,
    FINANCE_B,
    NOW,
    OPS,
    PERIOD,
    World,
    balances,
    credit,
)

# --------------------------------------------------------------------------------------------------
# Payouts


def _prepare(world: World) -> PayoutBatch:
    with world.rewards() as uow:
        return prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key=str(uuid4())
        ).batch


@pytest.mark.usefixtures("policy")
def test_a_batch_is_paid_after_a_second_finance_user_approves_it_and_only_once(world: World) -> None:
    """Four eyes, then approved → paid moves cash payable to payouts clearing exactly once."""
    alice, bob = world.add_shopper(), world.add_shopper()
    credit(world, world.order(proof_by=alice).id, alice.id)
    credit(world, world.order(proof_by=bob).id, bob.id)
    credit(world, world.order(proof_by=bob).id, bob.id)
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key=str(uuid4())
        ).batch
    assert sorted(line.amount_cents for line in batch.lines) == [500, 1_000]
    assert all(not line.flags for line in batch.lines)

    with world.rewards() as uow, pytest.raises(FourEyesViolation):
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow, pytest.raises(IllegalTransition):
        pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="pay-0")
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="pay-1")
    assert paid.paid_cents == 1_500
    assert balances(world, alice.id) == (0, 0)
    assert balances(world, bob.id) == (0, 0)

    assert paid.replayed is False
    with world.rewards() as uow:
        again = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="pay-1")
    assert (again, again.replayed) == (paid, True)
    with world.rewards() as uow, pytest.raises(IllegalTransition):
        pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="pay-2")
    with world.rewards() as uow:
        clearing = uow.repos.ledger.company_account(AccountKind.PAYOUTS_CLEARING)
        payouts = [uow.repos.ledger.get_transaction(t).kind for t in paid.transaction_ids]
        assert uow.repos.ledger.entries_sum(clearing.id) == 1_500
        assert payouts == [TransactionKind.PAYOUT] * 2
        assert payout_batch(uow, batch_id=batch.id).status is BatchStatus.PAID
        actions = [entry.action for entry in uow.repos.audit.for_subject("payout_batch", batch.id)]
    assert actions == ["batch.prepared", "batch.approved", "batch.paid"]


@pytest.mark.usefixtures("policy")
def test_payout_keys_are_each_callers_own_and_a_reused_one_is_named_as_given(world: World) -> None:
    """Preparing and paying keep a key per caller: two finance users' same key never collide, and a key reused
    for another request is refused naming the key as the caller gave it, not as it is kept."""
    alice = world.add_shopper()
    credit(world, world.order(proof_by=alice).id, alice.id)
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key="k"
        ).batch
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="k")
    assert (paid.paid_cents, paid.replayed) == (500, False)
    with world.rewards() as uow, pytest.raises(IdempotencyKeyReused) as raised:
        prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=NOW, actor_id=FINANCE_A, now=NOW, idempotency_key="k"
        )
    assert raised.value.key == "k"
    assert str(FINANCE_A) not in raised.value.message


@pytest.mark.usefixtures("policy")
def test_a_retry_of_preparation_with_the_period_in_another_utc_offset_gets_the_first_batch(world: World) -> None:
    """The key's fingerprint compares instants: the same period written with another offset is a retry."""
    alice = world.add_shopper()
    credit(world, world.order(proof_by=alice).id, alice.id)
    five_behind = timezone(timedelta(hours=-5))
    with world.rewards() as uow:
        first = prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key="k"
        )
    with world.rewards() as uow:
        retry = prepare_payout_batch(
            uow,
            period_start=PERIOD[0].astimezone(five_behind),
            period_end=PERIOD[1].astimezone(five_behind),
            actor_id=FINANCE_A,
            now=NOW,
            idempotency_key="k",
        )
    assert (retry.replayed, retry.batch.id) == (True, first.batch.id)


@pytest.mark.usefixtures("policy")
def test_a_hold_by_the_second_person_is_neither_released_by_the_preparer_nor_approved_away(world: World) -> None:
    """A prepares, B holds Bob's line; A's release is refused and leaves no trace; a third finance user releases
    it, and B's approval of the batch as B saw it (held) is refused: the revision is kept by the storage. B
    approves the batch as it is now, and only then is Bob's line paid."""
    third = uuid4()
    alice, bob = world.add_shopper(), world.add_shopper()
    credit(world, world.order(proof_by=alice).id, alice.id)
    credit(world, world.order(proof_by=bob).id, bob.id)
    batch = _prepare(world)
    bobs_line = next(line for line in batch.lines if line.shopper_id == bob.id)
    with world.rewards() as uow:
        held = hold_payout_line(
            uow, batch_id=batch.id, line_id=bobs_line.id, reason="suspicious", actor_id=FINANCE_B, now=NOW
        )
    with world.rewards() as uow, pytest.raises(HoldPlacedByAnother):
        release_payout_line(uow, batch_id=batch.id, line_id=bobs_line.id, actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow:
        seen_by_b = payout_batch(uow, batch_id=batch.id)
    assert (seen_by_b.revision, seen_by_b.line(bobs_line.id).held) == (held.revision, True)
    with world.rewards() as uow:
        release_payout_line(uow, batch_id=batch.id, line_id=bobs_line.id, actor_id=third, now=NOW)
    with world.rewards() as uow, pytest.raises(BatchChanged):
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, reviewed_revision=seen_by_b.revision)
    with world.rewards() as uow:
        now_seen = payout_batch(uow, batch_id=batch.id)
        actions = [entry.action for entry in uow.repos.audit.for_subject("payout_batch", batch.id)]
    assert (now_seen.status, now_seen.revision) == (BatchStatus.DRAFT, seen_by_b.revision + 1)
    assert actions == ["batch.prepared", "line.held", "line.released"]
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, reviewed_revision=now_seen.revision)
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW, idempotency_key="pay-1")
    assert paid.paid_cents == 1_000


@pytest.mark.usefixtures("policy")
def test_who_released_a_hold_another_placed_is_kept_and_cannot_approve(world: World) -> None:
    """A prepares and holds Bob's line; B releases it. Stored and read again, the batch still knows B released
    another's hold: B's approval is refused, a third finance user's goes through and pays Bob."""
    third = uuid4()
    bob = world.add_shopper()
    credit(world, world.order(proof_by=bob).id, bob.id)
    batch = _prepare(world)
    bobs_line = batch.lines[0]
    with world.rewards() as uow:
        hold_payout_line(uow, batch_id=batch.id, line_id=bobs_line.id, reason="check ID", actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow:
        release_payout_line(uow, batch_id=batch.id, line_id=bobs_line.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow, pytest.raises(ReleasedAnothersHold):
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        assert payout_batch(uow, batch_id=batch.id).status is BatchStatus.DRAFT
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=third, now=NOW)
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW, idempotency_key="pay-1")
    assert paid.paid_cents == 500


@pytest.mark.usefixtures("policy")
def test_a_held_line_is_not_paid_and_goes_into_a_later_batch(world: World) -> None:
    """The held shopper keeps their cash payable and appears in the next batch; the others are paid, and only
    they are in the batch's bank upload."""
    alice, bob = world.add_shopper(), world.add_shopper()
    credit(world, world.order(proof_by=alice).id, alice.id)
    credit(world, world.order(proof_by=bob).id, bob.id)
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key=str(uuid4())
        ).batch
    bobs_line = next(line for line in batch.lines if line.shopper_id == bob.id)
    with world.rewards() as uow:
        hold_payout_line(uow, batch_id=batch.id, line_id=bobs_line.id, reason="check ID", actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="pay-1")
    assert paid.paid_cents == 500
    assert balances(world, bob.id) == (0, 500)
    assert balances(world, alice.id) == (0, 0)
    with world.rewards() as uow:
        exported = export_payout_batch_csv(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW)
    rows = list(csv.DictReader(io.StringIO(exported.removeprefix("\ufeff"))))
    assert [(row["shopper_id"], row["amount_cents"], row["status"]) for row in rows] == [(str(alice.id), "500", "paid")]
    with world.rewards() as uow:
        later = prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key=str(uuid4())
        ).batch
    assert [(line.shopper_id, line.amount_cents) for line in later.lines] == [(bob.id, 500)]


@pytest.mark.usefixtures("policy")
def test_a_balance_earned_after_the_period_is_screened_before_it_is_paid(world: World) -> None:
    """A line pays the whole balance: deliveries credited after the chosen period (here, a week ago) are judged
    too, and ones already paid out are not judged again."""
    sloppy = world.add_shopper()
    earlier = world.order(at=NOW - timedelta(days=20))
    credit(world, earlier.id, sloppy.id, delivered_at=NOW - timedelta(days=20))
    with world.rewards() as uow:
        first = prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=21),
            period_end=NOW - timedelta(days=19),
            actor_id=FINANCE_A,
            now=NOW - timedelta(days=19),
            idempotency_key="before",
        ).batch
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=first.id, actor_id=FINANCE_B, now=NOW - timedelta(days=19))
    with world.rewards() as uow:
        pay_payout_batch(uow, batch_id=first.id, actor_id=FINANCE_B, now=NOW - timedelta(days=19), idempotency_key="p")
    today = world.order()
    credit(world, today.id, sloppy.id)
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=14),
            period_end=NOW - timedelta(days=7),
            actor_id=FINANCE_A,
            now=NOW,
            idempotency_key="last-week",
        ).batch
    [line] = batch.lines
    assert [(flag.code, str(today.id) in flag.detail) for flag in line.flags] == [(FlagCode.NO_POSITION_PROOF, True)]


@pytest.mark.usefixtures("policy")
def test_a_proof_whose_trip_sent_positions_only_far_away_flags_the_line(world: World) -> None:
    """The trip's own track (positions the app sent) never came within 500 m of the drop-off it proved: a
    made-up proof position. A trip that sent a position at the door is not flagged."""
    faker, honest = world.add_shopper(), world.add_shopper()
    faked, proved = world.order(proof_by=faker), world.order(proof_by=honest)
    with world.dispatch() as uow:
        for order, shopper, where in ((faked, faker, GeoPoint(52.30, 4.80)), (proved, honest, proved.dropoff)):
            [proof] = uow.proofs.list_for_order(order.id)
            uow.locations.add(LocationSample(shopper.id, proof.trip_id, where, NOW - timedelta(minutes=5)))
        uow.commit()
    credit(world, faked.id, faker.id)
    credit(world, proved.id, honest.id)
    flags = {line.shopper_id: [flag.code for flag in line.flags] for line in _prepare(world).lines}
    assert flags == {faker.id: [FlagCode.NO_POSITION_PROOF], honest.id: []}


@pytest.mark.usefixtures("policy")
def test_rejecting_a_batch_releases_its_lines(world: World) -> None:
    """While a batch is open its shoppers are not batched again; after rejection they are, and nothing was paid."""
    alice = world.add_shopper()
    credit(world, world.order(proof_by=alice).id, alice.id)
    batch = _prepare(world)
    with pytest.raises(NothingToPay):
        _prepare(world)
    with world.rewards() as uow:
        reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="wrong period", now=NOW)
    assert balances(world, alice.id) == (0, 500)
    again = _prepare(world)
    assert [line.amount_cents for line in again.lines] == [500]


@pytest.mark.usefixtures("policy")
def test_lines_carry_anomaly_flags(world: World) -> None:
    """A delivery rewarded without a position proof flags its shopper's line."""
    honest, sloppy = world.add_shopper(), world.add_shopper()
    credit(world, world.order(proof_by=honest).id, honest.id)
    credit(world, world.order().id, sloppy.id)
    batch = _prepare(world)
    flags = {line.shopper_id: [f.code for f in line.flags] for line in batch.lines}
    assert flags == {honest.id: [], sloppy.id: [FlagCode.NO_POSITION_PROOF]}


# --------------------------------------------------------------------------------------------------
# Reconciliation


@pytest.mark.usefixtures("pg_policy")
def test_reconciliation_agrees_on_clean_books_and_finds_planted_differences(pg_world: World) -> None:
    """After credits and a paid batch the books agree; a delivered order without reward, a tampered
    balance and a paid line changed after payment (tampered in the database, behind the use cases' back)
    are each found."""
    world = pg_world
    alice = world.add_shopper()
    credit(world, world.order(proof_by=alice).id, alice.id)
    batch = _prepare(world)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="p")
    with world.rewards() as uow:
        clean = reconciliation_report(uow)
    assert clean.agrees, clean.discrepancies
    assert clean.rewards_checked == 1
    assert clean.paid_lines_checked == 1

    unrewarded = world.order()
    with world.rewards() as uow:
        account = uow.repos.ledger.shopper_accounts(alice.id)[AccountKind.STORE_CREDIT]
        uow.commit()
    with cast(PostgresDispatchUnitOfWork, world.dispatch()) as tamper:
        tamper.connection.execute("UPDATE ledger_accounts SET balance_cents = 7 WHERE id = %s", (account.id,))
        tamper.connection.execute("UPDATE payout_lines SET amount_cents = amount_cents + 1")
        tamper.commit()
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    found = {(d.kind, d.subject_id) for d in report.discrepancies}
    assert found == {
        (DiscrepancyKind.DELIVERED_WITHOUT_REWARD, unrewarded.id),
        (DiscrepancyKind.BALANCE_NOT_SUM_OF_ENTRIES, account.id),
        (DiscrepancyKind.PAID_LINE_NOT_IN_LEDGER, batch.lines[0].id),
    }


@pytest.mark.usefixtures("pg_policy")
def test_reconciliation_finds_credits_with_nothing_behind_them_and_a_bonus_on_the_wrong_shopper(
    pg_world: World,
) -> None:
    """Written behind the use cases' back: a balanced "delivery reward" of 5 000.00 that no reward names, and a
    referral whose referrer was changed after the bonus was paid to the first one."""
    world = pg_world
    referrer, newcomer, stranger = world.add_shopper(), world.add_shopper(), world.add_shopper()
    with world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    order = world.order(proof_by=newcomer)
    credit(world, order.id, newcomer.id)
    with world.rewards() as uow:
        cash = uow.repos.ledger.shopper_accounts(stranger.id)[AccountKind.CASH_PAYABLE]
        expense = uow.repos.ledger.company_account(AccountKind.REWARD_EXPENSE)
        uow.commit()
    made_up = uuid4()
    with cast(PostgresDispatchUnitOfWork, world.dispatch()) as tamper:
        tamper.connection.execute(
            """INSERT INTO ledger_transactions (id, kind, description, created_at) VALUES (%s, 'delivery_reward',
               'made up', %s)""",
            (made_up, NOW),
        )
        tamper.connection.execute(
            "INSERT INTO ledger_entries (transaction_id, account_id, amount_cents) VALUES (%s, %s, 500000), "
            "(%s, %s, -500000)",
            (made_up, cash.id, made_up, expense.id),
        )
        tamper.connection.execute(
            "UPDATE referrals SET referrer_shopper_id = %s WHERE referred_shopper_id = %s", (stranger.id, newcomer.id)
        )
        tamper.commit()
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    found = {(d.kind, d.subject_id) for d in report.discrepancies}
    assert found == {
        (DiscrepancyKind.UNEXPLAINED_CREDIT, made_up),
        (DiscrepancyKind.REWARD_NOT_IN_LEDGER, order.id),
    }
    assert report.discrepancy_count == 2


# --------------------------------------------------------------------------------------------------
# A shopper's statement


@pytest.mark.usefixtures("policy")
def test_a_statement_explains_a_balance_newest_first(world: World) -> None:
    """Two rewards and a payout: the cash statement shows +500, +500, -1 000 (newest first), summing to zero."""
    shopper = world.add_shopper()
    first, second = world.order(proof_by=shopper), world.order(proof_by=shopper)
    credit(world, first.id, shopper.id)
    credit(world, second.id, shopper.id)
    batch = _prepare(world)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key="p")
    with world.rewards() as uow:
        lines = shopper_ledger(uow, shopper_id=shopper.id, account=AccountKind.CASH_PAYABLE).items
        batches = payout_batches(uow, statuses=[BatchStatus.PAID]).items
    assert [(line.kind.value, line.amount_cents, line.order_id) for line in lines] == [
        ("payout", -1_000, None),
        ("delivery_reward", 500, second.id),
        ("delivery_reward", 500, first.id),
    ]
    assert [b.id for b in batches] == [batch.id]
    with world.rewards() as uow, pytest.raises(InvalidInput):
        shopper_ledger(uow, shopper_id=shopper.id, account=AccountKind.REWARD_EXPENSE)
