"""A delivered order's reward: what it is priced from (the inputs the offer that carried it showed), used by the
live delivery hook (`rewards.hooks.delivery_credit`) and by finance crediting afterwards a delivery that was
recorded without a reward because no policy was in force then. One rule for both, so a late credit pays what
the delivery would have earned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crowdship.errors import InvalidInput, NotFound
from crowdship.units import Cents
from dispatch.model import TrustTier
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.context import DeliveredOrder
from dispatch.services.delivery import recorded_delivery
from rewards.policy import PaymentMethod, RewardInputs, local_hour
from rewards.policy_versions import PolicyStatus, RewardPolicy
from rewards.pricing import bundle_inputs
from rewards.records import AlreadyRewarded, NoPolicyInForce
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services.common import callers_once, require_active_actor
from rewards.services.credits import RewardCredit, credit_delivered_order
from rewards.services.policies import quote_delivery_reward
from rewards.services.wallet import ShopperReward, payment_method_at

PaymentChoice = Callable[[UUID], PaymentMethod]
"""An override of how a shopper is paid (e.g. for a simulation); by default the shopper's own stored choice."""


def payment_method(
    repos: RewardsRepositories, payment_choice: PaymentChoice | None, shopper_id: UUID, at: datetime
) -> PaymentMethod:
    if payment_choice is not None:
        return payment_choice(shopper_id)
    return payment_method_at(repos, shopper_id, at)


@dataclass(frozen=True)
class DeliveryPricing:
    policy: RewardPolicy
    inputs: RewardInputs


def delivery_reward_inputs(
    uow: LiveUnitOfWork,
    repos: RewardsRepositories,
    delivered: DeliveredOrder,
    *,
    policy: RewardPolicy | None = None,
    payment_choice: PaymentChoice | None = None,
    trust_tier: TrustTier | None = None,
) -> DeliveryPricing:
    """The inputs of a delivered order's reward as the offer that carried it showed them: its share of the
    offer's extra distance and time (`pricing.bundle_inputs`), its bags, the local hour, the payment method in
    force and the shopper's tier when the offer was made (what its quote promised). An order no offer carried,
    or an offer made before its tier was kept, takes the shopper's tier at the delivery (`trust_tier`, else the
    tier the shopper has now: the live hook prices as the order is delivered). Priced by `policy`, or else by
    the version in force when the offer was made (`NoPolicyInForce` when none was); an order no offer carried
    is priced at its delivery, with no detour."""
    tier = uow.shoppers.get(delivered.shopper_id).trust_tier if trust_tier is None else trust_tier
    if delivered.offer_id is None:
        offered_at = delivered.delivered_at
        chosen = policy or repos.policies.in_force_at(offered_at)
        order = uow.orders.get(delivered.order_id)
        method = payment_method(repos, payment_choice, delivered.shopper_id, offered_at)
        inputs = RewardInputs(0, 0, order.size_bags, local_hour(offered_at, chosen.parameters), tier, method)
        return DeliveryPricing(chosen, inputs)
    offer = uow.offers.get(delivered.offer_id)
    tier = tier if offer.trust_tier is None else offer.trust_tier
    offered_at = offer.created_at
    chosen = policy or repos.policies.in_force_at(offered_at)
    stops = bundle_inputs(
        extra_distance_m=offer.extra_distance_m,
        extra_duration_s=offer.extra_duration_s,
        bags_per_stop=[uow.orders.get(order_id).size_bags for order_id in offer.stops],
        local_hour=local_hour(offered_at, chosen.parameters),
        trust_tier=tier,
        method=payment_method(repos, payment_choice, delivered.shopper_id, offered_at),
    )
    return DeliveryPricing(chosen, stops[offer.stops.index(delivered.order_id)])


@dataclass(frozen=True)
class LateCredit:
    credit: RewardCredit
    replayed: bool
    """True when the key was used before for the same request: `credit` is the first request's."""


