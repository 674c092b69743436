"""Dispatch repositories in memory, for the simulator and for use-case tests without a database.

`MemoryDispatchDatabase` plays the part of PostgreSQL: it holds the rows, the indexes the queries need,
and the partial unique rules (one open offer per order and per trip, one active trip per shopper).
`MemoryDispatchUnitOfWork` is a transaction on it with the same promise as the PostGIS one: nothing is
kept unless `commit()` is called. Writes go straight to the rows and leave an undo entry; leaving the block
without a commit undoes them in reverse. Reads return copies, so a use case that changes an entity and
does not `save` it changes nothing, as with a database. Results come back in the PostGIS adapter's order
(by creation time, then id), so that the simulator and the live service feed the matcher the same lists.

Single-threaded: one unit of work at a time.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.idempotency import MemoryIdempotencyStore, StoredResult
from crowdship.pages import Page
from dispatch.accounts import User
from dispatch.errors import AlreadyOffered, AlreadyOnTrip, DuplicateOrder, EmailTaken
from dispatch.model import (
    DeliveryProof,
    Incident,
    LocationSample,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shopper,
    Store,
    Trip,
    TripStatus,
)
from dispatch.repositories import OrderSecret, StoreSummary
from routing.areas import covers
from routing.distance import haversine_m
from routing.geo import GeoPoint

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
        self.in_service_area: dict[UUID, bool] = {}
        """Per order: does its store's area cover the drop-off (areas do not change in a run)."""
        self.journal: list[Undo] | None = None

    def record(self, undo: Undo) -> None:
        if self.journal is not None:
            self.journal.append(undo)


def _copy(entity: T) -> T:
    return copy.copy(entity)


def _index_add(index: dict[K, dict[UUID, None]], key: K, item: UUID) -> None:
    index.setdefault(key, {})[item] = None


def _index_remove(index: dict[K, dict[UUID, None]], key: K, item: UUID) -> None:
    index.get(key, {}).pop(item, None)


def _forget(rows: dict[Any, Any], key: Any) -> Undo:
    def undo() -> None:
        rows.pop(key, None)

    return undo


class _Repository:
    def __init__(self, db: MemoryDispatchDatabase) -> None:
        self._db = db


class MemoryStoreRepository(_Repository):
    def add(self, store: Store) -> None:
        db = self._db
        db.stores[store.id] = _copy(store)
        db.record(_forget(db.stores, store.id))

    def get(self, store_id: UUID) -> Store:
        try:
            return _copy(self._db.stores[store_id])
        except KeyError:
            raise NotFound(f"store {store_id} not found") from None

    def list(self) -> list[Store]:
        return [_copy(store) for store in sorted(self._db.stores.values(), key=lambda s: (s.name, s.id))]


class MemoryShopperRepository(_Repository):
    def add(self, shopper: Shopper) -> None:
        db = self._db
        db.shoppers[shopper.id] = _copy(shopper)
        db.record(_forget(db.shoppers, shopper.id))

    def get(self, shopper_id: UUID) -> Shopper:
        try:
            return _copy(self._db.shoppers[shopper_id])
        except KeyError:
            raise NotFound(f"shopper {shopper_id} not found") from None

    def save(self, shopper: Shopper) -> None:
        db = self._db
        before = db.shoppers[shopper.id]
        db.shoppers[shopper.id] = _copy(shopper)
        db.record(lambda: db.shoppers.__setitem__(shopper.id, before))


