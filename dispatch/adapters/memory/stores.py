"""Stores and shoppers in memory."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.pages import Page
from dispatch.adapters.memory.database import MemoryRepository, copy_of, forget
from dispatch.model import Shopper, Store


class MemoryStoreRepository(MemoryRepository):
    def add(self, store: Store) -> None:
        db = self._db
        db.stores[store.id] = copy_of(store)
        db.record(forget(db.stores, store.id))

    def get(self, store_id: UUID) -> Store:
        try:
            return copy_of(self._db.stores[store_id])
        except KeyError:
            raise NotFound(f"store {store_id} not found") from None

    def save(self, store: Store) -> None:
        db = self._db
        before = db.stores[store.id]
        db.stores[store.id] = copy_of(store)
        db.record(lambda: db.stores.__setitem__(store.id, before))
        # Which orders the area covers is cached per order; an edited area invalidates it.
        cached = {
            order_id: db.in_service_area.pop(order_id)
            for order_id in self._orders_of(store.id)
            if order_id in db.in_service_area
        }
        db.record(lambda: db.in_service_area.update(cached))

    def _orders_of(self, store_id: UUID) -> list[UUID]:
        return [order_id for by_status in self._db.orders_by_store.get(store_id, {}).values() for order_id in by_status]

    def list(self) -> list[Store]:
        return [copy_of(store) for store in sorted(self._db.stores.values(), key=lambda s: (s.name, s.id))]

    def page(self, *, limit: int, offset: int) -> Page[Store]:
        stores = self.list()
        return Page(stores[offset : offset + limit], len(stores))


class MemoryShopperRepository(MemoryRepository):
    def add(self, shopper: Shopper) -> None:
        db = self._db
        db.shoppers[shopper.id] = copy_of(shopper)
        db.record(forget(db.shoppers, shopper.id))

    def get(self, shopper_id: UUID) -> Shopper:
        try:
            return copy_of(self._db.shoppers[shopper_id])
        except KeyError:
            raise NotFound(f"shopper {shopper_id} not found") from None

    def get_many(self, shopper_ids: Collection[UUID]) -> Mapping[UUID, Shopper]:
        shoppers = self._db.shoppers
        return {shopper_id: copy_of(shoppers[shopper_id]) for shopper_id in shopper_ids if shopper_id in shoppers}

    def lock(self, shopper_id: UUID) -> None:
        self.get(shopper_id)  # one unit of work at a time: nothing to wait for, only an unknown shopper to refuse

    def page(self, *, limit: int, offset: int) -> Page[Shopper]:
        chosen = sorted(self._db.shoppers.values(), key=lambda s: (s.display_name, s.id))
        return Page([copy_of(shopper) for shopper in chosen[offset : offset + limit]], len(chosen))

    def named(self, prefix: str, *, limit: int) -> list[Shopper]:
        wanted = prefix.lower()
        chosen = sorted(
            (shopper for shopper in self._db.shoppers.values() if shopper.display_name.lower().startswith(wanted)),
            key=lambda s: (s.display_name, s.id),
        )
        return [copy_of(shopper) for shopper in chosen[:limit]]

    def save(self, shopper: Shopper) -> None:
        db = self._db
        before = db.shoppers[shopper.id]
        db.shoppers[shopper.id] = copy_of(shopper)
        db.record(lambda: db.shoppers.__setitem__(shopper.id, before))


class MemoryLeaseFence:
    """The simulator runs one batch at a time and takes no lease: every batch's writes stand."""

    def confirm(self, store_id: UUID, token: str) -> bool:  # noqa: ARG002 - the protocol's signature
        return True