def credit_unrewarded_delivery(
    open_dispatch: Callable[[], LiveUnitOfWork],
    rewards_within: Callable[[LiveUnitOfWork], RewardsRepositories],
    *,
    order_id: UUID,
    actor_id: UUID,
    now: datetime,
    idempotency_key: str,
    policy_version: int | None = None,
    payment_choice: PaymentChoice | None = None,
) -> LateCredit:
    """Credits now a delivered order that has no reward (it was delivered while no policy was in force), to the
    shopper who delivered it, with the inputs the live hook would have used (`delivery_reward_inputs`; the tier
    the hook kept at the delivery, or the shopper's current tier for a delivery recorded before it did), priced
    by the approved `policy_version`, or else by the version in force at the delivery. The reward counts as
    earned at the delivery (that day's and week's caps apply, and the referrer's share if any); the money
    moves now, by `actor_id`. Once per key, in one transaction that commits on success.

    Refused: `NotFound` (unknown order), `AlreadyRewarded`, `DeliveryNotRecorded` (not delivered, or delivered
    without a proof, so nobody is known to have delivered it), `InvalidInput` on `policy_version` (no such
    version, or not approved), `NoPolicyInForce` (none given, and none was in force at the delivery).
    """
    with open_dispatch() as uow:
        repos = rewards_within(uow)
        require_active_actor(repos, actor_id)

        def run() -> RewardCredit:
            delivered, named = _unrewarded_delivery(uow, repos, order_id, policy_version)
            policy = named or _in_force_at_delivery(repos, delivered.delivered_at)
            priced = _late_inputs(uow, repos, delivered, policy, payment_choice)
            return credit_delivered_order(
                repos,
                order_id=order_id,
                shopper_id=delivered.shopper_id,
                inputs=priced.inputs,
                delivered_at=delivered.delivered_at,
                policy_version=priced.policy.version,
                actor_id=actor_id,
                posted_at=now,
            )

        outcome = callers_once(
            repos,
            caller=actor_id,
            operation="credit_unrewarded_delivery",
            key=idempotency_key,
            request={"order_id": str(order_id), "policy_version": policy_version},
            run=run,
            dump=RewardCredit.to_json,
            load=RewardCredit.from_json,
        )
        if outcome.replayed:
            uow.rollback()
        else:
            uow.commit()
    return LateCredit(outcome.value, outcome.replayed)


def _unrewarded_delivery(
    uow: LiveUnitOfWork, repos: RewardsRepositories, order_id: UUID, policy_version: int | None
) -> tuple[DeliveredOrder, RewardPolicy | None]:
    """The delivery a late credit is for, and the approved version named to price it: refused as crediting
    refuses (`AlreadyRewarded`, `InvalidInput` on `policy_version`, `DeliveryNotRecorded`, `NotFound`)."""
    if repos.rewards.for_order(order_id) is not None:
        raise AlreadyRewarded(order_id)
    named = None if policy_version is None else _approved_version(repos, policy_version)
    return recorded_delivery(uow, order_id), named


def _late_inputs(
    uow: LiveUnitOfWork,
    repos: RewardsRepositories,
    delivered: DeliveredOrder,
    policy: RewardPolicy,
    payment_choice: PaymentChoice | None,
) -> DeliveryPricing:
    """The inputs the live hook would have used, with the tier it kept at the delivery (if it did)."""
    return delivery_reward_inputs(
        uow,
        repos,
        delivered,
        policy=policy,
        payment_choice=payment_choice,
        trust_tier=repos.rewards.delivery_tier(delivered.order_id),
    )


def _in_force_at_delivery(repos: RewardsRepositories, delivered_at: datetime) -> RewardPolicy:
    try:
        return repos.policies.in_force_at(delivered_at)
    except NoPolicyInForce as error:
        raise NoPolicyInForce(
            f"no reward policy was in force at the delivery ({delivered_at.isoformat()}): "
            "name the approved version to price it by"
        ) from error


