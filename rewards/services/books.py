"""The books read back: payout batches with their lines, the payees' names and batches' periods a page shows,
the reconciliation of the ledger with payouts and deliveries, and the audit log of who did what to money.
The moves of a payout batch are in `payouts`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crowdship.pages import Page, check_page
from rewards.ledger import PromisedPayout
from rewards.payouts import BatchStatus, PayoutBatch
from rewards.reconciliation import ReconciliationReport, reconcile
from rewards.records import AuditEntry
from rewards.repositories import RewardsUnitOfWork


def payout_batch(uow: RewardsUnitOfWork, *, batch_id: UUID) -> PayoutBatch:
    return uow.repos.payouts.get(batch_id)


def payout_batches(
    uow: RewardsUnitOfWork,
    *,
    statuses: Sequence[BatchStatus] | None = None,
    newest_first: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> Page[PayoutBatch]:
    """A page of batches with their lines; `statuses` narrows them (e.g. drafts waiting for approval)."""
    check_page(limit, offset)
    ids = uow.repos.payouts.batch_ids(statuses, newest_first=newest_first, limit=limit, offset=offset)
    return Page([uow.repos.payouts.get(batch_id) for batch_id in ids.items], ids.total)


def payee_names(uow: RewardsUnitOfWork, shopper_ids: Sequence[UUID]) -> dict[UUID, str]:
    """The display name of each shopper (the payee of a payout line), in one read."""
    found = uow.repos.shoppers.get_many(set(shopper_ids)) if shopper_ids else {}
    return {shopper_id: shopper.display_name for shopper_id, shopper in found.items()}


def batch_periods(uow: RewardsUnitOfWork, batch_ids: Collection[UUID]) -> dict[UUID, tuple[datetime, datetime]]:
    """The period of each batch a page mentions (a hold carried over from one), in one read."""
    return dict(uow.repos.payouts.periods(set(batch_ids))) if batch_ids else {}


def promised_payout(uow: RewardsUnitOfWork, *, shopper_id: UUID) -> PromisedPayout | None:
    """What an approved, unpaid payout batch is to pay the shopper (its lines not held), if one is: money a
    correction may not take back until that batch is rejected."""
    return next(iter(uow.repos.payouts.promised([shopper_id]).values()), None)


def export_numbers(uow: RewardsUnitOfWork, export_ids: Collection[UUID]) -> dict[UUID, int]:
    """Which download of its batch's bank file each export was (1: the first), for the audit log, in one read."""
    return dict(uow.repos.payouts.export_numbers(set(export_ids))) if export_ids else {}


def payout_line_payees(uow: RewardsUnitOfWork, line_ids: Collection[UUID]) -> dict[UUID, UUID]:
    """The shopper each payout line pays, for a page that mentions lines (the audit log), in one read."""
    return dict(uow.repos.payouts.line_payees(set(line_ids))) if line_ids else {}


def reconciliation_report(uow: RewardsUnitOfWork) -> ReconciliationReport:
    """Ledger vs payouts vs deliveries, read from one snapshot."""
    uow.read_snapshot()
    policies = {policy.id: policy for policy in uow.repos.policies.every_version()}
    report = reconcile(uow.repos.reports.reconciliation_data(), policies)
    uow.rollback()
    return report


@dataclass(frozen=True)
class AuditRecord:
    sequence: int
    entry: AuditEntry


def audit_log(
    uow: RewardsUnitOfWork,
    *,
    subject_kind: str | None = None,
    subject_id: UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[AuditRecord]:
    """Who did what to money, newest first."""
    check_page(limit, offset)
    rows, total = uow.repos.audit.page(subject_kind=subject_kind, subject_id=subject_id, limit=limit, offset=offset)
    return Page([AuditRecord(sequence, entry) for sequence, entry in rows], total)
