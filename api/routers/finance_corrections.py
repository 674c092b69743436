"""Finance corrections of the books, each once per `Idempotency-Key` (a retry answers 200 with
`Idempotent-Replayed: true`, another request under the key 409): a disputed delivery's reward reversed with its
referral bonus, and a delivery recorded without a reward (no policy was in force) credited afterwards."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.dependencies import Services, require_roles
from api.fields import IdempotencyKey
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.money_schemas import RewardCreditIn, RewardCreditOut, RewardReversalOut
from api.problems import problem_responses
from api.rewards_dependencies import FinancePrincipal, Now, Rewards
from api.rewards_schemas import ReasonIn
from composition import postgres_rewards_within
from rewards import services
from rewards.permissions import FINANCE_ROLES

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/finance",
    tags=["finance"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*FINANCE_ROLES))],
)


@router.post(
    "/orders/{order_id}/reward-reversal",
    **created_once(RewardReversalOut, "the first request's reversal, replayed", 404, 409, 422),
)
def reverse_reward(
    order_id: UUID,
    body: ReasonIn,
    idempotency_key: IdempotencyKey,
    principal: FinancePrincipal,
    rewards: Rewards,
    now: Now,
) -> JSONResponse:
    """A disputed delivery: its reward and the referral bonus it paid are taken back together, each by a
    reversing ledger transaction, with the reason in the audit log. 404 when the order has no reward; 409
    `reward-already-reversed`, or `reward-no-longer-held` when the shopper (or the referrer) no longer holds the
    money because it was paid out or spent at the till, or an approved payout batch is to pay it (reject that
    batch first): nothing is reversed then."""
    with rewards() as uow:
        reversals = services.reverse_delivery_reward(
            uow,
            order_id=order_id,
            actor_id=principal.user_id,
            reason=body.reason,
            now=now,
            idempotency_key=idempotency_key,
        )
    out = RewardReversalOut(
        order_id=order_id, reversed_ids=list(reversals.reversed_ids), reversal_ids=list(reversals.reversal_ids)
    )
    return created_or_replayed(out, reversals.replayed)


@router.post(
    "/orders/{order_id}/reward", **created_once(RewardCreditOut, "the first request's credit, replayed", 404, 409, 422)
)
def credit_reward(
    order_id: UUID,
    idempotency_key: IdempotencyKey,
    principal: FinancePrincipal,
    app: Services,
    now: Now,
    body: RewardCreditIn | None = None,
) -> JSONResponse:
    """Credit a delivered order that has no reward (delivered while no policy was in force: reconciliation's
    `delivered_without_reward`) to the shopper who delivered it, as the delivery would have been credited: its
    share of the accepted offer's detour, its bags, the local hour and payment method of the offer. Priced by
    the approved `policy_version`, or else the version in force at the delivery; earned at the delivery (that
    day's caps apply), moved now. 404 unknown order; 409 `already-rewarded`, `delivery-not-recorded` (not
    delivered, or no proof says who delivered it), `no-policy-in-force`; 422 a version unknown or not approved."""
    late = services.credit_unrewarded_delivery(
        app.context.unit_of_work,
        postgres_rewards_within,
        order_id=order_id,
        actor_id=principal.user_id,
        now=now,
        idempotency_key=idempotency_key,
        policy_version=body.policy_version if body is not None else None,
    )
    return created_or_replayed(RewardCreditOut.model_validate(late.credit), late.replayed)
