"""What the matcher plans is what the batch offers when a window opens late: a shopper never waits at a door
(they may stay in the store and leave later, which the offer says as `leave_after`), so the matcher never
bundles a stop whose window would keep them waiting there, and the batch cuts nothing from what it planned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.matching import UnassignedReason
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from dispatch.services.batch import run_batch
from dispatch.services.context import DispatchConfig
from rewards.adapters.memory import MemoryRewardsUnitOfWork
from routing.areas import circular_area
from routing.geo import GeoPoint
from tests.rewards.conftest import publish_policy

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
NEAR = GeoPoint(30.4700, -84.2211)  # on the way home, about 2 minutes' drive from the store
FAR = GeoPoint(30.4900, -84.2211)  # on the way home, about 8 minutes' drive from the store
HOME = GeoPoint(30.5000, -84.2211)
PER_MINUTE_POLICY = {
    "base_cents": 300, "per_extra_km_cents": 60, "per_extra_minute_cents": 20, "per_bag_cents": 10,
    "minimum_cents": 300,
}  # fmt: skip


def _world(settings: Settings) -> tuple[InMemory, Store]:
    world = in_memory(DispatchConfig.from_settings(settings), ManualClock(NOW))
    store = Store("Doors", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    with world.context.unit_of_work() as uow:
        uow.stores.add(store)
        uow.commit()
    return world, store


def _order(store: Store, ref: str, at: GeoPoint, opens: timedelta, closes: timedelta) -> Order:
    return Order(
        store_id=store.id, external_ref=ref, dropoff=at, dropoff_address="1 Main St", recipient_name="Jo Doe",
        window_earliest=NOW + opens, window_latest=NOW + closes, dispatch_deadline=NOW + closes,
        size_bags=1, value_cents=Cents(2_000), created_at=NOW,
    )  # fmt: skip


def _batch(world: InMemory, store: Store, near: Order, far: Order) -> None:
    shopper = Shopper("Ana Lee", trust_tier=TrustTier.GOLD, identity_verified=True)
    trip = Trip(
        shopper_id=shopper.id, store_id=store.id, destination=HOME, capacity_bags=4,
        checked_in_at=NOW - timedelta(minutes=5), leave_by=NOW + timedelta(hours=1), max_detour_m=3_000,
    )  # fmt: skip
    with world.context.unit_of_work() as uow:
        uow.orders.add(near)
        uow.orders.add(far)
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        uow.commit()


@pytest.mark.parametrize("policy", [None, PER_MINUTE_POLICY], ids=["compensation_rule", "per_minute_policy"])
def test_a_bundle_that_would_wait_at_a_door_is_not_planned_and_nothing_is_cut(
    settings: Settings, policy: dict[str, int] | None
) -> None:
    """The near stop closes 5 minutes in (reached at about 2), the far one opens 12 minutes in (reached at
    about 8): together they need 4 minutes at the far door, and no later departure keeps the near window.
    The matcher planned that bundle and the batch cut it to one order, offered with no matcher cost, and the
    other order was said to miss its window though the trip could carry it alone. Now the offer is the
    matcher's route as planned, priced as the matcher costed it, and the order left out says it was cheaper
    to leave, which is true."""
    world, store = _world(settings)
    if policy is not None:
        publish_policy(MemoryRewardsUnitOfWork(world.rewards_db), policy, now=NOW - timedelta(days=1))
    near = _order(store, "N1", NEAR, timedelta(0), timedelta(minutes=5))
    far = _order(store, "F1", FAR, timedelta(minutes=12), timedelta(hours=3))
    _batch(world, store, near, far)

    report = run_batch(world.context, store_id=store.id)

    assert report.dropped == []
    (offer,) = report.offers
    assert offer.breakdown is not None
    assert offer.breakdown["matcher_cost_cents"] == offer.reward_quote_cents
    (left,) = {near.id, far.id} - set(offer.stops)
    assert report.unassigned == {left: str(UnassignedReason.BETTER_LEFT_FOR_FALLBACK)}


def test_a_bundle_whose_late_window_a_later_departure_keeps_is_offered_whole_with_its_leave_after(
    settings: Settings,
) -> None:
    """With the near window open for an hour, leaving the store 4 minutes later reaches both stops inside
    their windows without a wait at either door: the bundle is offered whole, at the matcher's cost, and says
    when to leave."""
    world, store = _world(settings)
    near = _order(store, "N1", NEAR, timedelta(0), timedelta(hours=1))
    far = _order(store, "F1", FAR, timedelta(minutes=12), timedelta(hours=3))
    _batch(world, store, near, far)

    report = run_batch(world.context, store_id=store.id)

    assert report.dropped == []
    (offer,) = report.offers
    assert offer.stops == (near.id, far.id)
    assert offer.breakdown is not None
    assert offer.breakdown["matcher_cost_cents"] == offer.reward_quote_cents
    leave_after = datetime.fromisoformat(offer.breakdown["leave_after"])
    assert NOW + timedelta(minutes=3) < leave_after < NOW + timedelta(minutes=5)
    assert report.unassigned == {}
