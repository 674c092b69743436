"""What the dispatch use cases need from storage, as protocols.

The live service implements them on PostGIS (`dispatch.adapters.postgres`); the simulator on memory.
`get` raises `NotFound`; `save` writes back the mutable part (status) of an aggregate loaded earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from dispatch.model import (
    DeliveryProof,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shopper,
    Store,
    Trip,
    TripStatus,
)
from routing.geo import GeoPoint


class StoreRepository(Protocol):
    def add(self, store: Store) -> None: ...
    def get(self, store_id: UUID) -> Store: ...
    def list(self) -> Sequence[Store]: ...


class ShopperRepository(Protocol):
    def add(self, shopper: Shopper) -> None: ...
    def get(self, shopper_id: UUID) -> Shopper: ...
    def save(self, shopper: Shopper) -> None: ...


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...
    def get(self, order_id: UUID, *, for_update: bool = False) -> Order: ...
    def save(self, order: Order) -> None: ...
    def list_for_store(
        self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None
    ) -> Sequence[Order]: ...
    def within_service_area(
        self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None
    ) -> Sequence[Order]: ...


class TripRepository(Protocol):
    def add(self, trip: Trip) -> None: ...
    def get(self, trip_id: UUID, *, for_update: bool = False) -> Trip: ...
    def save(self, trip: Trip) -> None: ...
    def list_for_store(
        self, store_id: UUID, statuses: Sequence[TripStatus] | None = None
    ) -> Sequence[Trip]: ...
    def open_within(
        self, point: GeoPoint, radius_m: float, store_id: UUID | None = None
    ) -> Sequence[Trip]: ...


class OfferRepository(Protocol):
    def add(self, offer: Offer) -> None: ...
    def get(self, offer_id: UUID, *, for_update: bool = False) -> Offer: ...
    def save(self, offer: Offer) -> None: ...
    def list_for_trip(
        self, trip_id: UUID, statuses: Sequence[OfferStatus] | None = None
    ) -> Sequence[Offer]: ...


class DeliveryProofRepository(Protocol):
    def add(self, proof: DeliveryProof) -> None: ...
    def list_for_order(self, order_id: UUID) -> Sequence[DeliveryProof]: ...


class DispatchUnitOfWork(Protocol):
    stores: StoreRepository
    shoppers: ShopperRepository
    orders: OrderRepository
    trips: TripRepository
    offers: OfferRepository
    proofs: DeliveryProofRepository

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
