"""Finance console: payout batches. List and prepare, a batch's lines with their flags and payees, hold a line
with a reason and release it, approve (a second person), reject, pay, export CSV. The same use cases as
`api.routers.finance`, with the same idempotency keys for preparing and paying (one per form shown, so a
double submission does the thing once)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.filters import enum_options, one_of
from api.console.formats import money
from api.console.names import ids_in, named, names_of
from api.console.paging import FIRST_PAGE, ExportsPageQuery, PageQuery, PageView, Paging
from api.console.periods import UTC_NAME, days_as_instants, page_zone, policy_zone, today_in
from api.console.problems import CONSOLE_ERRORS, FormProblem, readable_problem
from api.console.session import CONSOLE_PREFIX, AskedByTheConsole, FinanceUser, Form, console_idempotency_key
from api.console.web import people, redirect, render
from api.rewards_dependencies import Now, Rewards
from api.rewards_schemas import BatchIn, PayoutBatchOut, PayoutLineOut, ReasonIn, RejectionIn
from api.routers.finance import CsvResponse
from crowdship.errors import DomainError
from crowdship.pages import Page
from rewards import services
from rewards.payouts import (
    BatchChanged,
    BatchExported,
    BatchStatus,
    FourEyesViolation,
    HoldPlacedByAnother,
    ReleasedAnothersHold,
)

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
BATCHES = f"{CONSOLE_PREFIX}/finance/batches"
StatusFilter = Annotated[str, Query(max_length=20)]
PERIOD_LABELS = {"period_start": "From", "period_end": "To"}
REASON_LABELS = {"reason": "Reason"}
LINE_SETTLED = {
    "approved": "to be paid with the batch",
    "paid": "paid with the batch",
    "rejected": "not paid: the batch was rejected",
}
"""What became of a line that was not held, once the batch is out of draft."""
REVISION = re.compile(r"[0-9]{1,9}")
"""The batch's revision as the approve form carries it."""


def _batch_url(batch_id: UUID) -> str:
    return f"{BATCHES}/{batch_id}"


def _default_period(today: date) -> tuple[date, date]:
    """The last full week, Monday to Sunday, as the form's suggestion (the caps' weeks, in the policy's zone)."""
    this_monday = today - timedelta(days=today.weekday())
    return this_monday - timedelta(days=7), this_monday - timedelta(days=1)


@router.get("/batches", response_class=HTMLResponse)
def batches_page(
    request: Request, user: FinanceUser, rewards: Rewards, now: Now, paging: PageQuery, status: StatusFilter = ""
) -> HTMLResponse:
    return _batches(request, user, rewards, now, paging, status)


def _batches(
    request: Request,
    user: FinanceUser,
    rewards: Rewards,
    now: datetime,
    paging: Paging,
    status: str,
    *,
    problem: FormProblem | None = None,
    period: tuple[str, str] | None = None,
) -> HTMLResponse:
    statuses, list_problem = one_of(status, BatchStatus, "status", "status")
    batches = Page[PayoutBatchOut]((), 0)
    if list_problem is None:
        with rewards() as uow:  # newest first: the one to work on is at the top
            found = services.payout_batches(
                uow, statuses=statuses, newest_first=True, limit=paging.limit, offset=paging.offset
            )
        batches = Page([PayoutBatchOut.model_validate(batch) for batch in found.items], found.total)
    with rewards() as uow:
        zone = policy_zone(uow, now)
    start, end = _default_period(today_in(now, zone))
    return render(
        request,
        "finance/batches.html",
        user,
        status_code=list_problem.status if list_problem and not problem else 200,
        problem=problem,
        list_problem=list_problem,
        nav="batches",
        page=PageView.of(batches, paging),
        status=status,
        status_options=enum_options(BatchStatus),
        period_start=period[0] if period else start.isoformat(),
        period_end=period[1] if period else end.isoformat(),
        idempotency_key=uuid4().hex,
        policy_zone=zone,
    )


