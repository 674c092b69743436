"""Where dispatch meets rewards: pricing an offer, and crediting a delivery inside its transaction.

Both come from `rewards.hooks` (the reward policy in force when the offer was made). Where no policy has
been published yet, the quote falls back to the matcher's compensation rule and the delivery is recorded
without a credit, logged as an error for finance to settle: a shopper at the door is never refused
because of a missing policy.
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg_pool import ConnectionPool

from crowdship.logging import get_logger
from crowdship.units import Cents
from dispatch.batching import BatchParameters, QuoteRequest, compensation_quote
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.context import DeliveredOrder
from rewards.adapters.postgres import NoPolicyInForce
from rewards.hooks import delivery_credit, offer_quote

log = get_logger(__name__)


def reward_quote_hook(pool: ConnectionPool, parameters: BatchParameters) -> Callable[[QuoteRequest], Cents]:
    by_policy = offer_quote(pool)
    fallback = compensation_quote(parameters)

    def quote(request: QuoteRequest) -> Cents:
        try:
            return by_policy(request)
        except NoPolicyInForce:
            log.warning("no reward policy in force: offer priced by the compensation rule", trip=str(request.trip.id))
            return fallback(request)

    return quote


def credit_delivery_hook() -> Callable[[LiveUnitOfWork, DeliveredOrder], None]:
    credit = delivery_credit()

    def credit_or_log(uow: LiveUnitOfWork, delivered: DeliveredOrder) -> None:
        try:
            credit(uow, delivered)
        except NoPolicyInForce:
            log.error("delivery recorded without a reward credit: no policy in force", order=str(delivered.order_id))

    return credit_or_log
