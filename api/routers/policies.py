"""Reward policies: ops publish new versions (each immutable, in force from its creation); finance reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.dependencies import require_roles
from api.problems import problem_responses
from api.rewards_dependencies import POLICY_READERS, Now, PolicyWriter, Rewards
from api.rewards_schemas import PolicyIn, PolicyOut
from crowdship.errors import InvalidInput
from rewards import services

router = APIRouter(
    prefix="/policies",
    tags=["policies"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*POLICY_READERS))],
)

Version = Annotated[int, Path(ge=1, le=2_147_483_647, description="The policy version, 1 for the first")]


@router.post("", status_code=201, response_model=PolicyOut, responses=problem_responses(409, 422))
def create_policy(body: PolicyIn, principal: PolicyWriter, rewards: Rewards, now: Now) -> PolicyOut:
    """Publish the next version (ops and admins). It prices offers made from now on; earlier offers and
    rewards keep their version. 422 names the bad field, e.g. `parameters.daily_cap_cents`."""
    try:
        with rewards() as uow:
            policy = services.create_reward_policy(
                uow, parameters=body.parameters.to_json(), actor_id=principal.user_id, now=now, note=body.note or ""
            )
    except InvalidInput as error:
        reason = error.message.removeprefix(f"{error.field}: ")
        raise InvalidInput(f"parameters.{error.field}", reason) from error
    return PolicyOut.of(policy)


@router.get("", response_model=list[PolicyOut])
def list_policies(rewards: Rewards) -> list[PolicyOut]:
    """Every version, oldest first."""
    with rewards() as uow:
        return [PolicyOut.of(policy) for policy in services.reward_policies(uow)]


@router.get("/{version}", response_model=PolicyOut, responses=problem_responses(404, 422))
def get_policy(version: Version, rewards: Rewards) -> PolicyOut:
    with rewards() as uow:
        return PolicyOut.of(services.reward_policy(uow, version=version))
