"""What endpoints receive: the use-case context, the authenticated caller, their role and shopper id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.base import SecurityBase

from api.events import LiveEventHub
from api.problems import ProblemException
from api.security import ActiveAccounts, Principal, read_token
from api.throttle import LoginThrottle
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.adapters.live import AsyncLivePositions
from dispatch.services.batch import Solver
from dispatch.services.context import DispatchContext, PasswordHasher

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

OPS_ROLES = (Role.OPS, Role.ADMIN)
"""Who runs the stores: orders, shoppers, incidents (the console's staff also counts finance)."""


@dataclass(frozen=True)
class AppServices:
    """Everything the app opened at start-up, kept on `app.state.services`."""

    settings: Settings
    signing_key: str
    context: DispatchContext
    passwords: PasswordHasher
    positions: AsyncLivePositions
    events: LiveEventHub
    accounts: ActiveAccounts
    login_throttle: LoginThrottle
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


async def authenticate(services: AppServices, token: str | None) -> Principal:
    """The caller the bearer token names, if it is valid, unexpired, and its account still accepts it."""
    if not token:
        raise _unauthenticated("a bearer token is required")
    principal = read_token(
        token,
        secret=services.signing_key,
        now=services.context.clock.now(),
    )
    if principal is None:
        raise _unauthenticated("the bearer token is invalid or expired")
    active = services.accounts.cached(principal)
    if active is None:
        active = await run_in_threadpool(services.accounts.ask, principal)
    if not active:
        raise _unauthenticated("this account does not exist or was deactivated: sign in again")
    return principal


class AuthenticatedBearer(SecurityBase):
    """A dependency that reads the bearer token and authenticates its caller, in one: FastAPI resolves every
    dependency of every request anew (a cached one too, with its sub-dependencies), several microseconds each,
    and this is on every authenticated request, the location updates first. To the OpenAPI document it is the
    bearer scheme itself (`oauth2_scheme`), which is what FastAPI documents a route's security from."""

    def __init__(self, roles: tuple[Role, ...] | None = None) -> None:
        self.model = oauth2_scheme.model
        self.scheme_name = oauth2_scheme.scheme_name
        self.roles = roles
        """Those allowed (else 403); None: any signed-in caller."""

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request.app.state.services, await oauth2_scheme(request))
        if self.roles is not None and principal.role not in self.roles:
            raise ProblemException(403, f"this needs the role {' or '.join(role.value for role in self.roles)}")
        return principal


current_principal = AuthenticatedBearer()


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> AuthenticatedBearer:
    return AuthenticatedBearer(roles)


OpsPrincipal = Annotated[Principal, Depends(require_roles(*OPS_ROLES))]


ShopperPrincipal = Annotated[Principal, Depends(require_roles(Role.SHOPPER))]


class ShopperBearer(SecurityBase):
    """`AuthenticatedBearer` for shoppers, answering with their shopper profile (a shopper account without one
    is refused, 403)."""

    def __init__(self) -> None:
        self.model = oauth2_scheme.model
        self.scheme_name = oauth2_scheme.scheme_name
        self._shopper = AuthenticatedBearer((Role.SHOPPER,))

    async def __call__(self, request: Request) -> UUID:
        principal = await self._shopper(request)
        if principal.shopper_id is None:
            raise ProblemException(403, "this account has no shopper profile")
        return principal.shopper_id


current_shopper_id = ShopperBearer()


ShopperId = Annotated[UUID, Depends(current_shopper_id)]
