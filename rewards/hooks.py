"""Rewards behind dispatch's two hooks (`DispatchContext.reward_quote` and `.credit_delivery`), on the
repository protocols, so that the live service and the simulator price and credit with the same code. The
composition root (`composition`) wires them, with the storage of its choice:

    reward_quote=offer_quote(open_rewards)            # Callable[[QuoteRequest], Cents]
    route_pricer=route_terms(open_rewards)             # dispatch.batching.RoutePricer
    credit_delivery=delivery_credit(rewards_within)    # Callable[[LiveUnitOfWork, DeliveredOrder], ...]
    review_tier=tier_review(rewards_within)            # Callable[[LiveUnitOfWork, TierReviewRequest], TrustTier]
    audit_decision=decision_audit(rewards_within)      # Callable[[LiveUnitOfWork, StaffDecision], None]

An offer carrying several orders is priced as the sum of its orders' rewards (`pricing.bundle_inputs`: each
order its own bags and an even share of the offer's extra distance and time), and each order is credited
when it is delivered, in the delivering transaction. Both sides use the policy version in force when the
offer was made, the local hour of that moment and the shopper's tier, so the quote and the credits agree
unless the shopper earned elsewhere in between (caps) or changed tier.

The payment method is the shopper's choice in force when the offer was made (`services.payment_method_at`,
cash if they never chose), read by both sides: store credit carries the policy's bonus in the quote and in
the credit, and a change made after the offer applies to the next offers only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

from crowdship.units import Cents
from dispatch.batching import QuoteRequest, RoutePricer
from dispatch.matching.reward_rule import RewardTerms
from dispatch.model import Shopper, Trip, TrustTier
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.context import DeliveredOrder, StaffDecision, TierReviewRequest
from rewards.policy import local_hour
from rewards.pricing import bundle_inputs, matcher_terms, quote_bundle
from rewards.records import NoPolicyInForce
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services import RewardCredit, credit_delivery_reward, earnings_so_far
from rewards.services.common import audit
from rewards.services.deliveries import PaymentChoice, delivery_reward_inputs, payment_method
from rewards.services.policies import earnings_of
from rewards.services.shoppers import review_trust_tier
from rewards.services.wallet import payment_methods_at

TIER_REVIEW_WINDOW = timedelta(days=90)
"""A review counts the shopper's deliveries and incidents over this much of their recent record."""


def offer_quote(
    open_rewards: Callable[[], RewardsUnitOfWork], payment_choice: PaymentChoice | None = None
) -> Callable[[QuoteRequest], Cents]:
    """Prices an offer in a short read-only transaction of its own (the batch holds no rewards locks)."""

    def quote(request: QuoteRequest) -> Cents:
        with open_rewards() as uow:
            repos = uow.repos
            policy = repos.policies.in_force_at(request.at)
            stops = bundle_inputs(
                extra_distance_m=request.extra_distance_m,
                extra_duration_s=request.extra_duration_s,
                bags_per_stop=[order.size_bags for order in request.orders],
                local_hour=local_hour(request.at, policy.parameters),
                trust_tier=request.shopper.trust_tier,
                method=payment_method(repos, payment_choice, request.shopper.id, request.at),
            )
            earned = earnings_so_far(repos, request.shopper.id, request.at, policy)
            uow.rollback()
        return Cents(sum(q.amount_cents for q in quote_bundle(policy, stops, earned)))

    return quote


