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
from api.rewards_dependencies import Rewards
from api.rewards_schemas import LedgerEntryOut, ReconciliationOut, RewardOut
from rewards import services
from rewards.ledger import AccountKind

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
ShopperField = Annotated[str, Query(max_length=100)]
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


def _shopper_id(text: str) -> UUID | FormProblem | None:
    if not text.strip():
        return None
    try:
        return UUID(text.strip())
    except ValueError:
        return FormProblem("The shopper id is not valid: paste it from a payout line.", {"shopper_id": "not an id"})


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(
    request: Request,
    user: FinanceUser,
    rewards: Rewards,
    pages: PageQuery,
    shopper_id: ShopperField = "",
    account: AccountField = "",
) -> HTMLResponse:
    chosen = _shopper_id(shopper_id)
    kind = AccountKind(account) if account in set(SHOPPER_ACCOUNTS) else None
    context: dict[str, Any] = {"nav": "ledger", "shopper_id": shopper_id.strip(), "page": None}
    context |= {"account": kind.value if kind else ""}
    context |= {"accounts": SHOPPER_ACCOUNTS, "name": None}
    if isinstance(chosen, FormProblem):
        return render(request, "finance/ledger.html", user, problem=chosen, **context)
    if chosen is not None:
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
    chosen = _shopper_id(shopper_id)
    """One shopper's rewards, or every reward (newest first) when no shopper is chosen."""
    context: dict[str, Any] = {"nav": "rewards", "shopper_id": shopper_id.strip(), "page": None, "name": None}
    if isinstance(chosen, FormProblem):
        return render(request, "finance/rewards.html", user, problem=chosen, **context)
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
