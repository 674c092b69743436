"""Payout batches for finance: their lifecycle and the CSV export (the rules that flag lines: `rewards.anomalies`).

A batch goes draft → approved → paid, or to rejected from draft or approved. Approval needs a second pair
of eyes: the finance user who prepared the batch cannot approve it, nor release a hold someone else placed on
it; whoever releases a hold another placed cannot approve the batch either (the line would be paid on their
word alone); and an approval may name the revision its approver reviewed, refused when a line was held or released
since. Held lines are not paid; their money stays in the shopper's cash payable for a later batch."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from crowdship.errors import DomainError, InvalidInput
from crowdship.units import CURRENCY, Cents, format_cents
from dispatch.errors import IllegalTransition
from rewards.anomalies import AnomalyFlag


class BatchStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"


BATCH_TRANSITIONS: Mapping[BatchStatus, frozenset[BatchStatus]] = {
    BatchStatus.DRAFT: frozenset({BatchStatus.APPROVED, BatchStatus.REJECTED}),
    BatchStatus.APPROVED: frozenset({BatchStatus.PAID, BatchStatus.REJECTED}),
    BatchStatus.PAID: frozenset(),
    BatchStatus.REJECTED: frozenset(),
}


class FourEyesViolation(DomainError):
    """The preparer of a batch tried to approve it."""

    kind = "forbidden"

    def __init__(self, batch_id: UUID, actor_id: UUID) -> None:
        super().__init__(f"user {actor_id} prepared batch {batch_id}; another finance user must approve it")


class BatchNotEditable(DomainError):
    kind = "conflict"


class HoldPlacedByAnother(DomainError):
    """Four eyes on holds: the preparer of a batch tried to release a hold someone else placed on one of its
    lines (released, then approved by the second person from a page that still showed it held, the line would
    be paid on one person's word)."""

    kind = "forbidden"

    def __init__(self, batch_id: UUID, line_id: UUID) -> None:
        super().__init__(
            f"you prepared batch {batch_id}, and the hold on its line {line_id} was placed by someone else: "
            "another finance user must release it"
        )


class ReleasedAnothersHold(DomainError):
    """Four eyes on a held line: its hold was placed by one finance user and released by the one now approving,
    so its payment would rest on that one person's word."""

    kind = "forbidden"

    def __init__(self, batch_id: UUID, line_id: UUID) -> None:
        super().__init__(
            f"you released the hold someone else placed on line {line_id} of batch {batch_id}: another finance "
            "user must approve the batch"
        )


class LineAlreadyHeld(DomainError):
    """A held line is held again: the first hold, with its reason and who placed it, stands until released."""

    kind = "conflict"

    def __init__(self, batch_id: UUID, line_id: UUID) -> None:
        super().__init__(f"line {line_id} of batch {batch_id} is already held; release it first to hold it anew")


class BatchExported(DomainError):
    """A batch whose bank upload was downloaded is rejected without saying the bank file was withdrawn: rejecting
    frees its lines for the next batch, so if the bank processed the file the same money would be paid twice."""

    kind = "conflict"

    def __init__(self, batch_id: UUID, export: BatchExport) -> None:
        super().__init__(
            f"batch {batch_id} was exported for the bank (last by {export.exported_by} at "
            f"{export.exported_at.isoformat()}): rejecting it frees its lines for the next batch, so the same money "
            "could be paid twice. Withdraw the file from the bank first, then reject with "
            '"bank_file_withdrawn": true and the reason'
        )


class BatchChanged(DomainError):
    """The approver reviewed an earlier revision of the batch: a line was held or released since."""

    kind = "conflict"

    def __init__(self, batch_id: UUID, reviewed: int, revision: int) -> None:
        super().__init__(
            f"batch {batch_id} changed since you reviewed it (you saw revision {reviewed}, it is at revision "
            f"{revision}: a line was held or released meanwhile); review it again before approving"
        )
        self.reviewed = reviewed
        self.revision = revision


@dataclass(frozen=True)
class BatchExport:
    """One download of a batch's bank upload: who, and when."""

    exported_by: UUID
    exported_at: datetime
    id: UUID = field(default_factory=uuid4)


@dataclass
class PayoutLine:
    batch_id: UUID
    shopper_id: UUID
    account_id: UUID
    amount_cents: Cents
    flags: tuple[AnomalyFlag, ...] = ()
    held: bool = False
    hold_reason: str | None = None
    held_by: UUID | None = None
    hold_released_by: UUID | None = None
    """Who released a hold someone else had placed on the line (they may not approve its batch); cleared when
    the line is held again."""
    open: bool = True
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if self.amount_cents <= 0:
            raise InvalidInput("amount_cents", "a payout line pays a positive amount")


@dataclass
class PayoutBatch:
    period_start: datetime
    period_end: datetime
    prepared_by: UUID
    prepared_at: datetime
    status: BatchStatus = BatchStatus.DRAFT
    approved_by: UUID | None = None
    approved_at: datetime | None = None
    paid_by: UUID | None = None
    paid_at: datetime | None = None
    rejected_by: UUID | None = None
    rejected_at: datetime | None = None
    rejection_reason: str | None = None
    bank_file_withdrawn: bool = False
    """Set when a batch exported for the bank was rejected on its rejecter's word that the file was withdrawn."""
    exports: list[BatchExport] = field(default_factory=list)
    """Every download of its bank upload, oldest first."""
    lines: list[PayoutLine] = field(default_factory=list)
    revision: int = 0
    """Counts the holds and releases of its lines: an approval may name the revision its approver reviewed."""
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if not self.period_start < self.period_end:
            raise InvalidInput("period_end", "must be after period_start")

    def _move(self, target: BatchStatus) -> None:
        if target not in BATCH_TRANSITIONS[self.status]:
            raise IllegalTransition("payout batch", self.id, self.status, target)
        self.status = target

    def line(self, line_id: UUID) -> PayoutLine:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise InvalidInput("line_id", f"batch {self.id} has no line {line_id}")

    def hold(self, line_id: UUID, *, reason: str, actor_id: UUID) -> bool:
        """Holds a line (draft batches only); False when this actor holds it already, whatever the batch's status
        now: a repeat (a retry after a lost answer) changes nothing, and the first hold's reason stands. A line
        someone else holds is refused (`LineAlreadyHeld`): their hold, and who placed it, stands."""
        if not reason.strip():
            raise InvalidInput("reason", "say why the line is held")
        line = self.line(line_id)
        if line.held and line.held_by == actor_id:
            return False
        if self.status is not BatchStatus.DRAFT:
            raise BatchNotEditable(f"batch {self.id} is {self.status}; lines are held while it is a draft")
        if line.held:
            raise LineAlreadyHeld(self.id, line_id)
        line.held, line.hold_reason, line.held_by, line.hold_released_by = True, reason, actor_id, None
        self.revision += 1
        return True

    def unhold(self, line_id: UUID, *, actor_id: UUID) -> bool:
        """Releases a hold (draft batches only); False for a line not held, whatever the batch's status now: a
        repeat changes nothing. Four eyes: the batch's preparer releases only the holds they placed themselves
        (`HoldPlacedByAnother`); anyone else of finance may release any."""
        line = self.line(line_id)
        if not line.held:
            return False
        if self.status is not BatchStatus.DRAFT:
            raise BatchNotEditable(f"batch {self.id} is {self.status}; lines are released while it is a draft")
        if actor_id == self.prepared_by and line.held_by != actor_id:
            raise HoldPlacedByAnother(self.id, line_id)
        if line.held_by != actor_id:
            line.hold_released_by = actor_id
        line.held, line.hold_reason, line.held_by = False, None, None
        self.revision += 1
        return True

    def approve(self, *, actor_id: UUID, now: datetime, reviewed_revision: int | None = None) -> None:
        """Four eyes: refused to the preparer (`FourEyesViolation`) and to whoever released a hold another placed
        on a line it pays (`ReleasedAnothersHold`), and with `reviewed_revision` (what the approver's page showed)
        when a line was held or released since (`BatchChanged`)."""
        if actor_id == self.prepared_by:
            raise FourEyesViolation(self.id, actor_id)
        if BatchStatus.APPROVED not in BATCH_TRANSITIONS[self.status]:
            raise IllegalTransition("payout batch", self.id, self.status, BatchStatus.APPROVED)
        for line in self.lines:
            if not line.held and line.hold_released_by == actor_id:
                raise ReleasedAnothersHold(self.id, line.id)
        if reviewed_revision is not None and reviewed_revision != self.revision:
            raise BatchChanged(self.id, reviewed_revision, self.revision)
        self._move(BatchStatus.APPROVED)
        self.approved_by, self.approved_at = actor_id, now

    def mark_paid(self, *, actor_id: UUID, now: datetime) -> list[PayoutLine]:
        """Moves to paid; returns the lines to pay now (not held). Every line closes."""
        self._move(BatchStatus.PAID)
        self.paid_by, self.paid_at = actor_id, now
        to_pay = [line for line in self.lines if not line.held]
        for line in self.lines:
            line.open = False
        return to_pay

    def record_export(self, *, actor_id: UUID, now: datetime) -> BatchExport:
        """Records a download of the bank upload (`BatchNotExportable` unless approved or paid)."""
        if self.status not in EXPORTABLE:
            raise BatchNotExportable(self.id, self.status)
        export = BatchExport(exported_by=actor_id, exported_at=now)
        self.exports.append(export)
        return export

    def reject(self, *, actor_id: UUID, now: datetime, reason: str, bank_file_withdrawn: bool = False) -> bool:
        """Rejected: nothing is paid and the lines are released, so the shoppers can go in another batch. A batch
        exported for the bank is rejected only on the word that its file was withdrawn (`BatchExported`). False
        when this actor rejected it already: a repeat changes nothing (the first reason stands); a batch another
        rejected is refused (`IllegalTransition`), so that nobody takes a rejection for their own."""
        if not reason.strip():
            raise InvalidInput("reason", "say why the batch is rejected")
        if self.status is BatchStatus.REJECTED and self.rejected_by == actor_id:
            return False
        if BatchStatus.REJECTED not in BATCH_TRANSITIONS[self.status]:
            raise IllegalTransition("payout batch", self.id, self.status, BatchStatus.REJECTED)
        if self.exports and not bank_file_withdrawn:
            raise BatchExported(self.id, self.exports[-1])
        self._move(BatchStatus.REJECTED)
        self.rejected_by, self.rejected_at, self.rejection_reason = actor_id, now, reason
        self.bank_file_withdrawn = bool(self.exports) and bank_file_withdrawn
        for line in self.lines:
            line.open = False
        return True

    @property
    def total_cents(self) -> Cents:
        return Cents(sum(line.amount_cents for line in self.lines))

    @property
    def payable_cents(self) -> Cents:
        return Cents(sum(line.amount_cents for line in self.lines if not line.held))


# --------------------------------------------------------------------------------------------------
# Export


CSV_COLUMNS = (
    "batch_id",
    "status",
    "line_id",
    "shopper_id",
    "payee_name",
    "amount_cents",
    "amount",
    "currency",
    "flags",
)
EXPORTABLE = frozenset({BatchStatus.APPROVED, BatchStatus.PAID})
"""A batch goes to the bank once a second person approved it: a draft may still change, a rejected one pays
nothing."""
SPREADSHEET_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class BatchNotExportable(DomainError):
    """Only an approved or paid batch is exported: the CSV is what the bank pays."""

    kind = "conflict"

    def __init__(self, batch_id: UUID, status: BatchStatus) -> None:
        super().__init__(
            f"batch {batch_id} is {status.value}: only an approved or paid batch is exported for the bank upload"
        )


def batch_csv(batch: PayoutBatch, payee_names: Mapping[UUID, str] | None = None) -> str:
    """The bank upload of an approved or paid batch (`BatchNotExportable` otherwise): one row per line to pay,
    that is every line not held, so that the amounts add up to the batch's `payable_cents`; held lines stay
    out (their money waits for a later batch). Amounts in cents and in units with their currency (`CURRENCY`),
    the payee's name as the shopper gave it, the line's flags, and the batch's status (approved: to pay; paid:
    paid), in columns that never move (`CSV_COLUMNS`); rows in the order of their shopper's id, so that a batch
    exported again is the same file, but for its status once paid.

    Written for spreadsheets as much as for the bank: UTF-8 with a byte-order mark (so that names outside
    ASCII read right), CRLF line ends, every field quoted (a name with a comma or semicolon stays one cell
    whatever the separator the spreadsheet expects), and a cell that a spreadsheet would run as a formula
    starts with a quote."""
    if batch.status not in EXPORTABLE:
        raise BatchNotExportable(batch.id, batch.status)
    names = payee_names or {}
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    to_pay = (line for line in batch.lines if not line.held)
    for line in sorted(to_pay, key=lambda line: (str(line.shopper_id), str(line.id))):
        row = (
            batch.id,
            batch.status.value,
            line.id,
            line.shopper_id,
            names.get(line.shopper_id, ""),
            line.amount_cents,
            format_cents(line.amount_cents),
            CURRENCY,
            ";".join(flag.code.value for flag in line.flags),
        )
        writer.writerow([_spreadsheet_safe(str(cell)) for cell in row])
    return buffer.getvalue()


def _spreadsheet_safe(text: str) -> str:
    """A cell starting with =, +, -, @, a tab or a carriage return is run as a formula by spreadsheets: a
    leading quote keeps it text. So is one whose first visible character is one of those signs, behind blanks,
    line breaks or invisible characters in any order (some spreadsheets trim them on import) or written full width
    (U+FF1D, U+FF0B)."""
    if text.startswith(SPREADSHEET_FORMULA_STARTS):
        return f"'{text}"
    visible = next((character for character in text if not _shows_nothing(character)), "")
    if visible and unicodedata.normalize("NFKC", visible).startswith(SPREADSHEET_FORMULA_STARTS):
        return f"'{text}"
    return text


def _shows_nothing(character: str) -> bool:
    """A blank, or a format character (zero-width spaces and joiners, a byte-order mark, a soft hyphen), which
    shows nothing and is no whitespace to `str.strip`: a formula may hide behind any run of them."""
    return character.isspace() or unicodedata.category(character) == "Cf"
