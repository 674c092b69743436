"""What endpoints receive: the use-case context, the authenticated caller, their role and shopper id."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from api.problems import ProblemException
from api.security import Principal, read_token
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.adapters.live import AsyncLivePositions
from dispatch.services.batch import Solver
from dispatch.services.context import DispatchContext, PasswordHasher

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

STAFF_ROLES = (Role.OPS, Role.ADMIN)


@dataclass(frozen=True)
class AppServices:
    """Everything the app opened at start-up, kept on `app.state.services`."""

    settings: Settings
    signing_key: str
    context: DispatchContext
    passwords: PasswordHasher
    positions: AsyncLivePositions
    solver: Solver


async def get_services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services


Services = Annotated[AppServices, Depends(get_services)]


async def get_context(services: Services) -> DispatchContext:
    return services.context


Context = Annotated[DispatchContext, Depends(get_context)]


def _unauthenticated(detail: str) -> ProblemException:
    return ProblemException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(services: Services, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise _unauthenticated("a bearer token is required")
    principal = read_token(
        token,
        secret=services.signing_key,
        now=services.context.clock.now(),
    )
    if principal is None:
        raise _unauthenticated("the bearer token is invalid or expired")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise ProblemException(403, f"this needs the role {' or '.join(role.value for role in roles)}")
        return principal

    return check


StaffPrincipal = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]


async def current_shopper_id(principal: Annotated[Principal, Depends(require_roles(Role.SHOPPER))]) -> UUID:
    if principal.shopper_id is None:
        raise ProblemException(403, "this account has no shopper profile")
    return principal.shopper_id


ShopperId = Annotated[UUID, Depends(current_shopper_id)]
