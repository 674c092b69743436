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

from collections.abc import Callable
from types import TracebackType
from typing import Self

from crowdship.idempotency import MemoryIdempotencyStore
from dispatch.adapters.memory.database import MemoryDispatchDatabase
from dispatch.adapters.memory.orders import MemoryOrderRepository, MemoryOrderSecretRepository
from dispatch.adapters.memory.profiles import MemoryCommuteProfileRepository
from dispatch.adapters.memory.records import (
    DuplicateProof,
    MemoryDeliveryProofRepository,
    MemoryIncidentRepository,
    MemoryLocationSampleRepository,
    MemoryOrderHistoryRepository,
    MemoryUserRepository,
)
from dispatch.adapters.memory.stores import MemoryLeaseFence, MemoryShopperRepository, MemoryStoreRepository
from dispatch.adapters.memory.trips import MemoryOfferRepository, MemoryTripRepository

__all__ = [
    "DuplicateProof",
    "MemoryCommuteProfileRepository",
    "MemoryDeliveryProofRepository",
    "MemoryDispatchDatabase",
    "MemoryDispatchUnitOfWork",
    "MemoryIncidentRepository",
    "MemoryLocationSampleRepository",
    "MemoryOfferRepository",
    "MemoryOrderHistoryRepository",
    "MemoryOrderRepository",
    "MemoryOrderSecretRepository",
    "MemoryShopperRepository",
    "MemoryStoreRepository",
    "MemoryTripRepository",
    "MemoryUserRepository",
    "memory_unit_of_work",
]


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
        self.profiles = MemoryCommuteProfileRepository(db)
        self.history = MemoryOrderHistoryRepository(db)
        self.leases = MemoryLeaseFence()

    def __enter__(self) -> Self:
        if self.db.journal is not None:
            raise RuntimeError("the in-memory database runs one unit of work at a time")
        self.db.journal = []
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
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
