"""The money actions finance and the store's staff take by hand, on PostgreSQL and in memory alike: a delivery
that went without a reward credited later as the live hook would have, a disputed reward reversed (or refused
in words when the money is gone), store credit spent at the till, and who brought a shopper."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import IdempotencyKeyReused
from crowdship.units import Cents
from dispatch.errors import DeliveryNotRecorded
from dispatch.evidence import DeliveryProof
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Trip, TripStatus, TrustTier
from dispatch.services.delivery import recorded_delivery
from rewards.hooks import delivery_credit
from rewards.ledger import InsufficientBalance
from rewards.policy import PaymentMethod
from rewards.policy_versions import PolicyStatus, RewardPolicy
from rewards.reconciliation import DiscrepancyKind
from rewards.records import (
    AlreadyReferred,
    AlreadyRewarded,
    NoPolicyInForce,
    NotEnoughStoreCredit,
    RewardAlreadyReversed,
    RewardNoLongerHeld,
)
from rewards.services import (
    LateCredit,
    audit_log,
    create_reward_policy,
    credit_unrewarded_delivery,
    decide_reward_policy,
    order_reward,
    quote_unrewarded_delivery,
    reconciliation_report,
    redeem_store_credit,
    register_referral,
    reverse_delivery_reward,
    shopper_balances,
    shopper_referral,
)
from routing.geo import GeoPoint
from tests.rewards.conftest import (
    FINANCE_A,
    FINANCE_B,
    NOW,
    OPS,
    PLAIN_PARAMETERS,
    World,
    credited_order,
    pay_everyone,
    publish_policy,
)

LATER = NOW + timedelta(days=2)
"""When finance credits by hand what went without a reward."""


def offered_and_delivered(world: World, shopper: Shopper, *, bags: tuple[int, ...] = (2, 2)) -> list[Order]:
    """Orders of one accepted offer (3 001 m and 601 s extra, made 40 minutes before NOW), each delivered at
    NOW with an accepted proof, and no reward credited (as when no policy was in force)."""
    offered_at = NOW - timedelta(minutes=40)
    orders = [world.order(status=OrderStatus.DELIVERED) for _ in bags]
    trip = Trip(
        shopper_id=shopper.id,
        store_id=world.store.id,
        destination=GeoPoint(52.35, 4.91),
        capacity_bags=6,
        checked_in_at=offered_at - timedelta(minutes=5),
        leave_by=offered_at + timedelta(minutes=20),
        max_detour_m=5_000,
        status=TripStatus.COMPLETED,
    )
    offer = Offer(
        trip_id=trip.id,
        stops=tuple(order.id for order in orders),
        extra_distance_m=3_001,
        extra_duration_s=601,
        reward_quote_cents=Cents(700),
        created_at=offered_at,
        expires_at=offered_at + timedelta(minutes=2),
        status=OfferStatus.ACCEPTED,
        resolved_at=offered_at + timedelta(minutes=1),
    )
    with world.dispatch() as uow:
        uow.trips.add(trip)
        uow.offers.add(offer)
        for order in orders:
            uow.proofs.add(
                DeliveryProof(
                    order_id=order.id,
                    trip_id=trip.id,
                    position=GeoPoint(52.36, 4.90),
                    recorded_at=NOW,
                    distance_to_dropoff_m=5.0,
                    code_matched=True,
                    accepted=True,
                )
            )
        uow.commit()
    return orders


def credit_later(world: World, order_id: UUID, key: str = "late-1", version: int | None = None) -> LateCredit:
    return credit_unrewarded_delivery(
        world.dispatch,
        world.repos_within,
        order_id=order_id,
        actor_id=FINANCE_A,
        now=LATER,
        idempotency_key=key,
        policy_version=version,
    )


def approved_later(world: World) -> RewardPolicy:
    """The first policy, approved only after the deliveries."""
    return publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW + timedelta(days=1))


def balances(world: World, shopper_id: UUID) -> tuple[int, int]:
    with world.rewards() as uow:
        found = shopper_balances(uow, shopper_id=shopper_id)
    return found.store_credit_cents, found.cash_payable_cents


# --------------------------------------------------------------------------------------------------
# A delivery that went without a reward


def test_a_delivery_made_before_any_policy_is_credited_later_from_its_offer_as_the_live_hook_would(
    world: World,
) -> None:
    """Two orders of one offer delivered while no policy was in force: reconciliation reports them; crediting
    one later by the approved version pays its share of the offer's detour (1 501 m, 301 s, two bags: 475 ¢ as
    the live hook pays), earned at the delivery, moved and audited when and by whom finance did it."""
    shopper = world.add_shopper()
    first, second = offered_and_delivered(world, shopper)
    with world.rewards() as uow:
        before = reconciliation_report(uow)
    assert {(d.kind, d.subject_id) for d in before.discrepancies} == {
        (DiscrepancyKind.DELIVERED_WITHOUT_REWARD, first.id),
        (DiscrepancyKind.DELIVERED_WITHOUT_REWARD, second.id),
    }
    policy = approved_later(world)

    late = credit_later(world, first.id, version=policy.version)

    assert not late.replayed
    assert (late.credit.shopper_id, late.credit.policy_version, late.credit.amount_cents) == (shopper.id, 1, 475)
    with world.rewards() as uow:
        record = uow.repos.rewards.for_order(first.id)
        transaction = uow.repos.ledger.get_transaction(late.credit.transaction_id or uuid4())
        entries = audit_log(uow, subject_kind="order", subject_id=first.id, limit=10, offset=0).items
    assert record is not None
    assert (record.inputs.extra_distance_m, record.inputs.extra_duration_s, record.inputs.bags) == (1_501, 301, 2)
    assert record.earned_at == NOW
    assert (transaction.created_at, transaction.actor_id) == (LATER, FINANCE_A)
    assert [(e.entry.action, e.entry.actor_id, e.entry.at) for e in entries] == [("reward.credited", FINANCE_A, LATER)]
    assert entries[0].entry.details["delivered_at"] == NOW.isoformat()
    assert balances(world, shopper.id) == (0, 475)
    with world.rewards() as uow:
        after = reconciliation_report(uow)
    assert [(d.kind, d.subject_id) for d in after.discrepancies] == [
        (DiscrepancyKind.DELIVERED_WITHOUT_REWARD, second.id)
    ]


def test_a_late_credit_prices_with_the_trust_tier_the_shopper_had_when_they_delivered(world: World) -> None:
    """The delivery hook finds no policy in force and keeps the shopper's tier (gold) with the delivery; the
    shopper drops to new before finance credits it: the late credit is priced for a gold shopper, as the live
    hook would have priced it."""
    shopper = world.add_shopper(tier=TrustTier.GOLD)
    first, second = offered_and_delivered(world, shopper)
    hook = delivery_credit(world.repos_within)
    with world.dispatch() as uow:
        for order in (first, second):
            with pytest.raises(NoPolicyInForce):
                hook(uow, recorded_delivery(uow, order.id))
        uow.commit()
    with world.dispatch() as uow:
        dropped = uow.shoppers.get(shopper.id)
        dropped.trust_tier = TrustTier.NEW
        uow.shoppers.save(dropped)
        uow.commit()
    policy = approved_later(world)

    late = credit_later(world, first.id, version=policy.version)

    with world.rewards() as uow:
        record = uow.repos.rewards.for_order(first.id)
    assert record is not None
    assert record.inputs.trust_tier is TrustTier.GOLD
    quoted = quote_unrewarded_delivery(
        world.dispatch, world.repos_within, order_id=second.id, policy_version=policy.version
    )
    assert quoted.inputs is not None
    assert quoted.inputs.trust_tier is TrustTier.GOLD
    assert late.credit.amount_cents > 0


def test_a_late_credit_of_a_delivery_recorded_before_tiers_were_kept_prices_with_the_current_tier(
    world: World,
) -> None:
    """Deliveries recorded without a reward before the hook kept the tier have none to read: the shopper's
    tier of now prices them."""
    shopper = world.add_shopper(tier=TrustTier.SILVER)
    first, _ = offered_and_delivered(world, shopper)  # no hook ran: nothing kept
    with world.dispatch() as uow:
        raised = uow.shoppers.get(shopper.id)
        raised.trust_tier = TrustTier.GOLD
        uow.shoppers.save(raised)
        uow.commit()
    policy = approved_later(world)
    credit_later(world, first.id, version=policy.version)
    with world.rewards() as uow:
        record = uow.repos.rewards.for_order(first.id)
    assert record is not None
    assert record.inputs.trust_tier is TrustTier.GOLD


def test_a_late_credit_is_given_once_a_retry_replays_it_and_another_key_is_refused_as_already_rewarded(
    world: World,
) -> None:
    shopper = world.add_shopper()
    (order,) = offered_and_delivered(world, shopper, bags=(1,))
    version = approved_later(world).version
    first = credit_later(world, order.id, "late-1", version)

    again = credit_later(world, order.id, "late-1", version)
    assert again.replayed
    assert again.credit == first.credit
    with pytest.raises(AlreadyRewarded):
        credit_later(world, order.id, "late-2", version)
    with pytest.raises(IdempotencyKeyReused):
        credit_later(world, order.id, "late-1", None)  # the same key for another request
    assert balances(world, shopper.id) == (0, first.credit.amount_cents)


def test_a_late_credit_is_priced_by_an_approved_version_or_the_one_in_force_at_the_delivery(world: World) -> None:
    """None in force at the delivery and none named: NoPolicyInForce. A version that does not exist, or is only
    proposed, is refused naming `policy_version`. A version approved between the offer and the delivery (the
    live hook looked at the offer's time and found none) is the default."""
    shopper = world.add_shopper()
    first, _ = offered_and_delivered(world, shopper)
    with pytest.raises(NoPolicyInForce, match="name the approved version"):
        credit_later(world, first.id)
    with pytest.raises(InvalidInput, match="no version 7") as unknown:
        credit_later(world, first.id, "late-7", 7)
    assert unknown.value.field == "policy_version"
    with world.rewards() as uow:
        proposed = create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=OPS, now=NOW - timedelta(hours=2))
    with pytest.raises(InvalidInput, match="proposed"):
        credit_later(world, first.id, "late-proposed", proposed.version)

    with world.rewards() as uow:  # approved 10 minutes before the delivery, 30 after the offer
        decide_reward_policy(
            uow,
            version=proposed.version,
            status=PolicyStatus.APPROVED,
            actor_id=FINANCE_B,
            now=NOW - timedelta(minutes=10),
        )
    late = credit_later(world, first.id, "late-default")
    assert (late.credit.policy_version, late.credit.amount_cents) == (proposed.version, 475)


