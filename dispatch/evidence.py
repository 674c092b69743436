"""What a trip leaves on record: each attempt to hand an order over, and where its shopper was on the way
(kept apart from the entities' lifecycles in `dispatch.model`; nothing here changes state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from crowdship.clock import require_aware
from crowdship.errors import InvalidInput
from routing.geo import GeoPoint

# --------------------------------------------------------------------------------------------------
# Delivery proof


@dataclass(frozen=True)
class DeliveryProof:
    """One attempt to hand over an order: where and when, how far from the drop-off, whether the code matched."""

    order_id: UUID
    trip_id: UUID
    position: GeoPoint
    recorded_at: datetime
    distance_to_dropoff_m: float
    code_matched: bool
    accepted: bool
    photo_ref: str | None = None
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        require_aware(self.recorded_at, "recorded_at")
        if self.distance_to_dropoff_m < 0:
            raise InvalidInput("distance_to_dropoff_m", "must not be negative")
        if self.accepted and not self.code_matched:
            raise InvalidInput("accepted", "a delivery without the recipient's code is not accepted")


# --------------------------------------------------------------------------------------------------
# Location sample


@dataclass(frozen=True)
class LocationSample:
    """Where a shopper was at a moment, kept for the record (proof of the route, fraud checks)."""

    shopper_id: UUID
    trip_id: UUID | None
    position: GeoPoint
    recorded_at: datetime
