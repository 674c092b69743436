"""Payout batches for finance: their lifecycle, the anomaly rules that flag lines, and the CSV export.

A batch goes draft → approved → paid, or to rejected from draft or approved. Approval needs a second pair
of eyes: the finance user who prepared the batch cannot approve it, nor release a hold someone else placed on
it; and an approval may name the revision its approver reviewed, refused when a line was held or released
since. Held lines are not paid; their money stays in the shopper's cash payable for a later batch. The anomaly
rules are pure functions over plain facts; the repository gathers the facts."""

from __future__ import annotations

import bisect
import csv
import io
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from crowdship.errors import DomainError, InvalidInput
from crowdship.units import Cents, format_cents, format_dollars
from dispatch.errors import IllegalTransition
from dispatch.model import LocationSample
from rewards.policy import EarningsSoFar, RewardInputs, RewardPolicy
from rewards.pricing import compute_reward
from routing.distance import geodesic_m


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


class LineAlreadyHeld(DomainError):
    """A held line is held again: the first hold, with its reason and who placed it, stands until released."""

    kind = "conflict"

    def __init__(self, batch_id: UUID, line_id: UUID) -> None:
        super().__init__(f"line {line_id} of batch {batch_id} is already held; release it first to hold it anew")


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


class FlagCode(StrEnum):
    NO_POSITION_PROOF = "no_position_proof"
    FAR_ABOVE_STORE_PEERS = "far_above_store_peers"
    REPEATED_RECIPIENT = "repeated_recipient"
    IMPOSSIBLE_SPEED = "impossible_speed"
    ABOVE_POLICY = "above_policy"


@dataclass(frozen=True)
class AnomalyFlag:
    code: FlagCode
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code.value, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnomalyFlag:
        return cls(FlagCode(data["code"]), str(data["detail"]))


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

    def hold(self, line_id: UUID, *, reason: str, actor_id: UUID) -> PayoutLine:
        if self.status is not BatchStatus.DRAFT:
            raise BatchNotEditable(f"batch {self.id} is {self.status}; lines are held while it is a draft")
        if not reason.strip():
            raise InvalidInput("reason", "say why the line is held")
        line = self.line(line_id)
        if line.held:
            raise LineAlreadyHeld(self.id, line_id)
        line.held, line.hold_reason, line.held_by = True, reason, actor_id
        self.revision += 1
        return line

    def unhold(self, line_id: UUID, *, actor_id: UUID) -> PayoutLine:
        """Releases a hold (a line not held stays as it is). Four eyes: the batch's preparer releases only the
        holds they placed themselves (`HoldPlacedByAnother`); anyone else of finance may release any."""
        if self.status is not BatchStatus.DRAFT:
            raise BatchNotEditable(f"batch {self.id} is {self.status}; lines are released while it is a draft")
        line = self.line(line_id)
        if not line.held:
            return line
        if actor_id == self.prepared_by and line.held_by != actor_id:
            raise HoldPlacedByAnother(self.id, line_id)
        line.held, line.hold_reason, line.held_by = False, None, None
        self.revision += 1
        return line

    def approve(self, *, actor_id: UUID, now: datetime, reviewed_revision: int | None = None) -> None:
        """Four eyes: refused to the preparer (`FourEyesViolation`), and with `reviewed_revision` (what the
        approver's page showed) when a line was held or released since (`BatchChanged`)."""
        if actor_id == self.prepared_by:
            raise FourEyesViolation(self.id, actor_id)
        if BatchStatus.APPROVED not in BATCH_TRANSITIONS[self.status]:
            raise IllegalTransition("payout batch", self.id, self.status, BatchStatus.APPROVED)
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

    def reject(self, *, actor_id: UUID, now: datetime, reason: str) -> None:
        """Rejected: nothing is paid and the lines are released, so the shoppers can go in another batch."""
        if not reason.strip():
            raise InvalidInput("reason", "say why the batch is rejected")
        self._move(BatchStatus.REJECTED)
        self.rejected_by, self.rejected_at, self.rejection_reason = actor_id, now, reason
        for line in self.lines:
            line.open = False

    @property
    def total_cents(self) -> Cents:
        return Cents(sum(line.amount_cents for line in self.lines))

    @property
    def payable_cents(self) -> Cents:
        return Cents(sum(line.amount_cents for line in self.lines if not line.held))


