"""Reward policies: ops propose new versions (each immutable); a second person (ops, finance or an admin, never
the author) approves one, and it is in force from that approval until the next; finance reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from api.dependencies import require_roles
from api.fields import Limit, Offset, OptionalIdempotencyKey
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.problems import problem_responses
from api.rewards_dependencies import Now, PolicyDecider, PolicyWriter, Rewards
from api.rewards_schemas import PolicyDecisionIn, PolicyIn, PolicyOut, ReasonIn
from api.schemas import PageOf
from crowdship.errors import InvalidInput
from rewards import services
from rewards.permissions import POLICY_READERS
from rewards.policy_versions import PolicyStatus

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/policies",
    tags=["policies"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*POLICY_READERS))],
)

Version = Annotated[int, Path(ge=1, le=2_147_483_647, description="The policy version, 1 for the first")]


@router.post("", **created_once(PolicyOut, "the version the first request proposed, as it is now", 409, 422))
def create_policy(
    body: PolicyIn, principal: PolicyWriter, rewards: Rewards, now: Now, idempotency_key: OptionalIdempotencyKey = None
) -> JSONResponse:
    """Propose the next version (ops and admins). It prices nothing until someone else approves it; then it
    prices offers made from the approval on, and earlier offers and rewards keep their version. 422 names the
    bad field, e.g. `parameters.daily_cap_cents`; limits no policy may pass (the per-delivery ceiling, x2 for
    store credit, x5 multipliers, a minimum above a cap) are refused the same way. Proposing creates a version:
    send an `Idempotency-Key` so that a retry after a lost answer proposes it once (200, replayed); the key with
    other numbers is 409."""
    try:
        with rewards() as uow:
            if idempotency_key is None:
                policy = services.create_reward_policy(
                    uow, parameters=body.parameters.to_json(), actor_id=principal.user_id, now=now, note=body.note or ""
                )
                replayed = False
            else:
                proposed = services.propose_reward_policy_once(
                    uow,
                    parameters=body.parameters.to_json(),
                    actor_id=principal.user_id,
                    now=now,
                    note=body.note or "",
                    idempotency_key=idempotency_key,
                )
                policy, replayed = proposed.policy, proposed.replayed
    except InvalidInput as error:
        reason = error.message.removeprefix(f"{error.field}: ")
        raise InvalidInput(f"parameters.{error.field}", reason) from error
    return created_or_replayed(PolicyOut.model_validate(policy), replayed)


@router.get("", response_model=PageOf[PolicyOut], responses=problem_responses(422))
def list_policies(rewards: Rewards, limit: Limit = 50, offset: Offset = 0) -> PageOf[PolicyOut]:
    """A page of versions, oldest first."""
    with rewards() as uow:
        page = services.reward_policies(uow, limit=limit, offset=offset)
    return PageOf[PolicyOut].from_page(page, limit=limit, offset=offset)


@router.get("/{version}", response_model=PolicyOut, responses=problem_responses(404, 422))
def get_policy(version: Version, rewards: Rewards) -> PolicyOut:
    with rewards() as uow:
        return PolicyOut.model_validate(services.reward_policy(uow, version=version))


@router.post("/{version}/approve", response_model=PolicyOut, responses=problem_responses(403, 404, 409, 422))
def approve_policy(
    version: Version, principal: PolicyDecider, rewards: Rewards, now: Now, body: PolicyDecisionIn | None = None
) -> PolicyOut:
    """Four eyes: anyone of ops, finance or admin but its author (403) approves a proposed version (409 once
    decided); it is in force from now until another version is approved. Versions only go forward: one older
    than the newest approved version is 409 `policy-superseded` (to go back, propose its numbers anew); one stored
    before today's parameter bounds and outside them is 409 `policy-outside-bounds`, naming the parameter."""
    with rewards() as uow:
        policy = services.decide_reward_policy(
            uow,
            version=version,
            status=PolicyStatus.APPROVED,
            actor_id=principal.user_id,
            now=now,
            reason=(body.reason or "") if body else "",
        )
    return PolicyOut.model_validate(policy)


@router.post("/{version}/reject", response_model=PolicyOut, responses=problem_responses(403, 404, 409, 422))
def reject_policy(version: Version, body: ReasonIn, principal: PolicyDecider, rewards: Rewards, now: Now) -> PolicyOut:
    """A proposed version never takes effect; the reason is kept."""
    with rewards() as uow:
        policy = services.decide_reward_policy(
            uow, version=version, status=PolicyStatus.REJECTED, actor_id=principal.user_id, now=now, reason=body.reason
        )
    return PolicyOut.model_validate(policy)
