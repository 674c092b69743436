"""What happened to an order and when: its status changes (kept append-only as `OrderEvent`s), the offers it
was in, the delivery attempts with their proof and the incidents, merged into one timeline. Plain Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crowdship.errors import InvalidInput
from dispatch.incidents import Incident
from dispatch.model import DeliveryProof, Offer, Order, OrderStatus

MAX_NOTE_CHARS = 500


@dataclass(frozen=True)
class OrderEvent:
    """The order entered `status` at `at`; `note` says why when the move alone does not (e.g. 'offer expired'),
    `actor_id` who did it when a person did."""

    order_id: UUID
    at: datetime
    status: OrderStatus
    note: str | None = None
    actor_id: UUID | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidInput("at", "must be a timezone-aware timestamp")
        if self.note is not None and len(self.note) > MAX_NOTE_CHARS:
            raise InvalidInput("note", f"at most {MAX_NOTE_CHARS} characters")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    """A short label: 'status', 'offer', 'offer resolved', 'delivery attempt', 'incident'."""
    detail: str
    status: OrderStatus | None = None
    actor_id: UUID | None = None
    photo_ref: str | None = None


def timeline(
    order: Order,
    events: Sequence[OrderEvent],
    offers: Sequence[Offer],
    proofs: Sequence[DeliveryProof],
    incidents: Sequence[Incident],
) -> list[TimelineEntry]:
    """Everything known about the order, oldest first. Orders taken in before the history was kept have no
    status events: their intake comes from `created_at`, the rest from offers and proofs."""
    entries: list[TimelineEntry] = []
    if not events or events[0].status is not OrderStatus.PENDING:
        entries.append(TimelineEntry(order.created_at, "status", "taken in", OrderStatus.PENDING))
    for event in events:
        entries.append(
            TimelineEntry(event.at, "status", event.note or event.status.value, event.status, event.actor_id)
        )
    for offer in offers:
        others = len(offer.stops) - 1
        bundle = f" with {others} other order{'s' if others != 1 else ''}" if others else ""
        entries.append(
            TimelineEntry(
                offer.created_at,
                "offer",
                f"offered to trip {offer.trip_id}{bundle} for {offer.reward_quote_cents} cents, "
                f"+{offer.extra_distance_m} m",
            )
        )
        if offer.resolved_at is not None:
            entries.append(TimelineEntry(offer.resolved_at, "offer resolved", f"offer {offer.status.value}"))
    for proof in proofs:
        verdict = "accepted" if proof.accepted else "refused"
        code = "code matched" if proof.code_matched else "code did not match"
        entries.append(
            TimelineEntry(
                proof.recorded_at,
                "delivery attempt",
                f"{verdict}: {code}, {proof.distance_to_dropoff_m:.0f} m from the drop-off",
                photo_ref=proof.photo_ref,
            )
        )
    for incident in incidents:
        entries.append(
            TimelineEntry(incident.reported_at, "incident", f"{incident.kind.value}: {incident.description}")
        )
        if incident.resolved_at is not None:
            entries.append(
                TimelineEntry(
                    incident.resolved_at, "incident resolved", incident.resolution or "", actor_id=incident.resolved_by
                )
            )
    entries.sort(key=lambda entry: entry.at)
    return entries
