"""What every use case receives: how to open a unit of work, the clock, live state, leases and configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

from crowdship.clock import Clock
from crowdship.idempotency import Outcome, once
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.acceptance import AcceptanceWeighting
from dispatch.batching import BatchParameters, QuoteRequest, RoutePricer
from dispatch.leases import StoreLeases
from dispatch.live import LiveState
from dispatch.model import TrustTier
from dispatch.prospects import ProspectTerms
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import SCRYPT_N, DropOutLimit

Created = TypeVar("Created")


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password: str, password_hash: str | None) -> bool: ...


@dataclass(frozen=True)
class DeliveredOrder:
    """What the rewards side needs to credit a delivery, inside the delivering transaction."""

    order_id: UUID
    trip_id: UUID
    shopper_id: UUID
    offer_id: UUID | None
    reward_quote_cents: Cents | None
    """The quote of the accepted offer that carried the order (the whole offer's, when it bundled several)."""
    delivered_at: datetime


@dataclass(frozen=True)
class TierReviewRequest:
    """What the rewards side needs to review a shopper's tier after an incident's insurance claim."""

    shopper_id: UUID
    actor_id: UUID | None
    at: datetime


@dataclass(frozen=True)
class StaffDecision:
    """A person's decision outside the ledger that bears on money or on who may act (a shopper's identity check
    or tier, an account created, deactivated or reactivated, a store created or changed), for the audit log:
    `details` as they are recorded, a changed field as `{"before": …, "after": …}` (see `changed`)."""

    action: str
    subject_kind: str
    subject_id: UUID
    actor_id: UUID | None
    """Who decided; None: the command line (`crowdship users …`), which signs in as nobody."""
    at: datetime
    details: Mapping[str, object]


def changed(before: object, after: object) -> dict[str, object]:
    """A field's change as the audit log records it."""
    return {"before": before, "after": after}


@dataclass(frozen=True)
class DispatchConfig:
    offer_ttl: timedelta
    geofence_m: float
    max_delivery_attempts: int
    lease_ttl_s: float
    matcher_time_limit_s: float
    location_sample_interval_s: float
    location_rate_limit_per_s: int
    batch: BatchParameters
    max_leave_by: timedelta = timedelta(hours=12)
    """A trip's leave-by is at most this far ahead of its check-in."""
    max_destination_m: float = 150_000.0
    """A trip's destination is at most this far (great circle) from its store."""
    order_horizon: timedelta = timedelta(days=14)
    """An order's window ends at most this far ahead of its intake."""
    delivery_code_work: int = SCRYPT_N
    """scrypt's N for delivery-code hashes; the simulator, which keeps nothing, makes them cheap."""

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchConfig:
        offer_ttl = timedelta(seconds=settings.offer_ttl_s)
        return cls(
            offer_ttl=offer_ttl,
            geofence_m=settings.delivery_geofence_m,
            max_delivery_attempts=settings.delivery_max_attempts,
            lease_ttl_s=settings.dispatch_lease_s,
            matcher_time_limit_s=settings.matcher_time_limit_s,
            location_sample_interval_s=settings.location_sample_interval_s,
            location_rate_limit_per_s=settings.location_rate_limit_per_s,
            max_leave_by=timedelta(hours=settings.max_leave_by_h),
            max_destination_m=settings.max_destination_km * 1000.0,
            order_horizon=timedelta(days=settings.order_horizon_days),
            batch=BatchParameters(
                road_factor=settings.road_factor,
                speed_km_per_min=settings.travel_speed_kmh / 60.0,
                max_bundle_orders=settings.max_bundle_orders,
                tier_value_caps_cents=settings.tier_value_caps_cents,
                own_address_radius_m=settings.own_address_radius_m,
                compensation_cents_per_km=settings.compensation_cents_per_km,
                compensation_minimum_cents=settings.compensation_minimum_cents,
                offer_ttl=offer_ttl,
                reoffer_after=timedelta(seconds=settings.reoffer_after_s),
                max_offers_per_pair=settings.max_offers_per_pair,
                drop_outs=DropOutLimit(settings.max_drop_outs, timedelta(hours=settings.drop_out_window_h)),
            ),
        )


@dataclass(frozen=True)
class DispatchContext:
    unit_of_work: Callable[[], LiveUnitOfWork]
    clock: Clock
    config: DispatchConfig
    live: LiveState | None = None
    """None where there is no Redis (e.g. a one-off CLI run): no live positions, no events."""
    leases: StoreLeases | None = None
    """Who batches which store, among processes (PostgreSQL's, given by the composition root); None where one
    process batches alone (the simulator)."""
    reward_quote: Callable[[QuoteRequest], Cents] | None = None
    """Prices an offer; None uses the matcher's compensation rule."""
    route_pricer: RoutePricer | None = None
    """The reward policy's terms for each trip's routes, given to the matcher; None: the compensation rule."""
    credit_delivery: Callable[[LiveUnitOfWork, DeliveredOrder], object] | None = field(default=None)
    """Rewards hook, called inside the transaction that marks the order delivered (its result is the
    caller's business: dispatch does not look at it)."""
    review_tier: Callable[[LiveUnitOfWork, TierReviewRequest], TrustTier] | None = field(default=None)
    """Rewards hook, called inside the transaction that records an insurance claim: reviews the shopper's trust
    tier by their record and returns the tier after it. None leaves the tier alone (nothing wired)."""
    audit_decision: Callable[[LiveUnitOfWork, StaffDecision], None] | None = field(default=None)
    """Rewards hook, called inside the transaction that carries out a `StaffDecision`: records who did it in
    the audit log, so the decision and its entry commit together. None records nothing (nothing wired)."""
    acceptance: AcceptanceWeighting | None = None
    """When set, batches weigh each offer by the chance its shopper accepts (`dispatch.acceptance`)."""
    prospects: ProspectTerms | None = None
    """When set, an order a batch leaves costs what waiting is expected to cost, given the shoppers likely to
    pass it before its deadline (`dispatch.prospects`), not the full fallback fee."""

    def record_decision(self, uow: LiveUnitOfWork, decision: StaffDecision) -> None:
        """Hands the decision to the audit hook, inside `uow`'s transaction (nothing when none is wired)."""
        if self.audit_decision is not None:
            self.audit_decision(uow, decision)


def created_once(
    uow: LiveUnitOfWork,
    *,
    scope: str,
    key: str | None,
    request: Mapping[str, Any],
    run: Callable[[], Created],
    record_id: Callable[[Created], UUID],
    fetch: Callable[[UUID], Created],
) -> Outcome[Created]:
    """A record created once per `Idempotency-Key` where the key is optional (stores, incidents, commute
    profiles): a client that retries after a lost answer must not create a second record. Only the record's id
    is kept with the key, so a retry answers the record as it is now (`fetch`); without a key, `run` runs."""
    if key is None:
        return Outcome(run(), replayed=False)
    return once(
        uow.idempotency,
        scope=scope,
        key=key,
        request=request,
        run=run,
        dump=lambda created: {"id": str(record_id(created))},
        load=lambda kept: fetch(UUID(kept["id"])),
    )
