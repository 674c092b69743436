"""Rewards use cases, on PostgreSQL and in memory alike: credit with the delivery, idempotency, caps,
referrals, reversals, tiers, payouts with four eyes, CSV, reconciliation and the audit log."""

from __future__ import annotations

import csv
import io
import threading
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID, uuid4

import pytest

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import IdempotencyKeyReused
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.errors import IllegalTransition
from dispatch.incidents import Incident, IncidentKind
from dispatch.model import LocationSample, OrderStatus, TrustTier
from rewards.anomalies import FlagCode
from rewards.ledger import AccountKind, AlreadyReversed, InsufficientBalance, TransactionKind
from rewards.payouts import BatchChanged, BatchStatus, FourEyesViolation, HoldPlacedByAnother, PayoutBatch
from rewards.policy import EarningsSoFar, PaymentMethod, PolicyStatus, PolicySuperseded, RewardInputs, RewardPolicy
from rewards.pricing import compute_reward
from rewards.reconciliation import DiscrepancyKind
from rewards.records import AlreadyReferred, AlreadyRewarded, NoPolicyInForce, NothingToPay, RewardNotDue
from rewards.services import (
    RewardCredit,
    approve_payout_batch,
    create_reward_policy,
    credit_delivery_reward,
    decide_reward_policy,
    export_payout_batch_csv,
    hold_payout_line,
    pay_payout_batch,
    payout_batch,
    payout_batches,
    prepare_payout_batch,
    quote_delivery_reward,
    reconciliation_report,
    redeem_store_credit,
    register_referral,
    reject_payout_batch,
    release_payout_line,
    reverse_delivery_reward,
    review_trust_tier,
    reward_policy_in_force,
    shopper_balances,
    shopper_ledger,
)
from routing.geo import GeoPoint
from tests.rewards.conftest import (
    APPROVER,
    FINANCE_A,
    FINANCE_B,
    NOW,
    OPS,
    PLAIN_PARAMETERS,
    World,
    inputs,
    publish_policy,
)

PERIOD = (NOW - timedelta(days=7), NOW + timedelta(days=1))


def credit(
    world: World,
    order_id: UUID,
    shopper_id: UUID,
    key: str | None = None,
    *,
    reward_inputs: RewardInputs | None = None,
    delivered_at: datetime = NOW,
    policy_version: int | None = None,
) -> RewardCredit:
    """Credits a delivered order in a transaction of its own."""
    with world.dispatch() as uow:
        result = credit_delivery_reward(
            world.repos_within(uow),
            order_id=order_id,
            shopper_id=shopper_id,
            inputs=reward_inputs or inputs(),
            delivered_at=delivered_at,
            idempotency_key=key or f"reward-{order_id}",
            policy_version=policy_version,
        )
        uow.commit()
    return result


def balances(world: World, shopper_id: UUID) -> tuple[int, int]:
    with world.rewards() as uow:
        found = shopper_balances(uow, shopper_id=shopper_id)
    return found.store_credit_cents, found.cash_payable_cents


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


def test_a_new_policy_version_leaves_the_old_one_usable(world: World, policy: RewardPolicy) -> None:
    """Ops publish v2; a reward quoted under v1 is still credited under v1, a new one under v2."""
    v2 = publish_policy(world.rewards(), PLAIN_PARAMETERS | {"base_cents": 1_000}, now=NOW - timedelta(days=1))
    assert v2.version == 2
    shopper = world.add_shopper()
    under_v1 = credit(world, world.order().id, shopper.id, policy_version=1)
    under_v2 = credit(world, world.order().id, shopper.id)
    assert (under_v1.policy_version, under_v1.amount_cents) == (1, 500)
    assert (under_v2.policy_version, under_v2.amount_cents) == (2, 1_200)
    with world.rewards() as uow:
        assert [p.version for p in uow.repos.policies.every_version()] == [1, 2]
        assert uow.repos.policies.get_version(1) == policy
        audit = uow.repos.audit.for_subject("reward_policy", v2.id)
    assert [(entry.actor_id, entry.action) for entry in audit] == [
        (OPS, "policy.proposed"),
        (APPROVER, "policy.approved"),
    ]


