"""What a simulated day records: per order, trip, batch and offer, the payout, and the day's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from dispatch.model import OrderStatus, Store
from routing.geo import GeoPoint
from simulations.scenario import Scenario

SETTLED = frozenset({OrderStatus.DELIVERED, OrderStatus.FALLBACK, OrderStatus.CANCELLED, OrderStatus.RETURNED})
"""Orders a simulated day is done with: over, or back in the store after a failed delivery, which only operations
(absent from a simulated day) would send on again. A day's batches go on while any other order is left."""


@dataclass
class OrderRecord:
    external_ref: str
    store: str
    placed_at: datetime
    dropoff: GeoPoint
    bags: int
    window_latest: datetime
    order_id: UUID | None = None
    status: str = "refused"
    delivered_at: datetime | None = None
    trip_id: UUID | None = None
    detour_m: float = 0.0
    reward_cents: int = 0
    fallback_cost_cents: int = 0
    courier_cost_cents: int = 0
    """What the all-courier baseline pays for this order."""

    @property
    def on_time(self) -> bool | None:
        if self.delivered_at is None:
            return None
        return self.delivered_at <= self.window_latest


@dataclass
class TripRecord:
    index: int
    trip_id: UUID
    shopper_id: UUID
    store_index: int
    checked_in_at: datetime
    leave_by: datetime
    destination: GeoPoint
    departed_at: datetime | None = None
    route: list[GeoPoint] = field(default_factory=list)
    delivered: int = 0
    reward_cents: int = 0
    regular: bool = False
    """Checked in from a commute profile."""


@dataclass
class BatchRecord:
    store: str
    at: datetime
    pending_orders: int
    eligible_trips: int
    offers: int
    fallback: int
    expired_offers: int
    matcher_s: float | None
    batch_s: float


@dataclass
class OfferRecord:
    offer_id: UUID
    trip_index: int
    stops: int
    extra_distance_m: int
    reward_quote_cents: int
    probability: float
    outcome: str = "open"


@dataclass(frozen=True)
class PayoutRecord:
    """The end-of-day payout batch, through finance's use cases."""

    lines: int = 0
    flagged_lines: int = 0
    paid_cents: int = 0
    books_agree: bool = True


@dataclass
class DayResult:
    scenario: Scenario
    stores: list[Store]
    orders: list[OrderRecord]
    trips: list[TripRecord]
    offers: list[OfferRecord]
    batches: list[BatchRecord]
    shopper_visits: int
    wall_s: float
    final_statuses: dict[str, int]
    payout: PayoutRecord = field(default_factory=PayoutRecord)
