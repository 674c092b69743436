"""A check-in and a deactivation of the same shopper at once, on real PostgreSQL, in both orders: each is held
just before its commit (its locks held) while the other starts, which must then wait for it. Whichever commits
first, no open trip is left to a deactivated account: a check-in that came first is cancelled by the
deactivation, one that comes second is refused. Before the account was locked by both, the second one went
through without waiting and left an open trip that batches went on offering work to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.errors import Forbidden
from dispatch.model import Shopper, Store, Trip, TripStatus
from dispatch.services import accounts, trips
from dispatch.services.context import DispatchConfig, DispatchContext
from routing.areas import circular_area
from routing.geo import GeoPoint

STORE_AT = GeoPoint(30.4627, -84.2211)
HOME = GeoPoint(30.5000, -84.2211)
WAIT_S = 30.0
"""The longest any step waits for another thread: a bound against a hang, never a timing the test relies on."""
F = TypeVar("F")
S = TypeVar("S")


@dataclass
class Gate:
    reached: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)


class HeldAtCommit(PostgresDispatchUnitOfWork):
    """A unit of work that, at its commit, says so and waits to be let go: its locks are held meanwhile."""

    def __init__(self, pool: ConnectionPool, gate: Gate) -> None:
        super().__init__(pool)
        self._gate = gate

    def commit(self) -> None:
        self._gate.reached.set()
        if not self._gate.go.wait(WAIT_S):
            raise TimeoutError("never let go")
        super().commit()


@dataclass(frozen=True)
class World:
    pool: ConnectionPool
    context: DispatchContext
    store: Store
    user: User

    def held(self, gate: Gate) -> DispatchContext:
        """The same context, its transactions held at commit by `gate`."""
        return replace(self.context, unit_of_work=lambda: HeldAtCommit(self.pool, gate))

    def check_in(self, context: DispatchContext) -> Trip:
        assert self.user.shopper_id is not None
        return trips.check_in(
            context,
            shopper_id=self.user.shopper_id,
            store_id=self.store.id,
            destination=HOME,
            capacity_bags=3,
            max_detour_m=3_000,
            max_detour_s=None,
            leave_by=context.clock.now() + timedelta(hours=1),
        )

    def deactivate(self, context: DispatchContext) -> User:
        return accounts.set_active(context, user_id=self.user.id, active=False)


@pytest.fixture
def world(db: ConnectionPool, settings: Settings) -> World:
    now = datetime.now(UTC)
    store = Store("Race store", STORE_AT, circular_area(STORE_AT, 8_000), Cents(899))
    shopper = Shopper("Ana")
    user = User(email="ana@example.org", password_hash="-", role=Role.SHOPPER, shopper_id=shopper.id, created_at=now)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.users.add(user)
        uow.commit()
    context = DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=ManualClock(now),
        config=DispatchConfig.from_settings(settings),
    )
    return World(db, context, store, user)


@pytest.fixture
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


def _waits_on_a_lock(db: ConnectionPool, other: Future[Any]) -> bool:
    """Whether `other` comes to wait on a row lock in this database (True) or finishes without waiting (False).
    Each look is a transaction of its own: PostgreSQL shows activity as of a transaction's first look."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if other.done():
            return False
        with db.connection() as connection:
            row = connection.execute(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'"""
            ).fetchone()
        if row is not None and row[0] > 0:
            return True
        time.sleep(0.01)
    raise TimeoutError("neither waiting nor done")


def _first_then_second(
    threads: ThreadPoolExecutor,
    db: ConnectionPool,
    first: Callable[[], F],
    gate: Gate,
    second: Callable[[], S],
) -> tuple[Future[F], Future[S], bool]:
    """Runs `first` up to its commit (held there by `gate`), then `second`; says whether `second` waited for
    `first`, then lets `first` commit."""
    held = threads.submit(first)
    assert gate.reached.wait(WAIT_S), "the first transaction never reached its commit"
    racing = threads.submit(second)
    try:
        waited = _waits_on_a_lock(db, racing)
    finally:
        gate.go.set()
    return held, racing, waited


def _active_trip(world: World) -> Trip | None:
    with world.context.unit_of_work() as uow:
        assert world.user.shopper_id is not None
        return uow.trips.active_for_shopper(world.user.shopper_id)


def test_a_deactivation_waits_for_a_check_in_in_flight_and_cancels_its_trip(
    world: World, db: ConnectionPool, threads: ThreadPoolExecutor
) -> None:
    gate = Gate()
    held, racing, waited = _first_then_second(
        threads, db, lambda: world.check_in(world.held(gate)), gate, lambda: world.deactivate(world.context)
    )
    trip = held.result(WAIT_S)
    assert racing.result(WAIT_S).active is False
    assert waited, "the deactivation did not wait for the check-in's transaction"
    with world.context.unit_of_work() as uow:
        assert uow.trips.get(trip.id).status is TripStatus.CANCELLED
    assert _active_trip(world) is None


def test_a_check_in_waits_for_a_deactivation_in_flight_and_is_refused(
    world: World, db: ConnectionPool, threads: ThreadPoolExecutor
) -> None:
    gate = Gate()
    held, racing, waited = _first_then_second(
        threads, db, lambda: world.deactivate(world.held(gate)), gate, lambda: world.check_in(world.context)
    )
    assert held.result(WAIT_S)
    with pytest.raises(Forbidden, match="deactivated"):
        racing.result(WAIT_S)
    assert waited, "the check-in did not wait for the deactivation's transaction"
    assert _active_trip(world) is None


def test_a_deactivated_account_cannot_check_in(world: World) -> None:
    world.deactivate(world.context)
    with pytest.raises(Forbidden, match="deactivated"):
        world.check_in(world.context)
    assert _active_trip(world) is None
