"""What the dispatch use cases need from storage, as protocols.

The live service implements them on PostGIS (`dispatch.adapters.postgres`); the simulator on memory.
`get` raises `NotFound`; `save` writes back the mutable part (status) of an aggregate loaded earlier.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar
from uuid import UUID

from crowdship.idempotency import IdempotencyStore
from crowdship.pages import Page
from dispatch.accounts import User
from dispatch.evidence import DeliveryProof, LocationSample
from dispatch.history import OrderEvent
from dispatch.incidents import Incident, IncidentKind, IncidentStatus, InsuranceClaim
from dispatch.leases import StoreLeaseFence
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip, TripStatus
from dispatch.profiles import CommuteProfile
from dispatch.rules import DropOut, PairOffer
from routing.geo import GeoPoint

T = TypeVar("T")


class StoreRepository(Protocol):
    def add(self, store: Store) -> None: ...
    def get(self, store_id: UUID) -> Store: ...
    def save(self, store: Store) -> None:
        """Writes back every field but the id (an edit by operations)."""
        ...

    def list(self) -> Sequence[Store]:
        """Every store by name, then id (the dispatcher's round)."""
        ...

    def page(self, *, limit: int, offset: int) -> Page[Store]:
        """By name, then id."""
        ...


class ShopperRepository(Protocol):
    def add(self, shopper: Shopper) -> None: ...
    def get(self, shopper_id: UUID) -> Shopper: ...
    def get_many(self, shopper_ids: Collection[UUID]) -> Mapping[UUID, Shopper]:
        """The shoppers found among `shopper_ids`, by id, in one read."""
        ...

    def lock(self, shopper_id: UUID) -> None:
        """Serialises changes about one shopper until the transaction ends (take it before reading a shopper
        to save: `save` writes back every column); `NotFound` for an unknown one."""
        ...

    def save(self, shopper: Shopper) -> None: ...
    def page(self, *, limit: int, offset: int) -> Page[Shopper]:
        """By display name, then id."""
        ...

    def named(self, prefix: str, *, limit: int) -> Sequence[Shopper]:
        """Shoppers whose display name starts with `prefix` (any case), by name then id, at most `limit`."""
        ...


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...
    def get(self, order_id: UUID, *, for_update: bool = False) -> Order: ...
    def save(self, order: Order, *, at: datetime) -> None:
        """Writes back its status and why it waits; `at` is when it changed, by the use case's clock."""
        ...

    def list_for_store(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> Sequence[Order]: ...
    def within_service_area(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> Sequence[Order]: ...


class TripRepository(Protocol):
    def add(self, trip: Trip) -> None: ...
    def get(self, trip_id: UUID, *, for_update: bool = False) -> Trip: ...
    def save(self, trip: Trip, *, at: datetime) -> None:
        """Writes back its status; `at` is when it changed, by the use case's clock."""
        ...

    def list_for_store(self, store_id: UUID, statuses: Sequence[TripStatus] | None = None) -> Sequence[Trip]: ...
    def open_within(self, point: GeoPoint, radius_m: float, store_id: UUID | None = None) -> Sequence[Trip]: ...


class OfferRepository(Protocol):
    def add(self, offer: Offer) -> None: ...
    def get(self, offer_id: UUID, *, for_update: bool = False) -> Offer: ...
    def save(self, offer: Offer) -> None: ...
    def list_for_trip(self, trip_id: UUID, statuses: Sequence[OfferStatus] | None = None) -> Sequence[Offer]: ...
    def busy_trips(self, trip_ids: Collection[UUID]) -> set[UUID]:
        """Those of the trips that hold an open or accepted offer (one bundle per trip), in one read."""
        ...


class DeliveryProofRepository(Protocol):
    def add(self, proof: DeliveryProof) -> None: ...
    def list_for_order(self, order_id: UUID) -> Sequence[DeliveryProof]: ...


class Transaction(Protocol):
    """What every unit of work is, dispatch's and rewards' alike: one transaction, used as a context manager,
    that keeps nothing unless `commit()` is called."""

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class DispatchUnitOfWork(Transaction, Protocol):
    # Read-only in the protocol so that implementations may narrow them to their own repository classes.
    @property
    def stores(self) -> StoreRepository: ...
    @property
    def shoppers(self) -> ShopperRepository: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def trips(self) -> TripRepository: ...
    @property
    def offers(self) -> OfferRepository: ...
    @property
    def proofs(self) -> DeliveryProofRepository: ...


# --------------------------------------------------------------------------------------------------
# What the live service needs on top: accounts, order secrets, idempotency, location samples, incidents,
# and the reads of the API. A separate protocol, so that the simulator's unit of work need not grow.


@dataclass(frozen=True)
class OrderSecret:
    order_id: UUID
    bag_code: str
    delivery_code_hash: str


NOT_SEEN_BY_A_BATCH = "none"
"""The reason count's key for pending orders no batch has looked at yet."""


@dataclass(frozen=True)
class StoreSummary:
    store_id: UUID
    orders_by_status: Mapping[str, int]
    open_trips: int
    open_offers: int
    orders_past_deadline: int
    pending_by_reason: Mapping[str, int] = field(default_factory=dict)
    """Pending orders by the reason code the last batch gave (`none` for orders no batch has seen yet)."""


@dataclass(frozen=True)
class AnsweredOffer:
    """An offer the shopper answered (accepted, declined, or let expire) and the bags it carried."""

    offer: Offer
    bags: int


class UserRepository(Protocol):
    def add(self, user: User) -> None: ...
    def get(self, user_id: UUID, *, for_update: bool = False) -> User:
        """`for_update` locks the account: a check-in (which locks it to share, `for_shopper`) waits for a
        deactivation holding it, and the other way round."""
        ...

    def save(self, user: User) -> None:
        """Writes back whether the account is active."""
        ...

    def by_email(self, email: str) -> User | None: ...
    def for_shopper(self, shopper_id: UUID, *, for_share: bool = False) -> User:
        """The shopper's account; `for_share` locks it against a deactivation until the transaction ends."""
        ...

    def emails(self, user_ids: Collection[UUID]) -> Mapping[UUID, str]:
        """The e-mail of each account found among `user_ids`, in one read."""
        ...


class OrderSecretRepository(Protocol):
    def add(self, secret: OrderSecret) -> None: ...
    def get(self, order_id: UUID) -> OrderSecret: ...
    def for_orders(self, order_ids: Sequence[UUID]) -> Mapping[UUID, OrderSecret]: ...
    def replace_code_hash(self, order_id: UUID, delivery_code_hash: str) -> None: ...


class LocationSampleRepository(Protocol):
    def add(self, sample: LocationSample) -> None: ...
    def latest_of_active_shoppers(self) -> Sequence[LocationSample]: ...
    def count_for_shopper(self, shopper_id: UUID) -> int: ...


class IncidentRepository(Protocol):
    def add(self, incident: Incident) -> None: ...
    def get(self, incident_id: UUID, *, for_update: bool = False) -> Incident: ...
    def save(self, incident: Incident) -> None:
        """Writes back its status and resolution."""
        ...

    def list_for_order(self, order_id: UUID) -> Sequence[Incident]: ...
    def page(
        self,
        *,
        statuses: Sequence[IncidentStatus] | None = None,
        kinds: Sequence[IncidentKind] | None = None,
        store_id: UUID | None = None,
        shopper_id: UUID | None = None,
        limit: int,
        offset: int,
    ) -> Page[Incident]:
        """Newest first."""
        ...

    def add_claim(self, claim: InsuranceClaim) -> None:
        """`ClaimExists` when a claim with its reference was recorded before."""
        ...

    def claims_for(self, incident_id: UUID) -> Sequence[InsuranceClaim]: ...


class OrderHistoryRepository(Protocol):
    """Append-only: what happened to each order and when."""

    def add(self, event: OrderEvent) -> None: ...
    def for_order(self, order_id: UUID) -> Sequence[OrderEvent]:
        """Oldest first; events of one instant in the order they were added."""
        ...

    def page_for_order(self, order_id: UUID, *, limit: int, offset: int) -> Page[OrderEvent]:
        """A window of `for_order`, in its order, with how many events the order has."""
        ...


class CommuteProfileRepository(Protocol):
    def add(self, profile: CommuteProfile) -> None: ...
    def get(self, profile_id: UUID) -> CommuteProfile: ...
    def save(self, profile: CommuteProfile, *, at: datetime) -> None:
        """Writes back every field but the owner, the id and the creation time; `at` is when it changed."""
        ...

    def delete(self, profile_id: UUID) -> None: ...
    def list_for_shopper(self, shopper_id: UUID, *, for_update: bool = False) -> Sequence[CommuteProfile]:
        """The shopper's profiles, oldest first; `for_update` locks the shopper so that two concurrent
        additions cannot both pass the per-shopper limit."""
        ...


class LiveOrderRepository(OrderRepository, Protocol):
    def record_unassigned(self, reasons: Mapping[UUID, str], at: datetime) -> None:
        """Sets the reason code (and its instant) of each order in `reasons` that is still pending, unless what it
        says now is newer than `at` (a later batch's, written first: two batches of a store may overlap when no
        lease keeps them apart); a reason of the same instant is replaced."""
        ...

    def page(
        self,
        *,
        store_id: UUID | None,
        statuses: Sequence[OrderStatus] | None,
        limit: int,
        offset: int,
        external_ref: str | None = None,
    ) -> Page[Order]:
        """Newest first; `external_ref` matches the start of the reference, ignoring case."""
        ...

    def on_trips(
        self, trip_ids: Collection[UUID], statuses: Sequence[OrderStatus] | None = None
    ) -> dict[UUID, list[Order]]:
        """Per trip asked for, the orders of its accepted offers in stop order (none for a trip without), in one
        read."""
        ...

    def carrying_trips(self, order_ids: Collection[UUID]) -> Mapping[UUID, UUID]:
        """For each of the orders an accepted offer holds, the trip of the latest such offer, in one read."""
        ...

    def references(self, order_ids: Collection[UUID]) -> Mapping[UUID, str]:
        """The external reference of each order found among `order_ids`, in one read."""
        ...

    def summary(self, store_id: UUID, now: datetime) -> StoreSummary: ...


class LiveTripRepository(TripRepository, Protocol):
    def active_for_shopper(self, shopper_id: UUID, *, for_update: bool = False) -> Trip | None: ...
    def on_a_trip(self, shopper_ids: Sequence[UUID]) -> set[UUID]:
        """Those of these shoppers who have an open or departed trip."""
        ...

    def shoppers_of(self, trip_ids: Collection[UUID]) -> Mapping[UUID, UUID]:
        """The shopper of each trip found among `trip_ids`, in one read."""
        ...

    def page(
        self,
        *,
        store_id: UUID | None,
        shopper_id: UUID | None,
        statuses: Sequence[TripStatus] | None,
        limit: int,
        offset: int,
    ) -> Page[Trip]: ...
    def open_of_active_accounts(self, store_id: UUID) -> Sequence[Trip]:
        """The store's open trips by check-in time, but those of deactivated accounts (a batch offers them
        nothing); a shopper with no account at all, as the simulator's, counts as active."""
        ...

    def past_leave_by(self, store_id: UUID, now: datetime) -> Sequence[Trip]: ...
    def checked_in_between(self, store_id: UUID, since: datetime, until: datetime, limit: int) -> Sequence[Trip]:
        """The store's trips checked in within [since, until], whatever became of them, oldest first: the
        most recent `limit` of them (the recent supply of shoppers, `dispatch.prospects`)."""
        ...


class LiveOfferRepository(OfferRepository, Protocol):
    def open_past_expiry(self, store_id: UUID, now: datetime) -> Sequence[Offer]:
        """Open offers of the store whose time ran out, locked (skipping those another process holds)."""
        ...

    def pair_offers(self, order_ids: Sequence[UUID]) -> list[PairOffer]:
        """Every offer the orders were ever in, one per (offer, order), oldest first (`dispatch.rules.barred_pairs`
        reads them)."""
        ...

    def drop_outs(self, shopper_ids: Collection[UUID], since: datetime) -> list[DropOut]:
        """The drop-outs of these shoppers (accepted offers withdrawn before pickup, `dispatch.model.is_drop_out`)
        after `since`, oldest first (`dispatch.rules.held_back_shoppers` reads them)."""
        ...

    def for_order(self, order_id: UUID) -> Sequence[Offer]:
        """Every offer the order was ever in, oldest first."""
        ...

    def page_for_order(self, order_id: UUID, *, limit: int, offset: int) -> Page[Offer]:
        """A window of `for_order`, in its order, with how many offers the order was in."""
        ...

    def for_order_within(self, order_id: UUID, *, since: datetime | None, until: datetime | None) -> Sequence[Offer]:
        """The order's offers made or resolved at or after `since` and before `until` (either open-ended when
        None), oldest first: those one window of its history speaks of."""
        ...

    def open_trip_of_order(self, order_id: UUID) -> UUID | None:
        """The trip whose open offer holds the order, if any."""
        ...

    def answered(self, *, store_id: UUID | None, since: datetime, limit: int) -> Sequence[AnsweredOffer]:
        """Offers made at or after `since` that were accepted, declined or expired (withdrawn ones had no
        answer), newest first, at most `limit`: the history the acceptance model is fitted on."""
        ...

    def page(
        self, *, store_id: UUID | None, statuses: Sequence[OfferStatus] | None, limit: int, offset: int
    ) -> Page[Offer]: ...


class LiveUnitOfWork(DispatchUnitOfWork, Protocol):
    @property
    def orders(self) -> LiveOrderRepository: ...
    @property
    def trips(self) -> LiveTripRepository: ...
    @property
    def offers(self) -> LiveOfferRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def secrets(self) -> OrderSecretRepository: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def locations(self) -> LocationSampleRepository: ...
    @property
    def incidents(self) -> IncidentRepository: ...
    @property
    def profiles(self) -> CommuteProfileRepository: ...
    @property
    def history(self) -> OrderHistoryRepository: ...
    @property
    def leases(self) -> StoreLeaseFence: ...
