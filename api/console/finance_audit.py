"""Finance console: the audit log of who did what to money, newest first, paginated as the API's; each entry
said in words (`audit_words`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.audit_words import SUBJECTS, Detail, action_words, details_in_words, subject_words
from api.console.names import names_of
from api.console.paging import PageQuery, PageView
from api.console.problems import filter_problem
from api.console.session import CONSOLE_PREFIX, FinanceUser
from api.console.web import people, render
from api.rewards_dependencies import Rewards
from api.rewards_schemas import AuditEntryOut
from crowdship.pages import Page
from dispatch.services import queries
from rewards import services

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
SubjectKind = Annotated[str, Query(max_length=40, pattern=r"^[a-z_]*$")]
POSTINGS = {"delivery_reward": "Reward", "referral_bonus": "Referral bonus"}
"""A reversed ledger transaction by what it was, when its entry says (reversals since this was written)."""
NAMED_IN_SUBJECT = ("order_id", "reversed_kind")


@dataclass(frozen=True)
class AuditRow:
    """An entry as the page shows it: its codes said in words."""

    entry: AuditEntryOut
    action: str
    subject: str
    details: list[Detail]


def _id_in(details: Mapping[str, object], name: str) -> UUID | None:
    """The id a detail holds, or None when it holds none (or not one written as an id)."""
    text = details.get(name)
    try:
        return UUID(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _order_of(entry: AuditEntryOut) -> UUID | None:
    """The order of a reversed ledger transaction, which the transaction's own id does not tell a person."""
    return _id_in(entry.details, "order_id") if entry.subject_kind == "ledger_transaction" else None


def _line_of(entry: AuditEntryOut) -> UUID | None:
    """The payout line a hold or a release was placed on."""
    return _id_in(entry.details, "line_id")


def _payee_named(
    details: Mapping[str, object], payees: Mapping[UUID, UUID], names: Mapping[UUID, str]
) -> Mapping[str, object]:
    """A payout line said by whom it pays ("Payee: Ana") rather than by its id, which tells a person nothing."""
    line = _id_in(details, "line_id")
    payee = payees.get(line) if line is not None else None
    if payee is None or payee not in names:
        return details
    return {**{name: value for name, value in details.items() if name != "line_id"}, "payee": names[payee]}


def _export_of(entry: AuditEntryOut) -> UUID | None:
    """The download a `batch.exported` entry records, whose id tells a person nothing."""
    return _id_in(entry.details, "export_id") if entry.action == "batch.exported" else None


def _export_said(details: Mapping[str, object], numbers: Mapping[UUID, int]) -> Mapping[str, object]:
    """An export by which download of its batch's bank file it was ("Bank file: download 2, downloaded
    before": what finance look for, a file that may reach the bank twice), not by its id."""
    if "export_id" not in details:
        return details
    export = _id_in(details, "export_id")
    number = numbers.get(export) if export is not None else None
    said = {name: value for name, value in details.items() if name != "export_id"}
    if number is None:
        return said
    return {"bank_file": "first download" if number == 1 else f"download {number}, downloaded before", **said}


def _names_a_posting(entry: AuditEntryOut, names: Mapping[UUID, str]) -> bool:
    return _order_of(entry) in names


def _subject(entry: AuditEntryOut, names: Mapping[UUID, str]) -> str:
    """The subject by what people call it: "Shopper Ana", "Order WEB-1", "Reward policy v2", a batch by its period."""
    kind = subject_words(entry.subject_kind)
    if entry.subject_kind == "reward_policy" and "version" in entry.details:
        return f"{kind} v{entry.details['version']}"
    order = _order_of(entry)
    if order is not None and order in names:
        posting = POSTINGS.get(str(entry.details.get("reversed_kind")), "Posting")
        return f"{posting} for order {names[order]}"
    if entry.subject_id is None:
        return kind
    return f"{kind} {names.get(entry.subject_id, str(entry.subject_id)[:8])}"


def _unnamed_details(entry: AuditEntryOut, names: Mapping[UUID, str]) -> Mapping[str, object]:
    """The details the subject does not say already."""
    if not _names_a_posting(entry, names):
        return entry.details
    return {name: value for name, value in entry.details.items() if name not in NAMED_IN_SUBJECT}


def _staff_subjects(request: Request, entries: list[AuditEntryOut]) -> dict[UUID, str]:
    """Accounts by e-mail and stores by name, the subjects of operations' and administrators' decisions."""
    of_kind = {
        kind: {entry.subject_id for entry in entries if entry.subject_kind == kind and entry.subject_id}
        for kind in ("account", "store")
    }
    context = request.app.state.services.context
    return {**people(request, of_kind["account"]), **queries.store_names(context, of_kind["store"])}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, user: FinanceUser, rewards: Rewards, pages: PageQuery, subject_kind: SubjectKind = ""
) -> HTMLResponse:
    problem = None
    if subject_kind and subject_kind not in SUBJECTS:
        choices = ", ".join(words.lower() for words in SUBJECTS.values()) + " or any"
        problem = filter_problem("subject_kind", "subject", subject_kind, choices)
    page: Page[Any] = Page((), 0)
    entries: list[AuditEntryOut] = []
    names: dict[UUID, str] = {}
    payees: dict[UUID, UUID] = {}
    downloads: dict[UUID, int] = {}
    if problem is None:
        with rewards() as uow:
            page = services.audit_log(uow, subject_kind=subject_kind or None, limit=pages.limit, offset=pages.offset)
            entries = [AuditEntryOut.model_validate(record) for record in page.items]
            subjects = {entry.subject_id for entry in entries if entry.subject_id}
            payees = services.payout_line_payees(uow, {line for entry in entries if (line := _line_of(entry))})
            downloads = services.export_numbers(uow, {export for entry in entries if (export := _export_of(entry))})
            orders = {order for entry in entries if (order := _order_of(entry))}
            names = names_of(request, uow, subjects | orders | set(payees.values()))
        names |= _staff_subjects(request, entries)
    rows = [
        AuditRow(
            entry,
            action_words(entry.action),
            _subject(entry, names),
            details_in_words(
                entry.action,
                _export_said(_payee_named(_unnamed_details(entry, names), payees, names), downloads),
            ),
        )
        for entry in entries
    ]
    return render(
        request,
        "finance/audit.html",
        user,
        problem=problem,
        nav="audit",
        page=PageView(rows, page.total, pages.limit, pages.offset),
        subject_kind=subject_kind,
        people=people(request, [entry.actor_id for entry in entries]),
        subject_kinds=list(SUBJECTS.items()),
    )
