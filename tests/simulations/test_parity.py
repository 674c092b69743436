"""The simulator and the live dispatcher decide the same: one batch on PostGIS, one in memory, same offers.

Both sides run `dispatch.services.batch.run_batch` with the same configuration; only the repositories
differ. Both are wired by the composition root and price offers with the same rewards hook, on a policy
published in PostgreSQL for the live side, in memory for the simulator. The input is a store with pending
orders (one past its deadline), open trips (one past its leave-by time), shoppers of every tier (some with a
home next to a drop-off), and an earlier declined offer that must not come back to the same trip.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from psycopg_pool import ConnectionPool

from composition import live_context
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchUnitOfWork
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Trip, TripStatus, TrustTier
from dispatch.repositories import DispatchUnitOfWork
from dispatch.services.batch import matcher_solver, run_batch
from rewards.adapters.postgres import PostgresRewardsUnitOfWork
from routing.geo import GeoPoint
from simulations.city import offsets_to_lat_lon
from simulations.configuration import policy_parameters
from simulations.engine import DaySimulation
from simulations.scenario import Scenario
from tests.rewards.conftest import publish_policy


def _point(rng: random.Random, center: GeoPoint, radius_m: float) -> GeoPoint:
    north, east = rng.uniform(-radius_m, radius_m), rng.uniform(-radius_m, radius_m)
    lat_lon = offsets_to_lat_lon(center, np.array([north]), np.array([east]))[0]
    return GeoPoint(round(float(lat_lon[0]), 6), round(float(lat_lon[1]), 6))


def _world(simulation: DaySimulation, now: datetime, seed: int) -> dict[str, list[Any]]:
    rng = random.Random(seed)
    store = simulation.city.stores[0]
    shoppers, trips, orders = [], [], []
    for index in range(14):
        home = _point(rng, store.location, 6_000)
        shopper = Shopper(
            display_name=f"Shopper {index}",
            trust_tier=TrustTier(index % 4),
            identity_verified=index % 3 == 0,
            home_location=home if index % 2 else None,
        )
        checked_in = now - timedelta(minutes=rng.randint(1, 20))
        leave_by = now - timedelta(minutes=1) if index == 13 else now + timedelta(minutes=rng.randint(5, 30))
        shoppers.append(shopper)
        trips.append(
            Trip(
                shopper_id=shopper.id,
                store_id=store.id,
                destination=home,
                capacity_bags=rng.choice([1, 2, 4]),
                checked_in_at=checked_in,
                leave_by=leave_by,
                max_detour_m=rng.choice([1_500, 3_000, 6_000]),
                max_detour_s=rng.choice([300, 600, None]),
            )
        )
    for index in range(30):
        created = now - timedelta(minutes=rng.randint(1, 90), seconds=index)
        latest = now + timedelta(minutes=rng.randint(60, 180))
        near_home = index == 0  # next door to an odd shopper's home: the own-address rule must refuse it
        dropoff = (
            shoppers[1].home_location if near_home and shoppers[1].home_location else _point(rng, store.location, 6_000)
        )
        orders.append(
            Order(
                store_id=store.id,
                external_ref=f"P-{index}",
                dropoff=dropoff,
                dropoff_address=f"{index} Test St",
                recipient_name="Pat",
                window_earliest=now - timedelta(minutes=10),
                window_latest=latest,
                dispatch_deadline=now - timedelta(minutes=1) if index == 29 else latest - timedelta(minutes=45),
                size_bags=rng.choice([1, 1, 2, 3]),
                value_cents=Cents(rng.choice([2_000, 9_000, 30_000, 60_000])),
                age_restricted=index % 7 == 0,
                created_at=created,
            )
        )
    declined = Offer(
        trip_id=trips[0].id,
        stops=(orders[1].id,),
        extra_distance_m=500,
        extra_duration_s=60,
        reward_quote_cents=Cents(300),
        created_at=now - timedelta(minutes=5),
        expires_at=now - timedelta(minutes=4),
        status=OfferStatus.DECLINED,
        resolved_at=now - timedelta(minutes=4, seconds=30),
    )
    return {"shoppers": shoppers, "trips": trips, "orders": orders, "offers": [declined]}


def _load(uow: DispatchUnitOfWork, world: dict[str, list[Any]], with_store: Any | None) -> None:
    with uow:
        if with_store is not None:
            uow.stores.add(with_store)
        for kind in ("shoppers", "trips", "orders", "offers"):
            repository = getattr(uow, kind)
            for entity in world[kind]:
                repository.add(dataclasses.replace(entity))
        uow.commit()


def _offers(uow: Any, store_id: Any) -> list[tuple[Any, ...]]:
    with uow:
        page = uow.offers.page(store_id=store_id, statuses=[OfferStatus.OPEN], limit=100, offset=0)
        return sorted(
            (o.trip_id, o.stops, o.extra_distance_m, o.extra_duration_s, o.reward_quote_cents, o.expires_at)
            for o in page.items
        )


def _statuses(uow: Any, world: dict[str, list[Any]]) -> tuple[list[OrderStatus], list[TripStatus]]:
    with uow:
        return (
            [uow.orders.get(order.id).status for order in world["orders"]],
            [uow.trips.get(trip.id).status for trip in world["trips"]],
        )


def test_the_simulator_and_the_live_dispatcher_make_the_same_offers(
    db: ConnectionPool, settings: Settings, tiny_scenario: Scenario
) -> None:
    """Same orders, trips and time: the same trips get the same stops and the same quotes."""
    simulation = DaySimulation(tiny_scenario)
    store = simulation.city.stores[0]
    now = simulation.start + timedelta(hours=2)
    world = _world(simulation, now, seed=5)
    _load(PostgresDispatchUnitOfWork(db), world, store)
    _load(MemoryDispatchUnitOfWork(simulation.db), world, store)

    publish_policy(PostgresRewardsUnitOfWork(db), policy_parameters(tiny_scenario), now=simulation.start)
    simulation.publish_policy()
    live_ctx = live_context(settings, db, clock=ManualClock(now), live=None, config=simulation.ctx.config)
    live = run_batch(live_ctx, store_id=store.id, solver=matcher_solver)
    simulation.clock.set(now)
    simulation.batch_once(0)
    simulated = simulation.batches[-1]

    live_offers = _offers(PostgresDispatchUnitOfWork(db), store.id)
    simulated_offers = _offers(MemoryDispatchUnitOfWork(simulation.db), store.id)
    assert len(live_offers) >= 3
    assert simulated_offers == live_offers
    assert simulated.offers == len(live.offers)
    assert simulated.fallback == len(live.fallback_orders) == 1
    assert (simulated.pending_orders, simulated.eligible_trips) == (live.pending_orders, live.eligible_trips)
    assert _statuses(MemoryDispatchUnitOfWork(simulation.db), world) == _statuses(PostgresDispatchUnitOfWork(db), world)
    # The rules held on both sides: no repeat of the declined pair, no order to a shopper's own door.
    offered = {(trip_id, stop) for trip_id, stops, *_ in live_offers for stop in stops}
    assert (world["trips"][0].id, world["orders"][1].id) not in offered
    assert (world["trips"][1].id, world["orders"][0].id) not in offered
