"""Stores' batch leases, as the use cases see them: who batches which store, among the service's processes.

A lease runs out by itself after its time (its holder frozen or gone), so that a store is never kept for ever;
each of a batch's write transactions confirms it (`StoreLeaseFence`), so that a holder resumed after a takeover
writes nothing. PostgreSQL keeps them in the service (`dispatch.adapters.leases`); the simulator, one process
alone, has none.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class StoreLeases(Protocol):
    def acquire(self, store_id: UUID, ttl_s: float) -> str | None:
        """The store's lease if nobody holds it (or its holder's time ran out): its token; None if held."""
        ...

    def release(self, store_id: UUID, token: str) -> bool:
        """False when the lease was not this token's any more: a late release frees nobody else's lease."""
        ...


class StoreLeaseFence(Protocol):
    def confirm(self, store_id: UUID, token: str) -> bool:
        """Whether the store's batch lease is still this token's, kept so until the transaction ends: a batch
        whose lease ran out and was taken over (its process frozen meanwhile) writes nothing."""
        ...
