"""Finance console: the books. The reconciliation report, a shopper's ledger, and a shopper's rewards, each
with its policy version, its inputs and its breakdown in cents. The same use cases as `api.routers.finance`
and the wallet's reward history."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.paging import PageQuery, PageView
from api.console.problems import CONSOLE_ERRORS, FormProblem, readable_problem
from api.console.web import CONSOLE_PREFIX, FinanceUser, render
from api.dependencies import AppServices
from api.rewards_dependencies import Rewards
from api.rewards_schemas import LedgerEntryOut, ReconciliationOut, RewardOut
from dispatch.model import Shopper
from dispatch.services import queries
from rewards import services
from rewards.ledger import AccountKind

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
ShopperField = Annotated[str, Query(max_length=100)]
MATCHES_SHOWN = 20
AccountField = Annotated[str, Query(max_length=20)]
SHOPPER_ACCOUNTS = (AccountKind.CASH_PAYABLE, AccountKind.STORE_CREDIT)


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation_page(request: Request, user: FinanceUser, rewards: Rewards, pages: PageQuery) -> HTMLResponse:
    with rewards() as uow:
        report = ReconciliationOut.model_validate(services.reconciliation_report(uow))
    return render(
        request,
        "finance/reconciliation.html",
        user,
        nav="reconciliation",
        report=report,
        page=PageView.cut(report.discrepancies, pages),
    )


def _shopper_id(request: Request, text: str) -> UUID | FormProblem | list[Shopper] | None:
    """The shopper the form names: by id (pasted, or followed from a payout line), or by the start of their name
    (one match is taken; several are listed to choose from)."""
    text = text.strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        pass
    services: AppServices = request.app.state.services
    found = list(queries.shoppers_named(services.context, prefix=text, limit=MATCHES_SHOWN))
    if len(found) == 1:
        return found[0].id
    if found:
        return found
    return FormProblem(f"No shopper's name starts with “{text}”.", {"shopper_id": "no such shopper"})


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(
    request: Request,
    user: FinanceUser,
    rewards: Rewards,
    pages: PageQuery,
    shopper_id: ShopperField = "",
    account: AccountField = "",
) -> HTMLResponse:
    chosen = _shopper_id(request, shopper_id)
    kind = AccountKind(account) if account in set(SHOPPER_ACCOUNTS) else None
    context: dict[str, Any] = {"nav": "ledger", "shopper_id": shopper_id.strip(), "page": None}
    context |= {"account": kind.value if kind else ""}
    context |= {"accounts": SHOPPER_ACCOUNTS, "name": None, "matches": []}
    if isinstance(chosen, FormProblem):
        return render(request, "finance/ledger.html", user, problem=chosen, **context)
    if isinstance(chosen, list):
        return render(request, "finance/ledger.html", user, **(context | {"matches": chosen}))
    if chosen is not None:
        context["shopper_id"] = str(chosen)
        try:
            with rewards() as uow:
                page = services.shopper_ledger(
                    uow, shopper_id=chosen, account=kind, limit=pages.limit, offset=pages.offset
                )
                context["name"] = services.payee_names(uow, [chosen])[chosen]
        except CONSOLE_ERRORS as error:
            return render(request, "finance/ledger.html", user, problem=readable_problem(error), **context)
        entries = [LedgerEntryOut.model_validate(line) for line in page.items]
        context["page"] = PageView(entries, page.total, pages.limit, pages.offset)
    return render(request, "finance/ledger.html", user, **context)


@router.get("/rewards", response_class=HTMLResponse)
def rewards_page(
    request: Request, user: FinanceUser, rewards: Rewards, pages: PageQuery, shopper_id: ShopperField = ""
) -> HTMLResponse:
    """One shopper's rewards, or every reward (newest first) when no shopper is chosen."""
    chosen = _shopper_id(request, shopper_id)
    context: dict[str, Any] = {"nav": "rewards", "shopper_id": shopper_id.strip(), "page": None, "name": None}
    context["matches"] = []
    if isinstance(chosen, FormProblem):
        return render(request, "finance/rewards.html", user, problem=chosen, **context)
    if isinstance(chosen, list):
        return render(request, "finance/rewards.html", user, **(context | {"matches": chosen}))
    if chosen is not None:
        context["shopper_id"] = str(chosen)
    try:
        with rewards() as uow:
            if chosen is None:
                page = services.every_reward(uow, limit=pages.limit, offset=pages.offset)
            else:
                page = services.shopper_rewards(uow, shopper_id=chosen, limit=pages.limit, offset=pages.offset)
            names = services.payee_names(uow, [reward.record.shopper_id for reward in page.items])
            context["name"] = names.get(chosen) if chosen else None
    except CONSOLE_ERRORS as error:
        return render(request, "finance/rewards.html", user, problem=readable_problem(error), **context)
    shown = [(RewardOut.model_validate(reward), reward.record.shopper_id) for reward in page.items]
    context |= {"page": PageView(shown, page.total, pages.limit, pages.offset), "names": names}
    return render(request, "finance/rewards.html", user, **context)
