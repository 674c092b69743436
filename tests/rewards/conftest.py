"""Fixtures for rewards tests: a world of a store, shoppers and delivered orders.

`world` comes in two storages, PostgreSQL and memory, and every test that takes it runs on both: the use-case
tests of rewards are the contract suite of its two adapters (and of dispatch's, which they write through).
`pg_world` is PostgreSQL only, for what only a database does (concurrent writers, its own constraints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.evidence import DeliveryProof
from dispatch.model import Order, OrderStatus, Shopper, Store, Trip, TripStatus, TrustTier
from dispatch.repositories import LiveUnitOfWork
from rewards.adapters.memory import MemoryRewardsDatabase, MemoryRewardsRepositories, MemoryRewardsUnitOfWork
from rewards.adapters.postgres import PostgresRewardsRepositories, PostgresRewardsUnitOfWork
from rewards.payouts import PayoutBatch
from rewards.policy import PaymentMethod, RewardInputs
from rewards.policy_versions import PolicyStatus, RewardPolicy
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services import (
    RewardCredit,
    approve_payout_batch,
    create_reward_policy,
    credit_delivery_reward,
    decide_reward_policy,
    pay_payout_batch,
    prepare_payout_batch,
    shopper_balances,
)
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday
STORE_AT = GeoPoint(52.3702, 4.8952)
OPS = UUID("00000000-0000-4000-8000-00000000000a")
FINANCE_A = UUID("00000000-0000-4000-8000-0000000000f1")
FINANCE_B = UUID("00000000-0000-4000-8000-0000000000f2")

PLAIN_PARAMETERS: dict[str, Any] = {
    "base_cents": 300,
    "per_extra_km_cents": 50,
    "per_extra_minute_cents": 10,
    "per_bag_cents": 25,
    "minimum_cents": 250,
    "store_credit_bonus_bps": 12_000,
    "daily_cap_cents": 5_000,
    "weekly_cap_cents": 20_000,
    "referral_commission_bps": 1_000,
    "referral_first_deliveries": 2,
    "timezone": "Europe/Amsterdam",
}


APPROVER = UUID("00000000-0000-4000-8000-0000000000a2")
"""The second person who approves the policies OPS proposes."""


def publish_policy(
    uow: RewardsUnitOfWork,
    parameters: Mapping[str, Any],
    *,
    now: datetime,
    author: UUID = OPS,
    approver: UUID = APPROVER,
    note: str = "",
) -> RewardPolicy:
    """Proposes a version and has a second person approve it at the same instant: in force from `now`."""
    with uow:
        proposed = create_reward_policy(uow, parameters=parameters, actor_id=author, now=now, note=note)
    with uow:
        return decide_reward_policy(
            uow, version=proposed.version, status=PolicyStatus.APPROVED, actor_id=approver, now=now
        )


def inputs(
    *, distance_m: int = 2_000, duration_s: int = 300, bags: int = 2, method: PaymentMethod = PaymentMethod.CASH
) -> RewardInputs:
    return RewardInputs(
        extra_distance_m=distance_m,
        extra_duration_s=duration_s,
        bags=bags,
        local_hour=16,
        trust_tier=TrustTier.BRONZE,
        method=method,
    )


@dataclass
class World:
    """A store with shoppers, and delivered orders made on demand, all committed, in one storage."""

    store: Store
    dispatch: Callable[[], LiveUnitOfWork]
    rewards: Callable[[], RewardsUnitOfWork]
    repos_within: Callable[[LiveUnitOfWork], RewardsRepositories]
    """The rewards repositories inside an open dispatch unit of work's transaction."""
    storage: str
    pool: ConnectionPool | None = None
    """The database behind a PostgreSQL world, for tests that look at it directly."""
    shoppers: list[Shopper] = field(default_factory=list)
    _counter: int = 0

    @property
    def database(self) -> ConnectionPool:
        assert self.pool is not None, "a PostgreSQL world"
        return self.pool

    def add_shopper(self, name: str = "Shopper", *, tier: TrustTier = TrustTier.NEW) -> Shopper:
        shopper = Shopper(display_name=f"{name} {len(self.shoppers) + 1}", trust_tier=tier)
        with self.dispatch() as uow:
            uow.shoppers.add(shopper)
            uow.commit()
        self.shoppers.append(shopper)
        return shopper

    def order(
        self,
        *,
        status: OrderStatus = OrderStatus.DELIVERED,
        recipient: str = "Ana",
        at: datetime = NOW,
        proof_by: Shopper | None = None,
    ) -> Order:
        """An order in `status`; with `proof_by`, also a trip of that shopper and an accepted proof."""
        self._counter += 1
        order = Order(
            store_id=self.store.id,
            external_ref=f"WEB-{self._counter}-{uuid4().hex[:6]}",
            dropoff=GeoPoint(52.36, 4.90),
            dropoff_address=f"{self._counter} Prinsengracht",
            recipient_name=recipient,
            window_earliest=at - timedelta(hours=2),
            window_latest=at + timedelta(hours=1),
            dispatch_deadline=at - timedelta(hours=1),
            size_bags=2,
            value_cents=Cents(3_000),
            created_at=at - timedelta(hours=3),
            status=status,
        )
        with self.dispatch() as uow:
            uow.orders.add(order)
            if proof_by is not None:
                trip = Trip(
                    shopper_id=proof_by.id,
                    store_id=self.store.id,
                    destination=GeoPoint(52.35, 4.91),
                    capacity_bags=3,
                    checked_in_at=at - timedelta(hours=1),
                    leave_by=at - timedelta(minutes=30),
                    max_detour_m=3_000,
                    status=TripStatus.COMPLETED,
                )
                uow.trips.add(trip)
                uow.proofs.add(
                    DeliveryProof(
                        order_id=order.id,
                        trip_id=trip.id,
                        position=GeoPoint(52.36, 4.90),
                        recorded_at=at,
                        distance_to_dropoff_m=5.0,
                        code_matched=True,
                        accepted=True,
                    )
                )
            uow.commit()
        return order


