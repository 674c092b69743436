"""Operations' part in shoppers' money: who brought a new shopper (referrals, which pay the referrer a share of
the newcomer's first rewards), and store credit spent at the till by the store's staff, once per
`Idempotency-Key` (a retry answers 200 with `Idempotent-Replayed: true`, another request under the key 409)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.dependencies import OPS_ROLES, OpsPrincipal, require_roles
from api.fields import IdempotencyKey
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.money_schemas import ReferralIn, ReferralOut, StoreCreditRedemptionIn, StoreCreditRedemptionOut
from api.problems import problem_responses
from api.rewards_dependencies import Now, Rewards
from crowdship.errors import NotFound
from crowdship.units import Cents
from rewards import services

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/ops",
    tags=["ops"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*OPS_ROLES))],
)


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralOut,
    responses={
        200: {"model": ReferralOut, "description": "The same referral sent again by who recorded it, as recorded"},
        **problem_responses(409, 422),
    },
)
def register_referral(body: ReferralIn, principal: OpsPrincipal, rewards: Rewards, now: Now) -> JSONResponse:
    """Record who brought a new shopper, before their first delivery. 422 naming the field for a shopper who
    does not exist, one referring themselves, one who already delivered, or two shoppers referring each
    other; 409 `already-referred` when the shopper has a referrer, unless you recorded this very referral:
    then it is answered as recorded, 200 (a retry after a lost answer)."""
    with rewards() as uow:
        referral = services.register_referral(
            uow,
            referrer_shopper_id=body.referrer_shopper_id,
            referred_shopper_id=body.referred_shopper_id,
            actor_id=principal.user_id,
            now=now,
        )
    shown = ReferralOut.model_validate(referral).model_dump(mode="json")
    return JSONResponse(shown, status_code=200 if referral.repeated else 201)


@router.get("/shoppers/{shopper_id}/referral", response_model=ReferralOut, responses=problem_responses(404))
def shopper_referral(shopper_id: UUID, rewards: Rewards) -> ReferralOut:
    """Who brought the shopper; 404 for an unknown shopper, or one nobody is registered as having brought."""
    with rewards() as uow:
        referral = services.shopper_referral(uow, shopper_id=shopper_id)
    if referral is None:
        raise NotFound(f"no referral is registered for shopper {shopper_id}")
    return ReferralOut.model_validate(referral)


@router.post(
    "/shoppers/{shopper_id}/store-credit-redemptions",
    **created_once(StoreCreditRedemptionOut, "the first request's posting, replayed", 404, 409, 422),
)
def redeem_store_credit(
    shopper_id: UUID,
    body: StoreCreditRedemptionIn,
    idempotency_key: IdempotencyKey,
    principal: OpsPrincipal,
    rewards: Rewards,
    now: Now,
) -> JSONResponse:
    """The shopper spends store credit at the till: the amount leaves their store credit in one ledger
    transaction. 404 unknown shopper; 409 `not-enough-store-credit` beyond their balance (nothing is taken)."""
    with rewards() as uow:
        posting = services.redeem_store_credit(
            uow,
            shopper_id=shopper_id,
            amount_cents=Cents(body.amount_cents),
            now=now,
            idempotency_key=idempotency_key,
            actor_id=principal.user_id,
        )
    out = StoreCreditRedemptionOut(
        shopper_id=shopper_id, transaction_id=posting.transaction_id, amount_cents=posting.amount_cents
    )
    return created_or_replayed(out, posting.replayed)
