"""Orders and their secrets in memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.pages import Page
from dispatch.adapters.memory.database import MemoryRepository, copy_of, forget, index_add, index_remove
from dispatch.errors import DuplicateOrder
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, TripStatus
from dispatch.repositories import NOT_SEEN_BY_A_BATCH, OrderSecret, StoreSummary
from routing.areas import covers


class MemoryOrderRepository(MemoryRepository):
    def add(self, order: Order) -> None:
        db = self._db
        ref = (order.store_id, order.external_ref)
        if ref in db.order_refs:
            raise DuplicateOrder(f"store {order.store_id} already has an order {order.external_ref!r}")
        stored = db.orders[order.id] = copy_of(order)
        db.order_refs.add(ref)
        index_add(db.orders_by_store.setdefault(order.store_id, {}), stored.status, order.id)

        def undo() -> None:
            db.orders.pop(order.id, None)
            db.order_refs.discard(ref)
            index_remove(db.orders_by_store[order.store_id], stored.status, order.id)

        db.record(undo)

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order:  # noqa: ARG002
        try:
            return copy_of(self._db.orders[order_id])
        except KeyError:
            raise NotFound(f"order {order_id} not found") from None

    def save(self, order: Order, *, at: datetime) -> None:  # noqa: ARG002 - no change times kept in memory
        db = self._db
        stored = db.orders[order.id]
        self._set_status(stored, order.status)
        self._set_reason(stored, order.unassigned_reason, order.unassigned_at)

    def _set_reason(self, stored: Order, reason: str | None, at: datetime | None) -> None:
        before = (stored.unassigned_reason, stored.unassigned_at)
        if before == (reason, at):
            return
        stored.unassigned_reason, stored.unassigned_at = reason, at

        def undo() -> None:
            stored.unassigned_reason, stored.unassigned_at = before

        self._db.record(undo)

    def record_unassigned(self, reasons: Mapping[UUID, str], at: datetime) -> None:
        for order_id, reason in reasons.items():
            stored = self._db.orders.get(order_id)
            if stored is None or stored.status is not OrderStatus.PENDING:
                continue
            if stored.unassigned_at is None or stored.unassigned_at <= at:
                self._set_reason(stored, reason, at)

    def _set_status(self, stored: Order, status: OrderStatus) -> None:
        db = self._db
        before = stored.status
        if before is status:
            return
        index = db.orders_by_store[stored.store_id]
        index_remove(index, before, stored.id)
        index_add(index, status, stored.id)
        stored.status = status

        def undo() -> None:
            index_remove(index, status, stored.id)
            index_add(index, before, stored.id)
            stored.status = before

        db.record(undo)

    def _ids(self, store_id: UUID, statuses: Sequence[OrderStatus] | None) -> list[UUID]:
        index = self._db.orders_by_store.get(store_id, {})
        wanted = index.keys() if statuses is None else statuses
        return [order_id for status in wanted for order_id in index.get(status, {})]

    def _sorted(self, ids: Iterable[UUID]) -> list[Order]:
        orders = [self._db.orders[order_id] for order_id in ids]
        return [copy_of(order) for order in sorted(orders, key=lambda o: (o.created_at, o.id))]

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
        self,
        *,
        store_id: UUID | None,
        statuses: Sequence[OrderStatus] | None,
        limit: int,
        offset: int,
        external_ref: str | None = None,
    ) -> Page[Order]:
        prefix = external_ref.casefold() if external_ref is not None else None
        chosen = [
            order
            for order in self._db.orders.values()
            if (store_id is None or order.store_id == store_id)
            and (statuses is None or order.status in statuses)
            and (prefix is None or order.external_ref.casefold().startswith(prefix))
        ]
        chosen.sort(key=lambda o: o.id)
        chosen.sort(key=lambda o: o.created_at, reverse=True)
        return Page([copy_of(order) for order in chosen[offset : offset + limit]], len(chosen))

    def on_trips(
        self, trip_ids: Collection[UUID], statuses: Sequence[OrderStatus] | None = None
    ) -> dict[UUID, list[Order]]:
        db = self._db
        carried = {}
        for trip_id in trip_ids:
            accepted = self._accepted(db.offers_of_trip.get(trip_id, []))
            accepted.sort(key=lambda offer: (offer.resolved_at or offer.created_at, offer.id))
            orders = [db.orders[order_id] for offer in accepted for order_id in offer.stops]
            carried[trip_id] = [copy_of(order) for order in orders if statuses is None or order.status in statuses]
        return carried

    def carrying_trips(self, order_ids: Collection[UUID]) -> Mapping[UUID, UUID]:
        carrying = {}
        for order_id in order_ids:
            accepted = self._accepted(self._db.offers_of_order.get(order_id, []))
            if accepted:
                latest = max(accepted, key=lambda offer: (offer.resolved_at or offer.created_at, offer.id))
                carrying[order_id] = latest.trip_id
        return carrying

    def _accepted(self, offer_ids: Iterable[UUID]) -> list[Offer]:
        offers = self._db.offers
        return [offers[offer_id] for offer_id in offer_ids if offers[offer_id].status is OfferStatus.ACCEPTED]

    def references(self, order_ids: Collection[UUID]) -> Mapping[UUID, str]:
        orders = self._db.orders
        return {order_id: orders[order_id].external_ref for order_id in order_ids if order_id in orders}

    def summary(self, store_id: UUID, now: datetime) -> StoreSummary:
        db = self._db
        index = db.orders_by_store.get(store_id, {})
        by_status = {status.value: len(ids) for status, ids in index.items() if ids}
        trips = db.trips_by_store.get(store_id, {})
        pending = [db.orders[order_id] for order_id in index.get(OrderStatus.PENDING, {})]
        past = sum(1 for order in pending if order.dispatch_deadline <= now)
        reasons = Counter(order.unassigned_reason or NOT_SEEN_BY_A_BATCH for order in pending)
        return StoreSummary(
            store_id=store_id,
            orders_by_status=by_status,
            open_trips=len(trips.get(TripStatus.OPEN, {})),
            open_offers=len(db.open_offers_of_store.get(store_id, {})),
            orders_past_deadline=past,
            pending_by_reason=dict(sorted(reasons.items())),
        )


class MemoryOrderSecretRepository(MemoryRepository):
    def add(self, secret: OrderSecret) -> None:
        db = self._db
        db.secrets[secret.order_id] = secret
        db.record(forget(db.secrets, secret.order_id))

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