@router.post("/batches", response_model=None)
def prepare_batch(
    request: Request, user: FinanceUser, form: Form, rewards: Rewards, now: Now, paging: PageQuery
) -> Response:
    start, end = form.get("period_start"), form.get("period_end")
    key = console_idempotency_key(form.get("idempotency_key"), "prepare")
    try:
        with rewards() as uow:
            zone = policy_zone(uow, now)  # the days the form said: the policy's, whose caps count them
        body = BatchIn.model_validate(days_as_instants(start, end, zone or UTC_NAME))
        with rewards() as uow:
            prepared = services.prepare_payout_batch(
                uow,
                period_start=body.period_start,
                period_end=body.period_end,
                actor_id=user.principal.user_id,
                now=now,
                idempotency_key=key,
            )
    except CONSOLE_ERRORS as error:
        problem = readable_problem(error, PERIOD_LABELS)
        return _batches(request, user, rewards, now, paging, "", problem=problem, period=(start, end))
    batch = prepared.batch
    said = "was already prepared" if prepared.replayed else "is prepared"
    lines = f"{len(batch.lines)} line{'s' if len(batch.lines) != 1 else ''}"
    flash = f"The batch {said}: {lines}, {money(batch.total_cents)} in all. A second person approves it."
    return redirect(request, _batch_url(batch.id), flash=flash)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(
    request: Request,
    batch_id: UUID,
    user: FinanceUser,
    rewards: Rewards,
    paging: PageQuery,
    exports_paging: ExportsPageQuery,
) -> HTMLResponse:
    return _batch(request, user, rewards, batch_id, paging, exports_paging=exports_paging)


def _batch(
    request: Request,
    user: FinanceUser,
    rewards: Rewards,
    batch_id: UUID,
    paging: Paging,
    *,
    problem: FormProblem | None = None,
    line_id: UUID | None = None,
    exports_paging: Paging = FIRST_PAGE,
) -> HTMLResponse:
    """The batch, a page of its lines (flagged first) and a page of its bank-file downloads (newest first)."""
    with rewards() as uow:
        batch = services.payout_batch(uow, batch_id=batch_id)
        names = services.payee_names(uow, [line.shopper_id for line in batch.lines])
        zone = page_zone(request, uow)
        texts = [line.hold_reason for line in batch.lines] + [
            flag.detail for line in batch.lines for flag in line.flags
        ]
        in_texts = names_of(request, uow, ids_in(texts))
    shown = PayoutBatchOut.model_validate(batch)
    exports = PageView.cut(shown.exports[::-1], exports_paging)
    lines = sorted(
        (_named_line(line, in_texts) for line in shown.lines),
        key=lambda line: (not line.flags, names.get(line.shopper_id, "")),
    )
    return render(
        request,
        "finance/batch.html",
        user,
        problem=problem,
        nav="batches",
        batch=shown,
        names=names,
        page=PageView.cut(lines, paging),
        exports=exports,
        problem_line=line_id,
        prepared_by_you=batch.prepared_by == user.principal.user_id,
        released_anothers_hold=any(
            not line.held and line.hold_released_by == user.principal.user_id for line in batch.lines
        ),
        settled=LINE_SETTLED,
        people=people(
            request,
            (
                batch.prepared_by,
                batch.approved_by,
                batch.paid_by,
                batch.rejected_by,
                *(export.exported_by for export in exports.items),
                *(line.held_by for line in batch.lines),
            ),
        ),
        idempotency_key=uuid4().hex,
        policy_zone=zone,
    )


def _named_line(line: PayoutLineOut, names: Mapping[UUID, str]) -> PayoutLineOut:
    """The line with names where its hold reason and flags hold ids (a batch, an order)."""
    flags = [flag.model_copy(update={"detail": named(flag.detail, names)}) for flag in line.flags]
    return line.model_copy(update={"hold_reason": named(line.hold_reason or "", names) or None, "flags": flags})