# --------------------------------------------------------------------------------------------------
# Anomaly rules: plain facts in, flags out.


@dataclass(frozen=True)
class DeliveryFact:
    """One rewarded delivery (of the batch's period, or behind a balance it pays), with what the rules need."""

    order_id: UUID
    shopper_id: UUID
    store_id: UUID
    recipient_key: str
    """Recipient name and address, normalised, to spot the same recipient again and again."""
    has_position_proof: bool
    """An accepted proof at the door (inside the geofence, with the recipient's code)."""
    track_near_dropoff: bool | None
    """Whether any position the shopper sent on that trip came within `TRACK_REACH_M` of the drop-off; None
    when they sent none (positions are optional for the app)."""
    cash_value_cents: Cents
    amount_cents: Cents
    policy: RewardPolicy
    inputs: RewardInputs
    earned_before: EarningsSoFar
    in_period: bool = True
    """Earned in the batch's period (else only behind a balance it pays)."""


@dataclass(frozen=True)
class AnomalyRules:
    peer_ratio: float = 3.0
    """Flag a shopper earning more than this many times the median of the other shoppers of the store."""
    min_peers: int = 3
    repeated_recipient_count: int = 4
    """Flag this many or more deliveries by one shopper to the same recipient in the period."""
    max_speed_m_per_s: float = 50.0
    """About 180 km/h: no shopper moves faster between two position samples."""


TRACK_REACH_M = 500.0
"""A trip's positions come at least this close to a drop-off it delivered; a proof sent from elsewhere, its
position made up, leaves a track that never did."""


def no_position_proof(deliveries: Iterable[DeliveryFact]) -> dict[UUID, list[AnomalyFlag]]:
    """Every delivery path records an accepted proof, so the first case means the books were written another
    way; the second, a proof whose position the trip's own track contradicts."""
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for fact in deliveries:
        if not fact.has_position_proof:
            why = f"order {fact.order_id} rewarded without an accepted proof at the door"
        elif fact.track_near_dropoff is False:
            why = f"order {fact.order_id}: the trip's positions never came within {TRACK_REACH_M:.0f} m of the drop-off"
        else:
            continue
        flags[fact.shopper_id].append(AnomalyFlag(FlagCode.NO_POSITION_PROOF, why))
    return dict(flags)


def far_above_store_peers(deliveries: Iterable[DeliveryFact], rules: AnomalyRules) -> dict[UUID, list[AnomalyFlag]]:
    earnings: dict[UUID, Counter[UUID]] = defaultdict(Counter)
    for fact in deliveries:
        earnings[fact.store_id][fact.shopper_id] += fact.cash_value_cents
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for store_id, by_shopper in earnings.items():
        everyone = sorted(by_shopper.values())
        if len(everyone) - 1 < rules.min_peers:
            continue
        for shopper_id, earned in by_shopper.items():
            median = median_without(everyone, earned)
            if earned > rules.peer_ratio * median:
                flags[shopper_id].append(
                    AnomalyFlag(
                        FlagCode.FAR_ABOVE_STORE_PEERS,
                        f"earned {format_dollars(Cents(earned))} at store {store_id}, "
                        f"peers' median {format_dollars(Cents(round(median)))}",
                    )
                )
    return dict(flags)


def median_without(ordered: Sequence[int], value: int) -> float:
    """The median of a sorted list once one occurrence of `value` is taken out, without copying it."""
    skip = bisect.bisect_left(ordered, value)

    def at(index: int) -> int:
        return ordered[index + 1] if index >= skip else ordered[index]

    count = len(ordered) - 1
    middle = count // 2
    return float(at(middle)) if count % 2 else (at(middle - 1) + at(middle)) / 2


