"""The composition root: the one place that puts the parts together, for the API, the CLI, the dispatcher
and the simulator alike. It picks the storage (PostgreSQL and Redis live, memory for a simulated day) and
wires rewards into dispatch's hooks (offer quote, route terms, delivery credit, trust-tier review, the audit
of staff decisions), so that `dispatch` never imports `rewards`.

Where no reward policy is in force yet, an offer is priced by the matcher's compensation rule and a delivery
is recorded without a credit, logged as an error for finance to settle: a shopper at the door is never refused
because of a missing policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from psycopg_pool import ConnectionPool

from crowdship.clock import Clock
from crowdship.db import prune_idempotency_keys
from crowdship.logging import get_logger
from crowdship.outages import BACKING_SERVICE_ERRORS
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.acceptance import (
    DEFAULT_DECLINE_PENALTY_CENTS,
    DEFAULT_DECLINE_RULE,
    DEFAULT_MODEL,
    AcceptanceWeighting,
)
from dispatch.adapters.leases import PostgresLeases
from dispatch.adapters.memory import MemoryDispatchDatabase, memory_unit_of_work
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.batching import BatchParameters, QuoteRequest, RoutePricer, compensation_quote
from dispatch.live import LiveState
from dispatch.matching.acceptance import DeclineRule
from dispatch.matching.reward_rule import RewardTerms
from dispatch.model import Shopper, Trip
from dispatch.prospects import DEFAULT_PROSPECTS, ProspectTerms
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.acceptance import fit_from_history
from dispatch.services.context import DeliveredOrder, DispatchConfig, DispatchContext
from rewards.adapters.memory import MemoryRewardsDatabase, MemoryRewardsRepositories, MemoryRewardsUnitOfWork
from rewards.adapters.postgres import PostgresRewardsRepositories, PostgresRewardsUnitOfWork
from rewards.hooks import (
    decision_audit,
    delivery_credit,
    offer_quote,
    route_terms,
    tier_review,
)
from rewards.records import NoPolicyInForce
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services import RewardCredit
from rewards.services.deliveries import PaymentChoice

log = get_logger(__name__)


def live_context(
    settings: Settings,
    pool: ConnectionPool,
    *,
    clock: Clock,
    live: LiveState | None,
    config: DispatchConfig | None = None,
) -> DispatchContext:
    """Dispatch on PostgreSQL, its stores' batch leases too (and Redis for live state, when given), rewards
    credited in its transactions; configured from the settings unless `config` is given (a simulation's, to
    compare with it)."""
    config = config or DispatchConfig.from_settings(settings)
    return DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(pool),
        clock=clock,
        config=config,
        live=live,
        leases=PostgresLeases(pool),
        reward_quote=_quote_or_compensation(offer_quote(rewards_on(pool)), config.batch),
        route_pricer=_terms_or_compensation(route_terms(rewards_on(pool))),
        credit_delivery=_credit_or_log(delivery_credit(postgres_rewards_within)),
        review_tier=tier_review(postgres_rewards_within),
        audit_decision=decision_audit(postgres_rewards_within),
    )


def rewards_on(pool: ConnectionPool) -> Callable[[], RewardsUnitOfWork]:
    """A rewards transaction of its own on the pool, per call."""
    return lambda: PostgresRewardsUnitOfWork(pool)


def postgres_rewards_within(uow: LiveUnitOfWork) -> RewardsRepositories:
    """The rewards repositories on a live (PostgreSQL) dispatch unit of work's own transaction."""
    if not isinstance(uow, PostgresDispatchUnitOfWork):
        raise TypeError("a live delivery is credited on its PostgreSQL transaction")
    return PostgresRewardsRepositories(uow.connection)


@dataclass(frozen=True)
class InMemory:
    """A world held in memory (a simulated day): dispatch and rewards share one journal of undos."""

    context: DispatchContext
    dispatch: MemoryDispatchDatabase
    rewards_db: MemoryRewardsDatabase

    def rewards(self) -> MemoryRewardsUnitOfWork:
        return MemoryRewardsUnitOfWork(self.rewards_db)


