"""Rewards storage in memory, for the simulator and use-case tests, beside dispatch's in-memory rows.

`MemoryRewardsUnitOfWork` is a transaction with the promise of the PostgreSQL one (nothing kept unless
`commit()`); `MemoryRewardsRepositories(db)` joins the transaction of a dispatch unit of work open on the same
rows, to credit a delivery's reward with it. Single-threaded: one unit of work at a time.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from crowdship.idempotency import MemoryIdempotencyStore
from dispatch.adapters.memory import MemoryDispatchUnitOfWork, MemoryShopperRepository
from rewards.adapters.memory.books import (
    MemoryActingAccounts,
    MemoryAuditLog,
    MemoryPaymentChoiceRepository,
    MemoryRewardsReports,
)
from rewards.adapters.memory.ledger import MemoryLedgerRepository
from rewards.adapters.memory.payouts import MemoryPayoutRepository
from rewards.adapters.memory.policies import MemoryPolicyRepository
from rewards.adapters.memory.rewards import MemoryRewardRepository
from rewards.adapters.memory.store import MemoryRewardsDatabase

__all__ = ["MemoryRewardsDatabase", "MemoryRewardsRepositories", "MemoryRewardsUnitOfWork"]


class MemoryRewardsRepositories:
    """Every rewards repository on the in-memory rows, inside whatever unit of work is open on them."""

    def __init__(self, db: MemoryRewardsDatabase) -> None:
        self.policies = MemoryPolicyRepository(db)
        self.ledger = MemoryLedgerRepository(db)
        self.idempotency = MemoryIdempotencyStore(db.idempotency, db.record)
        self.rewards = MemoryRewardRepository(db)
        self.payouts = MemoryPayoutRepository(db)
        self.audit = MemoryAuditLog(db)
        self.reports = MemoryRewardsReports(db)
        self.shoppers = MemoryShopperRepository(db.dispatch)
        self.payment_choices = MemoryPaymentChoiceRepository(db)
        self.actors = MemoryActingAccounts(db)


class MemoryRewardsUnitOfWork:
    """A transaction on the in-memory rows of rewards (and dispatch: they share one journal)."""

    def __init__(self, db: MemoryRewardsDatabase) -> None:
        self.repos = MemoryRewardsRepositories(db)
        self._transaction = MemoryDispatchUnitOfWork(db.dispatch)

    def __enter__(self) -> Self:
        self._transaction.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._transaction.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._transaction.commit()

    def rollback(self) -> None:
        self._transaction.rollback()

    def read_snapshot(self) -> None:
        """One writer at a time: what it reads is already a snapshot."""
