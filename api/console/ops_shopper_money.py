"""Operations console: a shopper's money at the store, the forms of the shopper's page (`ops_shoppers` shows what
they hold): who brought them, recorded by the referrer's name or id, and their store credit spent at the till with
a form whose idempotency key is minted as it is shown (a double submission takes the credit once). A refused form
is the shopper's page again, its message beside the field and what was typed kept. The same use cases as
`api.routers.ops_money`."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.formats import money
from api.console.ops_shoppers import MoneyForm, render_shopper
from api.console.paging import Paging
from api.console.problems import CONSOLE_ERRORS, FormProblem, readable_problem
from api.console.session import CONSOLE_PREFIX, Form, OpsUser, console_idempotency_key
from api.console.web import redirect
from api.dependencies import AppServices, Services
from api.money_schemas import StoreCreditRedemptionIn
from api.rewards_dependencies import Now, Rewards
from crowdship.errors import InvalidInput
from crowdship.units import Cents, parse_dollars
from dispatch.services import queries
from rewards import services

router = APIRouter(prefix=CONSOLE_PREFIX + "/ops/shoppers", include_in_schema=False)
MATCHES_NAMED = 5
REDEMPTION_LABELS = {"amount": "Amount", "amount_cents": "Amount"}
REFERRAL_LABELS = {"referrer": "Referred by", "referrer_shopper_id": "Referred by", "referred_shopper_id": "Shopper"}


def _page(shopper_id: UUID) -> str:
    return f"{CONSOLE_PREFIX}/ops/shoppers/{shopper_id}"


@router.post("/{shopper_id}/referral", response_model=None)
def register_referral(
    request: Request, shopper_id: UUID, user: OpsUser, form: Form, rewards: Rewards, now: Now, app: Services
) -> RedirectResponse | HTMLResponse:
    """Who brought the shopper, named by the start of their name (one match) or their id."""
    referrer = None
    try:
        referrer = _referrer(request, form.get("referrer"))
        with rewards() as uow:
            services.register_referral(
                uow,
                referrer_shopper_id=referrer,
                referred_shopper_id=shopper_id,
                actor_id=user.principal.user_id,
                now=now,
            )
    except CONSOLE_ERRORS as error:
        renamed = {"referrer_shopper_id": "referrer"}
        if referrer == shopper_id:  # the name typed is the shopper's own: the refusal goes beside it
            renamed["referred_shopper_id"] = "referrer"
        problem = readable_problem(error, REFERRAL_LABELS, renamed=renamed)
        return _refused(request, user, app, shopper_id, "referral", problem, form.get("referrer"))
    name = queries.shopper_names(_services(request).context, [referrer]).get(referrer, "the referrer")
    return redirect(request, _page(shopper_id), flash=f"Recorded: {name} brought this shopper.")


def _referrer(request: Request, text: str) -> UUID:
    text = text.strip()
    if not text:
        raise InvalidInput("referrer", "give the name or the id of who brought the shopper")
    try:
        return UUID(text)
    except ValueError:
        pass
    found = list(queries.shoppers_named(_services(request).context, prefix=text, limit=MATCHES_NAMED + 1))
    exact = [shopper for shopper in found if shopper.display_name.casefold() == text.casefold()]
    if len(found) == 1 or len(exact) == 1:
        return (exact or found)[0].id
    if not found:
        raise InvalidInput("referrer", f"no shopper's name starts with “{text}”")
    listed = ", ".join(f"{shopper.display_name} ({str(shopper.id)[:8]})" for shopper in found[:MATCHES_NAMED])
    raise InvalidInput("referrer", f"several shoppers' names start with “{text}” ({listed}); give the id")


@router.post("/{shopper_id}/store-credit-redemptions", response_model=None)
def redeem_store_credit(
    request: Request, shopper_id: UUID, user: OpsUser, form: Form, rewards: Rewards, now: Now, app: Services
) -> RedirectResponse | HTMLResponse:
    """Store credit spent at the till, in dollars and cents as the till shows them."""
    key = console_idempotency_key(form.get("idempotency_key"), "till")
    try:
        amount = form.get("amount")
        cents = parse_dollars(amount, "amount") if amount.strip() else None
        body = StoreCreditRedemptionIn.model_validate({"amount_cents": cents})
        with rewards() as uow:
            posting = services.redeem_store_credit(
                uow,
                shopper_id=shopper_id,
                amount_cents=Cents(body.amount_cents),
                now=now,
                idempotency_key=key,
                actor_id=user.principal.user_id,
            )
        with rewards() as uow:
            left = services.shopper_balances(uow, shopper_id=shopper_id).store_credit_cents
    except CONSOLE_ERRORS as error:
        problem = readable_problem(error, REDEMPTION_LABELS, renamed={"amount_cents": "amount"})
        return _refused(request, user, app, shopper_id, "till", problem, form.get("amount"))
    said = "was already taken by this form" if posting.replayed else "is taken"
    flash = f"{money(posting.amount_cents)} of store credit {said}; {money(left)} left."
    return redirect(request, _page(shopper_id), flash=flash)


def _refused(
    request: Request,
    user: OpsUser,
    app: Services,
    shopper_id: UUID,
    which: str,
    problem: FormProblem,
    typed: str,
) -> HTMLResponse:
    """The shopper's page again with the refusal beside the form that was sent (`which`), keeping what was typed
    (nothing was done: the till form gets a new idempotency key as any showing of it)."""
    return render_shopper(
        request, user, app, shopper_id, Paging(limit=20, offset=0), money_form=MoneyForm(which, problem, typed)
    )


def _services(request: Request) -> AppServices:
    found: AppServices = request.app.state.services
    return found
