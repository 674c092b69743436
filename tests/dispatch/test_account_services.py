"""Accounts' use cases on real PostgreSQL: operations verifying a shopper while a tier review of the same shopper
is under way wait for it, and keep what it decided."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Shopper, TrustTier
from dispatch.services import accounts
from dispatch.services.context import DispatchConfig, DispatchContext
from rewards.adapters.postgres import PostgresRewardsUnitOfWork

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def _wait_until_someone_waits_for_a_lock(db: ConnectionPool) -> None:
    with db.connection() as connection:
        connection.autocommit = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = connection.execute(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'"""
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.01)
    raise AssertionError("nobody waited for the shopper's lock")


def test_a_verification_during_a_tier_review_waits_for_it_and_keeps_its_demotion(
    db: ConnectionPool, settings: Settings
) -> None:
    """The review locks the shopper and demotes them; the verification, started meanwhile, saves the whole
    shopper after it: it must read them after the review, else it writes the old tier back."""
    shopper = Shopper("Ana", trust_tier=TrustTier.GOLD)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.shoppers.add(shopper)
        uow.commit()
    context = DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=ManualClock(NOW),
        config=DispatchConfig.from_settings(settings),
        live=None,
    )
    with PostgresRewardsUnitOfWork(db) as review, ThreadPoolExecutor(1) as pool:
        review.repos.shoppers.lock(shopper.id)
        demoted = review.repos.shoppers.get(shopper.id)
        demoted.trust_tier = TrustTier.BRONZE
        review.repos.shoppers.save(demoted)
        verification = pool.submit(
            accounts.verify_shopper, context, shopper_id=shopper.id, identity_verified=True, actor_id=None
        )
        _wait_until_someone_waits_for_a_lock(db)
        review.commit()
        verified = verification.result(timeout=10)
    assert (verified.identity_verified, verified.trust_tier) == (True, TrustTier.BRONZE)
    with PostgresDispatchUnitOfWork(db) as uow:
        stored = uow.shoppers.get(shopper.id)
    assert (stored.identity_verified, stored.trust_tier) == (True, TrustTier.BRONZE)
