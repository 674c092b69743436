"""Finance: payout batches (prepare, hold lines, approve with four eyes, reject, pay, export), reconciliation,
a shopper's ledger and the audit log.

Preparing and paying move money, so both need an `Idempotency-Key`; approving needs a second finance user
(the preparer gets 403). Holding, releasing, approving and rejecting take no key: sent again by the one who made
the decision (a retry after a lost answer), each answers the batch as it is and changes nothing. Admins have
every finance right.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from api.dependencies import require_roles
from api.fields import IdempotencyKey, Limit, Offset
from api.idempotent import REPLAYED_HEADER, created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.problems import problem_responses
from api.rewards_dependencies import FinancePrincipal, Now, Rewards, ShopperAccount
from api.rewards_schemas import (
    ApprovalIn,
    AuditEntryOut,
    BatchIn,
    LedgerEntryOut,
    PaymentOut,
    PayoutBatchOut,
    ReasonIn,
    ReconciliationOut,
    RejectionIn,
)
from api.schemas import PageOf
from rewards import services
from rewards.payouts import BatchStatus
from rewards.permissions import FINANCE_ROLES

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/finance",
    tags=["finance"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*FINANCE_ROLES))],
)

SubjectKind = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z_]+$",
        description="e.g. payout_batch, reward_policy, order, shopper, store, account",
    ),
]


class CsvResponse(PlainTextResponse):
    media_type = "text/csv"


@router.post("/batches", **created_once(PayoutBatchOut, "the batch the first request prepared, as it is now", 409, 422))
def prepare_batch(
    body: BatchIn, idempotency_key: IdempotencyKey, principal: FinancePrincipal, rewards: Rewards, now: Now
) -> JSONResponse:
    """Prepare a draft batch: one line per shopper with cash to pay who is not in an open batch, each line
    flagged by the anomaly rules over the period's deliveries. 409 when nobody has anything to pay, or when
    the key was used for another request."""
    with rewards() as uow:
        prepared = services.prepare_payout_batch(
            uow,
            period_start=body.period_start,
            period_end=body.period_end,
            actor_id=principal.user_id,
            now=now,
            idempotency_key=idempotency_key,
        )
    return created_or_replayed(PayoutBatchOut.model_validate(prepared.batch), prepared.replayed)


@router.get("/batches", response_model=PageOf[PayoutBatchOut], responses=problem_responses(422))
def list_batches(
    rewards: Rewards,
    status: Annotated[list[BatchStatus] | None, Query()] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> PageOf[PayoutBatchOut]:
    """Batches, oldest first, with their lines and flags; `status` narrows them (e.g. `draft` to approve)."""
    with rewards() as uow:
        page = services.payout_batches(uow, statuses=status or None, limit=limit, offset=offset)
    return PageOf[PayoutBatchOut].from_page(page, limit=limit, offset=offset)


@router.get("/batches/{batch_id}", response_model=PayoutBatchOut, responses=problem_responses(404))
def get_batch(batch_id: UUID, rewards: Rewards) -> PayoutBatchOut:
    with rewards() as uow:
        return PayoutBatchOut.model_validate(services.payout_batch(uow, batch_id=batch_id))


@router.post(
    "/batches/{batch_id}/lines/{line_id}/hold",
    response_model=PayoutBatchOut,
    responses=problem_responses(404, 409, 422),
)
def hold_line(
    batch_id: UUID, line_id: UUID, body: ReasonIn, principal: FinancePrincipal, rewards: Rewards, now: Now
) -> PayoutBatchOut:
    """Keep a line out of the payment (draft batches only); its money waits for a later batch. Holding a line you
    hold already (a retry after a lost answer) answers the batch as it is, your first reason kept; 409 when
    someone else holds it (their hold stands until released) or the batch is no longer a draft."""
    with rewards() as uow:
        batch = services.hold_payout_line(
            uow, batch_id=batch_id, line_id=line_id, reason=body.reason, actor_id=principal.user_id, now=now
        )
    return PayoutBatchOut.model_validate(batch)


@router.post(
    "/batches/{batch_id}/lines/{line_id}/release",
    response_model=PayoutBatchOut,
    responses=problem_responses(404, 409, 422),
)
def release_line(
    batch_id: UUID, line_id: UUID, principal: FinancePrincipal, rewards: Rewards, now: Now
) -> PayoutBatchOut:
    """Undo a hold (draft batches only). Four eyes: the batch's preparer releases only their own holds (403
    `hold-placed-by-another` for one placed by someone else); 409 when a held line is not in a draft batch. A line
    not held (a retry after a lost answer) answers the batch as it is, changing nothing."""
    with rewards() as uow:
        batch = services.release_payout_line(
            uow, batch_id=batch_id, line_id=line_id, actor_id=principal.user_id, now=now
        )
    return PayoutBatchOut.model_validate(batch)


@router.post("/batches/{batch_id}/approve", response_model=PayoutBatchOut, responses=problem_responses(404, 409, 422))
def approve_batch(
    batch_id: UUID, principal: FinancePrincipal, rewards: Rewards, now: Now, body: ApprovalIn | None = None
) -> PayoutBatchOut:
    """Four eyes: 403 when the caller prepared the batch, and 403 `released-anothers-hold` when the caller
    released a hold someone else placed on one of its lines; 409 unless it is a draft. With the `revision` you
    reviewed, 409 `batch-changed` when a line was held or released since: read the batch again. A batch you
    approved already (a retry after a lost answer) answers as it is."""
    with rewards() as uow:
        batch = services.approve_payout_batch(
            uow,
            batch_id=batch_id,
            actor_id=principal.user_id,
            now=now,
            reviewed_revision=body.revision if body else None,
        )
    return PayoutBatchOut.model_validate(batch)


@router.post("/batches/{batch_id}/reject", response_model=PayoutBatchOut, responses=problem_responses(404, 409, 422))
def reject_batch(
    batch_id: UUID, body: RejectionIn, principal: FinancePrincipal, rewards: Rewards, now: Now
) -> PayoutBatchOut:
    """Nothing is paid and every line is released, so its shoppers can go in the next batch. A batch whose bank
    upload was exported is 409 `batch-exported` unless `bank_file_withdrawn` is true: if the bank processed the
    file, its lines would be paid again by the next batch. A batch you rejected already (a retry after a lost
    answer) answers as it is, your first reason kept; one someone else rejected, or paid, is 409."""
    with rewards() as uow:
        batch = services.reject_payout_batch(
            uow,
            batch_id=batch_id,
            actor_id=principal.user_id,
            reason=body.reason,
            now=now,
            bank_file_withdrawn=body.bank_file_withdrawn,
        )
    return PayoutBatchOut.model_validate(batch)


@router.post(
    "/batches/{batch_id}/pay",
    response_model=PaymentOut,
    responses={
        200: {
            "model": PaymentOut,
            "description": "The payment; for a retry with the same key, the first payment with "
            "`Idempotent-Replayed: true`",
        },
        **problem_responses(404, 409, 422),
    },
)
def pay_batch(
    batch_id: UUID, idempotency_key: IdempotencyKey, principal: FinancePrincipal, rewards: Rewards, now: Now
) -> JSONResponse:
    """Approved → paid: each line not held moves its amount out of the shopper's cash payable, once. A retry
    with the same key returns the first payment with `Idempotent-Replayed: true`; 409 unless approved, if a
    balance fell below its line, or when the key was used for another request (another batch)."""
    with rewards() as uow:
        paid = services.pay_payout_batch(
            uow, batch_id=batch_id, actor_id=principal.user_id, now=now, idempotency_key=idempotency_key
        )
    return JSONResponse(
        PaymentOut.model_validate(paid).model_dump(mode="json"),
        headers={REPLAYED_HEADER: "true"} if paid.replayed else None,
    )


@router.get(
    "/batches/{batch_id}/export",
    response_class=CsvResponse,
    responses={
        200: {
            "description": "The bank upload: one row per line to pay (held lines are left out, so the amounts add "
            "up to `payable_cents`), with the payee's name, amounts in cents and in units, and flags. UTF-8 with a "
            "byte-order mark, CRLF line ends, every field quoted",
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": (
                        '\ufeff"batch_id","status","line_id","shopper_id","payee_name","amount_cents","amount",'
                        '"currency","flags"\r\n'
                    ),
                }
            },
        },
        **problem_responses(404, 409),
    },
)
def export_batch(batch_id: UUID, principal: FinancePrincipal, rewards: Rewards, now: Now) -> CsvResponse:
    """The CSV for the bank upload, once a second person approved the batch: 409 `batch-not-exportable` for a
    draft (it may still change) or a rejected batch (it pays nothing). Each export is recorded on the batch
    (`exports`) and in the audit log (`batch.exported`)."""
    with rewards() as uow:
        text = services.export_payout_batch_csv(uow, batch_id=batch_id, actor_id=principal.user_id, now=now)
    return CsvResponse(text, headers={"Content-Disposition": f'attachment; filename="payout-batch-{batch_id}.csv"'})


@router.get("/reconciliation", response_model=ReconciliationOut)
def reconciliation(rewards: Rewards) -> ReconciliationOut:
    """Ledger vs payouts vs deliveries, from one snapshot: `agrees` is true when the books tell one story."""
    with rewards() as uow:
        return ReconciliationOut.model_validate(services.reconciliation_report(uow))


@router.get(
    "/shoppers/{shopper_id}/ledger", response_model=PageOf[LedgerEntryOut], responses=problem_responses(404, 422)
)
def shopper_ledger(
    shopper_id: UUID, rewards: Rewards, account: ShopperAccount = None, limit: Limit = 50, offset: Offset = 0
) -> PageOf[LedgerEntryOut]:
    """A shopper's ledger entries, newest first, each with its account's running balance."""
    with rewards() as uow:
        page = services.shopper_ledger(uow, shopper_id=shopper_id, account=account, limit=limit, offset=offset)
    return PageOf[LedgerEntryOut].from_page(page, limit=limit, offset=offset)


@router.get("/audit", response_model=PageOf[AuditEntryOut], responses=problem_responses(422))
def audit_log(
    rewards: Rewards,
    subject_kind: SubjectKind = None,
    subject_id: UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOf[AuditEntryOut]:
    """Who decided what, newest first: money (policies, batches, holds, approvals, payments, reversals, store
    credit) and what bears on it or on who may act (stores created or their fallback cost changed, a shopper's
    identity check or tier, staff accounts created, deactivated or reactivated; the command line's as system)."""
    with rewards() as uow:
        page = services.audit_log(uow, subject_kind=subject_kind, subject_id=subject_id, limit=limit, offset=offset)
    return PageOf[AuditEntryOut].from_page(page, limit=limit, offset=offset)
