"""Stores: where shoppers check in and orders wait. Operations register them."""

from __future__ import annotations

from crowdship.errors import NotFound
from dispatch.errors import StoreExists
from dispatch.model import Store
from dispatch.services.context import DispatchContext


def register_store(ctx: DispatchContext, store: Store) -> Store:
    """Adds a store (its checks ran when it was built: name, positive fallback cost, a valid area)."""
    with ctx.unit_of_work() as uow:
        try:
            uow.stores.get(store.id)
        except NotFound:
            pass
        else:
            raise StoreExists(f"store {store.id} exists")
        uow.stores.add(store)
        uow.commit()
    return store