def _refused(
    request: Request,
    user: FinanceUser,
    rewards: Rewards,
    batch_id: UUID,
    problem: FormProblem,
    line_id: UUID | None = None,
) -> HTMLResponse:
    """The batch's page again, with the refusal next to the form that was sent."""
    return _batch(request, user, rewards, batch_id, FIRST_PAGE, problem=problem, line_id=line_id)


@router.post("/batches/{batch_id}/lines/{line_id}/hold", response_model=None)
def hold_line(
    request: Request, batch_id: UUID, line_id: UUID, user: FinanceUser, form: Form, rewards: Rewards, now: Now
) -> Response:
    try:
        body = ReasonIn.model_validate({"reason": form.get("reason")})
        with rewards() as uow:
            services.hold_payout_line(
                uow, batch_id=batch_id, line_id=line_id, reason=body.reason, actor_id=user.principal.user_id, now=now
            )
    except CONSOLE_ERRORS as error:
        paging = FIRST_PAGE
        return _batch(
            request, user, rewards, batch_id, paging, problem=readable_problem(error, REASON_LABELS), line_id=line_id
        )
    return redirect(request, _batch_url(batch_id), flash="The line is held: it will not be paid with this batch.")


REFUSALS: dict[type[DomainError], tuple[str, int]] = {
    HoldPlacedByAnother: (
        "You prepared this batch and someone else held this line: another finance user must release it (four eyes).",
        403,
    ),
    FourEyesViolation: ("You prepared this batch: another finance user must approve it (four eyes).", 403),
    ReleasedAnothersHold: (
        "You released a hold someone else placed on a line of this batch: another finance user must approve it "
        "(four eyes).",
        403,
    ),
    BatchChanged: (
        "A line was held or released since you opened this page: nothing was approved. The batch below is as it is "
        "now; review it again before approving.",
        409,
    ),
}
"""Four eyes and a stale approval, in the words of the page that was refused (the errors' own name ids)."""


def _refusal(error: DomainError) -> FormProblem:
    message, status = REFUSALS[type(error)]
    return FormProblem(message, {}, status)


@router.post("/batches/{batch_id}/lines/{line_id}/release", response_model=None)
def release_line(
    request: Request, batch_id: UUID, line_id: UUID, user: FinanceUser, form: Form, rewards: Rewards, now: Now
) -> Response:
    _ = form  # read for its CSRF check
    try:
        with rewards() as uow:
            services.release_payout_line(
                uow, batch_id=batch_id, line_id=line_id, actor_id=user.principal.user_id, now=now
            )
    except HoldPlacedByAnother as error:
        return _refused(request, user, rewards, batch_id, _refusal(error))
    except CONSOLE_ERRORS as error:
        paging = FIRST_PAGE
        return _batch(
            request, user, rewards, batch_id, paging, problem=readable_problem(error, REASON_LABELS), line_id=line_id
        )
    return redirect(request, _batch_url(batch_id), flash="The hold is released.")


@router.post("/batches/{batch_id}/approve", response_model=None)
def approve_batch(
    request: Request, batch_id: UUID, user: FinanceUser, form: Form, rewards: Rewards, now: Now
) -> Response:
    """Approves the batch as the page showed it: the form carries the batch's revision, and a batch whose lines
    were held or released since is shown again as it is now instead (a form without one is treated so too)."""
    reviewed = form.get("revision").strip()
    try:
        with rewards() as uow:
            services.approve_payout_batch(
                uow,
                batch_id=batch_id,
                actor_id=user.principal.user_id,
                now=now,
                reviewed_revision=int(reviewed) if REVISION.fullmatch(reviewed) else -1,
            )
    except (FourEyesViolation, ReleasedAnothersHold, BatchChanged) as error:
        return _refused(request, user, rewards, batch_id, _refusal(error))
    except CONSOLE_ERRORS as error:
        return _refused(request, user, rewards, batch_id, readable_problem(error, REASON_LABELS))
    return redirect(request, _batch_url(batch_id), flash="The batch is approved; it can be paid now.")


