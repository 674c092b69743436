"""The rows and indexes that play the part of PostgreSQL, and the undo log a transaction keeps on them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from crowdship.idempotency import StoredResult
from dispatch.accounts import User
from dispatch.evidence import DeliveryProof, LocationSample
from dispatch.history import OrderEvent
from dispatch.incidents import Incident, InsuranceClaim
from dispatch.model import Offer, Order, OrderStatus, Shopper, Store, Trip, TripStatus
from dispatch.profiles import CommuteProfile
from dispatch.repositories import OrderSecret
from dispatch.rules import DropOut

Undo = Callable[[], None]
T = TypeVar("T")
K = TypeVar("K")

ACTIVE_TRIP = frozenset({TripStatus.OPEN, TripStatus.DEPARTED})


class MemoryDispatchDatabase:
    """The rows and indexes; shared by every unit of work opened on it."""

    def __init__(self) -> None:
        self.stores: dict[UUID, Store] = {}
        self.shoppers: dict[UUID, Shopper] = {}
        self.orders: dict[UUID, Order] = {}
        self.trips: dict[UUID, Trip] = {}
        self.offers: dict[UUID, Offer] = {}
        self.proofs: dict[UUID, list[DeliveryProof]] = {}
        self.users: dict[UUID, User] = {}
        self.secrets: dict[UUID, OrderSecret] = {}
        self.idempotency: dict[tuple[str, str], StoredResult] = {}
        self.locations: list[LocationSample] = []
        self.incidents: dict[UUID, list[Incident]] = {}
        self.profiles: dict[UUID, CommuteProfile] = {}
        self.claims: dict[UUID, list[InsuranceClaim]] = {}
        self.order_events: dict[UUID, list[OrderEvent]] = {}
        # Indexes, kept in step with every write.
        self.order_refs: set[tuple[UUID, str]] = set()
        self.orders_by_store: dict[UUID, dict[OrderStatus, dict[UUID, None]]] = {}
        self.trips_by_store: dict[UUID, dict[TripStatus, dict[UUID, None]]] = {}
        self.active_trip_of_shopper: dict[UUID, UUID] = {}
        self.offers_of_trip: dict[UUID, list[UUID]] = {}
        self.offers_of_order: dict[UUID, list[UUID]] = {}
        self.open_offer_of_trip: dict[UUID, UUID] = {}
        self.open_offer_of_order: dict[UUID, UUID] = {}
        self.open_offers_of_store: dict[UUID, dict[UUID, None]] = {}
        self.drop_outs: list[DropOut] = []
        """Accepted offers withdrawn before pickup, in the order they were (`LiveOfferRepository.drop_outs`)."""
        self.in_service_area: dict[UUID, bool] = {}
        """Per order: does its store's area cover the drop-off (areas do not change in a run)."""
        self.journal: list[Undo] | None = None

    def record(self, undo: Undo) -> None:
        if self.journal is not None:
            self.journal.append(undo)


def copy_of(entity: T) -> T:
    return copy.copy(entity)


def index_add(index: dict[K, dict[UUID, None]], key: K, item: UUID) -> None:
    index.setdefault(key, {})[item] = None


def index_remove(index: dict[K, dict[UUID, None]], key: K, item: UUID) -> None:
    index.get(key, {}).pop(item, None)


def forget(rows: dict[Any, Any], key: Any) -> Undo:
    def undo() -> None:
        rows.pop(key, None)

    return undo


class MemoryRepository:
    def __init__(self, db: MemoryDispatchDatabase) -> None:
        self._db = db
