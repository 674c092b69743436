"""What happened to an order and when: its status changes (kept append-only as `OrderEvent`s), the offers it
was in, the delivery attempts with their proof and the incidents, merged into one timeline. Plain Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from crowdship.clock import require_aware
from crowdship.errors import InvalidInput
from crowdship.units import format_dollars
from dispatch.evidence import DeliveryProof
from dispatch.incidents import Incident
from dispatch.model import Offer, Order, OrderStatus

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
        require_aware(self.at, "at")
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
    trip_id: UUID | None = None
    """The trip an offer line names (as `trip_words`), for a reader that can name its shopper instead."""


def trip_words(trip_id: UUID) -> str:
    """A trip as the timeline names it: "trip 9c0abce4"."""
    return f"trip {str(trip_id)[:8]}"


def timeline(
    order: Order,
    events: Sequence[OrderEvent],
    offers: Sequence[Offer],
    proofs: Sequence[DeliveryProof],
    incidents: Sequence[Incident],
) -> list[TimelineEntry]:
    """Everything known about the order, oldest first. A status change and the offer it came from are one
    line. Orders taken in before the history was kept have no status events: their intake comes from
    `created_at`, the rest from offers and proofs."""
    entries: list[TimelineEntry] = [TimelineEntry(order.created_at, "status", "taken in", OrderStatus.PENDING)]
    event_entries = [
        TimelineEntry(event.at, "status", event.note or event.status.value, event.status, event.actor_id)
        for event in events
        if not (event.status is OrderStatus.PENDING and event.at == order.created_at and event.note is None)
    ]
    for offer in offers:
        others = len(offer.stops) - 1
        bundle = f" with {others} other order{'s' if others != 1 else ''}" if others else ""
        offered = (
            f"offered to {trip_words(offer.trip_id)}{bundle} for {format_dollars(offer.reward_quote_cents)}, "
            f"{offer.extra_distance_m} m out of the way"
        )
        # The status change the offer caused says the same, less: it takes the offer's words instead.
        same = next(
            (i for i, e in enumerate(event_entries) if e.status is OrderStatus.OFFERED and e.at == offer.created_at),
            None,
        )
        if same is None:
            entries.append(TimelineEntry(offer.created_at, "offer", offered, trip_id=offer.trip_id))
        else:
            event_entries[same] = replace(event_entries[same], detail=offered, trip_id=offer.trip_id)
        resolved_by_event = any(e.at == offer.resolved_at for e in event_entries)
        if offer.resolved_at is not None and not resolved_by_event:
            entries.append(TimelineEntry(offer.resolved_at, "offer resolved", f"offer {offer.status.value}"))
    for proof in proofs:
        code = "code matched" if proof.code_matched else "code did not match"
        how = f"{code}, {proof.distance_to_dropoff_m:.0f} m from the drop-off"
        ended = OrderStatus.DELIVERED if proof.accepted else OrderStatus.FAILED
        same = next((i for i, e in enumerate(event_entries) if e.status is ended and e.at == proof.recorded_at), None)
        if same is None:
            verdict = "accepted" if proof.accepted else "refused"
            entries.append(
                TimelineEntry(proof.recorded_at, "delivery attempt", f"{verdict}: {how}", photo_ref=proof.photo_ref)
            )
        else:
            merged = f"{event_entries[same].detail}: {how}"
            event_entries[same] = replace(event_entries[same], detail=merged, photo_ref=proof.photo_ref)
    entries.extend(event_entries)
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
