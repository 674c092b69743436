"""A payout batch pays what the ledger holds: once a reward behind a draft's line is reversed, the batch is not
approved; once a batch is approved (its bank upload may be on its way), nothing but its payment takes the money
it is to pay. On PostgreSQL and in memory alike; finance rejects a batch and prepares another."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from dispatch.model import Order
from rewards.ledger import AccountKind, InsufficientBalance, PromisedToPayout
from rewards.payouts import BatchStatus, PayoutBatch
from rewards.records import RewardNoLongerHeld
from rewards.services import (
    approve_payout_batch,
    export_payout_batch_csv,
    hold_payout_line,
    pay_payout_batch,
    prepare_payout_batch,
    reject_payout_batch,
    reverse_delivery_reward,
)
from tests.rewards.conftest import FINANCE_A, FINANCE_B, NOW, World, credited_order

pytestmark = pytest.mark.usefixtures("policy")


def _prepared(world: World) -> PayoutBatch:
    with world.rewards() as uow:
        return prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=7),
            period_end=NOW + timedelta(days=1),
            actor_id=FINANCE_A,
            now=NOW,
            idempotency_key=str(uuid4()),
        ).batch


def _reversed(world: World, order: Order) -> None:
    with world.rewards() as uow:
        reverse_delivery_reward(
            uow, order_id=order.id, actor_id=FINANCE_A, reason="disputed", now=NOW, idempotency_key=str(uuid4())
        )


def test_a_batch_whose_line_the_shopper_no_longer_holds_is_not_approved(world: World) -> None:
    shopper = world.add_shopper()
    order = credited_order(world, shopper)
    batch = _prepared(world)
    _reversed(world, order)
    with world.rewards() as uow, pytest.raises(InsufficientBalance, match=r"holds 0\.00, cannot give 5\.00"):
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        assert uow.repos.payouts.get(batch.id).status is BatchStatus.DRAFT
        rejected = reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="reward reversed", now=NOW)
    assert rejected.status is BatchStatus.REJECTED


def test_a_reward_an_approved_batch_is_to_pay_is_reversed_only_once_the_batch_is_rejected(world: World) -> None:
    """The bank may hold the approved batch's upload already: the reversal is refused, nothing is posted and the
    export still pays the line; rejecting the batch lets the reversal through."""
    shopper = world.add_shopper()
    order = credited_order(world, shopper)
    batch = _prepared(world)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)

    with pytest.raises(RewardNoLongerHeld, match=f"approved payout batch {batch.id} is to pay it") as refused:
        _reversed(world, order)
    assert isinstance(refused.value.__cause__, PromisedToPayout)
    with world.rewards() as uow:
        assert uow.repos.ledger.shopper_accounts(shopper.id)[AccountKind.CASH_PAYABLE].held_cents == 500
        assert str(shopper.id) in export_payout_batch_csv(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        reject_payout_batch(
            uow,
            batch_id=batch.id,
            actor_id=FINANCE_B,
            reason="reward disputed; bank file withdrawn",
            now=NOW,
            bank_file_withdrawn=True,
        )

    _reversed(world, order)
    with world.rewards() as uow:
        assert uow.repos.ledger.shopper_accounts(shopper.id)[AccountKind.CASH_PAYABLE].held_cents == 0


def test_an_approved_batch_still_pays_the_money_it_promised(world: World) -> None:
    shopper = world.add_shopper()
    credited_order(world, shopper)
    batch = _prepared(world)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key=str(uuid4()))
    assert paid.paid_cents == 500
    with world.rewards() as uow:
        assert uow.repos.ledger.shopper_accounts(shopper.id)[AccountKind.CASH_PAYABLE].held_cents == 0


def test_the_bank_file_the_batch_and_the_ledger_move_the_same_cents(world: World) -> None:
    """Three shoppers, one of them held: the CSV's amounts add up to the batch's payable total, to what paying
    reports, and to what left the shoppers' cash accounts; the held shopper keeps their money."""
    shoppers = [world.add_shopper() for _ in range(3)]
    for index, shopper in enumerate(shoppers):
        for _ in range(index + 1):
            credited_order(world, shopper)
    batch = _prepared(world)
    held = next(line for line in batch.lines if line.shopper_id == shoppers[0].id)
    with world.rewards() as uow:
        hold_payout_line(uow, batch_id=batch.id, line_id=held.id, reason="checking", actor_id=FINANCE_A, now=NOW)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)

    def cash() -> dict[object, int]:
        with world.rewards() as uow:
            return {
                s.id: uow.repos.ledger.shopper_accounts(s.id)[AccountKind.CASH_PAYABLE].held_cents for s in shoppers
            }

    before = cash()
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key=str(uuid4()))
    with world.rewards() as uow:
        text = export_payout_batch_csv(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW)
        payable = uow.repos.payouts.get(batch.id).payable_cents
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    moved = sum(before.values()) - sum(cash().values())
    assert sum(int(row["amount_cents"]) for row in rows) == payable == paid.paid_cents == moved == 500 * (2 + 3)
    assert sum(Decimal(row["amount"]) for row in rows) == Decimal(moved) / 100
    assert cash()[shoppers[0].id] == before[shoppers[0].id] == 500
