"""Stores and shoppers in memory."""

from __future__ import annotations

from uuid import UUID

from crowdship.errors import NotFound
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

    def list(self) -> list[Store]:
        return [copy_of(store) for store in sorted(self._db.stores.values(), key=lambda s: (s.name, s.id))]


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

    def save(self, shopper: Shopper) -> None:
        db = self._db
        before = db.shoppers[shopper.id]
        db.shoppers[shopper.id] = copy_of(shopper)
        db.record(lambda: db.shoppers.__setitem__(shopper.id, before))