@router.post("/batches/{batch_id}/reject", response_model=None)
def reject_batch(
    request: Request, batch_id: UUID, user: FinanceUser, form: Form, rewards: Rewards, now: Now
) -> Response:
    """Rejects the batch; one exported for the bank only with the box ticked that says its file was withdrawn."""
    try:
        body = RejectionIn.model_validate(
            {"reason": form.get("reason"), "bank_file_withdrawn": form.get("bank_file_withdrawn") == "yes"}
        )
        with rewards() as uow:
            services.reject_payout_batch(
                uow,
                batch_id=batch_id,
                actor_id=user.principal.user_id,
                reason=body.reason,
                now=now,
                bank_file_withdrawn=body.bank_file_withdrawn,
            )
    except BatchExported:
        problem = FormProblem(
            "This batch was exported for the bank: nothing was rejected. Rejecting it frees its lines for the next "
            "batch, so if the bank processed the file the same money is paid twice. Withdraw the file from the bank "
            "first, then tick the box saying so.",
            {"bank_file_withdrawn": "tick this once the bank file is withdrawn"},
            409,
        )
        return _refused(request, user, rewards, batch_id, problem)
    except CONSOLE_ERRORS as error:
        return _refused(request, user, rewards, batch_id, readable_problem(error, REASON_LABELS))
    return redirect(request, _batch_url(batch_id), flash="The batch is rejected: nothing was paid.", kind="info")


@router.get("/batches/{batch_id}/pay", response_class=HTMLResponse)
def confirm_pay(request: Request, batch_id: UUID, user: FinanceUser, rewards: Rewards) -> HTMLResponse:
    """A page that asks first: paying cannot be undone, and it says what leaves whose cash payable."""
    with rewards() as uow:
        batch = services.payout_batch(uow, batch_id=batch_id)
        zone = page_zone(request, uow)
    shown = PayoutBatchOut.model_validate(batch)
    paid_lines = [line for line in shown.lines if not line.held]
    return render(
        request,
        "finance/batch_pay.html",
        user,
        nav="batches",
        batch=shown,
        payable=batch.status is BatchStatus.APPROVED,
        paid_lines=len(paid_lines),
        held_lines=len(shown.lines) - len(paid_lines),
        idempotency_key=uuid4().hex,
        policy_zone=zone,
    )


@router.post("/batches/{batch_id}/pay", response_model=None)
def pay_batch(request: Request, batch_id: UUID, user: FinanceUser, form: Form, rewards: Rewards, now: Now) -> Response:
    key = console_idempotency_key(form.get("idempotency_key"), "pay")
    try:
        with rewards() as uow:
            paid = services.pay_payout_batch(
                uow,
                batch_id=batch_id,
                actor_id=user.principal.user_id,
                now=now,
                idempotency_key=key,
            )
    except CONSOLE_ERRORS as error:
        return _refused(request, user, rewards, batch_id, readable_problem(error, REASON_LABELS))
    return redirect(request, _batch_url(batch_id), flash=f"The batch is paid: {money(paid.paid_cents)} moved.")


@router.get("/batches/{batch_id}/export", dependencies=AskedByTheConsole)
def export_batch(batch_id: UUID, user: FinanceUser, rewards: Rewards, now: Now) -> CsvResponse:
    """The bank upload; each download is recorded on the batch (shown on its page) and in the audit log."""
    with rewards() as uow:
        text = services.export_payout_batch_csv(uow, batch_id=batch_id, actor_id=user.principal.user_id, now=now)
    return CsvResponse(text, headers={"Content-Disposition": f'attachment; filename="payout-batch-{batch_id}.csv"'})