def in_memory(config: DispatchConfig, clock: Clock, *, payment_choice: PaymentChoice | None = None) -> InMemory:
    """Dispatch and rewards on in-memory storage, wired as live, with `payment_choice` overriding how shoppers
    are paid when given (a scenario's)."""
    dispatch = MemoryDispatchDatabase()
    rewards_db = MemoryRewardsDatabase(dispatch)
    context = DispatchContext(
        unit_of_work=memory_unit_of_work(dispatch),
        clock=clock,
        config=config,
        live=None,
        reward_quote=_quote_or_compensation(
            offer_quote(lambda: MemoryRewardsUnitOfWork(rewards_db), payment_choice), config.batch
        ),
        route_pricer=_terms_or_compensation(route_terms(lambda: MemoryRewardsUnitOfWork(rewards_db), payment_choice)),
        credit_delivery=_credit_or_log(
            delivery_credit(lambda _uow: MemoryRewardsRepositories(rewards_db), payment_choice)
        ),
        review_tier=tier_review(lambda _uow: MemoryRewardsRepositories(rewards_db)),
        audit_decision=decision_audit(lambda _uow: MemoryRewardsRepositories(rewards_db)),
    )
    return InMemory(context, dispatch, rewards_db)


def _quote_or_compensation(
    by_policy: Callable[[QuoteRequest], Cents], parameters: BatchParameters
) -> Callable[[QuoteRequest], Cents]:
    fallback = compensation_quote(parameters)

    def quote(request: QuoteRequest) -> Cents:
        try:
            return by_policy(request)
        except NoPolicyInForce:
            log.warning("no reward policy in force: offer priced by the compensation rule", trip=str(request.trip.id))
            return fallback(request)

    return quote


def _terms_or_compensation(by_policy: RoutePricer) -> RoutePricer:
    """No policy in force: None, so the matcher prices by its compensation rule, as the quote does."""

    def terms(trips: Sequence[tuple[Trip, Shopper]], at: datetime) -> dict[UUID, RewardTerms | None]:
        try:
            return by_policy(trips, at)
        except NoPolicyInForce:
            return dict.fromkeys((trip.id for trip, _ in trips), None)

    return terms


def _credit_or_log(
    credit: Callable[[LiveUnitOfWork, DeliveredOrder], RewardCredit],
) -> Callable[[LiveUnitOfWork, DeliveredOrder], RewardCredit | None]:
    def credit_or_log(uow: LiveUnitOfWork, delivered: DeliveredOrder) -> RewardCredit | None:
        try:
            return credit(uow, delivered)
        except NoPolicyInForce:
            log.error("delivery recorded without a reward credit: no policy in force", order=str(delivered.order_id))
            return None

    return credit_or_log


def forgetting_old_idempotency_keys(pool: ConnectionPool, settings: Settings) -> Callable[[DispatchContext], int]:
    """The dispatcher's housekeeping: idempotency keys older than their retention are forgotten."""
    retention = timedelta(days=settings.idempotency_retention_days)

    def forget(ctx: DispatchContext) -> int:
        pruned = prune_idempotency_keys(pool, before=ctx.clock.now() - retention)
        if pruned:
            log.info("old idempotency keys forgotten", keys=pruned, retention_days=retention.days)
        return pruned

    return forget


def acceptance_aware(
    context: DispatchContext,
    *,
    decline_penalty_cents: int = DEFAULT_DECLINE_PENALTY_CENTS,
    reward_term: bool = True,
    decline: DeclineRule = DEFAULT_DECLINE_RULE,
    prospects: ProspectTerms | None = DEFAULT_PROSPECTS,
    refit: Literal["now", "now-or-keep", "later"] = "now-or-keep",
) -> DispatchContext:
    """The context with acceptance-aware batches: the model fitted now on the recorded answers (a bounded
    sample, `dispatch.services.acceptance`), and each order's waiting priced by its `prospects` (the skip cost
    a decline falls back to; `dispatch.prospects`). Called again, it refits. While the database cannot be
    read, "now-or-keep" keeps the model already in use (the default at first), so a one-off round still runs
    during an outage; "now" raises, so that the dispatcher's loop tries again soon; "later" keeps the model in
    use without reading (the loop fits at its first round)."""
    kept = context.acceptance.model if context.acceptance is not None else DEFAULT_MODEL
    model = kept
    if refit != "later":
        try:
            model = fit_from_history(context.unit_of_work, now=context.clock.now(), with_reward=reward_term)
        except BACKING_SERVICE_ERRORS as error:
            if refit == "now":
                raise
            log.warning(
                "acceptance model: history unreadable, model kept",
                error=type(error).__name__,
                fitted_on_answers=kept.answers,
            )
    weighting = AcceptanceWeighting(
        model, decline_penalty_cents=decline_penalty_cents, reward_term=reward_term, decline=decline
    )
    return replace(context, acceptance=weighting, prospects=prospects)