def test_an_older_proposal_is_not_approved_after_a_newer_version(world: World, policy: RewardPolicy) -> None:
    """v2 and v3 are proposed, v3 approved: approving v2 is refused naming v3 as in force, v2 stays proposed and
    v3 stays in force; v2 can still be rejected."""
    with world.rewards() as uow:
        v2 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 400}, actor_id=OPS, now=NOW)
    with world.rewards() as uow:
        v3 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 500}, actor_id=OPS, now=NOW)
    later = NOW + timedelta(minutes=1)
    with world.rewards() as uow:
        decide_reward_policy(uow, version=v3.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=later)
    with world.rewards() as uow, pytest.raises(PolicySuperseded) as raised:
        decide_reward_policy(
            uow, version=v2.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=later + timedelta(minutes=1)
        )
    assert "version 3 was approved after it was proposed and is in force" in raised.value.message
    with world.rewards() as uow:
        assert uow.repos.policies.get_version(v2.version).status is PolicyStatus.PROPOSED
        in_force = reward_policy_in_force(uow, at=later + timedelta(hours=1))
        assert in_force is not None
        assert in_force.version == v3.version
        assert reward_policy_in_force(uow, at=policy.created_at - timedelta(seconds=1)) is None
    with world.rewards() as uow:
        rejected = decide_reward_policy(
            uow, version=v2.version, status=PolicyStatus.REJECTED, actor_id=APPROVER, now=later, reason="superseded"
        )
    assert rejected.status is PolicyStatus.REJECTED


def test_of_two_versions_approved_at_one_instant_the_higher_is_in_force(world: World) -> None:
    """Both storages break the tie of `in_force_at` the same way; the newest approved is the higher too."""
    publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW)
    publish_policy(world.rewards(), PLAIN_PARAMETERS | {"base_cents": 400}, now=NOW)
    with world.rewards() as uow:
        newest = uow.repos.policies.newest_approved()
        assert (uow.repos.policies.in_force_at(NOW).version, newest.version if newest else None) == (2, 2)


@pytest.mark.usefixtures("pg_policy")
def test_an_approval_waits_for_another_decision_in_progress_and_then_sees_it(pg_world: World) -> None:
    """On PostgreSQL two approvals cannot both see no newer version: while v3's approval holds its lock, v2's
    waits; once v3 is approved, v2 is refused."""
    world = pg_world
    with world.rewards() as uow:
        v2 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 400}, actor_id=OPS, now=NOW)
    with world.rewards() as uow:
        v3 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 500}, actor_id=OPS, now=NOW)
    outcome: list[BaseException] = []

    def approve_v2() -> None:
        try:
            with world.rewards() as uow:
                decide_reward_policy(uow, version=v2.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=NOW)
        except BaseException as error:  # told to the test below
            outcome.append(error)

    with world.rewards() as holder:
        holder.repos.policies.newest_approved(for_update=True)
        waiting = threading.Thread(target=approve_v2)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()  # waits for the decision in progress
        decide_reward_policy(holder, version=v3.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=NOW)
    waiting.join(timeout=10)
    assert [type(error) for error in outcome] == [PolicySuperseded]
    with world.rewards() as uow:
        assert uow.repos.policies.get_version(v2.version).status is PolicyStatus.PROPOSED


def test_bad_policy_parameters_are_refused(world: World) -> None:
    """Ops' typo is an InvalidInput naming the parameter, and no version is created."""
    with world.rewards() as uow, pytest.raises(InvalidInput) as raised:
        create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": "a lot"}, actor_id=OPS, now=NOW)
    assert raised.value.field == "base_cents"
    with world.rewards() as uow, pytest.raises(InvalidInput) as raised:
        create_reward_policy(uow, parameters={"base_cents": 100}, actor_id=OPS, now=NOW)
    assert raised.value.field == "per_extra_km_cents"
    with world.rewards() as uow:
        assert uow.repos.policies.every_version() == []


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
        exported = export_payout_batch_csv(uow, batch_id=batch.id)
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