def _approved_version(repos: RewardsRepositories, version: int) -> RewardPolicy:
    try:
        policy = repos.policies.get_version(version)
    except NotFound as error:
        raise InvalidInput("policy_version", f"there is no version {version}") from error
    if policy.status is not PolicyStatus.APPROVED:
        raise InvalidInput(
            "policy_version", f"version {version} is {policy.status.value}: only an approved version prices a reward"
        )
    return policy


@dataclass(frozen=True)
class LateCreditQuote:
    """What crediting a delivery without a reward would do, read without changing anything: the delivery, the
    version that would price it, its inputs and amount, and every approved version one may choose instead."""

    delivered: DeliveredOrder
    policy_version: int | None
    """The version named, else the one in force at the delivery; None when none was."""
    inputs: RewardInputs | None
    amount_cents: Cents | None
    approved_versions: tuple[int, ...]
    """Newest first."""


def quote_unrewarded_delivery(
    open_dispatch: Callable[[], LiveUnitOfWork],
    rewards_within: Callable[[LiveUnitOfWork], RewardsRepositories],
    *,
    order_id: UUID,
    policy_version: int | None = None,
    payment_choice: PaymentChoice | None = None,
) -> LateCreditQuote:
    """The amount `credit_unrewarded_delivery` would credit now (the same inputs, policy and caps), refused as
    it would be (`AlreadyRewarded`, `DeliveryNotRecorded`, `NotFound`, `InvalidInput` on `policy_version`) but
    for no policy in force: then nothing is priced, and the approved versions are listed to choose from."""
    with open_dispatch() as uow:
        repos = rewards_within(uow)
        delivered, named = _unrewarded_delivery(uow, repos, order_id, policy_version)
        approved = tuple(
            policy.version
            for policy in sorted(repos.policies.every_version(), key=lambda each: -each.version)
            if policy.status is PolicyStatus.APPROVED
        )
        try:
            policy = named or _in_force_at_delivery(repos, delivered.delivered_at)
        except NoPolicyInForce:
            uow.rollback()
            return LateCreditQuote(delivered, None, None, None, approved)
        priced = _late_inputs(uow, repos, delivered, policy, payment_choice)
        quote = quote_delivery_reward(
            repos,
            shopper_id=delivered.shopper_id,
            inputs=priced.inputs,
            at=delivered.delivered_at,
            policy_version=policy.version,
        )
        uow.rollback()
    return LateCreditQuote(delivered, policy.version, priced.inputs, quote.amount_cents, approved)


@dataclass(frozen=True)
class OrderReward:
    """A delivery's reward as a reversal would take it back: the reward, and the referral bonus it paid."""

    reward: ShopperReward
    referrer_shopper_id: UUID | None
    referral_bonus_cents: Cents


def order_reward(uow: RewardsUnitOfWork, *, order_id: UUID) -> OrderReward:
    """The order's reward, whether it was reversed, and its referral bonus; `NotFound` when it has none."""
    repos = uow.repos
    record = repos.rewards.for_order(order_id)
    if record is None:
        raise NotFound(f"order {order_id} has no reward")
    credited = [t for t in (record.transaction_id, record.referral_transaction_id) if t is not None]
    reversed_ = any(repos.ledger.reversal_of(transaction_id) is not None for transaction_id in credited)
    bonus, referrer = Cents(0), None
    if record.referral_transaction_id is not None:
        transaction = repos.ledger.get_transaction(record.referral_transaction_id)
        bonus = Cents(sum(entry.amount_cents for entry in transaction.entries if entry.amount_cents > 0))
        referral = repos.rewards.referral_of(record.shopper_id)
        referrer = None if referral is None else referral.referrer_shopper_id
    uow.rollback()
    return OrderReward(ShopperReward(record, record.inputs.method, reversed_), referrer, bonus)
