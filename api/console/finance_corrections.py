"""Finance console: corrections of the books. A disputed delivery's reward reversed with its referral bonus (a
form under each reward of the Rewards page, and a page of its own that explains the reversal and shows a
refusal next to the form), and a delivery recorded without a reward credited afterwards (from the
reconciliation's "delivered without reward" rows: the amount is shown before it is credited). The same use
cases as `api.routers.finance_corrections`, each form carrying an idempotency key minted when it is shown, so
a double submission acts once."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.formats import money
from api.console.names import ids_in, named, names_of
from api.console.problems import CONSOLE_ERRORS, FormProblem, readable_problem
from api.console.session import CONSOLE_PREFIX, FinanceUser, Form, console_idempotency_key, safe_console_path
from api.console.web import new_idempotency_key, redirect, render
from api.dependencies import AppServices, Services
from api.money_schemas import RewardCreditIn
from api.rewards_dependencies import Now, Rewards
from api.rewards_schemas import ReasonIn, RewardOut
from composition import postgres_rewards_within
from dispatch.services import queries
from rewards import services
from rewards.policy import PaymentMethod

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance/orders", include_in_schema=False)
REWARDS = f"{CONSOLE_PREFIX}/finance/rewards"
REASON_LABELS = {"reason": "Reason"}
VERSION_LABELS = {"policy_version": "Policy version"}
VersionField = Annotated[str, Query(max_length=12)]


def _account_words(method: PaymentMethod) -> str:
    return "store credit" if method is PaymentMethod.STORE_CREDIT else "cash payable"


def _rewards_of(shopper_id: UUID) -> str:
    return f"{REWARDS}?shopper_id={shopper_id}"


# --- A reward reversed -------------------------------------------------------------------------------------


@router.get("/{order_id}/reward-reversal", response_class=HTMLResponse)
def reversal_page(request: Request, order_id: UUID, user: FinanceUser, rewards: Rewards) -> HTMLResponse:
    return _reversal(request, user, rewards, order_id)


def _reversal(
    request: Request,
    user: FinanceUser,
    rewards: Rewards,
    order_id: UUID,
    *,
    problem: FormProblem | None = None,
    reason: str = "",
    key: str | None = None,
) -> HTMLResponse:
    """The reward, what reversing it takes back from whom, and the form (a refused one keeps its reason and
    its key: sending it again once the cause is fixed still acts once)."""
    try:
        with rewards() as uow:
            found = services.order_reward(uow, order_id=order_id)
        shopper_id = found.reward.record.shopper_id
        with rewards() as uow:
            holding = services.shopper_balances(uow, shopper_id=shopper_id)
            promise = services.promised_payout(uow, shopper_id=shopper_id)
            promised_by = names_of(request, uow, [promise.batch_id]).get(promise.batch_id) if promise else None
        with rewards() as uow:
            names = services.payee_names(uow, [i for i in (shopper_id, found.referrer_shopper_id) if i is not None])
            # what a refusal names by id (the order, the approved batch that is to pay it) as the console names it
            in_problem = names_of(request, uow, ids_in([problem.message])) if problem is not None else {}
    except CONSOLE_ERRORS as error:
        return render(request, "finance/reward_reversal.html", user, nav="rewards", problem=readable_problem(error))
    reference = queries.order_references(_services(request).context, [order_id]).get(order_id)
    if problem is not None:
        problem = replace(problem, message=named(problem.message, in_problem))
    in_cash = found.reward.method is not PaymentMethod.STORE_CREDIT
    held = holding.cash_payable_cents if in_cash else holding.store_credit_cents
    # cash an approved batch is to pay is not taken back (the bank may be paying it): said before a reason is typed
    promised = promise.amount_cents if promise and in_cash else 0
    return render(
        request,
        "finance/reward_reversal.html",
        user,
        nav="rewards",
        problem=problem,
        reward=RewardOut.model_validate(found.reward),
        found=found,
        shopper_id=shopper_id,
        reference=reference or str(order_id)[:8],
        names=names,
        account=_account_words(found.reward.method),
        held_cents=held,
        promised_by=promised_by if promised and held - promised < found.reward.record.amount_cents else None,
        reason=reason,
        idempotency_key=key or new_idempotency_key(),
    )


@router.post("/{order_id}/reward-reversal", response_model=None)
def reverse_reward(
    request: Request, order_id: UUID, user: FinanceUser, form: Form, rewards: Rewards, now: Now
) -> Response:
    reason, key = form.get("reason"), form.get("idempotency_key")
    try:
        body = ReasonIn.model_validate({"reason": reason})
        with rewards() as uow:
            reversals = services.reverse_delivery_reward(
                uow,
                order_id=order_id,
                actor_id=user.principal.user_id,
                reason=body.reason,
                now=now,
                idempotency_key=console_idempotency_key(key, "reverse-reward"),
            )
        with rewards() as uow:
            found = services.order_reward(uow, order_id=order_id)
    except CONSOLE_ERRORS as error:
        problem = readable_problem(error, REASON_LABELS)
        return _reversal(request, user, rewards, order_id, problem=problem, reason=reason, key=key)
    record = found.reward.record
    reference = queries.order_references(_services(request).context, [order_id]).get(order_id, str(order_id)[:8])
    said = "was already reversed by this form" if reversals.replayed else "is reversed"
    bonus = f", and its {money(found.referral_bonus_cents)} referral bonus" if found.referral_bonus_cents else ""
    flash = f"The reward of order {reference} {said}: {money(record.amount_cents)} taken back{bonus}."
    back = safe_console_path(form.get("back")) if form.get("back") else _rewards_of(record.shopper_id)
    return redirect(request, back, flash=flash)


# --- A delivery without a reward credited --------------------------------------------------------------------


@router.get("/{order_id}/reward", response_class=HTMLResponse)
def credit_page(
    request: Request, order_id: UUID, user: FinanceUser, app: Services, policy_version: VersionField = ""
) -> HTMLResponse:
    return _credit(request, user, app, order_id, version_text=policy_version)


def _credit(
    request: Request,
    user: FinanceUser,
    app: AppServices,
    order_id: UUID,
    *,
    version_text: str = "",
    problem: FormProblem | None = None,
    key: str | None = None,
) -> HTMLResponse:
    """The delivery, the version that would price it (chosen among the approved ones), the amount it would
    credit and to whom, and the form that credits it."""
    context: dict[str, Any] = {"nav": "reconciliation", "order_id": order_id, "quote": None}
    try:
        chosen = RewardCreditIn.model_validate({"policy_version": version_text.strip() or None})
        quote = services.quote_unrewarded_delivery(
            app.context.unit_of_work,
            postgres_rewards_within,
            order_id=order_id,
            policy_version=chosen.policy_version,
        )
        if quote.policy_version is None and quote.approved_versions:  # none was in force: the newest, to start
            quote = services.quote_unrewarded_delivery(
                app.context.unit_of_work,
                postgres_rewards_within,
                order_id=order_id,
                policy_version=quote.approved_versions[0],
            )
    except CONSOLE_ERRORS as error:
        problem = problem or readable_problem(error, VERSION_LABELS)
        return render(request, "finance/reward_credit.html", user, problem=problem, **context)
    shopper_id = quote.delivered.shopper_id
    reference = queries.order_references(app.context, [order_id]).get(order_id)
    name = queries.shopper_names(app.context, [shopper_id]).get(shopper_id, str(shopper_id)[:8])
    context |= {
        "quote": quote,
        "reference": reference or str(order_id)[:8],
        "name": name,
        "shopper_id": shopper_id,
        "account": _account_words(quote.inputs.method) if quote.inputs else "",
        "idempotency_key": key or new_idempotency_key(),
    }
    return render(request, "finance/reward_credit.html", user, problem=problem, **context)


@router.post("/{order_id}/reward", response_model=None)
def credit_reward(request: Request, order_id: UUID, user: FinanceUser, form: Form, app: Services, now: Now) -> Response:
    version_text, key = form.get("policy_version"), form.get("idempotency_key")
    try:
        chosen = RewardCreditIn.model_validate({"policy_version": version_text.strip() or None})
        late = services.credit_unrewarded_delivery(
            app.context.unit_of_work,
            postgres_rewards_within,
            order_id=order_id,
            actor_id=user.principal.user_id,
            now=now,
            idempotency_key=console_idempotency_key(key, "credit-reward"),
            policy_version=chosen.policy_version,
        )
    except CONSOLE_ERRORS as error:
        problem = readable_problem(error, VERSION_LABELS)
        return _credit(request, user, app, order_id, version_text=version_text, problem=problem, key=key)
    credit = late.credit
    reference = queries.order_references(app.context, [order_id]).get(order_id, str(order_id)[:8])
    said = "was already credited by this form" if late.replayed else "is credited"
    flash = (
        f"The delivery of order {reference} {said}: {money(credit.amount_cents)} by policy v{credit.policy_version}."
    )
    return redirect(request, _rewards_of(credit.shopper_id), flash=flash)


def _services(request: Request) -> AppServices:
    found: AppServices = request.app.state.services
    return found
