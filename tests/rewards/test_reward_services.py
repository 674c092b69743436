"""Rewards use cases, on PostgreSQL and in memory alike: credit with the delivery, idempotency, caps,
referrals, reversals, store credit at the till, tiers and a shopper's statement."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import IdempotencyKeyReused
from crowdship.units import Cents
from dispatch.incidents import Incident, IncidentKind
from dispatch.model import OrderStatus, TrustTier
from rewards.ledger import AlreadyReversed, InsufficientBalance
from rewards.policy import EarningsSoFar, PaymentMethod
from rewards.policy_versions import RewardPolicy
from rewards.pricing import compute_reward
from rewards.records import AlreadyReferred, AlreadyRewarded, NoPolicyInForce, RewardNotDue
from rewards.services import (
    credit_delivery_reward,
    quote_delivery_reward,
    reconciliation_report,
    redeem_store_credit,
    register_referral,
    reverse_delivery_reward,
    review_trust_tier,
    shopper_ledger,
)
from tests.rewards.conftest import (
    NOW,
    OPS,
    PLAIN_PARAMETERS,
    World,
    balances,
    credit,
    inputs,
    publish_policy,
)

# --------------------------------------------------------------------------------------------------
# Credit with the delivery


def test_reward_is_credited_in_the_same_transaction_as_the_delivery(world: World, policy: RewardPolicy) -> None:
    """Deliver and credit on one connection, commit once: both are kept, and the credit equals the quote."""
    shopper = world.add_shopper()
    order = world.order(status=OrderStatus.PICKED_UP)
    with world.dispatch() as uow:
        quote = quote_delivery_reward(world.repos_within(uow), shopper_id=shopper.id, inputs=inputs(), at=NOW)
        loaded = uow.orders.get(order.id, for_update=True)
        loaded.deliver()
        uow.orders.save(loaded, at=NOW)
        result = credit_delivery_reward(
            world.repos_within(uow),
            order_id=order.id,
            shopper_id=shopper.id,
            inputs=inputs(),
            delivered_at=NOW,
            idempotency_key="deliver-1",
        )
        uow.commit()
    expected = compute_reward(policy, inputs(), EarningsSoFar()).amount_cents
    assert result.amount_cents == quote.amount_cents == expected
    assert result.policy_version == 1
    with world.dispatch() as uow:
        assert uow.orders.get(order.id).status is OrderStatus.DELIVERED
    assert balances(world, shopper.id) == (0, expected)
    with world.rewards() as uow:
        stored = uow.repos.rewards.for_order(order.id)
    assert stored is not None
    assert stored.inputs == inputs()
    assert stored.policy_version == 1
    assert sum(component.cents for component in stored.breakdown) == expected


@pytest.mark.usefixtures("policy")
def test_rolling_back_the_delivery_rolls_back_the_reward(world: World) -> None:
    """Without the commit neither the delivered state nor the reward, its ledger rows or its key remain."""
    shopper = world.add_shopper()
    order = world.order(status=OrderStatus.PICKED_UP)
    with world.dispatch() as uow:
        loaded = uow.orders.get(order.id, for_update=True)
        loaded.deliver()
        uow.orders.save(loaded, at=NOW)
        credit_delivery_reward(
            world.repos_within(uow),
            order_id=order.id,
            shopper_id=shopper.id,
            inputs=inputs(),
            delivered_at=NOW,
            idempotency_key="deliver-1",
        )
        # Leaving without commit(): the unit of work rolls back.
    with world.dispatch() as uow:
        assert uow.orders.get(order.id).status is OrderStatus.PICKED_UP
    with world.rewards() as uow:
        assert uow.repos.rewards.for_order(order.id) is None
        assert uow.repos.idempotency.claim("credit_delivery_reward", "deliver-1", "another request") is None
        assert shopper_ledger(uow, shopper_id=shopper.id).total == 0


@pytest.mark.usefixtures("policy")
def test_an_order_not_yet_delivered_earns_nothing(world: World) -> None:
    """Rewards are credited on delivery only."""
    shopper = world.add_shopper()
    order = world.order(status=OrderStatus.PICKED_UP)
    with pytest.raises(RewardNotDue):
        credit(world, order.id, shopper.id)
    with pytest.raises(NotFound):
        credit(world, uuid4(), shopper.id)


@pytest.mark.usefixtures("policy")
def test_a_retry_returns_the_first_result_and_pays_once(world: World) -> None:
    """The same key and request, twice: one reward, one ledger transaction, the same answer."""
    shopper = world.add_shopper()
    order = world.order()
    first = credit(world, order.id, shopper.id, key="k-1")
    second = credit(world, order.id, shopper.id, key="k-1")
    assert first == second
    assert balances(world, shopper.id)[1] == first.amount_cents
    with world.rewards() as uow:
        assert shopper_ledger(uow, shopper_id=shopper.id).total == 1


@pytest.mark.usefixtures("policy")
def test_a_key_reused_for_a_different_request_is_refused(world: World) -> None:
    """Same key, other order: IdempotencyKeyReused, kind conflict, nothing paid for the second."""
    shopper = world.add_shopper()
    first, other = world.order(), world.order()
    credit(world, first.id, shopper.id, key="k-1")
    with pytest.raises(IdempotencyKeyReused) as raised:
        credit(world, other.id, shopper.id, key="k-1")
    assert raised.value.kind == "conflict"
    with pytest.raises(IdempotencyKeyReused):
        credit(world, first.id, shopper.id, key="k-1", reward_inputs=inputs(bags=3))
    with world.rewards() as uow:
        assert uow.repos.rewards.for_order(other.id) is None


@pytest.mark.usefixtures("policy")
def test_an_order_is_rewarded_once_whatever_the_key(world: World) -> None:
    """A second key for the same order is AlreadyRewarded."""
    shopper = world.add_shopper()
    order = world.order()
    credit(world, order.id, shopper.id, key="k-1")
    with pytest.raises(AlreadyRewarded):
        credit(world, order.id, shopper.id, key="k-2")


@pytest.mark.usefixtures("policy")
def test_the_daily_cap_counts_the_rewards_already_credited(world: World) -> None:
    """4 900 ¢ then a 4 900 ¢ delivery under a 5 000 ¢ daily cap: the second pays 100 ¢; the next day is new."""
    shopper = world.add_shopper()
    big = inputs(distance_m=90_000, duration_s=300, bags=2)  # 300 + 4 500 + 50 + 50 = 4 900 ¢
    first = credit(world, world.order().id, shopper.id, reward_inputs=big)
    second = credit(world, world.order().id, shopper.id, reward_inputs=big, delivered_at=NOW + timedelta(hours=1))
    third = credit(world, world.order().id, shopper.id, reward_inputs=big, delivered_at=NOW + timedelta(hours=2))
    next_day = credit(world, world.order().id, shopper.id, reward_inputs=big, delivered_at=NOW + timedelta(days=1))
    assert [first.amount_cents, second.amount_cents, third.amount_cents, next_day.amount_cents] == [
        4_900,
        100,
        0,
        4_900,
    ]
    assert third.transaction_id is None
    assert balances(world, shopper.id)[1] == 9_900


@pytest.mark.usefixtures("policy")
def test_store_credit_is_credited_with_its_bonus_to_the_store_credit_account(world: World) -> None:
    """At x1.2, 500 ¢ of cash value becomes 600 ¢ of store credit."""
    shopper = world.add_shopper()
    result = credit(world, world.order().id, shopper.id, reward_inputs=inputs(method=PaymentMethod.STORE_CREDIT))
    assert (result.cash_value_cents, result.amount_cents) == (500, 600)
    assert balances(world, shopper.id) == (600, 0)


# --------------------------------------------------------------------------------------------------
# Referrals, reversals, redemptions


@pytest.mark.usefixtures("policy")
def test_a_referrer_earns_on_the_first_n_deliveries_of_who_they_brought(world: World) -> None:
    """10 % of each of the first two 500 ¢ rewards (50 ¢ each) goes to the referrer's cash payable."""
    referrer, newcomer = world.add_shopper(), world.add_shopper()
    with world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    results = [credit(world, world.order().id, newcomer.id) for _ in range(3)]
    assert [r.referral_commission_cents for r in results] == [50, 50, 0]
    assert balances(world, referrer.id) == (0, 100)
    assert balances(world, newcomer.id) == (0, 1_500)
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    assert report.agrees, report.discrepancies