def test_the_quote_of_a_late_credit_is_what_the_credit_then_pays_and_changes_nothing(world: World) -> None:
    """Before any approved version: the delivery, nothing priced, nothing to choose. Then by the version
    approved since: the amount the credit pays afterwards, with the same inputs."""
    shopper = world.add_shopper()
    first, _ = offered_and_delivered(world, shopper)
    bare = quote_unrewarded_delivery(world.dispatch, world.repos_within, order_id=first.id)
    assert (bare.delivered.shopper_id, bare.delivered.delivered_at) == (shopper.id, NOW)
    assert (bare.policy_version, bare.amount_cents, bare.approved_versions) == (None, None, ())
    version = approved_later(world).version
    quoted = quote_unrewarded_delivery(world.dispatch, world.repos_within, order_id=first.id, policy_version=version)
    assert quoted.approved_versions == (version,)
    assert balances(world, shopper.id) == (0, 0)
    credited = credit_later(world, first.id, version=version).credit
    with world.rewards() as uow:
        record = uow.repos.rewards.for_order(first.id)
    assert record is not None
    assert (quoted.policy_version, quoted.amount_cents, quoted.inputs) == (
        version,
        credited.amount_cents,
        record.inputs,
    )
    with pytest.raises(AlreadyRewarded):
        quote_unrewarded_delivery(world.dispatch, world.repos_within, order_id=first.id)


