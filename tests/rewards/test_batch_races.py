"""Races around a payout batch on the real database, threads started together: a reversal against approving,
paying and rejecting the batch; approving against rejecting; paying against rejecting; two preparers at once; a
credit against a reversal of the same order; store credit spent against its reversal. Whatever wins, the books
stay right (each transaction sums to zero, no shopper balance is negative, reconciliation agrees), and no
approved batch is to pay money the ledger no longer owes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest

from crowdship.units import Cents
from dispatch.errors import IllegalTransition
from dispatch.model import Order, Shopper
from rewards.ledger import AccountKind, InsufficientBalance, PromisedToPayout
from rewards.payouts import BatchStatus, PayoutBatch
from rewards.policy import PaymentMethod
from rewards.records import AlreadyRewarded, NothingToPay, RewardNoLongerHeld, ShopperAlreadyInOpenBatch
from rewards.services import (
    LateCredit,
    Reversals,
    approve_payout_batch,
    credit_unrewarded_delivery,
    pay_payout_batch,
    prepare_payout_batch,
    reconciliation_report,
    redeem_store_credit,
    register_referral,
    reject_payout_batch,
    reverse_delivery_reward,
)
from tests.rewards.conftest import FINANCE_A, FINANCE_B, NOW, PERIOD, World, credited_order
from tests.rewards.ledger_checks import check_ledger_invariants, shopper_balances
from tests.rewards.test_ledger_races import race

ROUNDS = 4
OPS = UUID("00000000-0000-4000-8000-0000000000a1")


def _prepared(world: World, by: UUID = FINANCE_A) -> PayoutBatch:
    with world.rewards() as uow:
        return prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=by, now=NOW, idempotency_key=str(uuid4())
        ).batch


def _approved(world: World) -> PayoutBatch:
    batch = _prepared(world)
    with world.rewards() as uow:
        return approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)


def _reverse(world: World, order: Order) -> Callable[[], Reversals]:
    def run() -> Reversals:
        with world.rewards() as uow:
            return reverse_delivery_reward(
                uow, order_id=order.id, actor_id=FINANCE_A, reason="disputed", now=NOW, idempotency_key=str(uuid4())
            )

    return run


def _status(world: World, batch: PayoutBatch) -> BatchStatus:
    with world.rewards() as uow:
        return uow.repos.payouts.get(batch.id).status


def _books_agree(world: World) -> None:
    check_ledger_invariants(world.database)
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    assert report.agrees, report.discrepancies


def _both(*work: Callable[[], Any]) -> list[Any]:
    return race(len(work), lambda index: work[index]())


@pytest.mark.usefixtures("pg_policy")
def test_a_reversal_and_an_approval_at_once_never_leave_an_approved_batch_paying_what_was_reversed(
    pg_world: World,
) -> None:
    world = pg_world
    for _ in range(ROUNDS):
        shopper = world.add_shopper()
        order = credited_order(world, shopper)
        batch = _prepared(world)

        def approve(batch: PayoutBatch = batch) -> PayoutBatch:
            with world.rewards() as uow:
                return approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)

        reversed_, approved = _both(_reverse(world, order), approve)
        if isinstance(reversed_, Reversals):
            assert isinstance(approved, InsufficientBalance), approved
            assert _status(world, batch) is BatchStatus.DRAFT
        else:
            assert isinstance(reversed_, RewardNoLongerHeld), reversed_
            assert isinstance(reversed_.__cause__, PromisedToPayout)
            assert isinstance(approved, PayoutBatch)
        with world.rewards() as uow:
            reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="round over", now=NOW)
        _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_a_reversal_and_a_payment_of_an_approved_batch_at_once_pay_and_refuse_the_reversal(pg_world: World) -> None:
    world = pg_world
    for _ in range(ROUNDS):
        shopper = world.add_shopper()
        order = credited_order(world, shopper)
        batch = _approved(world)

        def pay(batch: PayoutBatch = batch, key: str = f"pay-{uuid4()}") -> Any:
            with world.rewards() as uow:
                return pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW, idempotency_key=key)

        reversed_, paid = _both(_reverse(world, order), pay)
        assert isinstance(reversed_, RewardNoLongerHeld), reversed_
        assert not isinstance(paid, Exception), paid
        assert paid.paid_cents == 500
        assert shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.CASH_PAYABLE)] == 0
        _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_a_reversal_and_a_rejection_of_an_approved_batch_at_once_reverse_only_after_the_rejection(
    pg_world: World,
) -> None:
    world = pg_world
    for _ in range(ROUNDS):
        shopper = world.add_shopper()
        order = credited_order(world, shopper)
        batch = _approved(world)

        def reject(batch: PayoutBatch = batch) -> PayoutBatch:
            with world.rewards() as uow:
                return reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="wrong", now=NOW)

        reversed_, rejected = _both(_reverse(world, order), reject)
        assert isinstance(rejected, PayoutBatch), rejected
        assert isinstance(reversed_, Reversals | RewardNoLongerHeld), reversed_
        held = shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.CASH_PAYABLE)]
        assert held == (0 if isinstance(reversed_, Reversals) else 500)
        _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_approving_rejecting_and_paying_one_batch_at_once_leave_it_in_one_state(pg_world: World) -> None:
    world = pg_world
    for _ in range(ROUNDS):
        shopper = world.add_shopper()
        credited_order(world, shopper)
        batch = _prepared(world)

        def approve(batch: PayoutBatch = batch) -> Any:
            with world.rewards() as uow:
                return approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)

        def reject(batch: PayoutBatch = batch) -> Any:
            with world.rewards() as uow:
                return reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="no", now=NOW)

        def pay(batch: PayoutBatch = batch, key: str = f"pay-{uuid4()}") -> Any:
            with world.rewards() as uow:
                return pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW, idempotency_key=key)

        outcomes = _both(approve, reject, pay, pay)
        assert all(not isinstance(o, Exception) or isinstance(o, IllegalTransition) for o in outcomes), outcomes
        status = _status(world, batch)
        paid = shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.CASH_PAYABLE)] == 0
        assert paid == (status is BatchStatus.PAID)
        if status is BatchStatus.APPROVED:
            with world.rewards() as uow:
                reject_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, reason="round over", now=NOW)
        elif status is BatchStatus.DRAFT:
            pytest.fail(f"nothing happened to the batch: {outcomes}")
        if not paid:  # pay the shopper out, so that the next round's batch is theirs alone
            paying = _approved(world)
            with world.rewards() as uow:
                pay_payout_batch(uow, batch_id=paying.id, actor_id=FINANCE_A, now=NOW, idempotency_key=str(uuid4()))
        _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_two_finance_users_preparing_at_once_put_each_shopper_in_one_batch(pg_world: World) -> None:
    world = pg_world
    shoppers = [world.add_shopper() for _ in range(3)]
    for shopper in shoppers:
        credited_order(world, shopper)
    outcomes = _both(lambda: _prepared(world, FINANCE_A), lambda: _prepared(world, FINANCE_B))
    batches = [o for o in outcomes if isinstance(o, PayoutBatch)]
    assert len(batches) == 1, outcomes
    # The other is refused: while the first is being written (its lines collide), or, when the threads were
    # not scheduled side by side and the first had committed before the other looked, with nothing left to pay.
    assert all(isinstance(o, PayoutBatch | ShopperAlreadyInOpenBatch | NothingToPay) for o in outcomes), outcomes
    assert {line.shopper_id for line in batches[0].lines} == {s.id for s in shoppers}
    _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_store_credit_spent_while_its_reward_is_reversed_is_taken_once(pg_world: World) -> None:
    world = pg_world
    for _ in range(ROUNDS):
        shopper = world.add_shopper()
        order = credited_order(world, shopper, method=PaymentMethod.STORE_CREDIT)
        held = shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.STORE_CREDIT)]

        def spend(shopper: Shopper = shopper, held: int = held) -> Any:
            with world.rewards() as uow:
                return redeem_store_credit(
                    uow, shopper_id=shopper.id, amount_cents=Cents(held), now=NOW, idempotency_key=str(uuid4())
                )

        spent, reversed_ = _both(spend, _reverse(world, order))
        assert isinstance(spent, InsufficientBalance) != isinstance(reversed_, InsufficientBalance), (spent, reversed_)
        assert shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.STORE_CREDIT)] == 0
        _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_a_referral_bonus_an_approved_batch_is_to_pay_is_not_reversed_with_the_reward(pg_world: World) -> None:
    """The referrer's bonus is in an approved batch: reversing the newcomer's reward (which takes the bonus back
    too) is refused as a whole, naming the referrer, and the batch pays the bonus."""
    world = pg_world
    referrer, newcomer = world.add_shopper(), world.add_shopper()
    with world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    credited_order(world, referrer)
    order = credited_order(world, newcomer, method=PaymentMethod.STORE_CREDIT)
    batch = _approved(world)
    assert [line.amount_cents for line in batch.lines] == [550]
    refusal = f"batch {batch.id} is to pay the referrer the referral bonus"
    with pytest.raises(RewardNoLongerHeld, match=refusal) as refused:
        _reverse(world, order)()
    assert isinstance(refused.value.__cause__, PromisedToPayout)
    assert shopper_balances(world.database, [newcomer.id])[(newcomer.id, AccountKind.STORE_CREDIT)] == 600
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW, idempotency_key="pay")
    assert paid.paid_cents == 550
    _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_two_finance_users_crediting_one_unrewarded_delivery_at_once_credit_it_once(pg_world: World) -> None:
    """The same key too: keys are each caller's own, so the order's one reward is what refuses the second."""
    world = pg_world
    for shared in (False, True):
        shopper = world.add_shopper()
        order = world.order(proof_by=shopper)

        def late(who: UUID, order: Order = order, shared: bool = shared) -> LateCredit:
            return credit_unrewarded_delivery(
                world.dispatch,
                world.repos_within,
                order_id=order.id,
                actor_id=who,
                now=NOW,
                idempotency_key="same-key" if shared else f"late-{who}",
                policy_version=1,
            )

        outcomes = _both(lambda: late(FINANCE_A), lambda: late(FINANCE_B), lambda: late(FINANCE_A))
        credits = [o for o in outcomes if isinstance(o, LateCredit) and not o.replayed]
        assert len(credits) == 1, outcomes
        assert all(isinstance(o, LateCredit | AlreadyRewarded) for o in outcomes), outcomes
        held = shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.CASH_PAYABLE)]
        assert held == credits[0].credit.amount_cents > 0
        _books_agree(world)


@pytest.mark.usefixtures("pg_policy")
def test_money_earned_after_the_approval_is_the_shoppers_to_lose_and_the_batch_pays_its_line(pg_world: World) -> None:
    """After approval the shopper earns as much again; both rewards reversed at once: the batch promised an
    amount, not a reward, so whichever comes first is let through and the other is refused, and the batch pays
    its line, not the balance."""
    world = pg_world
    shopper = world.add_shopper()
    first = credited_order(world, shopper)
    batch = _approved(world)
    later = credited_order(world, shopper)
    outcomes = _both(_reverse(world, later), _reverse(world, first))
    assert sum(isinstance(o, Reversals) for o in outcomes) == 1, outcomes
    (refused,) = [o for o in outcomes if not isinstance(o, Reversals)]
    assert isinstance(refused, RewardNoLongerHeld), refused
    assert isinstance(refused.__cause__, PromisedToPayout)
    with world.rewards() as uow:
        paid = pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_A, now=NOW, idempotency_key="pay")
    assert paid.paid_cents == 500
    assert shopper_balances(world.database, [shopper.id])[(shopper.id, AccountKind.CASH_PAYABLE)] == 0
    _books_agree(world)
