"""Paying shoppers their cash: a batch is prepared (lines flagged by the anomaly rules, holds carried over),
lines are held or released, a second finance user approves, the batch is exported for the bank and paid once
per key. Reading the batches back, the reconciliation and the audit log are in `books`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from rewards.anomalies import AnomalyRules, flag_anomalies
from rewards.ledger import AccountKind, InsufficientBalance, TransactionKind, transfer
from rewards.payouts import BatchStatus, PayoutBatch, PayoutLine, batch_csv
from rewards.records import NothingToPay, StandingHold
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services.books import payee_names
from rewards.services.common import audit, callers_once, post, require_active_actor

MAX_PERIOD_END_AHEAD = timedelta(days=1)
MAX_PERIOD = timedelta(days=366)


@dataclass(frozen=True)
class PreparedBatch:
    batch: PayoutBatch
    replayed: bool
    """True when the key was used before for the same request: `batch` is that first batch, as it is now."""


def prepare_payout_batch(
    uow: RewardsUnitOfWork,
    *,
    period_start: datetime,
    period_end: datetime,
    actor_id: UUID,
    now: datetime,
    idempotency_key: str,
    rules: AnomalyRules | None = None,
) -> PreparedBatch:
    """A draft batch of every positive cash-payable balance not already in an open batch, lines flagged; once
    per key of the preparer's: a retry (same period) gets the first batch back, as it is now."""
    repos = uow.repos
    require_active_actor(repos, actor_id)
    request = {  # instants as instants: the fingerprint compares them, not how their offset was written
        "period_start": period_start,
        "period_end": period_end,
        "actor_id": str(actor_id),
    }
    outcome = callers_once(
        repos,
        caller=actor_id,
        operation="prepare_payout_batch",
        key=idempotency_key,
        request=request,
        run=lambda: (
            _prepare_batch(
                repos, period_start=period_start, period_end=period_end, actor_id=actor_id, now=now, rules=rules
            ).id
        ),
        dump=lambda batch_id: {"batch_id": str(batch_id)},
        load=lambda stored: UUID(stored["batch_id"]),
    )
    batch = repos.payouts.get(outcome.value)
    if outcome.replayed:
        uow.rollback()
    else:
        uow.commit()
    return PreparedBatch(batch, outcome.replayed)


def _carried_reason(hold: StandingHold) -> str:
    carried = "carried over from batch "
    reason = hold.reason.split(": ", 1)[1] if hold.reason.startswith(carried) else hold.reason
    return f"{carried}{hold.batch_id}: {reason}"


def _prepare_batch(
    repos: RewardsRepositories,
    *,
    period_start: datetime,
    period_end: datetime,
    actor_id: UUID,
    now: datetime,
    rules: AnomalyRules | None,
) -> PayoutBatch:
    if period_end > now + MAX_PERIOD_END_AHEAD:
        raise InvalidInput("period_end", "must not be more than a day ahead: a batch pays what was earned")
    if period_end - period_start > MAX_PERIOD:
        raise InvalidInput("period_start", f"the period is at most {MAX_PERIOD.days} days long")
    batch = PayoutBatch(period_start=period_start, period_end=period_end, prepared_by=actor_id, prepared_at=now)
    balances = repos.payouts.payable_balances()
    if not balances:
        raise NothingToPay("no shopper has a cash balance to pay that is not already in an open batch")
    policies = {policy.id: policy for policy in repos.policies.every_version()}
    paid = [balance.shopper_id for balance in balances]
    flags = flag_anomalies(
        repos.payouts.delivery_facts(period_start, period_end, policies, unpaid_of=paid),
        repos.payouts.location_samples(paid, period_start, period_end),
        rules or AnomalyRules(),
    )
    # A hold stands until someone releases it: a line held when its batch closed holds the next one too.
    holds = repos.payouts.standing_holds([balance.shopper_id for balance in balances])
    batch.lines = [
        PayoutLine(
            batch_id=batch.id,
            shopper_id=balance.shopper_id,
            account_id=balance.account_id,
            amount_cents=balance.balance_cents,
            flags=flags.get(balance.shopper_id, ()),
            held=balance.shopper_id in holds,
            hold_reason=_carried_reason(holds[balance.shopper_id]) if balance.shopper_id in holds else None,
            held_by=holds[balance.shopper_id].held_by if balance.shopper_id in holds else None,
        )
        for balance in balances
    ]
    repos.payouts.add(batch)
    audit(
        repos,
        actor_id=actor_id,
        action="batch.prepared",
        subject_kind="payout_batch",
        subject_id=batch.id,
        at=now,
        lines=len(batch.lines),
        total_cents=batch.total_cents,
        flagged_lines=sum(1 for line in batch.lines if line.flags),
    )
    return batch


