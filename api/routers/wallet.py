"""The shopper's wallet: balances, the rewards earned (with the policy and inputs behind each), the ledger, and
how the shopper wants to be paid (cash or store credit).

Only the caller's own: no route takes a shopper id, so no other shopper's money can be asked for.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.dependencies import CurrentPrincipal, ShopperId
from api.fields import Limit, Offset
from api.json_bodies import JsonBodyRoute
from api.problems import problem_responses
from api.rewards_dependencies import Now, Rewards, ShopperAccount
from api.rewards_schemas import LedgerEntryOut, PaymentMethodIn, PaymentMethodOut, RewardOut, WalletOut
from api.schemas import PageOf
from rewards import services

router = APIRouter(
    route_class=JsonBodyRoute, prefix="/shopper/wallet", tags=["wallet"], responses=problem_responses(401, 403)
)


@router.get("", response_model=WalletOut)
def wallet(shopper_id: ShopperId, rewards: Rewards) -> WalletOut:
    """What you hold: store credit to spend in the store, and cash that finance pays out in the next batch."""
    with rewards() as uow:
        return WalletOut.model_validate(services.shopper_balances(uow, shopper_id=shopper_id))


@router.get("/rewards", response_model=PageOf[RewardOut], responses=problem_responses(422))
def rewards_history(
    shopper_id: ShopperId, rewards: Rewards, limit: Limit = 20, offset: Offset = 0
) -> PageOf[RewardOut]:
    """Your rewards, newest first: the policy version and the offer's numbers each was computed from."""
    with rewards() as uow:
        page = services.shopper_rewards(uow, shopper_id=shopper_id, limit=limit, offset=offset)
    return PageOf[RewardOut].from_page(page, limit=limit, offset=offset)


@router.get("/ledger", response_model=PageOf[LedgerEntryOut], responses=problem_responses(404, 422))
def ledger(
    shopper_id: ShopperId,
    rewards: Rewards,
    account: ShopperAccount = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOf[LedgerEntryOut]:
    """Every movement of your money, newest first, with the balance after each."""
    with rewards() as uow:
        page = services.shopper_ledger(uow, shopper_id=shopper_id, account=account, limit=limit, offset=offset)
    return PageOf[LedgerEntryOut].from_page(page, limit=limit, offset=offset)


@router.get("/payment-method", response_model=PaymentMethodOut)
def payment_method(shopper_id: ShopperId, rewards: Rewards) -> PaymentMethodOut:
    """How you are paid for the deliveries you are offered from now on: cash unless you chose store credit."""
    with rewards() as uow:
        return PaymentMethodOut.model_validate(services.payment_preference(uow, shopper_id=shopper_id))


@router.put("/payment-method", response_model=PaymentMethodOut, responses=problem_responses(422))
def choose_payment_method(
    body: PaymentMethodIn, shopper_id: ShopperId, principal: CurrentPrincipal, rewards: Rewards, now: Now
) -> PaymentMethodOut:
    """Choose store credit (the policy adds its store-credit bonus) or cash. It applies to offers made from now
    on: an offer already shown is credited in the method it showed. Choosing the current method changes
    nothing, so a retry is safe. 422 names the field (`method`) for anything but `cash` or `store_credit`."""
    with rewards() as uow:
        preference = services.set_payment_preference(
            uow, shopper_id=shopper_id, method=body.method, now=now, actor_id=principal.user_id
        )
    return PaymentMethodOut.model_validate(preference)