class MemoryOrderRepository(_Repository):
    def add(self, order: Order) -> None:
        db = self._db
        ref = (order.store_id, order.external_ref)
        if ref in db.order_refs:
            raise DuplicateOrder(f"store {order.store_id} already has an order {order.external_ref!r}")
        stored = db.orders[order.id] = _copy(order)
        db.order_refs.add(ref)
        _index_add(db.orders_by_store.setdefault(order.store_id, {}), stored.status, order.id)

        def undo() -> None:
            db.orders.pop(order.id, None)
            db.order_refs.discard(ref)
            _index_remove(db.orders_by_store[order.store_id], stored.status, order.id)

        db.record(undo)

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order:  # noqa: ARG002
        try:
            return _copy(self._db.orders[order_id])
        except KeyError:
            raise NotFound(f"order {order_id} not found") from None

    def save(self, order: Order) -> None:
        db = self._db
        stored = db.orders[order.id]
        self._set_status(stored, order.status)

    def _set_status(self, stored: Order, status: OrderStatus) -> None:
        db = self._db
        before = stored.status
        if before is status:
            return
        index = db.orders_by_store[stored.store_id]
        _index_remove(index, before, stored.id)
        _index_add(index, status, stored.id)
        stored.status = status

        def undo() -> None:
            _index_remove(index, status, stored.id)
            _index_add(index, before, stored.id)
            stored.status = before

        db.record(undo)

    def _ids(self, store_id: UUID, statuses: Sequence[OrderStatus] | None) -> list[UUID]:
        index = self._db.orders_by_store.get(store_id, {})
        wanted = index.keys() if statuses is None else statuses
        return [order_id for status in wanted for order_id in index.get(status, {})]

    def _sorted(self, ids: Iterable[UUID]) -> list[Order]:
        orders = [self._db.orders[order_id] for order_id in ids]
        return [_copy(order) for order in sorted(orders, key=lambda o: (o.created_at, o.id))]

    def list_for_store(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        return self._sorted(self._ids(store_id, statuses))

    def within_service_area(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        db = self._db
        store = db.stores.get(store_id)
        if store is None:
            return []
        inside = []
        for order_id in self._ids(store_id, statuses):
            covered = db.in_service_area.get(order_id)
            if covered is None:
                covered = db.in_service_area[order_id] = covers(store.service_area, db.orders[order_id].dropoff)
            if covered:
                inside.append(order_id)
        return self._sorted(inside)

    def page(
        self, *, store_id: UUID | None, statuses: Sequence[OrderStatus] | None, limit: int, offset: int
    ) -> Page[Order]:
        chosen = [
            order
            for order in self._db.orders.values()
            if (store_id is None or order.store_id == store_id) and (statuses is None or order.status in statuses)
        ]
        chosen.sort(key=lambda o: o.id)
        chosen.sort(key=lambda o: o.created_at, reverse=True)
        return Page([_copy(order) for order in chosen[offset : offset + limit]], len(chosen))

    def on_trip(self, trip_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        db = self._db
        accepted = [
            db.offers[offer_id]
            for offer_id in db.offers_of_trip.get(trip_id, [])
            if db.offers[offer_id].status is OfferStatus.ACCEPTED
        ]
        accepted.sort(key=lambda offer: (offer.resolved_at or offer.created_at, offer.id))
        orders = [db.orders[order_id] for offer in accepted for order_id in offer.stops]
        return [_copy(order) for order in orders if statuses is None or order.status in statuses]

    def carrying_trip(self, order_id: UUID) -> UUID | None:
        db = self._db
        accepted = [
            db.offers[offer_id]
            for offer_id in db.offers_of_order.get(order_id, [])
            if db.offers[offer_id].status is OfferStatus.ACCEPTED
        ]
        if not accepted:
            return None
        return max(accepted, key=lambda offer: offer.resolved_at or offer.created_at).trip_id

    def summary(self, store_id: UUID, now: datetime) -> StoreSummary:
        db = self._db
        index = db.orders_by_store.get(store_id, {})
        by_status = {status.value: len(ids) for status, ids in index.items() if ids}
        trips = db.trips_by_store.get(store_id, {})
        past = sum(1 for order_id in index.get(OrderStatus.PENDING, {}) if db.orders[order_id].dispatch_deadline <= now)
        return StoreSummary(
            store_id=store_id,
            orders_by_status=by_status,
            open_trips=len(trips.get(TripStatus.OPEN, {})),
            open_offers=len(db.open_offers_of_store.get(store_id, {})),
            orders_past_deadline=past,
        )


class MemoryTripRepository(_Repository):
    def add(self, trip: Trip) -> None:
        db = self._db
        if trip.status in ACTIVE_TRIP and trip.shopper_id in db.active_trip_of_shopper:
            raise AlreadyOnTrip
        stored = db.trips[trip.id] = _copy(trip)
        _index_add(db.trips_by_store.setdefault(trip.store_id, {}), stored.status, trip.id)
        if stored.status in ACTIVE_TRIP:
            db.active_trip_of_shopper[trip.shopper_id] = trip.id

        def undo() -> None:
            db.trips.pop(trip.id, None)
            _index_remove(db.trips_by_store[trip.store_id], stored.status, trip.id)
            if db.active_trip_of_shopper.get(trip.shopper_id) == trip.id:
                del db.active_trip_of_shopper[trip.shopper_id]

        db.record(undo)

    def get(self, trip_id: UUID, *, for_update: bool = False) -> Trip:  # noqa: ARG002
        try:
            return _copy(self._db.trips[trip_id])
        except KeyError:
            raise NotFound(f"trip {trip_id} not found") from None

    def save(self, trip: Trip) -> None:
        db = self._db
        stored = db.trips[trip.id]
        before, status = stored.status, trip.status
        if before is status:
            return
        index = db.trips_by_store[stored.store_id]
        _index_remove(index, before, stored.id)
        _index_add(index, status, stored.id)
        stored.status = status
        was_active = before in ACTIVE_TRIP
        if was_active and status not in ACTIVE_TRIP:
            db.active_trip_of_shopper.pop(stored.shopper_id, None)

        def undo() -> None:
            _index_remove(index, status, stored.id)
            _index_add(index, before, stored.id)
            stored.status = before
            if was_active:
                db.active_trip_of_shopper[stored.shopper_id] = stored.id

        db.record(undo)

    def _sorted(self, trips: Iterable[Trip]) -> list[Trip]:
        return [_copy(trip) for trip in sorted(trips, key=lambda t: (t.checked_in_at, t.id))]

    def list_for_store(self, store_id: UUID, statuses: Sequence[TripStatus] | None = None) -> list[Trip]:
        index = self._db.trips_by_store.get(store_id, {})
        wanted = index.keys() if statuses is None else statuses
        return self._sorted(self._db.trips[trip_id] for status in wanted for trip_id in index.get(status, {}))

    def open_within(self, point: GeoPoint, radius_m: float, store_id: UUID | None = None) -> list[Trip]:
        return self._sorted(
            trip
            for trip in self._db.trips.values()
            if trip.status is TripStatus.OPEN
            and (store_id is None or trip.store_id == store_id)
            and haversine_m(trip.destination, point) <= radius_m
        )

    def active_for_shopper(self, shopper_id: UUID, *, for_update: bool = False) -> Trip | None:  # noqa: ARG002
        trip_id = self._db.active_trip_of_shopper.get(shopper_id)
        return None if trip_id is None else _copy(self._db.trips[trip_id])

    def on_a_trip(self, shopper_ids: Sequence[UUID]) -> set[UUID]:
        return {shopper_id for shopper_id in shopper_ids if shopper_id in self._db.active_trip_of_shopper}

    def page(
        self,
        *,
        store_id: UUID | None,
        shopper_id: UUID | None,
        statuses: Sequence[TripStatus] | None,
        limit: int,
        offset: int,
    ) -> Page[Trip]:
        chosen = [
            trip
            for trip in self._db.trips.values()
            if (store_id is None or trip.store_id == store_id)
            and (shopper_id is None or trip.shopper_id == shopper_id)
            and (statuses is None or trip.status in statuses)
        ]
        chosen.sort(key=lambda t: t.id)
        chosen.sort(key=lambda t: t.checked_in_at, reverse=True)
        return Page([_copy(trip) for trip in chosen[offset : offset + limit]], len(chosen))

    def past_leave_by(self, store_id: UUID, now: datetime) -> list[Trip]:
        open_ids = self._db.trips_by_store.get(store_id, {}).get(TripStatus.OPEN, {})
        due = [self._db.trips[trip_id] for trip_id in open_ids if self._db.trips[trip_id].leave_by <= now]
        return [_copy(trip) for trip in sorted(due, key=lambda t: (t.leave_by, t.id))]


class MemoryOfferRepository(_Repository):
    def add(self, offer: Offer) -> None:
        db = self._db
        if offer.status is OfferStatus.OPEN and (
            offer.trip_id in db.open_offer_of_trip or any(order in db.open_offer_of_order for order in offer.stops)
        ):
            raise AlreadyOffered(f"offer {offer.id}: an order or the trip already has an open offer")
        stored = _copy(offer)
        db.offers[offer.id] = stored
        db.offers_of_trip.setdefault(offer.trip_id, []).append(offer.id)
        for order_id in offer.stops:
            db.offers_of_order.setdefault(order_id, []).append(offer.id)
        if offer.status is OfferStatus.OPEN:
            self._open(stored)

        def undo() -> None:
            if stored.status is OfferStatus.OPEN:
                self._close(stored)
            db.offers.pop(offer.id, None)
            db.offers_of_trip[offer.trip_id].remove(offer.id)
            for order_id in offer.stops:
                db.offers_of_order[order_id].remove(offer.id)

        db.record(undo)

    def _store_of(self, offer: Offer) -> UUID:
        return self._db.trips[offer.trip_id].store_id

    def _open(self, offer: Offer) -> None:
        db = self._db
        db.open_offer_of_trip[offer.trip_id] = offer.id
        for order_id in offer.stops:
            db.open_offer_of_order[order_id] = offer.id
        _index_add(db.open_offers_of_store, self._store_of(offer), offer.id)

    def _close(self, offer: Offer) -> None:
        db = self._db
        db.open_offer_of_trip.pop(offer.trip_id, None)
        for order_id in offer.stops:
            db.open_offer_of_order.pop(order_id, None)
        _index_remove(db.open_offers_of_store, self._store_of(offer), offer.id)

    def get(self, offer_id: UUID, *, for_update: bool = False) -> Offer:  # noqa: ARG002
        try:
            return _copy(self._db.offers[offer_id])
        except KeyError:
            raise NotFound(f"offer {offer_id} not found") from None

    def save(self, offer: Offer) -> None:
        db = self._db
        stored = db.offers[offer.id]
        before = (stored.status, stored.resolved_at)
        after = (offer.status, offer.resolved_at)
        if before == after:
            return
        if before[0] is OfferStatus.OPEN and after[0] is not OfferStatus.OPEN:
            self._close(stored)
        stored.status, stored.resolved_at = after

        def undo() -> None:
            stored.status, stored.resolved_at = before
            if before[0] is OfferStatus.OPEN and after[0] is not OfferStatus.OPEN:
                self._open(stored)

        db.record(undo)

    def list_for_trip(self, trip_id: UUID, statuses: Sequence[OfferStatus] | None = None) -> list[Offer]:
        db = self._db
        offers = [db.offers[offer_id] for offer_id in db.offers_of_trip.get(trip_id, [])]
        chosen = [offer for offer in offers if statuses is None or offer.status in statuses]
        return [_copy(offer) for offer in sorted(chosen, key=lambda f: (f.created_at, f.id))]

    def open_past_expiry(self, store_id: UUID, now: datetime) -> list[Offer]:
        db = self._db
        due = [
            db.offers[offer_id]
            for offer_id in db.open_offers_of_store.get(store_id, {})
            if db.offers[offer_id].expires_at <= now
        ]
        return [_copy(offer) for offer in sorted(due, key=lambda f: (f.expires_at, f.id))]

    def open_trip_of_order(self, order_id: UUID) -> UUID | None:
        offer_id = self._db.open_offer_of_order.get(order_id)
        return None if offer_id is None else self._db.offers[offer_id].trip_id

    def offered_pairs(self, order_ids: Sequence[UUID]) -> set[tuple[UUID, UUID]]:
        db = self._db
        return {
            (db.offers[offer_id].trip_id, order_id)
            for order_id in order_ids
            for offer_id in db.offers_of_order.get(order_id, [])
        }

    def page(
        self, *, store_id: UUID | None, statuses: Sequence[OfferStatus] | None, limit: int, offset: int
    ) -> Page[Offer]:
        chosen = [
            offer
            for offer in self._db.offers.values()
            if (store_id is None or self._store_of(offer) == store_id)
            and (statuses is None or offer.status in statuses)
        ]
        chosen.sort(key=lambda f: f.id)
        chosen.sort(key=lambda f: f.created_at, reverse=True)
        return Page([_copy(offer) for offer in chosen[offset : offset + limit]], len(chosen))


class MemoryDeliveryProofRepository(_Repository):
    def add(self, proof: DeliveryProof) -> None:
        db = self._db
        if proof.accepted and any(earlier.accepted for earlier in db.proofs.get(proof.order_id, [])):
            raise DuplicateProof(f"order {proof.order_id} already has an accepted delivery proof")
        db.proofs.setdefault(proof.order_id, []).append(proof)
        db.record(lambda: db.proofs[proof.order_id].remove(proof))

    def list_for_order(self, order_id: UUID) -> list[DeliveryProof]:
        return sorted(self._db.proofs.get(order_id, []), key=lambda p: (p.recorded_at, p.id))


class DuplicateProof(Exception):
    """A second accepted proof for one order; the database refuses it with a unique index too."""


class MemoryUserRepository(_Repository):
    def add(self, user: User) -> None:
        db = self._db
        if self.by_email(user.email) is not None:
            raise EmailTaken
        db.users[user.id] = _copy(user)
        db.record(_forget(db.users, user.id))

    def get(self, user_id: UUID) -> User:
        try:
            return _copy(self._db.users[user_id])
        except KeyError:
            raise NotFound(f"user {user_id} not found") from None

    def save(self, user: User) -> None:
        db = self._db
        before = db.users[user.id]
        db.users[user.id] = _copy(user)
        db.record(lambda: db.users.__setitem__(user.id, before))

    def by_email(self, email: str) -> User | None:
        found = [user for user in self._db.users.values() if user.email == email]
        return _copy(found[0]) if found else None

    def for_shopper(self, shopper_id: UUID) -> User:
        found = [user for user in self._db.users.values() if user.shopper_id == shopper_id]
        if not found:
            raise NotFound(f"user of shopper {shopper_id} not found")
        return _copy(found[0])


class MemoryOrderSecretRepository(_Repository):
    def add(self, secret: OrderSecret) -> None:
        db = self._db
        db.secrets[secret.order_id] = secret
        db.record(_forget(db.secrets, secret.order_id))

    def get(self, order_id: UUID) -> OrderSecret:
        try:
            return self._db.secrets[order_id]
        except KeyError:
            raise NotFound(f"secret of order {order_id} not found") from None

    def for_orders(self, order_ids: Sequence[UUID]) -> dict[UUID, OrderSecret]:
        return {order_id: self._db.secrets[order_id] for order_id in order_ids if order_id in self._db.secrets}

    def replace_code_hash(self, order_id: UUID, delivery_code_hash: str) -> None:
        db = self._db
        before = self.get(order_id)
        db.secrets[order_id] = OrderSecret(order_id, before.bag_code, delivery_code_hash)
        db.record(lambda: db.secrets.__setitem__(order_id, before))


class MemoryLocationSampleRepository(_Repository):
    def add(self, sample: LocationSample) -> None:
        db = self._db
        db.locations.append(sample)
        db.record(lambda: db.locations.remove(sample))

    def latest_of_active_shoppers(self) -> list[LocationSample]:
        db = self._db
        latest: dict[UUID, LocationSample] = {}
        for sample in db.locations:
            if sample.shopper_id not in db.active_trip_of_shopper:
                continue
            known = latest.get(sample.shopper_id)
            if known is None or sample.recorded_at >= known.recorded_at:
                latest[sample.shopper_id] = sample
        return [latest[shopper_id] for shopper_id in sorted(latest)]

    def count_for_shopper(self, shopper_id: UUID) -> int:
        return sum(1 for sample in self._db.locations if sample.shopper_id == shopper_id)


class MemoryIncidentRepository(_Repository):
    def add(self, incident: Incident) -> None:
        db = self._db
        db.incidents.setdefault(incident.order_id, []).append(incident)
        db.record(lambda: db.incidents[incident.order_id].remove(incident))

    def list_for_order(self, order_id: UUID) -> list[Incident]:
        return sorted(self._db.incidents.get(order_id, []), key=lambda i: (i.reported_at, i.id))


class MemoryDispatchUnitOfWork:
    """A transaction on a `MemoryDispatchDatabase`; satisfies `DispatchUnitOfWork` and `LiveUnitOfWork`."""

    def __init__(self, db: MemoryDispatchDatabase) -> None:
        self.db = db
        self.stores = MemoryStoreRepository(db)
        self.shoppers = MemoryShopperRepository(db)
        self.orders = MemoryOrderRepository(db)
        self.trips = MemoryTripRepository(db)
        self.offers = MemoryOfferRepository(db)
        self.proofs = MemoryDeliveryProofRepository(db)
        self.users = MemoryUserRepository(db)
        self.secrets = MemoryOrderSecretRepository(db)
        self.idempotency = MemoryIdempotencyStore(db.idempotency, db.record)
        self.locations = MemoryLocationSampleRepository(db)
        self.incidents = MemoryIncidentRepository(db)

    def __enter__(self) -> Self:
        if self.db.journal is not None:
            raise RuntimeError("the in-memory database runs one unit of work at a time")
        self.db.journal = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.db.journal = None

    def commit(self) -> None:
        if self.db.journal is not None:
            self.db.journal = []

    def rollback(self) -> None:
        journal = self.db.journal
        if not journal:
            return
        self.db.journal = None  # undoing must not record itself
        for undo in reversed(journal):
            undo()
        self.db.journal = []


def memory_unit_of_work(db: MemoryDispatchDatabase) -> Callable[[], MemoryDispatchUnitOfWork]:
    """The factory a `DispatchContext` takes, bound to one database."""
    return lambda: MemoryDispatchUnitOfWork(db)
