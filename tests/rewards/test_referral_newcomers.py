"""A referral is for a shopper who has not delivered yet: a delivery recorded without a reward (no policy was in
force) counts as delivered, so a referral registered after it is refused, and crediting that delivery later pays
no referral bonus for it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crowdship.errors import InvalidInput
from rewards.services import credit_unrewarded_delivery, register_referral, shopper_referral
from tests.rewards.conftest import FINANCE_A, NOW, OPS, PLAIN_PARAMETERS, World, publish_policy


def test_a_shopper_whose_delivery_went_unrewarded_is_no_longer_new_to_be_referred(world: World) -> None:
    referrer, shopper = world.add_shopper(), world.add_shopper()
    order = world.order(proof_by=shopper)  # delivered while no policy was in force: no reward
    with world.rewards() as uow, pytest.raises(InvalidInput, match="already delivered") as refused:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=shopper.id, actor_id=OPS, now=NOW)
    assert refused.value.field == "referred_shopper_id"
    with world.rewards() as uow:
        assert shopper_referral(uow, shopper_id=shopper.id) is None
    policy = publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW + timedelta(hours=1))
    late = credit_unrewarded_delivery(
        world.dispatch,
        world.repos_within,
        order_id=order.id,
        actor_id=FINANCE_A,
        now=NOW + timedelta(days=1),
        idempotency_key="late",
        policy_version=policy.version,
    )
    assert (late.credit.referrer_shopper_id, late.credit.referral_commission_cents) == (None, 0)