def route_terms(
    open_rewards: Callable[[], RewardsUnitOfWork], payment_choice: PaymentChoice | None = None
) -> RoutePricer:
    """The policy in force as the matcher's `reward` rule for each trip of a batch, read in one transaction:
    the same numbers `offer_quote` prices the offer with (local hour, tier, payment method, caps left), so the
    matcher's cost is the quote. Raises `NoPolicyInForce` like the quote; the composition root turns that into
    the compensation rule."""

    def terms(trips: Sequence[tuple[Trip, Shopper]], at: datetime) -> dict[UUID, RewardTerms | None]:
        with open_rewards() as uow:
            repos = uow.repos
            policy = repos.policies.in_force_at(at)
            shopper_ids = {shopper.id for _, shopper in trips}
            methods = (
                {shopper_id: payment_choice(shopper_id) for shopper_id in shopper_ids}
                if payment_choice is not None
                else payment_methods_at(repos, shopper_ids, at)
            )
            earned = earnings_of(repos, shopper_ids, at, policy)
            uow.rollback()
        return {
            trip.id: matcher_terms(policy, at, shopper.trust_tier, methods[shopper.id], earned[shopper.id])
            for trip, shopper in trips
        }

    return terms


def delivery_credit(
    rewards_within: Callable[[LiveUnitOfWork], RewardsRepositories], payment_choice: PaymentChoice | None = None
) -> Callable[[LiveUnitOfWork, DeliveredOrder], RewardCredit]:
    """Credits a delivered order inside the delivering unit of work's transaction (`rewards_within` gives the
    rewards repositories on that same transaction). With no policy in force it raises `NoPolicyInForce` (the
    composition root logs it and the delivery stands without a reward) after keeping the shopper's tier with the
    delivery, so that a late credit prices it as it would have been priced then."""

    def credit(uow: LiveUnitOfWork, delivered: DeliveredOrder) -> RewardCredit:
        repos = rewards_within(uow)
        try:
            priced = delivery_reward_inputs(uow, repos, delivered, payment_choice=payment_choice)
        except NoPolicyInForce:
            # The delivery goes without a reward: keep the tier the shopper delivered at, for finance's late credit.
            tier = uow.shoppers.get(delivered.shopper_id).trust_tier
            repos.rewards.keep_delivery_tier(delivered.order_id, delivered.shopper_id, tier, delivered.delivered_at)
            raise
        return credit_delivery_reward(
            repos,
            order_id=delivered.order_id,
            shopper_id=delivered.shopper_id,
            inputs=priced.inputs,
            delivered_at=delivered.delivered_at,
            idempotency_key=f"delivery-reward:{delivered.order_id}",
            policy_version=priced.policy.version,
        )

    return credit


class _JoinedUnitOfWork:
    """Rewards repositories on a transaction someone else owns: `commit` and `rollback` are left to the owner,
    so that a rewards use case that commits can run inside a dispatch unit of work."""

    def __init__(self, repos: RewardsRepositories) -> None:
        self.repos = repos

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None

    def read_snapshot(self) -> None:
        return None


def tier_review(
    rewards_within: Callable[[LiveUnitOfWork], RewardsRepositories], window: timedelta = TIER_REVIEW_WINDOW
) -> Callable[[LiveUnitOfWork, TierReviewRequest], TrustTier]:
    """Reviews a shopper's trust tier over the last `window` of their record, inside the unit of work that
    recorded the insurance claim (the tier change and its audit entry commit with the claim, or not at all)."""

    def review(uow: LiveUnitOfWork, request: TierReviewRequest) -> TrustTier:
        result = review_trust_tier(
            _JoinedUnitOfWork(rewards_within(uow)),
            shopper_id=request.shopper_id,
            window_start=request.at - window,
            now=request.at,
            actor_id=request.actor_id,
        )
        return result.after

    return review


def decision_audit(
    rewards_within: Callable[[LiveUnitOfWork], RewardsRepositories],
) -> Callable[[LiveUnitOfWork, StaffDecision], None]:
    """Records a staff decision (a shopper's tier, an account, a store) in the audit log, inside the unit of
    work that carries it out (the decision and its entry commit together, or not at all)."""

    def record(uow: LiveUnitOfWork, decision: StaffDecision) -> None:
        audit(
            rewards_within(uow),
            actor_id=decision.actor_id,
            action=decision.action,
            subject_kind=decision.subject_kind,
            subject_id=decision.subject_id,
            at=decision.at,
            **decision.details,
        )

    return record
