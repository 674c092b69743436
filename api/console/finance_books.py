"""Finance console: the books. The reconciliation report, a shopper's ledger, and a shopper's rewards, each
with its policy version, its inputs and its breakdown in cents. The same use cases as `api.routers.finance`
and the wallet's reward history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.names import ids_in, named, names_of
from api.console.paging import PageQuery, PageView
from api.console.problems import CONSOLE_ERRORS, FormProblem, readable_problem
from api.console.session import CONSOLE_PREFIX, FinanceUser
from api.console.web import render
from api.dependencies import AppServices
from api.rewards_dependencies import Rewards
from api.rewards_schemas import LedgerEntryOut, ReconciliationOut, RewardOut
from dispatch.model import Shopper
from dispatch.services import queries
from rewards import services
from rewards.ledger import AccountKind, TransactionKind
from rewards.records import LedgerLine

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
ShopperField = Annotated[str, Query(max_length=100)]
MATCHES_SHOWN = 20
AccountField = Annotated[str, Query(max_length=20)]
SHOPPER_ACCOUNTS = (AccountKind.CASH_PAYABLE, AccountKind.STORE_CREDIT)
REVERSED_WORDS = {TransactionKind.DELIVERY_REWARD: "the reward", TransactionKind.REFERRAL_BONUS: "the referral bonus"}


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation_page(request: Request, user: FinanceUser, rewards: Rewards, pages: PageQuery) -> HTMLResponse:
    with rewards() as uow:
        report = ReconciliationOut.model_validate(services.reconciliation_report(uow))
        page = PageView.cut(report.discrepancies, pages)
        # An order's reference where the subject is an order (a reward's discrepancies); accounts, transactions
        # and payout lines have no name, and keep the start of their id.
        subjects = names_of(request, uow, {item.subject_id for item in page.items})
    return render(
        request,
        "finance/reconciliation.html",
        user,
        nav="reconciliation",
        report=report,
        page=page,
        subjects=subjects,
    )


def _shopper_id(request: Request, text: str) -> UUID | FormProblem | list[Shopper] | None:
    """The shopper the form names: by id (pasted, or followed from a payout line), or by the start of their name
    (one match is taken, or the one whose whole name it is; several are listed to choose from)."""
    text = text.strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        pass
    found = list(queries.shoppers_named(_app_services(request).context, prefix=text, limit=MATCHES_SHOWN))
    exact = [shopper for shopper in found if shopper.display_name.casefold() == text.casefold()]
    if len(found) == 1 or len(exact) == 1:
        return (exact or found)[0].id
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
    """A shopper's entries, each description with names where it holds ids (the order's reference...). The
    search box keeps what was typed, or shows the shopper's name when they were chosen by id."""
    chosen = _shopper_id(request, shopper_id)
    kind = AccountKind(account) if account in set(SHOPPER_ACCOUNTS) else None
    context: dict[str, Any] = {"nav": "ledger", "shopper_id": shopper_id.strip(), "page": None, "chosen_id": None}
    context |= {"account": kind.value if kind else ""}
    context |= {"accounts": SHOPPER_ACCOUNTS, "name": None, "matches": []}
    if isinstance(chosen, FormProblem):
        return render(request, "finance/ledger.html", user, problem=chosen, **context)
    if isinstance(chosen, list):
        return render(request, "finance/ledger.html", user, **(context | {"matches": chosen}))
    if chosen is not None:
        try:
            with rewards() as uow:
                name = services.payee_names(uow, [chosen]).get(chosen)
                if name is None:
                    return render(request, "finance/ledger.html", user, problem=_no_such_shopper(), **context)
                page = services.shopper_ledger(
                    uow, shopper_id=chosen, account=kind, limit=pages.limit, offset=pages.offset
                )
                orders = {line.order_id for line in page.items if line.order_id is not None}
                names = names_of(request, uow, ids_in(line.description for line in page.items) | orders)
                names |= _reversed_names(page.items, names)
        except CONSOLE_ERRORS as error:
            return render(request, "finance/ledger.html", user, problem=readable_problem(error), **context)
        entries = [
            LedgerEntryOut.model_validate(line).model_copy(update={"description": named(line.description, names)})
            for line in page.items
        ]
        context |= {"name": name, "chosen_id": chosen, "page": PageView(entries, page.total, pages.limit, pages.offset)}
        if _is_id(shopper_id):
            context["shopper_id"] = name
    return render(request, "finance/ledger.html", user, **context)


def _reversed_names(lines: Sequence[LedgerLine], names: Mapping[UUID, str]) -> dict[UUID, str]:
    """What each reversal on the page undid, for its description ("reversal of <transaction id>: why"), which
    names a transaction finance can look up nowhere: the posting for its order's reference, a reward or a
    referral bonus when that posting is on the page too."""
    kinds = {line.transaction_id: line.kind for line in lines}
    said = {}
    for line in lines:
        if line.reverses_id is None or line.order_id is None or line.order_id not in names:
            continue
        what = REVERSED_WORDS.get(kinds.get(line.reverses_id, TransactionKind.REVERSAL), "the posting")
        said[line.reverses_id] = f"{what} for order {names[line.order_id]}"
    return said


def _app_services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services


def _is_id(text: str) -> bool:
    try:
        UUID(text.strip())
    except ValueError:
        return False
    return True


def _no_such_shopper() -> FormProblem:
    return FormProblem("No shopper has this id.", {"shopper_id": "no such shopper"}, 404)


@router.get("/rewards", response_class=HTMLResponse)
def rewards_page(
    request: Request, user: FinanceUser, rewards: Rewards, pages: PageQuery, shopper_id: ShopperField = ""
) -> HTMLResponse:
    """One shopper's rewards, or every reward (newest first) when no shopper is chosen; each by its order's
    reference. The search box keeps what was typed, as on the ledger."""
    chosen = _shopper_id(request, shopper_id)
    context: dict[str, Any] = {"nav": "rewards", "shopper_id": shopper_id.strip(), "page": None, "name": None}
    context |= {"matches": [], "chosen_id": chosen if isinstance(chosen, UUID) else None}
    if isinstance(chosen, FormProblem):
        return render(request, "finance/rewards.html", user, problem=chosen, **context)
    if isinstance(chosen, list):
        return render(request, "finance/rewards.html", user, **(context | {"matches": chosen}))
    try:
        with rewards() as uow:
            if chosen is None:
                page = services.every_reward(uow, limit=pages.limit, offset=pages.offset)
            else:
                page = services.shopper_rewards(uow, shopper_id=chosen, limit=pages.limit, offset=pages.offset)
            names = services.payee_names(
                uow, [*(reward.record.shopper_id for reward in page.items), *([chosen] if chosen else [])]
            )
    except CONSOLE_ERRORS as error:
        return render(request, "finance/rewards.html", user, problem=readable_problem(error), **context)
    if chosen is not None:
        if chosen not in names:
            return render(request, "finance/rewards.html", user, problem=_no_such_shopper(), **context)
        context["name"] = names[chosen]
        if _is_id(shopper_id):
            context["shopper_id"] = names[chosen]
    services_ = _app_services(request)
    references = queries.order_references(services_.context, [reward.record.order_id for reward in page.items])
    shown = [(RewardOut.model_validate(reward), reward.record.shopper_id) for reward in page.items]
    context |= {"page": PageView(shown, page.total, pages.limit, pages.offset), "names": names}
    return render(request, "finance/rewards.html", user, references=references, **context)
