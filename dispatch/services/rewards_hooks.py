"""Where dispatch meets rewards: pricing an offer, and crediting a delivery inside its transaction.

Until the rewards package offers a function for either, these return None and dispatch uses its own
compensation rule for quotes and credits nothing (the hook is still called in the delivery transaction).
"""

from __future__ import annotations

from collections.abc import Callable

from crowdship.units import Cents
from dispatch.batching import QuoteRequest
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.context import DeliveredOrder


def reward_quote_hook() -> Callable[[QuoteRequest], Cents] | None:
    return None


def credit_delivery_hook() -> Callable[[LiveUnitOfWork, DeliveredOrder], None] | None:
    return None