def hold_payout_line(
    uow: RewardsUnitOfWork, *, batch_id: UUID, line_id: UUID, reason: str, actor_id: UUID, now: datetime
) -> PayoutBatch:
    """Keeps a line out of the payment (draft batches only); the hold stands until someone releases it. Holding
    a line one holds already answers the batch as it is, with no audit entry: a retry after a lost answer."""
    repos = uow.repos
    require_active_actor(repos, actor_id)
    batch = repos.payouts.get(batch_id, for_update=True)
    if not batch.hold(line_id, reason=reason, actor_id=actor_id):
        uow.rollback()  # a repeat (a retry after a lost answer): answered with the batch as it is
        return batch
    repos.payouts.save(batch)
    audit(
        repos,
        actor_id=actor_id,
        action="line.held",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        line_id=line_id,
        reason=reason,
    )
    uow.commit()
    return batch


def release_payout_line(
    uow: RewardsUnitOfWork, *, batch_id: UUID, line_id: UUID, actor_id: UUID, now: datetime
) -> PayoutBatch:
    """Undoes a hold (draft batches only); the batch's preparer may release only their own holds
    (`HoldPlacedByAnother`). Releasing a line not held answers the batch as it is, with no audit entry."""
    repos = uow.repos
    require_active_actor(repos, actor_id)
    batch = repos.payouts.get(batch_id, for_update=True)
    if not batch.unhold(line_id, actor_id=actor_id):
        uow.rollback()  # a repeat (a retry after a lost answer): answered with the batch as it is
        return batch
    repos.payouts.save(batch)
    audit(
        repos,
        actor_id=actor_id,
        action="line.released",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        line_id=line_id,
    )
    uow.commit()
    return batch


def approve_payout_batch(
    uow: RewardsUnitOfWork, *, batch_id: UUID, actor_id: UUID, now: datetime, reviewed_revision: int | None = None
) -> PayoutBatch:
    """Four eyes: refused with `FourEyesViolation` when the approver prepared the batch, and with
    `BatchChanged` when `reviewed_revision` (the batch as the approver saw it) is no longer the batch's. A batch
    this approver approved already is answered as it is (a retry after a lost answer changes nothing)."""
    repos = uow.repos
    require_active_actor(repos, actor_id)
    batch = repos.payouts.get(batch_id, for_update=True)
    if batch.status is BatchStatus.APPROVED and batch.approved_by == actor_id:
        # Approving takes no key: this is the approver's retry after a lost answer (the commit kept, its
        # answer cut off), answered with the batch as it is, as an offer accepted twice is.
        uow.rollback()
        return batch
    batch.approve(actor_id=actor_id, now=now, reviewed_revision=reviewed_revision)
    _check_lines_still_held(repos, batch)
    repos.payouts.save(batch)
    audit(
        repos,
        actor_id=actor_id,
        action="batch.approved",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        revision=batch.revision,
    )
    uow.commit()
    return batch


def _check_lines_still_held(repos: RewardsRepositories, batch: PayoutBatch) -> None:
    """`InsufficientBalance` when a shopper no longer holds the amount of their line to pay (a reward behind it
    was reversed, or spent at the till, since the batch was prepared): paying it would then be refused, and
    its bank upload would pay money the ledger no longer owes. Reject the batch and prepare another."""
    to_pay = [line for line in batch.lines if not line.held]
    # Locked as a posting locks them: a reversal either sees the batch approved (`PromisedToPayout`) or is seen here.
    accounts = repos.ledger.lock(line.account_id for line in to_pay)
    for line in to_pay:
        account = accounts[line.account_id]
        if account.held_cents < line.amount_cents:
            raise InsufficientBalance(account, line.amount_cents)


def reject_payout_batch(
    uow: RewardsUnitOfWork,
    *,
    batch_id: UUID,
    actor_id: UUID,
    reason: str,
    now: datetime,
    bank_file_withdrawn: bool = False,
) -> PayoutBatch:
    """Nothing is paid and the lines are released. A batch whose bank upload was exported is refused
    (`BatchExported`) unless `bank_file_withdrawn` says the file was taken back from the bank. A batch this actor
    rejected already is answered as it is, with no audit entry (a retry after a lost answer)."""
    repos = uow.repos
    require_active_actor(repos, actor_id)
    batch = repos.payouts.get(batch_id, for_update=True)
    if not batch.reject(actor_id=actor_id, now=now, reason=reason, bank_file_withdrawn=bank_file_withdrawn):
        uow.rollback()  # a repeat (a retry after a lost answer): answered with the batch as it is
        return batch
    repos.payouts.save(batch)
    audit(
        repos,
        actor_id=actor_id,
        action="batch.rejected",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        reason=reason,
        exports=len(batch.exports),
        bank_file_withdrawn=batch.bank_file_withdrawn,
    )
    uow.commit()
    return batch