def test_only_a_delivered_order_with_a_proof_is_credited_later(world: World) -> None:
    """An unknown order is not found; one not delivered, or delivered without an accepted proof (who delivered
    it is unknown), is refused as not recorded."""
    version = approved_later(world).version
    with pytest.raises(NotFound):
        credit_later(world, uuid4(), "late-unknown", version)
    picked_up = world.order(status=OrderStatus.PICKED_UP)
    with pytest.raises(DeliveryNotRecorded, match="picked_up, not delivered"):
        credit_later(world, picked_up.id, "late-picked", version)
    without_proof = world.order(status=OrderStatus.DELIVERED)
    with pytest.raises(DeliveryNotRecorded, match="no accepted proof"):
        credit_later(world, without_proof.id, "late-proofless", version)
    shopper = world.add_shopper()
    no_offer = world.order(proof_by=shopper)  # carried by no offer: priced at the delivery, without a detour
    late = credit_later(world, no_offer.id, "late-no-offer", version)
    assert late.credit.amount_cents == 300 + 50  # base and two bags


# --------------------------------------------------------------------------------------------------
# Reversals


def reverse(world: World, order_id: UUID, key: str = "r-1", reason: str = "recipient says not delivered") -> object:
    with world.rewards() as uow:
        return reverse_delivery_reward(
            uow, order_id=order_id, actor_id=FINANCE_A, reason=reason, now=LATER, idempotency_key=key
        )


@pytest.mark.usefixtures("policy")
def test_a_reward_reversed_once_is_replayed_on_retry_and_refused_as_already_reversed_with_another_key(
    world: World,
) -> None:
    shopper = world.add_shopper()
    order = credited_order(world, shopper)
    first = reverse(world, order.id)
    again = reverse(world, order.id)
    assert again == first
    assert getattr(again, "replayed", None) is True
    assert getattr(first, "replayed", None) is False
    with pytest.raises(RewardAlreadyReversed, match=f"the reward of order {order.id} was already reversed"):
        reverse(world, order.id, "r-2")
    assert balances(world, shopper.id) == (0, 0)


