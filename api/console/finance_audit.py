"""Finance console: the audit log of who did what to money, newest first, paginated as the API's; each entry
said in words (`audit_words`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.audit_words import SUBJECTS, Detail, action_words, details_in_words, subject_words
from api.console.names import names_of
from api.console.paging import PageQuery, PageView
from api.console.web import CONSOLE_PREFIX, FinanceUser, people, render
from api.rewards_dependencies import Rewards
from api.rewards_schemas import AuditEntryOut
from rewards import services

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
SubjectKind = Annotated[str, Query(max_length=40, pattern=r"^[a-z_]*$")]
FILTERED_SUBJECTS = ("payout_batch", "reward_policy", "order", "shopper")


@dataclass(frozen=True)
class AuditRow:
    """An entry as the page shows it: its codes said in words."""

    entry: AuditEntryOut
    action: str
    subject: str
    details: list[Detail]


def _subject(entry: AuditEntryOut, names: Mapping[UUID, str]) -> str:
    """The subject by what people call it: "Shopper Ana", "Order WEB-1", "Reward policy v2", a batch by its period."""
    kind = subject_words(entry.subject_kind)
    if entry.subject_kind == "reward_policy" and "version" in entry.details:
        return f"{kind} v{entry.details['version']}"
    if entry.subject_id is None:
        return kind
    return f"{kind} {names.get(entry.subject_id, str(entry.subject_id)[:8])}"


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, user: FinanceUser, rewards: Rewards, pages: PageQuery, subject_kind: SubjectKind = ""
) -> HTMLResponse:
    with rewards() as uow:
        page = services.audit_log(uow, subject_kind=subject_kind or None, limit=pages.limit, offset=pages.offset)
        entries = [AuditEntryOut.model_validate(record) for record in page.items]
        names = names_of(request, uow, (entry.subject_id for entry in entries if entry.subject_id))
    rows = [
        AuditRow(
            entry,
            action_words(entry.action),
            _subject(entry, names),
            details_in_words(entry.action, entry.details),
        )
        for entry in entries
    ]
    return render(
        request,
        "finance/audit.html",
        user,
        nav="audit",
        page=PageView(rows, page.total, pages.limit, pages.offset),
        subject_kind=subject_kind,
        people=people(request, [entry.actor_id for entry in entries]),
        subject_kinds=[(kind, SUBJECTS[kind]) for kind in FILTERED_SUBJECTS],
    )