@pytest.mark.usefixtures("policy")
def test_referrals_are_for_new_shoppers_and_only_one_referrer(world: World) -> None:
    """A shopper who already delivered cannot be referred; a referred shopper cannot be referred again."""
    veteran, referrer, newcomer = world.add_shopper(), world.add_shopper(), world.add_shopper()
    credit(world, world.order().id, veteran.id)
    with world.rewards() as uow, pytest.raises(InvalidInput):
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=veteran.id, actor_id=OPS, now=NOW)
    with world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    with world.rewards() as uow, pytest.raises(AlreadyReferred):
        register_referral(uow, referrer_shopper_id=veteran.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)


@pytest.mark.usefixtures("policy")
def test_a_disputed_delivery_is_reversed_with_its_referral_bonus_once(world: World) -> None:
    """Both transactions get a linked reversal; balances return to zero; a second reversal is refused."""
    referrer, newcomer = world.add_shopper(), world.add_shopper()
    with world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    order = world.order()
    credited = credit(world, order.id, newcomer.id)
    with world.rewards() as uow:
        reversals = reverse_delivery_reward(
            uow, order_id=order.id, actor_id=OPS, reason="recipient says not delivered", now=NOW, idempotency_key="r-1"
        )
    assert set(reversals.reversed_ids) == {credited.transaction_id, credited.referral_transaction_id}
    assert balances(world, newcomer.id) == (0, 0)
    assert balances(world, referrer.id) == (0, 0)
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    assert report.agrees, report.discrepancies
    assert report.transactions_checked == 4
    with world.rewards() as uow:
        again = reverse_delivery_reward(
            uow, order_id=order.id, actor_id=OPS, reason="recipient says not delivered", now=NOW, idempotency_key="r-1"
        )
    assert again == reversals
    with world.rewards() as uow, pytest.raises(AlreadyReversed):
        reverse_delivery_reward(uow, order_id=order.id, actor_id=OPS, reason="again", now=NOW, idempotency_key="r-2")


