"""Entities of dispatch and their lifecycles.

Each lifecycle is a table of allowed moves; every state change goes through `_move`, which refuses what the
table does not list with `IllegalTransition`. Methods are named for what happens in the store, so that a
use case reads like the business: `order.pick_up()`, `offer.accept(now)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID, uuid4

from shapely import MultiPolygon, Polygon

from crowdship.clock import require_aware
from crowdship.errors import DomainError, InvalidInput
from crowdship.units import Cents
from dispatch.errors import IllegalTransition, OfferExpired
from dispatch.hours import OpeningHours
from routing.geo import GeoPoint

# --------------------------------------------------------------------------------------------------
# Store and shopper


@dataclass
class Store:
    name: str
    location: GeoPoint
    service_area: Polygon | MultiPolygon
    """Rings in (lon, lat), as WKT and GeoJSON have them."""
    fallback_cost_cents: Cents
    opening_hours: OpeningHours = field(default_factory=OpeningHours)
    """Empty when nobody entered them (stores from before, the simulator's)."""
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("name", "must not be blank")
        if self.fallback_cost_cents <= 0:
            raise InvalidInput("fallback_cost_cents", "must be positive")
        if self.service_area.is_empty or not self.service_area.is_valid:
            raise InvalidInput("service_area", "must be a non-empty, valid polygon")
        if abs(self.location.lat) > TRACKED_LATITUDE_LIMIT:
            raise InvalidInput(
                "location", f"must lie within {TRACKED_LATITUDE_LIMIT:.2f}° of the equator: no shopper could be tracked"
            )


TRACKED_LATITUDE_LIMIT = 85.05112878
"""Live positions are kept on a Web Mercator index (Redis GEO), which holds nothing nearer the poles: a store
beyond it could never see its shoppers."""


class TrustTier(IntEnum):
    """How far the company trusts a shopper; it caps the value of orders they may carry."""

    NEW = 0
    BRONZE = 1
    SILVER = 2
    GOLD = 3


@dataclass
class Shopper:
    display_name: str
    trust_tier: TrustTier = TrustTier.NEW
    identity_verified: bool = False
    opted_in: bool = True
    home_location: GeoPoint | None = None
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if not self.display_name.strip():
            raise InvalidInput("display_name", "must not be blank")


# --------------------------------------------------------------------------------------------------
# Order


class OrderStatus(StrEnum):
    PENDING = "pending"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    FAILED = "failed"
    RETURNED = "returned"
    FALLBACK = "fallback"
    CANCELLED = "cancelled"


ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    # Waiting for a batch; past its deadline the courier fleet takes it.
    OrderStatus.PENDING: frozenset({OrderStatus.OFFERED, OrderStatus.FALLBACK, OrderStatus.CANCELLED}),
    # Declined, expired or withdrawn offers put it back in the pool.
    OrderStatus.OFFERED: frozenset({OrderStatus.ACCEPTED, OrderStatus.PENDING, OrderStatus.CANCELLED}),
    # A shopper who drops out before pickup gives it back.
    OrderStatus.ACCEPTED: frozenset({OrderStatus.PICKED_UP, OrderStatus.PENDING, OrderStatus.CANCELLED}),
    # Once the bags left the store it is delivered or it fails; it is no longer cancellable.
    OrderStatus.PICKED_UP: frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED}),
    OrderStatus.FAILED: frozenset({OrderStatus.RETURNED}),
    # Back at the store, operations dispatch it again, send a courier or cancel it.
    OrderStatus.RETURNED: frozenset({OrderStatus.PENDING, OrderStatus.FALLBACK, OrderStatus.CANCELLED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.FALLBACK: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
STILL_CARRIED = frozenset({OrderStatus.ACCEPTED, OrderStatus.PICKED_UP})
"""An order in these a trip (the latest that accepted it) still has to take to the door."""


@dataclass
class Order:
    store_id: UUID
    external_ref: str
    dropoff: GeoPoint
    dropoff_address: str
    recipient_name: str
    window_earliest: datetime
    window_latest: datetime
    dispatch_deadline: datetime
    """After this instant no shopper can make the window: the order goes to the fallback fleet."""
    size_bags: int
    value_cents: Cents
    created_at: datetime
    age_restricted: bool = False
    perishable: bool = False
    status: OrderStatus = OrderStatus.PENDING
    id: UUID = field(default_factory=uuid4)
    unassigned_reason: str | None = None
    """Why the last batch left it pending (the matcher's reason code), or that its offer ended since
    (`OFFER_ENDED_REASONS`); cleared when it is offered."""
    unassigned_at: datetime | None = None
    """When that batch ran, or the offer ended."""

    def __post_init__(self) -> None:
        for name in ("external_ref", "dropoff_address", "recipient_name"):
            if not getattr(self, name).strip():
                raise InvalidInput(name, "must not be blank")
        for name in ("window_earliest", "window_latest", "dispatch_deadline", "created_at"):
            require_aware(getattr(self, name), name)
        if not self.window_earliest < self.window_latest:
            raise InvalidInput("window_latest", "must be after window_earliest")
        if self.dispatch_deadline > self.window_latest:
            raise InvalidInput("dispatch_deadline", "must not be after window_latest")
        if self.size_bags <= 0:
            raise InvalidInput("size_bags", "must be positive")
        if self.value_cents <= 0:
            raise InvalidInput("value_cents", "must be positive")

    def _move(self, target: OrderStatus) -> None:
        if target not in ORDER_TRANSITIONS[self.status]:
            raise IllegalTransition("order", self.id, self.status, target)
        self.status = target

    def offer(self) -> None:
        self._move(OrderStatus.OFFERED)
        self.unassigned_reason = self.unassigned_at = None

    def release(self, ended: Offer | None = None) -> None:
        """Back to the pool: its offer ended without a delivery (`ended`: it says so, and when, until a batch
        says why it waits), or it was returned for another try."""
        self._move(OrderStatus.PENDING)
        if ended is not None:
            self.unassigned_reason = OFFER_ENDED_REASONS[ended.status]
            self.unassigned_at = ended.resolved_at

    def accept(self) -> None:
        self._move(OrderStatus.ACCEPTED)

    def pick_up(self) -> None:
        self._move(OrderStatus.PICKED_UP)

    def deliver(self) -> None:
        self._move(OrderStatus.DELIVERED)

    def fail(self) -> None:
        self._move(OrderStatus.FAILED)

    def return_to_store(self) -> None:
        self._move(OrderStatus.RETURNED)

    def hand_to_fallback(self) -> None:
        self._move(OrderStatus.FALLBACK)

    def cancel(self) -> None:
        self._move(OrderStatus.CANCELLED)

    @property
    def is_final(self) -> bool:
        return not ORDER_TRANSITIONS[self.status]


# --------------------------------------------------------------------------------------------------
# Trip


class TripStatus(StrEnum):
    OPEN = "open"
    """Checked in at the store, can receive offers."""
    DEPARTED = "departed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    """Its leave-by time passed while it was still open."""


TRIP_TRANSITIONS: Mapping[TripStatus, frozenset[TripStatus]] = {
    TripStatus.OPEN: frozenset({TripStatus.DEPARTED, TripStatus.CANCELLED, TripStatus.EXPIRED}),
    TripStatus.DEPARTED: frozenset({TripStatus.COMPLETED}),
    TripStatus.COMPLETED: frozenset(),
    TripStatus.CANCELLED: frozenset(),
    TripStatus.EXPIRED: frozenset(),
}


MAX_CAPACITY_BAGS = 50
MAX_DETOUR_M = 100_000
MAX_DETOUR_S = 86_400
"""The most bags a trip (or the commute profile it is checked in from) may hold, and its largest detour limits."""


def check_carrying_limits(capacity_bags: int, max_detour_m: int | None, max_detour_s: int | None) -> None:
    """What a trip and a commute profile may say they carry: some bags within the bound, and a detour limit in
    metres, seconds or both, each within its own."""
    if not 1 <= capacity_bags <= MAX_CAPACITY_BAGS:
        raise InvalidInput("capacity_bags", f"must be between 1 and {MAX_CAPACITY_BAGS}")
    if max_detour_m is None and max_detour_s is None:
        raise InvalidInput("max_detour_m", "give a detour limit in metres, in seconds or both")
    if max_detour_m is not None and not 0 <= max_detour_m <= MAX_DETOUR_M:
        raise InvalidInput("max_detour_m", f"must be between 0 and {MAX_DETOUR_M}")
    if max_detour_s is not None and not 0 <= max_detour_s <= MAX_DETOUR_S:
        raise InvalidInput("max_detour_s", f"must be between 0 and {MAX_DETOUR_S}")


@dataclass
class Trip:
    shopper_id: UUID
    store_id: UUID
    destination: GeoPoint
    capacity_bags: int
    checked_in_at: datetime
    leave_by: datetime
    max_detour_m: int | None = None
    max_detour_s: int | None = None
    status: TripStatus = TripStatus.OPEN
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        require_aware(self.checked_in_at, "checked_in_at")
        require_aware(self.leave_by, "leave_by")
        check_carrying_limits(self.capacity_bags, self.max_detour_m, self.max_detour_s)
        if not self.checked_in_at < self.leave_by:
            raise InvalidInput("leave_by", "must be after checked_in_at")

    def _move(self, target: TripStatus) -> None:
        if target not in TRIP_TRANSITIONS[self.status]:
            raise IllegalTransition("trip", self.id, self.status, target)
        self.status = target

    def depart(self) -> None:
        self._move(TripStatus.DEPARTED)

    def complete(self) -> None:
        self._move(TripStatus.COMPLETED)

    def cancel(self) -> None:
        self._move(TripStatus.CANCELLED)

    def expire(self) -> None:
        self._move(TripStatus.EXPIRED)

    def can_take_offers(self, now: datetime) -> bool:
        return self.status is TripStatus.OPEN and now < self.leave_by


# --------------------------------------------------------------------------------------------------
# Offer


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


OFFER_ENDED_REASONS: Mapping[OfferStatus, str] = {
    OfferStatus.DECLINED: "offer_declined",
    OfferStatus.EXPIRED: "offer_expired",
    OfferStatus.WITHDRAWN: "offer_withdrawn",
}
"""What an order back in the pool says of why it waits, after its offer ended so, until the next batch says its
own reason: it was offered, so "no batch has seen it" would not be true."""


OFFER_TRANSITIONS: Mapping[OfferStatus, frozenset[OfferStatus]] = {
    OfferStatus.OPEN: frozenset(
        {OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.WITHDRAWN}
    ),
    # The trip ended before pickup (cancelled, or its leave-by passed): the shopper no longer carries it.
    OfferStatus.ACCEPTED: frozenset({OfferStatus.WITHDRAWN}),
    OfferStatus.DECLINED: frozenset(),
    OfferStatus.EXPIRED: frozenset(),
    OfferStatus.WITHDRAWN: frozenset(),
}


def is_drop_out(status: OfferStatus, accepted_at: datetime | None) -> bool:
    """An offer accepted, then withdrawn with its trip before pickup (cancelled, past its leave-by, the account
    deactivated): the shopper saw the recipients' addresses and will not deliver them."""
    return status is OfferStatus.WITHDRAWN and accepted_at is not None


class OfferNotYetExpired(DomainError):
    def __init__(self, offer_id: UUID, expires_at: datetime) -> None:
        super().__init__(f"offer {offer_id} is open until {expires_at.isoformat()}")


@dataclass
class Offer:
    """A bundle of orders proposed to one trip, in visiting order, with what it costs the shopper."""

    trip_id: UUID
    stops: tuple[UUID, ...]
    extra_distance_m: int
    extra_duration_s: int
    reward_quote_cents: Cents
    created_at: datetime
    expires_at: datetime
    status: OfferStatus = OfferStatus.OPEN
    resolved_at: datetime | None = None
    id: UUID = field(default_factory=uuid4)
    breakdown: Mapping[str, Any] | None = None
    """Why this offer and this price (`dispatch.offer_explanation`): detour, stops, reward by component,
    the matcher's cost and the best alternative it beat."""
    trust_tier: TrustTier | None = None
    """The shopper's tier its quote was priced with: its deliveries are credited with it too, whatever the tier
    is by then (None: an offer made before it was kept)."""
    accepted_at: datetime | None = None
    """When the shopper accepted it; kept once it is withdrawn, which then makes it a drop-out (None: never
    accepted, or accepted before it was kept)."""

    def __post_init__(self) -> None:
        require_aware(self.created_at, "created_at")
        require_aware(self.expires_at, "expires_at")
        if not self.stops:
            raise InvalidInput("stops", "an offer carries at least one order")
        if len(set(self.stops)) != len(self.stops):
            raise InvalidInput("stops", "an order appears once in an offer")
        for name in ("extra_distance_m", "extra_duration_s", "reward_quote_cents"):
            if getattr(self, name) < 0:
                raise InvalidInput(name, "must not be negative")
        if not self.created_at < self.expires_at:
            raise InvalidInput("expires_at", "must be after created_at")

    def _move(self, target: OfferStatus, now: datetime) -> None:
        if target not in OFFER_TRANSITIONS[self.status]:
            raise IllegalTransition("offer", self.id, self.status, target)
        self.status = target
        self.resolved_at = now

    def is_expired_at(self, now: datetime) -> bool:
        return now >= self.expires_at

    def accept(self, now: datetime) -> None:
        """`OfferExpired` once its time is over, whether or not a batch has marked it expired yet."""
        expired = self.status is OfferStatus.EXPIRED or (self.status is OfferStatus.OPEN and self.is_expired_at(now))
        if expired:
            raise OfferExpired(self.id, self.expires_at)
        self._move(OfferStatus.ACCEPTED, now)
        self.accepted_at = now

    def decline(self, now: datetime) -> None:
        self._move(OfferStatus.DECLINED, now)

    def expire(self, now: datetime) -> None:
        if self.status is OfferStatus.OPEN and not self.is_expired_at(now):
            raise OfferNotYetExpired(self.id, self.expires_at)
        self._move(OfferStatus.EXPIRED, now)

    def withdraw(self, now: datetime) -> None:
        self._move(OfferStatus.WITHDRAWN, now)

    @property
    def dropped_out(self) -> bool:
        return is_drop_out(self.status, self.accepted_at)
