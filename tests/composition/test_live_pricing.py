"""Live batches priced by the policy in force, through the composition root's in-memory wiring (the one the
simulator runs): the matcher sees each route's published price, ties go to the smaller detour, and the
offer's quote is the matcher's cost and what the delivery credits, under the same policy version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.batch_offers import route_metrics
from dispatch.model import Order, OrderStatus, Shopper, Store, Trip, TrustTier
from dispatch.services.batch import run_batch
from dispatch.services.context import DeliveredOrder, DispatchConfig
from rewards.adapters.memory import MemoryRewardsUnitOfWork
from routing.areas import circular_area
from routing.geo import GeoPoint
from tests.rewards.conftest import publish_policy

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
DROPOFF = GeoPoint(30.4800, -84.2211)
ON_THE_WAY = GeoPoint(30.5000, -84.2211)
"""The order lies on the straight way from the store to this destination: no detour."""
OUT_OF_THE_WAY = GeoPoint(30.4720, -84.1900)
"""East of the store: the order is 2.4 road km out of the way."""

PER_KM = {"base_cents": 300, "per_extra_km_cents": 60, "per_extra_minute_cents": 0, "per_bag_cents": 15,
          "minimum_cents": 150}  # fmt: skip
FLAT = {**PER_KM, "per_extra_km_cents": 0}
"""A detour-blind policy: every route costs the same, so only the tie-break separates the two shoppers."""


def _world(settings: Settings) -> tuple[InMemory, Store, Order, dict[str, Trip]]:
    config = DispatchConfig.from_settings(settings.model_copy(update={"matcher_time_limit_s": 1.0}))
    world = in_memory(config, ManualClock(NOW))
    store = Store("Live pricing", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    order = Order(
        store_id=store.id, external_ref="W1", dropoff=DROPOFF, dropoff_address="1 Main St", recipient_name="Jo Doe",
        window_earliest=NOW, window_latest=NOW + timedelta(hours=3), dispatch_deadline=NOW + timedelta(hours=2),
        size_bags=2, value_cents=Cents(2_000), created_at=NOW,
    )  # fmt: skip
    trips = {}
    with world.context.unit_of_work() as uow:
        uow.stores.add(store)
        uow.orders.add(order)
        # the out-of-the-way shopper checks in first, so that a tie left to insertion order goes their way
        for name, destination, minutes in (("out", OUT_OF_THE_WAY, 20), ("on", ON_THE_WAY, 10)):
            shopper = Shopper(name, trust_tier=TrustTier.GOLD, identity_verified=True)
            uow.shoppers.add(shopper)
            trips[name] = Trip(
                shopper_id=shopper.id, store_id=store.id, destination=destination, capacity_bags=4,
                checked_in_at=NOW - timedelta(minutes=minutes), leave_by=NOW + timedelta(hours=1), max_detour_m=4_000,
            )  # fmt: skip
            uow.trips.add(trips[name])
        uow.commit()
    return world, store, order, trips


def _credit(world: InMemory, order: Order, trip: Trip, offer_id: Any, quote: Cents) -> Any:
    assert world.context.credit_delivery is not None
    with world.context.unit_of_work() as uow:
        stored = uow.orders.get(order.id, for_update=True)
        stored.status = OrderStatus.DELIVERED
        uow.orders.save(stored, at=NOW)
        credit = world.context.credit_delivery(
            uow, DeliveredOrder(order.id, trip.id, trip.shopper_id, offer_id, quote, NOW + timedelta(minutes=20))
        )
        uow.commit()
    return credit


@pytest.mark.parametrize("policy", [PER_KM, FLAT], ids=["per_km", "flat"])
def test_the_shopper_with_no_detour_wins_and_quote_is_matcher_cost_is_credit(
    settings: Settings, policy: dict[str, int]
) -> None:
    """A 2.4 km detour against none: the no-detour shopper gets the offer, whether the policy charges the
    detour or not (ties break towards the smaller detour); its quote is the matcher's cost, the policy's
    price by component, and exactly what the delivery credits under the same policy version."""
    world, store, order, trips = _world(settings)
    parameters = world.context.config.batch  # the geometry the issue reported: under 2.5 km, where the old
    assert 2.0 < route_metrics(store, trips["out"], [order], parameters).detour_km < 2.5  # rule's minimum tied
    assert route_metrics(store, trips["on"], [order], parameters).detour_km < 0.01
    published = publish_policy(MemoryRewardsUnitOfWork(world.rewards_db), policy, now=NOW - timedelta(days=1))
    report = run_batch(world.context, store_id=store.id)
    (offer,) = report.offers
    assert offer.trip_id == trips["on"].id
    breakdown = offer.breakdown
    assert breakdown is not None
    assert breakdown["priced_by"] == "reward_policy"
    assert breakdown["matcher_cost_cents"] == offer.reward_quote_cents
    assert breakdown["reward_cents"]["total"] == offer.reward_quote_cents
    assert breakdown["reward_cents"]["base"] == 300
    assert breakdown["reward_cents"]["bags"] == 30
    alternative = breakdown["best_alternative"]
    assert alternative["trip_id"] == str(trips["out"].id)
    assert alternative["cost_cents"] >= offer.reward_quote_cents
    if policy is PER_KM:
        assert alternative["cost_cents"] > offer.reward_quote_cents + 100
    credit = _credit(world, order, trips["on"], offer.id, offer.reward_quote_cents)
    assert credit.policy_version == published.version
    assert credit.amount_cents == offer.reward_quote_cents


def test_without_a_policy_the_compensation_rule_prices_and_is_said_so(settings: Settings) -> None:
    """No policy approved yet: the matcher and the quote both use the compensation rule; the tie-break of
    the rule's own minimum is not there, but the offer still says how it was priced."""
    world, store, _order, _trips = _world(settings)
    report = run_batch(world.context, store_id=store.id)
    (offer,) = report.offers
    assert offer.breakdown is not None
    assert offer.breakdown["priced_by"] == "compensation_rule"
    assert offer.breakdown["reward_cents"]["total"] == offer.reward_quote_cents