def _store() -> Store:
    return Store(
        name="Centrum",
        location=STORE_AT,
        service_area=circular_area(STORE_AT, 8_000),
        fallback_cost_cents=Cents(899),
    )


def postgres_world(pool: ConnectionPool) -> World:
    store = _store()
    with PostgresDispatchUnitOfWork(pool) as uow:
        uow.stores.add(store)
        uow.commit()
    return World(
        store=store,
        dispatch=lambda: PostgresDispatchUnitOfWork(pool),
        rewards=lambda: PostgresRewardsUnitOfWork(pool),
        repos_within=lambda uow: PostgresRewardsRepositories(cast(PostgresDispatchUnitOfWork, uow).connection),
        storage="postgres",
        pool=pool,
    )


def memory_world() -> World:
    store = _store()
    dispatch_db = MemoryDispatchDatabase()
    rewards_db = MemoryRewardsDatabase(dispatch_db)
    with MemoryDispatchUnitOfWork(dispatch_db) as uow:
        uow.stores.add(store)
        uow.commit()
    return World(
        store=store,
        dispatch=lambda: MemoryDispatchUnitOfWork(dispatch_db),
        rewards=lambda: MemoryRewardsUnitOfWork(rewards_db),
        repos_within=lambda _uow: MemoryRewardsRepositories(rewards_db),
        storage="memory",
    )


@pytest.fixture(params=["postgres", "memory"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "memory":
        return memory_world()
    return postgres_world(request.getfixturevalue("db"))


@pytest.fixture
def pg_world(db: ConnectionPool) -> World:
    return postgres_world(db)


@pytest.fixture
def policy(world: World) -> RewardPolicy:
    return publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW - timedelta(days=30))


@pytest.fixture
def pg_policy(pg_world: World) -> RewardPolicy:
    return publish_policy(pg_world.rewards(), PLAIN_PARAMETERS, now=NOW - timedelta(days=30))


@pytest.fixture
def fresh_world(pool: ConnectionPool) -> Callable[[], World]:
    """For hypothesis tests: each call empties the tables and builds a new world with a policy."""

    def make() -> World:
        with pool.connection() as connection:
            tables = [
                row[0]
                for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                if row[0] not in {"alembic_version", "spatial_ref_sys"}
            ]
            connection.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                )
            )
        made = postgres_world(pool)
        publish_policy(made.rewards(), PLAIN_PARAMETERS, now=NOW - timedelta(days=30))
        return made

    return make


PERIOD = (NOW - timedelta(days=7), NOW + timedelta(days=1))
"""The payout period the tests prepare batches for."""


def credit(
    world: World,
    order_id: UUID,
    shopper_id: UUID,
    key: str | None = None,
    *,
    reward_inputs: RewardInputs | None = None,
    delivered_at: datetime = NOW,
    policy_version: int | None = None,
) -> RewardCredit:
    """Credits a delivered order in a transaction of its own."""
    with world.dispatch() as uow:
        result = credit_delivery_reward(
            world.repos_within(uow),
            order_id=order_id,
            shopper_id=shopper_id,
            inputs=reward_inputs or inputs(),
            delivered_at=delivered_at,
            idempotency_key=key or f"reward-{order_id}",
            policy_version=policy_version,
        )
        uow.commit()
    return result


def credited_order(world: World, shopper: Shopper, *, method: PaymentMethod = PaymentMethod.CASH) -> Order:
    """A delivery with an accepted proof at the door, credited: one a payout batch pays without flagging it, and
    a reversal may undo."""
    order = world.order(proof_by=shopper)
    credit(world, order.id, shopper.id, reward_inputs=inputs(method=method))
    return order


def balances(world: World, shopper_id: UUID) -> tuple[int, int]:
    """The shopper's store credit and cash payable, in cents."""
    with world.rewards() as uow:
        found = shopper_balances(uow, shopper_id=shopper_id)
    return found.store_credit_cents, found.cash_payable_cents


def pay_everyone(world: World) -> PayoutBatch:
    """Everything owed over the week around `NOW`, prepared by one finance person, approved and paid by the
    other: the batch as paid."""
    with world.rewards() as uow:
        batch = prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=7),
            period_end=NOW + timedelta(days=1),
            actor_id=FINANCE_A,
            now=NOW,
            idempotency_key=str(uuid4()),
        ).batch
    with world.rewards() as uow:
        approve_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW)
    with world.rewards() as uow:
        pay_payout_batch(uow, batch_id=batch.id, actor_id=FINANCE_B, now=NOW, idempotency_key=str(uuid4()))
    with world.rewards() as uow:
        return uow.repos.payouts.get(batch.id)