@dataclass(frozen=True)
class PaidBatch:
    batch_id: UUID
    transaction_ids: tuple[UUID, ...]
    paid_cents: Cents
    replayed: bool = field(default=False, compare=False)
    """True when the key was used before for the same payment: this is that first payment, given back."""

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "transaction_ids": [str(i) for i in self.transaction_ids],
            "paid_cents": self.paid_cents,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PaidBatch:
        return cls(
            UUID(data["batch_id"]), tuple(UUID(i) for i in data["transaction_ids"]), Cents(int(data["paid_cents"]))
        )


def pay_payout_batch(
    uow: RewardsUnitOfWork, *, batch_id: UUID, actor_id: UUID, now: datetime, idempotency_key: str
) -> PaidBatch:
    """Approved → paid: each line not held moves its amount from cash payable to payouts clearing, once per key
    of the payer's: a retry gets the first payment back (`replayed`), the key used for another batch is refused
    (`IdempotencyKeyReused`).

    If a shopper's balance fell below their line since the batch was prepared, the whole payment is refused
    (`InsufficientBalance`); reject the batch and prepare a new one.
    """
    repos = uow.repos
    require_active_actor(repos, actor_id)

    def run() -> PaidBatch:
        batch = repos.payouts.get(batch_id, for_update=True)
        to_pay = batch.mark_paid(actor_id=actor_id, now=now)
        clearing = repos.ledger.company_account(AccountKind.PAYOUTS_CLEARING)
        repos.ledger.lock([clearing.id, *(line.account_id for line in to_pay)])
        transactions = []
        for line in to_pay:
            transaction = transfer(
                kind=TransactionKind.PAYOUT,
                description=f"payout batch {batch.id}, shopper {line.shopper_id}",
                created_at=now,
                from_account=line.account_id,
                to_account=clearing.id,
                amount=line.amount_cents,
                actor_id=actor_id,
                payout_line_id=line.id,
            )
            post(repos, transaction)
            transactions.append(transaction)
        repos.payouts.save(batch)
        paid = Cents(sum(line.amount_cents for line in to_pay))
        audit(
            repos,
            actor_id=actor_id,
            action="batch.paid",
            subject_kind="payout_batch",
            subject_id=batch_id,
            at=now,
            paid_cents=paid,
            lines_paid=len(to_pay),
        )
        return PaidBatch(batch.id, tuple(t.id for t in transactions), paid)

    outcome = callers_once(
        repos,
        caller=actor_id,
        operation="pay_payout_batch",
        key=idempotency_key,
        request={"batch_id": str(batch_id)},
        run=run,
        dump=PaidBatch.to_json,
        load=PaidBatch.from_json,
    )
    uow.commit()
    return replace(outcome.value, replayed=outcome.replayed)


def export_payout_batch_csv(uow: RewardsUnitOfWork, *, batch_id: UUID, actor_id: UUID, now: datetime) -> str:
    """The bank upload of an approved or paid batch: its lines to pay (not held), each with its payee's name
    (`rewards.payouts.batch_csv`); `BatchNotExportable` for a draft or a rejected batch. What it lists the ledger
    still owes: approving checked every line against its balance, and from then on only this batch's payment
    may take that money (`rewards.ledger.PromisedToPayout`).

    Every export is recorded on the batch and in the audit log, with the batch locked: a rejection either
    comes first (and the export is refused) or sees the export (and asks whether the bank file was withdrawn)."""
    repos = uow.repos
    require_active_actor(repos, actor_id)
    batch = repos.payouts.get(batch_id, for_update=True)
    export = batch.record_export(actor_id=actor_id, now=now)
    text = batch_csv(batch, payee_names(uow, [line.shopper_id for line in batch.lines]))
    repos.payouts.save(batch)
    audit(
        repos,
        actor_id=actor_id,
        action="batch.exported",
        subject_kind="payout_batch",
        subject_id=batch_id,
        at=now,
        export_id=export.id,
        status=batch.status.value,
        payable_cents=batch.payable_cents,
    )
    uow.commit()
    return text
