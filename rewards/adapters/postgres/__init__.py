"""Rewards repositories on PostgreSQL, all on one connection so that they share its transaction.

`PostgresRewardsRepositories(connection)` joins any open transaction (a dispatch unit of work's, to credit a
reward in the same transaction as the delivery); `PostgresRewardsUnitOfWork` opens a transaction of its own.
Nothing here commits on its own.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from crowdship.db import PostgresIdempotencyStore, UnitOfWork
from dispatch.adapters.postgres import PostgresShopperRepository
from rewards.adapters.postgres.books import (
    PostgresActingAccounts,
    PostgresAuditLog,
    PostgresPaymentChoiceRepository,
    PostgresRewardsReports,
)
from rewards.adapters.postgres.ledger import PostgresLedgerRepository
from rewards.adapters.postgres.payouts import PostgresPayoutRepository
from rewards.adapters.postgres.policies import PostgresPolicyRepository
from rewards.adapters.postgres.rewards import PostgresRewardRepository


class PostgresRewardsRepositories:
    """Every rewards repository on one connection, inside whatever transaction that connection is in."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.policies = PostgresPolicyRepository(connection)
        self.ledger = PostgresLedgerRepository(connection)
        self.idempotency = PostgresIdempotencyStore(connection)
        self.rewards = PostgresRewardRepository(connection)
        self.payouts = PostgresPayoutRepository(connection)
        self.audit = PostgresAuditLog(connection)
        self.reports = PostgresRewardsReports(connection)
        self.shoppers = PostgresShopperRepository(connection)
        self.payment_choices = PostgresPaymentChoiceRepository(connection)
        self.actors = PostgresActingAccounts(connection)


class PostgresRewardsUnitOfWork(UnitOfWork):
    """A rewards transaction of its own; rolls back unless `commit()` is called."""

    repos: PostgresRewardsRepositories

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__(pool)

    def _attach(self, connection: psycopg.Connection) -> None:
        self.repos = PostgresRewardsRepositories(connection)

    def read_snapshot(self) -> None:
        self.connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
