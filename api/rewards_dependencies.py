"""What the finance, policy and wallet endpoints receive: a rewards unit of work per call, the roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from api.dependencies import Services, require_roles
from api.security import Principal
from composition import rewards_on
from rewards.ledger import AccountKind
from rewards.permissions import FINANCE_ROLES, POLICY_DECIDERS, POLICY_WRITERS
from rewards.repositories import RewardsUnitOfWork


async def rewards_unit_of_work(request: Request) -> Callable[[], RewardsUnitOfWork]:
    """Each call opens its own transaction on the app's pool (kept on `app.state.pool` at start-up)."""
    return rewards_on(request.app.state.pool)


Rewards = Annotated[Callable[[], RewardsUnitOfWork], Depends(rewards_unit_of_work)]


async def current_time(services: Services) -> datetime:
    return services.context.clock.now()


Now = Annotated[datetime, Depends(current_time)]
FinancePrincipal = Annotated[Principal, Depends(require_roles(*FINANCE_ROLES))]
PolicyWriter = Annotated[Principal, Depends(require_roles(*POLICY_WRITERS))]
PolicyDecider = Annotated[Principal, Depends(require_roles(*POLICY_DECIDERS))]


ShopperAccount = Annotated[
    AccountKind | None, Query(description="Only this account: store_credit or cash_payable (default both)")
]
"""Which of a shopper's two accounts a ledger shows, for finance's and the shopper's own alike."""