@pytest.mark.usefixtures("policy")
def test_a_reversal_that_would_overdraw_the_shopper_is_refused(world: World) -> None:
    """Once the reward was spent as store credit, reversing it would go negative: InsufficientBalance."""
    shopper = world.add_shopper()
    order = world.order()
    credit(world, order.id, shopper.id, reward_inputs=inputs(method=PaymentMethod.STORE_CREDIT))
    with world.rewards() as uow:
        redeem_store_credit(uow, shopper_id=shopper.id, amount_cents=Cents(550), now=NOW, idempotency_key="spend-1")
    with world.rewards() as uow, pytest.raises(InsufficientBalance):
        reverse_delivery_reward(uow, order_id=order.id, actor_id=OPS, reason="dispute", now=NOW, idempotency_key="r-1")
    assert balances(world, shopper.id) == (50, 0)


@pytest.mark.usefixtures("policy")
def test_store_credit_cannot_be_spent_beyond_the_balance(world: World) -> None:
    """600 ¢ of credit: spending 601 ¢ is refused, 600 ¢ is fine and leaves zero."""
    shopper = world.add_shopper()
    credit(world, world.order().id, shopper.id, reward_inputs=inputs(method=PaymentMethod.STORE_CREDIT))
    with world.rewards() as uow, pytest.raises(InsufficientBalance):
        redeem_store_credit(uow, shopper_id=shopper.id, amount_cents=Cents(601), now=NOW, idempotency_key="s-1")
    with world.rewards() as uow:
        redeem_store_credit(uow, shopper_id=shopper.id, amount_cents=Cents(600), now=NOW, idempotency_key="s-1")
    assert balances(world, shopper.id) == (0, 0)


# --------------------------------------------------------------------------------------------------
# Tiers


def test_a_tier_review_moves_a_good_shopper_up_and_incidents_move_them_down(world: World) -> None:
    """Twelve on-time deliveries make a new shopper bronze; two incidents afterwards make them new again."""
    shopper = world.add_shopper()
    orders = [world.order(proof_by=shopper, at=NOW - timedelta(days=day + 1)) for day in range(12)]
    with world.rewards() as uow:
        review = review_trust_tier(uow, shopper_id=shopper.id, window_start=NOW - timedelta(days=90), now=NOW)
    assert (review.before, review.after, review.record.deliveries) == (TrustTier.NEW, TrustTier.BRONZE, 12)
    with world.dispatch() as uow:
        assert uow.shoppers.get(shopper.id).trust_tier is TrustTier.BRONZE
        for order in orders[:2]:
            trip_id = uow.proofs.list_for_order(order.id)[0].trip_id
            uow.incidents.add(
                Incident(order.id, trip_id, shopper.id, IncidentKind.DAMAGE, "bags torn", NOW - timedelta(hours=1))
            )
        uow.commit()
    with world.rewards() as uow:
        review = review_trust_tier(uow, shopper_id=shopper.id, window_start=NOW - timedelta(days=90), now=NOW)
    assert (review.before, review.after, review.record.incidents) == (TrustTier.BRONZE, TrustTier.NEW, 2)
    with world.dispatch() as uow:
        assert uow.shoppers.get(shopper.id).trust_tier is TrustTier.NEW


def test_a_review_counts_an_incident_reported_at_its_own_instant(world: World) -> None:
    """A claim recorded the moment its incident is reported: the review at that instant sees the incident, and
    a silver shopper with too short a record to judge otherwise keeps what one incident allows, bronze."""
    shopper = world.add_shopper(tier=TrustTier.SILVER)
    order = world.order(proof_by=shopper, at=NOW - timedelta(hours=2))
    with world.dispatch() as uow:
        trip_id = uow.proofs.list_for_order(order.id)[0].trip_id
        uow.incidents.add(Incident(order.id, trip_id, shopper.id, IncidentKind.DAMAGE, "eggs broke", NOW))
        uow.commit()
    with world.rewards() as uow:
        review = review_trust_tier(uow, shopper_id=shopper.id, window_start=NOW - timedelta(days=90), now=NOW)
    assert (review.before, review.after, review.record.incidents) == (TrustTier.SILVER, TrustTier.BRONZE, 1)


# --------------------------------------------------------------------------------------------------
# Before any policy


def test_nothing_is_credited_before_a_policy_is_in_force(world: World) -> None:
    """Without a published policy the credit is refused with NoPolicyInForce (conflict), and so is a quote."""
    shopper = world.add_shopper()
    with pytest.raises(NoPolicyInForce) as raised:
        credit(world, world.order().id, shopper.id)
    assert raised.value.kind == "conflict"
    publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW + timedelta(hours=1))
    with pytest.raises(NoPolicyInForce):
        credit(world, world.order().id, shopper.id)  # published after the delivery: not in force at NOW
    assert credit(world, world.order().id, shopper.id, delivered_at=NOW + timedelta(hours=2)).policy_version == 1