def repeated_recipient(deliveries: Iterable[DeliveryFact], rules: AnomalyRules) -> dict[UUID, list[AnomalyFlag]]:
    counts: Counter[tuple[UUID, str]] = Counter((fact.shopper_id, fact.recipient_key) for fact in deliveries)
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for (shopper_id, recipient), count in sorted(counts.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        if count >= rules.repeated_recipient_count:
            flags[shopper_id].append(
                AnomalyFlag(FlagCode.REPEATED_RECIPIENT, f"{count} deliveries to the same recipient {recipient!r}")
            )
    return dict(flags)


def impossible_speed(samples: Iterable[LocationSample], rules: AnomalyRules) -> dict[UUID, list[AnomalyFlag]]:
    """Samples come ordered by shopper, then by time (as the repositories stream them): one pass, holding one
    sample at a time, however many a year of trips sent."""
    flags: dict[UUID, list[AnomalyFlag]] = {}
    for shopper_id, own in itertools.groupby(samples, key=lambda sample: sample.shopper_id):
        worst = 0.0
        jumps = 0
        for before, after in itertools.pairwise(own):
            if after.recorded_at < before.recorded_at:
                raise ValueError("location samples must come ordered by shopper, then by time")
            metres = geodesic_m(before.position, after.position)
            seconds = (after.recorded_at - before.recorded_at).total_seconds()
            speed = float("inf") if seconds <= 0 and metres > 0 else (metres / seconds if seconds > 0 else 0.0)
            if speed > rules.max_speed_m_per_s:
                jumps += 1
                worst = max(worst, speed)
        if jumps:
            shown = "instantaneous" if worst == float("inf") else f"{worst:.0f} m/s"
            flags[shopper_id] = [
                AnomalyFlag(FlagCode.IMPOSSIBLE_SPEED, f"{jumps} jumps between position samples, worst {shown}")
            ]
    return flags


def above_policy(deliveries: Iterable[DeliveryFact]) -> dict[UUID, list[AnomalyFlag]]:
    """Recomputes each reward from its recorded policy and inputs; more than that is an anomaly."""
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for fact in deliveries:
        expected = compute_reward(fact.policy, fact.inputs, fact.earned_before, explained=False).amount_cents
        if fact.amount_cents > expected:
            flags[fact.shopper_id].append(
                AnomalyFlag(
                    FlagCode.ABOVE_POLICY,
                    f"order {fact.order_id} credited {format_dollars(fact.amount_cents)}, "
                    f"policy v{fact.policy.version} gives {format_dollars(expected)}",
                )
            )
    return dict(flags)


def flag_anomalies(
    deliveries: Sequence[DeliveryFact], samples: Iterable[LocationSample], rules: AnomalyRules
) -> dict[UUID, tuple[AnomalyFlag, ...]]:
    """Every rule's flags, gathered per shopper. The comparisons (peers, recipients, speed) read the batch's
    period; each delivery is judged on its own wherever it lies, in the period or behind a balance the batch
    pays (a line pays the whole balance, earned before or after the period too)."""
    each = list({fact.order_id: fact for fact in deliveries}.values())
    period = [fact for fact in each if fact.in_period]
    gathered: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for result in (
        no_position_proof(each),
        far_above_store_peers(period, rules),
        repeated_recipient(period, rules),
        impossible_speed(samples, rules),
        above_policy(each),
    ):
        for shopper_id, flags in result.items():
            gathered[shopper_id].extend(flags)
    return {shopper_id: tuple(flags) for shopper_id, flags in gathered.items()}


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
    out (their money waits for a later batch). Amounts in cents and in units, the payee's name as the shopper
    gave it, the line's flags, and the batch's status (approved: to pay; paid: paid).

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
            ";".join(flag.code.value for flag in line.flags),
        )
        writer.writerow([_spreadsheet_safe(str(cell)) for cell in row])
    return buffer.getvalue()


def _spreadsheet_safe(text: str) -> str:
    """A cell starting with =, +, -, @, a tab or a carriage return is run as a formula by spreadsheets: a
    leading quote keeps it text."""
    return f"'{text}" if text.startswith(SPREADSHEET_FORMULA_STARTS) else text
