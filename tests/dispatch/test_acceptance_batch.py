"""A batch with an acceptance-aware context hands the matcher the acceptance section; without, nothing changes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from crowdship.clock import ManualClock
from crowdship.units import Cents
from dispatch.acceptance import DEFAULT_MODEL
from dispatch.adapters.memory import MemoryDispatchDatabase, memory_unit_of_work
from dispatch.batching import BatchParameters
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from dispatch.services.batch import matcher_solver, run_batch
from dispatch.services.context import DispatchConfig, DispatchContext
from routing.areas import circular_area
from routing.geo import GeoPoint

STORE_AT = GeoPoint(30.4627, -84.2211)
NOW = datetime(2026, 12, 19, 15, 0, tzinfo=UTC)


def _context(database: MemoryDispatchDatabase) -> DispatchContext:
    offer_ttl = timedelta(seconds=60)
    return DispatchContext(
        unit_of_work=memory_unit_of_work(database),
        clock=ManualClock(NOW),
        config=DispatchConfig(
            offer_ttl=offer_ttl, geofence_m=150.0, max_delivery_attempts=3, lease_ttl_s=30.0,
            matcher_time_limit_s=0.2, location_sample_interval_s=30.0, location_rate_limit_per_s=10,
            batch=BatchParameters(
                road_factor=1.3, speed_km_per_min=0.5, max_bundle_orders=3,
                tier_value_caps_cents=dict.fromkeys(range(4)), own_address_radius_m=100.0,
                compensation_cents_per_km=80, compensation_minimum_cents=300, offer_ttl=offer_ttl,
            ),
        ),
    )  # fmt: skip


def _store_with_an_order_and_a_trip(database: MemoryDispatchDatabase) -> Store:
    store = Store("S", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    shopper = Shopper("Sam", trust_tier=TrustTier.GOLD, identity_verified=True)
    with memory_unit_of_work(database)() as uow:
        uow.stores.add(store)
        uow.orders.add(
            Order(
                store_id=store.id, external_ref="W1", dropoff=GeoPoint(30.47, -84.2211), dropoff_address="1 Main St",
                recipient_name="Jo", window_earliest=NOW, window_latest=NOW + timedelta(hours=3),
                dispatch_deadline=NOW + timedelta(hours=2), size_bags=2, value_cents=Cents(2_000), created_at=NOW,
            )
        )  # fmt: skip
        uow.shoppers.add(shopper)
        uow.trips.add(
            Trip(
                shopper_id=shopper.id, store_id=store.id, destination=GeoPoint(30.50, -84.2211), capacity_bags=3,
                checked_in_at=NOW, leave_by=NOW + timedelta(hours=1), max_detour_m=3_000,
            )
        )  # fmt: skip
        uow.commit()
    return store


def _batch(aware: bool) -> tuple[Mapping[str, Any], int]:
    from composition import acceptance_aware

    database = MemoryDispatchDatabase()
    store = _store_with_an_order_and_a_trip(database)
    context = _context(database)
    if aware:
        context = acceptance_aware(context, decline_penalty_cents=25)
    seen: list[Mapping[str, Any]] = []

    def solver(problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        seen.append(problem)
        return matcher_solver(problem, time_limit_s)

    report = run_batch(context, store_id=store.id, solver=solver)
    return seen[0], len(report.offers)


def test_an_aware_batch_gives_every_trip_the_fitted_model_and_still_offers() -> None:
    """With no history yet the default model is fitted in: each trip listed, the penalty in cents."""
    problem, offers = _batch(aware=True)
    section = problem["acceptance"]
    assert section["decline_penalty"] == 25.0
    assert [item["trip"] for item in section["trips"]] == [trip["id"] for trip in problem["trips"]]
    assert section["trips"][0]["per_detour"] == DEFAULT_MODEL.per_detour_km
    assert offers == 1


def test_a_blind_batch_has_no_acceptance_section() -> None:
    problem, offers = _batch(aware=False)
    assert "acceptance" not in problem
    assert offers == 1


def test_with_prospects_an_order_many_recent_shoppers_pass_waits_when_this_route_costs_more() -> None:
    """Ten shoppers who could have taken the order checked in within the hour; waiting (about 100 ¢: a later
    one is all but certain) is cheaper than this trip's 300 ¢ minimum, so the order waits, saying why."""
    from dataclasses import replace

    from dispatch.offer_explanation import WAITING_FOR_A_LATER_TRIP
    from dispatch.prospects import ProspectTerms

    database = MemoryDispatchDatabase()
    store = _store_with_an_order_and_a_trip(database)
    with memory_unit_of_work(database)() as uow:
        for n in range(10):
            passer = Shopper(f"Passer {n}")
            uow.shoppers.add(passer)
            trip = Trip(
                shopper_id=passer.id, store_id=store.id, destination=GeoPoint(30.50, -84.2211), capacity_bags=3,
                checked_in_at=NOW - timedelta(minutes=5 * n + 1), leave_by=NOW - timedelta(seconds=1),
                max_detour_m=3_000,
            )  # fmt: skip
            trip.expire()
            uow.trips.add(trip)
        uow.commit()
    context = replace(_context(database), prospects=ProspectTerms(take_rate=5.0, later_reward_cents=100))
    seen: list[Mapping[str, Any]] = []

    def solver(problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        seen.append(problem)
        return matcher_solver(problem, time_limit_s)

    report = run_batch(context, store_id=store.id, solver=solver)
    assert report.offers == []
    assert list(report.unassigned.values()) == [WAITING_FOR_A_LATER_TRIP]
    assert 100.0 <= seen[0]["orders"][0]["fallback_cost"] < 101.0