@pytest.mark.usefixtures("policy")
def test_an_orders_reward_is_read_with_its_referral_bonus_and_whether_it_was_reversed(world: World) -> None:
    referrer, newcomer = world.add_shopper(), world.add_shopper()
    with world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    order = credited_order(world, newcomer)
    with world.rewards() as uow:
        before = order_reward(uow, order_id=order.id)
    assert (before.reward.record.amount_cents, before.reward.reversed) == (500, False)
    assert (before.referrer_shopper_id, before.referral_bonus_cents) == (referrer.id, 50)
    reverse(world, order.id)
    with world.rewards() as uow:
        assert order_reward(uow, order_id=order.id).reward.reversed
    unrewarded = world.order()
    with world.rewards() as uow, pytest.raises(NotFound):
        order_reward(uow, order_id=unrewarded.id)


@pytest.mark.usefixtures("policy")
def test_a_reward_already_paid_out_is_not_reversed_and_the_refusal_says_it_was_paid_out(world: World) -> None:
    shopper = world.add_shopper()
    order = credited_order(world, shopper)
    pay_everyone(world)
    with pytest.raises(RewardNoLongerHeld, match="the shopper no longer holds it \\(it was paid out") as refused:
        reverse(world, order.id)
    assert isinstance(refused.value, InsufficientBalance)
    assert "holds $0.00, the reversal would take $5.00" in refused.value.message
    with pytest.raises(NotFound):
        reverse(world, uuid4(), "r-unknown")


@pytest.mark.usefixtures("policy")
def test_a_reversal_whose_referral_bonus_was_paid_out_says_the_referrer_no_longer_holds_it(world: World) -> None:
    """The newcomer took store credit (still held); the referrer's bonus went out with a payout: nothing is
    reversed, and the refusal names the referrer's bonus."""
    referrer, newcomer = world.add_shopper(), world.add_shopper()
    with world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    order = credited_order(world, newcomer, method=PaymentMethod.STORE_CREDIT)
    pay_everyone(world)
    with pytest.raises(RewardNoLongerHeld, match="the referrer no longer holds the referral bonus it paid"):
        reverse(world, order.id)
    assert balances(world, newcomer.id) == (600, 0)


# --------------------------------------------------------------------------------------------------
# Store credit at the till


@pytest.mark.usefixtures("policy")
def test_store_credit_spent_at_the_till_is_replayed_on_retry_and_refused_in_words_beyond_the_balance(
    world: World,
) -> None:
    shopper = world.add_shopper()
    credited_order(world, shopper, method=PaymentMethod.STORE_CREDIT)  # 500 ¢ x1.2 = 600 ¢

    def spend(cents: int, key: str) -> object:
        with world.rewards() as uow:
            return redeem_store_credit(
                uow, shopper_id=shopper.id, amount_cents=Cents(cents), now=LATER, idempotency_key=key, actor_id=OPS
            )

    first = spend(500, "till-1")
    again = spend(500, "till-1")
    assert again == first
    assert getattr(again, "replayed", None) is True
    assert balances(world, shopper.id) == (100, 0)
    with pytest.raises(NotEnoughStoreCredit, match=r"holds \$1.00 of store credit: \$1.01 cannot be spent"):
        spend(101, "till-2")
    with world.rewards() as uow, pytest.raises(NotFound):
        redeem_store_credit(uow, shopper_id=uuid4(), amount_cents=Cents(1), now=LATER, idempotency_key="till-3")


# --------------------------------------------------------------------------------------------------
# Referrals


def test_a_referral_names_two_existing_shoppers_who_did_not_refer_each_other(world: World) -> None:
    ana, ben, cleo = world.add_shopper(), world.add_shopper(), world.add_shopper()

    def refer(referrer: UUID, referred: UUID) -> object:
        with world.rewards() as uow:
            return register_referral(
                uow, referrer_shopper_id=referrer, referred_shopper_id=referred, actor_id=OPS, now=NOW
            )

    with pytest.raises(InvalidInput) as unknown:
        refer(uuid4(), ben.id)
    assert unknown.value.field == "referrer_shopper_id"
    with pytest.raises(InvalidInput) as unknown:
        refer(ana.id, uuid4())
    assert unknown.value.field == "referred_shopper_id"
    with pytest.raises(InvalidInput, match="themselves"):
        refer(ana.id, ana.id)
    refer(ana.id, ben.id)
    with pytest.raises(InvalidInput, match="cannot refer each other"):
        refer(ben.id, ana.id)
    with pytest.raises(AlreadyReferred):
        refer(cleo.id, ben.id)
    with world.rewards() as uow:
        found = shopper_referral(uow, shopper_id=ben.id)
    assert found is not None
    assert (found.referrer_shopper_id, found.created_by) == (ana.id, OPS)
    with world.rewards() as uow:
        assert shopper_referral(uow, shopper_id=ana.id) is None
    with world.rewards() as uow, pytest.raises(NotFound):
        shopper_referral(uow, shopper_id=uuid4())
