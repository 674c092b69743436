"""Administrators: deactivate (and reactivate) accounts. A deactivated account's tokens stop working at once."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends

from api.dependencies import CurrentPrincipal, Services, require_roles
from api.json_bodies import JsonBodyRoute
from api.problems import problem_responses
from api.schemas import UserOut
from dispatch.accounts import Role
from dispatch.services import accounts

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/admin",
    tags=["admin"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(Role.ADMIN))],
)


@router.post("/users/{user_id}/deactivate", response_model=UserOut, responses=problem_responses(404, 409))
def deactivate_user(user_id: UUID, services: Services, admin: CurrentPrincipal) -> UserOut:
    """The account can no longer sign in, and the tokens it holds are refused from now on. Not your own
    (409): it would lock you out at once."""
    user = accounts.set_active(services.context, user_id=user_id, active=False, actor_id=admin.user_id)
    services.accounts.forget(user_id)
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/activate", response_model=UserOut, responses=problem_responses(404))
def activate_user(user_id: UUID, services: Services, admin: CurrentPrincipal) -> UserOut:
    user = accounts.set_active(services.context, user_id=user_id, active=True, actor_id=admin.user_id)
    services.accounts.forget(user_id)
    return UserOut.model_validate(user)
