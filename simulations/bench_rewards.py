"""Ledger benchmark: credits per second with 1..n concurrent writers, payout and reconciliation times.

Runs on a throwaway database made next to the configured one and dropped afterwards, so the figures never
touch anyone's data. Prints tables; asserts nothing (the tests do that).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from psycopg_pool import ConnectionPool
from rich.console import Console
from rich.table import Table

from crowdship import migrate
from crowdship.db import open_pool
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Order, OrderStatus, Shopper, Store, TrustTier
from rewards.adapters.postgres import PostgresRewardsRepositories, PostgresRewardsUnitOfWork
from rewards.policy import PaymentMethod, RewardInputs
from rewards.policy_versions import PolicyStatus
from rewards.services import (
    approve_payout_batch,
    create_reward_policy,
    credit_delivery_reward,
    decide_reward_policy,
    pay_payout_batch,
    prepare_payout_batch,
    reconciliation_report,
)
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
BENCH_PARAMETERS = {
    "base_cents": 300,
    "per_extra_km_cents": 50,
    "per_extra_minute_cents": 10,
    "per_bag_cents": 25,
    "minimum_cents": 250,
    "referral_commission_bps": 0,
}


def _seed(pool: ConnectionPool, shoppers: int, orders: int) -> tuple[list[UUID], list[UUID]]:
    store_at = GeoPoint(52.37, 4.89)
    store = Store("Bench", store_at, circular_area(store_at, 8_000), Cents(899))
    shopper_ids: list[UUID] = []
    order_ids: list[UUID] = []
    with PostgresDispatchUnitOfWork(pool) as uow:
        uow.stores.add(store)
        for index in range(shoppers):
            shopper = Shopper(display_name=f"Bench {index}")
            uow.shoppers.add(shopper)
            shopper_ids.append(shopper.id)
        for index in range(orders):
            order = Order(
                store_id=store.id,
                external_ref=f"B-{index}",
                dropoff=GeoPoint(52.36, 4.90),
                dropoff_address=f"{index} Bench Street",
                recipient_name=f"R{index}",
                window_earliest=NOW - timedelta(hours=2),
                window_latest=NOW + timedelta(hours=1),
                dispatch_deadline=NOW - timedelta(hours=1),
                size_bags=2,
                value_cents=Cents(3_000),
                created_at=NOW - timedelta(hours=3),
                status=OrderStatus.DELIVERED,
            )
            uow.orders.add(order)
            order_ids.append(order.id)
        uow.commit()
    with PostgresRewardsUnitOfWork(pool) as rewards:
        policy = create_reward_policy(
            rewards, parameters=BENCH_PARAMETERS, actor_id=uuid4(), now=NOW - timedelta(days=1)
        )
    with PostgresRewardsUnitOfWork(pool) as rewards:
        decide_reward_policy(
            rewards, version=policy.version, status=PolicyStatus.APPROVED, actor_id=uuid4(), now=NOW - timedelta(days=1)
        )
    return shopper_ids, order_ids


def _credit_all(
    pool: ConnectionPool, shoppers: Sequence[UUID], orders: Sequence[UUID], threads: int
) -> tuple[float, list[float]]:
    """Credits every order (shopper round robin) from `threads` writers; returns wall seconds and latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    inputs = RewardInputs(2_000, 300, 2, 16, TrustTier.BRONZE, PaymentMethod.CASH)

    def work(part: Sequence[int]) -> None:
        mine = []
        for index in part:
            started = time.perf_counter()
            with PostgresDispatchUnitOfWork(pool) as uow:
                credit_delivery_reward(
                    PostgresRewardsRepositories(uow.connection),
                    order_id=orders[index],
                    shopper_id=shoppers[index % len(shoppers)],
                    inputs=inputs,
                    delivered_at=NOW + timedelta(seconds=index),
                    idempotency_key=f"bench-{orders[index]}",
                )
                uow.commit()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    parts = [range(start, len(orders), threads) for start in range(threads)]
    workers = [threading.Thread(target=work, args=(part,)) for part in parts]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started, latencies


def run_rewards_benchmark(
    console: Console, database_url: str, *, credits: int, shoppers: int, threads: Sequence[int]
) -> None:
    table = Table(title=f"Delivery-reward credits ({credits} per row, {shoppers} shoppers, separate connections)")
    for column in ("writers", "credits/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    after = Table(title="Finance on the resulting ledger")
    after.add_column("step")
    after.add_column("lines / rows", justify="right")
    after.add_column("ms", justify="right")
    for writers in threads:
        with (
            migrate.throwaway_database(database_url, "crowdship_bench_rewards") as url,
            open_pool(url, max_size=writers + 1, name="bench") as pool,
        ):
            shopper_ids, order_ids = _seed(pool, shoppers, credits)
            wall, latencies = _credit_all(pool, shopper_ids, order_ids, writers)
            latencies.sort()
            table.add_row(
                str(writers),
                f"{credits / wall:,.0f}",
                f"{statistics.median(latencies) * 1000:.1f}",
                f"{latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000:.1f}",
            )
            if writers != threads[-1]:
                continue
            finance_a, finance_b = uuid4(), uuid4()
            started = time.perf_counter()
            with PostgresRewardsUnitOfWork(pool) as uow:
                batch = prepare_payout_batch(
                    uow,
                    period_start=NOW - timedelta(days=1),
                    period_end=NOW + timedelta(hours=12),
                    actor_id=finance_a,
                    now=NOW,
                    idempotency_key="bench-prepare",
                ).batch
            after.add_row("prepare batch (rules included)", str(len(batch.lines)), _ms(started))
            with PostgresRewardsUnitOfWork(pool) as uow:
                approve_payout_batch(uow, batch_id=batch.id, actor_id=finance_b, now=NOW)
            started = time.perf_counter()
            with PostgresRewardsUnitOfWork(pool) as uow:
                pay_payout_batch(uow, batch_id=batch.id, actor_id=finance_b, now=NOW, idempotency_key="bench-pay")
            after.add_row("pay batch (ledger entries)", str(len(batch.lines)), _ms(started))
            started = time.perf_counter()
            with PostgresRewardsUnitOfWork(pool) as uow:
                report = reconciliation_report(uow)
            after.add_row(
                f"reconcile ({'agrees' if report.agrees else f'{report.discrepancy_count} differences'})",
                str(report.transactions_checked),
                _ms(started),
            )
    console.print(table)
    console.print(after)


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f}"
