"""Incidents on deliveries, reported by the shopper carrying the order, resolved by operations; and the
insurance claims made for them. Every incident a shopper reported counts in their record for the trust tier
(`rewards.tiers`), claimed or not; recording a claim is what makes their tier be reviewed at once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from crowdship.clock import require_aware
from crowdship.errors import DomainError, InvalidInput
from crowdship.units import Cents

MAX_NOTE_CHARS = 2000


class IncidentKind(StrEnum):
    DAMAGE = "damage"
    THEFT = "theft"
    ACCIDENT = "accident"
    OTHER = "other"


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class IncidentAlreadyResolved(DomainError):
    def __init__(self, incident_id: UUID) -> None:
        super().__init__(f"incident {incident_id} is already resolved")


@dataclass(frozen=True)
class Incident:
    """Something that went wrong on a delivery, reported by the shopper carrying it."""

    order_id: UUID
    trip_id: UUID
    shopper_id: UUID
    kind: IncidentKind
    description: str
    reported_at: datetime
    id: UUID = field(default_factory=uuid4)
    status: IncidentStatus = IncidentStatus.OPEN
    resolved_at: datetime | None = None
    resolved_by: UUID | None = None
    resolution: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.reported_at, "reported_at")
        if not self.description.strip():
            raise InvalidInput("description", "must not be blank")
        if (self.status is IncidentStatus.RESOLVED) != (self.resolved_at is not None and self.resolution is not None):
            raise InvalidInput("status", "a resolved incident has a resolution and its time, an open one neither")

    def resolve(self, *, resolution: str, by: UUID | None, now: datetime) -> Incident:
        """The incident closed with what was done about it (an open incident only)."""
        if self.status is IncidentStatus.RESOLVED:
            raise IncidentAlreadyResolved(self.id)
        require_aware(now, "now")
        if not resolution.strip():
            raise InvalidInput("resolution", "say what was done about it")
        if len(resolution) > MAX_NOTE_CHARS:
            raise InvalidInput("resolution", f"at most {MAX_NOTE_CHARS} characters")
        return replace(
            self, status=IncidentStatus.RESOLVED, resolved_at=now, resolved_by=by, resolution=resolution.strip()
        )


@dataclass(frozen=True)
class InsuranceClaim:
    """A claim made to the insurer for an incident's loss: its reference with the insurer and the amount."""

    incident_id: UUID
    claim_ref: str
    amount_cents: Cents
    recorded_at: datetime
    recorded_by: UUID | None = None
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        require_aware(self.recorded_at, "recorded_at")
        if not self.claim_ref.strip():
            raise InvalidInput("claim_ref", "must not be blank")
        if self.amount_cents <= 0:
            raise InvalidInput("amount_cents", "must be positive")
