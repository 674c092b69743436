"""Operations console: shoppers listed, and found by the start of their name; a shopper's page (verify their
identity, set their trust tier, see their incidents, their store credit and who brought them; the forms of
the last two are `ops_shopper_money`'s)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.paging import PageQuery, PageView, Paging
from api.console.problems import CONSOLE_ERRORS, FormProblem, readable_problem
from api.console.session import CONSOLE_PREFIX, Form, OpsUser
from api.console.web import redirect, render
from api.dependencies import AppServices, Services
from api.ops_records_schemas import TierIn
from composition import rewards_on
from crowdship.units import Cents
from dispatch.model import TrustTier
from dispatch.services import accounts, queries
from dispatch.services.incidents import list_incidents
from rewards import services as rewards_services
from rewards.referrals import Referral

router = APIRouter(prefix=CONSOLE_PREFIX + "/ops/shoppers", include_in_schema=False)

TIERS = [(int(tier), tier.name.title()) for tier in TrustTier]
"""Trust tiers as people say them ("Gold"), by value."""


MAX_NAME_CHARS = 100
MAX_FOUND = 200
"""A search by name lists at most this many shoppers (paged); a longer start of the name narrows it."""


@router.get("", response_class=HTMLResponse)
def shoppers(request: Request, user: OpsUser, services: Services, paging: PageQuery, name: str = "") -> HTMLResponse:
    """Every shopper, or those whose name starts with `name` (any case, as `queries.shoppers_named`)."""
    name = name.strip()[:MAX_NAME_CHARS]
    if name:
        found = list(queries.shoppers_named(services.context, prefix=name, limit=MAX_FOUND))
        page = PageView.cut(found, paging)
    else:
        page = PageView.of(queries.list_shoppers(services.context, limit=paging.limit, offset=paging.offset), paging)
    return render(
        request,
        "ops/shoppers.html",
        user,
        nav="shoppers",
        page=page,
        tiers=dict(TIERS),
        name=name,
        capped=bool(name) and page.total >= MAX_FOUND,
        max_found=MAX_FOUND,
    )


@router.get("/{shopper_id}", response_class=HTMLResponse)
def shopper_page(
    request: Request, shopper_id: UUID, user: OpsUser, services: Services, paging: PageQuery
) -> HTMLResponse:
    return render_shopper(request, user, services, shopper_id, paging)


@dataclass(frozen=True)
class MoneyForm:
    """A money form of the shopper's page that was refused: which ("referral" or "till"), why, what was typed."""

    which: str
    problem: FormProblem
    typed: str


def render_shopper(
    request: Request,
    user: OpsUser,
    services: AppServices,
    shopper_id: UUID,
    paging: Paging,
    *,
    money_form: MoneyForm | None = None,
) -> HTMLResponse:
    """The shopper's page; with `money_form`, answering with its refusal's status."""
    try:
        shopper = accounts.get_shopper(services.context, shopper_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="shoppers", problem=readable_problem(error))
    found = list_incidents(services.context, shopper_id=shopper_id, limit=paging.limit, offset=paging.offset)
    return render(
        request,
        "ops/shopper.html",
        user,
        status_code=money_form.problem.status if money_form else 200,
        nav="shoppers",
        shopper=shopper,
        tiers=TIERS,
        incidents=PageView.of(found, paging),
        money=shopper_money(request, shopper_id),
        money_form=money_form,
    )


@dataclass(frozen=True)
class ShopperMoney:
    """What the shopper's page shows of their money: the store credit they can spend, and who brought them."""

    store_credit_cents: Cents
    referral: Referral | None
    referrer_name: str | None


def shopper_money(request: Request, shopper_id: UUID) -> ShopperMoney | None:
    """For the shopper's page (`ops_shoppers`); None when the rewards side cannot be read (the page still
    shows the rest)."""
    app: AppServices = request.app.state.services
    open_rewards = rewards_on(request.app.state.pool)
    try:
        with open_rewards() as uow:
            balances = rewards_services.shopper_balances(uow, shopper_id=shopper_id)
        with open_rewards() as uow:
            referral = rewards_services.shopper_referral(uow, shopper_id=shopper_id)
    except CONSOLE_ERRORS:
        return None
    name = None
    if referral is not None:
        name = queries.shopper_names(app.context, [referral.referrer_shopper_id]).get(referral.referrer_shopper_id)
    return ShopperMoney(balances.store_credit_cents, referral, name)


@router.post("/{shopper_id}/verification", response_model=None)
def verification(request: Request, shopper_id: UUID, user: OpsUser, services: Services, form: Form) -> RedirectResponse:
    """Records the identity check (checked or not: the box says which)."""
    url = f"{CONSOLE_PREFIX}/ops/shoppers/{shopper_id}"
    verified = form.get("identity_verified") == "yes"
    try:
        shopper = accounts.verify_shopper(
            services.context, shopper_id=shopper_id, identity_verified=verified, actor_id=user.principal.user_id
        )
    except CONSOLE_ERRORS as error:
        return redirect(request, url, flash=readable_problem(error).message, kind="error")
    state = "verified" if shopper.identity_verified else "not verified"
    return redirect(request, url, flash=f"{shopper.display_name}'s identity is now recorded as {state}.")


@router.post("/{shopper_id}/tier", response_model=None)
def tier(request: Request, shopper_id: UUID, user: OpsUser, services: Services, form: Form) -> RedirectResponse:
    url = f"{CONSOLE_PREFIX}/ops/shoppers/{shopper_id}"
    try:
        chosen = form.model(TierIn)
        shopper = accounts.verify_shopper(
            services.context,
            shopper_id=shopper_id,
            trust_tier=TrustTier(chosen.trust_tier),
            actor_id=user.principal.user_id,
        )
    except CONSOLE_ERRORS as error:
        return redirect(request, url, flash=readable_problem(error).message, kind="error")
    tier_name = shopper.trust_tier.name.title()
    return redirect(request, url, flash=f"{shopper.display_name}'s trust tier is now {tier_name}.")
