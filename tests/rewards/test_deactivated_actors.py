"""A deactivated staff account moves no money, even with a request already past the API's token check: each
money use case locks its actor's account to share and refuses it when deactivated, so that a deactivation
either comes first (the request is refused, 403) or waits for the request to end (it happened before)."""

from __future__ import annotations

import threading
import time
from uuid import uuid4

import pytest

from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.errors import Forbidden
from dispatch.model import Order, Shopper
from rewards.payouts import BatchStatus, PayoutBatch
from rewards.policy_versions import PolicyStatus
from rewards.services import (
    approve_payout_batch,
    create_reward_policy,
    decide_reward_policy,
    pay_payout_batch,
    prepare_payout_batch,
    redeem_store_credit,
    reject_payout_batch,
    reverse_delivery_reward,
)
from tests.rewards.conftest import FINANCE_A, NOW, PERIOD, PLAIN_PARAMETERS, World, credit
from tests.rewards.ledger_checks import check_ledger_invariants


def _account(world: World, role: Role, *, active: bool = True) -> User:
    user = User(email=f"{uuid4()}@example.com", password_hash="x", role=role, created_at=NOW, active=active)
    with world.dispatch() as uow:
        uow.users.add(user)
        uow.commit()
    return user


def _deactivate(world: World, user: User) -> None:
    with world.dispatch() as uow:
        found = uow.users.get(user.id, for_update=True)
        found.active = False
        uow.users.save(found)
        uow.commit()


def _credited(world: World, shopper: Shopper) -> Order:
    order = world.order(proof_by=shopper)
    credit(world, order.id, shopper.id)
    return order


def _prepared(world: World, shopper: Shopper) -> PayoutBatch:
    _credited(world, shopper)
    with world.rewards() as uow:
        return prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key="p"
        ).batch


def _status(world: World, batch: PayoutBatch) -> BatchStatus:
    with world.rewards() as uow:
        return uow.repos.payouts.get(batch.id).status


@pytest.mark.usefixtures("policy")
def test_a_deactivated_finance_account_can_neither_prepare_approve_reject_nor_pay(world: World) -> None:
    gone = _account(world, Role.FINANCE, active=False)
    _credited(world, world.add_shopper())
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=gone.id, now=NOW, idempotency_key="k"
        )
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow, period_start=PERIOD[0], period_end=PERIOD[1], actor_id=FINANCE_A, now=NOW, idempotency_key="k"
        ).batch
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        approve_payout_batch(uow, batch_id=batch.id, actor_id=gone.id, now=NOW)
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        reject_payout_batch(uow, batch_id=batch.id, actor_id=gone.id, now=NOW, reason="no")
    assert _status(world, batch) is BatchStatus.DRAFT
    approver = _account(world, Role.FINANCE)
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=approver.id, now=NOW)
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        pay_payout_batch(uow, batch_id=batch.id, actor_id=gone.id, now=NOW, idempotency_key="pay")
    assert _status(world, batch) is BatchStatus.APPROVED


@pytest.mark.usefixtures("policy")
def test_a_deactivated_account_can_neither_reverse_a_reward_nor_take_store_credit(world: World) -> None:
    gone = _account(world, Role.FINANCE, active=False)
    shopper = world.add_shopper()
    order = _credited(world, shopper)
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        reverse_delivery_reward(uow, order_id=order.id, actor_id=gone.id, reason="x", now=NOW, idempotency_key="r")
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        redeem_store_credit(
            uow, shopper_id=shopper.id, amount_cents=Cents(1), now=NOW, idempotency_key="s", actor_id=gone.id
        )


def test_a_deactivated_account_can_neither_propose_nor_decide_a_policy(world: World) -> None:
    gone = _account(world, Role.OPS, active=False)
    author = _account(world, Role.OPS)
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=gone.id, now=NOW)
    with world.rewards() as uow:
        proposed = create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=author.id, now=NOW)
    with world.rewards() as uow, pytest.raises(Forbidden, match="deactivated"):
        decide_reward_policy(uow, version=proposed.version, status=PolicyStatus.APPROVED, actor_id=gone.id, now=NOW)


@pytest.mark.usefixtures("pg_policy")
def test_an_approval_in_flight_when_its_approver_is_deactivated_is_refused(pg_world: World) -> None:
    """The deactivation holds the account (as `accounts.set_active` does) while the approval, already past the
    token check, starts: the approval waits for it, then sees the account deactivated."""
    world = pg_world
    approver = _account(world, Role.FINANCE)
    batch = _prepared(world, world.add_shopper())
    outcome: list[object] = []

    def approve() -> None:
        try:
            with world.rewards() as uow:
                outcome.append(approve_payout_batch(uow, batch_id=batch.id, actor_id=approver.id, now=NOW))
        except Exception as error:
            outcome.append(error)

    with world.dispatch() as uow:
        held = uow.users.get(approver.id, for_update=True)
        thread = threading.Thread(target=approve)
        thread.start()
        time.sleep(0.5)
        held.active = False
        uow.users.save(held)
        uow.commit()
    thread.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], Forbidden), outcome
    assert _status(world, batch) is BatchStatus.DRAFT
    check_ledger_invariants(world.database)


def test_an_actor_without_an_account_is_let_through(world: World) -> None:
    """The simulator's and the system's actors have no account: nothing to lock, nothing refused."""
    with world.rewards() as uow:
        proposed = create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=uuid4(), now=NOW)
    assert proposed.version >= 1
