"""Referrals registered while money moves, on the real database, threads started together: two shoppers named
each other's referrer at once, and a referral registered as the newcomer's first reward is credited. A referral
pays its referrer a share of the newcomer's first deliveries, so a registration that slips past its checks is
money paid for nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from dispatch.model import Order, Shopper
from rewards.services import credit_delivery_reward, reconciliation_report, register_referral
from tests.rewards.conftest import NOW, World, inputs
from tests.rewards.ledger_checks import check_ledger_invariants
from tests.rewards.test_ledger_races import race

ROUNDS = 4
OPS = UUID("00000000-0000-4000-8000-0000000000a1")


def _both(*work: Callable[[], Any]) -> list[Any]:
    return race(len(work), lambda index: work[index]())


def _books_agree(world: World) -> None:
    check_ledger_invariants(world.database)
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    assert report.agrees, report.discrepancies


def _refer(world: World, referrer: Shopper, referred: Shopper) -> Callable[[], Any]:
    def run() -> Any:
        with world.rewards() as uow:
            return register_referral(
                uow, referrer_shopper_id=referrer.id, referred_shopper_id=referred.id, actor_id=OPS, now=NOW
            )

    return run


@pytest.mark.usefixtures("pg_policy")
def test_two_shoppers_registered_as_each_others_referrer_at_once_are_refused_once(pg_world: World) -> None:
    """Each would earn a share of the other's rewards: one registration stands, the other is refused."""
    world = pg_world
    for _ in range(ROUNDS):
        one, two = world.add_shopper(), world.add_shopper()
        outcomes = _both(_refer(world, one, two), _refer(world, two, one))
        assert sum(isinstance(o, Exception) for o in outcomes) == 1, outcomes
        with world.database.connection() as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM referrals WHERE referred_shopper_id = ANY(%s)", ([one.id, two.id],)
            ).fetchone() or (0,)
        assert count == 1


@pytest.mark.usefixtures("pg_policy")
def test_a_referral_registered_while_the_first_delivery_is_credited_never_follows_that_delivery(
    pg_world: World,
) -> None:
    """Referrals are for shoppers who have not delivered: registered as the first reward is credited, either the
    referral comes first (and the reward pays its bonus) or it is refused."""
    world = pg_world
    for _ in range(ROUNDS):
        referrer, newcomer = world.add_shopper(), world.add_shopper()
        order = world.order(proof_by=newcomer)

        def deliver(order: Order = order, newcomer: Shopper = newcomer) -> Any:
            with world.dispatch() as uow:
                credited = credit_delivery_reward(
                    world.repos_within(uow),
                    order_id=order.id,
                    shopper_id=newcomer.id,
                    inputs=inputs(),
                    delivered_at=NOW,
                    idempotency_key=f"reward-{order.id}",
                )
                uow.commit()
            return credited

        referred, credited = _both(_refer(world, referrer, newcomer), deliver)
        assert not isinstance(credited, Exception), credited
        if not isinstance(referred, Exception):
            assert credited.referrer_shopper_id == referrer.id, "the referral was registered after the delivery"
        _books_agree(world)
