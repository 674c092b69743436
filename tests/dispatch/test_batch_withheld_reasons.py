"""The reason a pending order carries when the batch itself kept it from every trip (the matcher never saw the
pair): the code of the rule that did, as the matcher would have said it, not "no trip was a candidate"; and a
shopper at their reward cap, whom the batch offers nothing, said so on the order's page too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.matching import UnassignedReason
from dispatch.model import Order, OrderStatus, Shopper, Store, Trip, TripStatus, TrustTier
from dispatch.offer_explanation import SHOPPERS_AT_THEIR_CAPS
from dispatch.services.batch import run_batch
from dispatch.services.context import DeliveredOrder, DispatchConfig
from dispatch.services.order_detail import order_detail
from rewards.adapters.memory import MemoryRewardsUnitOfWork
from routing.areas import circular_area
from routing.geo import GeoPoint
from tests.rewards.conftest import publish_policy

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
ON_THE_WAY = GeoPoint(30.4800, -84.2211)
HOME = GeoPoint(30.5000, -84.2211)


def _world(settings: Settings) -> tuple[InMemory, Store]:
    world = in_memory(DispatchConfig.from_settings(settings), ManualClock(NOW))
    store = Store("Reasons", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    with world.context.unit_of_work() as uow:
        uow.stores.add(store)
        uow.commit()
    return world, store


def _order(store: Store, ref: str, *, bags: int = 1, value: int = 2_000, age_restricted: bool = False) -> Order:
    return Order(
        store_id=store.id, external_ref=ref, dropoff=ON_THE_WAY, dropoff_address="1 Main St", recipient_name="Jo Doe",
        window_earliest=NOW, window_latest=NOW + timedelta(hours=3), dispatch_deadline=NOW + timedelta(hours=2),
        size_bags=bags, value_cents=Cents(value), created_at=NOW, age_restricted=age_restricted,
    )  # fmt: skip


def _check_in(world: InMemory, store: Store, *, tier: TrustTier, verified: bool, bags: int) -> None:
    shopper = Shopper("Ana Lee", trust_tier=tier, identity_verified=verified)
    trip = Trip(
        shopper_id=shopper.id, store_id=store.id, destination=HOME, capacity_bags=bags,
        checked_in_at=NOW - timedelta(minutes=5), leave_by=NOW + timedelta(hours=1), max_detour_m=3_000,
    )  # fmt: skip
    with world.context.unit_of_work() as uow:
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        uow.commit()


@pytest.mark.parametrize(
    ("order_kwargs", "shopper_kwargs", "expected"),
    [
        ({"value": 6_000}, {"tier": TrustTier.NEW, "verified": True, "bags": 4}, UnassignedReason.VALUE_LIMIT),
        ({"bags": 3}, {"tier": TrustTier.GOLD, "verified": True, "bags": 2}, UnassignedReason.CAPACITY),
        ({"age_restricted": True}, {"tier": TrustTier.GOLD, "verified": False, "bags": 4}, UnassignedReason.ID_CHECK),
    ],
    ids=["value_vs_new_tier", "bags_beyond_capacity", "unverified_for_age_check"],
)
def test_an_order_the_batch_kept_from_the_only_trip_carries_that_rules_code(
    settings: Settings, order_kwargs: dict[str, int], shopper_kwargs: dict[str, object], expected: UnassignedReason
) -> None:
    """One shopper on the way, one order they may not carry: the order waits with the code of the rule (a
    $60 order and a new shopper capped at $50 is `value_limit`), as it does when the trip has other orders."""
    world, store = _world(settings)
    order = _order(store, "W1", **order_kwargs)  # type: ignore[arg-type]
    with world.context.unit_of_work() as uow:
        uow.orders.add(order)
        uow.commit()
    _check_in(world, store, **shopper_kwargs)  # type: ignore[arg-type]
    report = run_batch(world.context, store_id=store.id)
    assert report.offers == []
    assert report.unassigned == {order.id: str(expected)}
    with world.context.unit_of_work() as uow:
        assert uow.orders.get(order.id).unassigned_reason == str(expected)


def test_the_same_code_whether_or_not_the_trip_has_another_order_to_carry(settings: Settings) -> None:
    """With a second order the new shopper may carry, the trip stays in the matcher's problem and the
    matcher itself says `value_limit`: the batch says the same when it is the only order."""
    world, store = _world(settings)
    dear, cheap = _order(store, "W1", value=6_000), _order(store, "W2", value=1_000)
    with world.context.unit_of_work() as uow:
        uow.orders.add(dear)
        uow.orders.add(cheap)
        uow.commit()
    _check_in(world, store, tier=TrustTier.NEW, verified=True, bags=4)
    report = run_batch(world.context, store_id=store.id)
    assert [offer.stops for offer in report.offers] == [(cheap.id,)]
    assert report.unassigned == {dear.id: str(UnassignedReason.VALUE_LIMIT)}


def test_an_order_only_a_shopper_at_their_cap_passes_says_so_in_the_batch_and_on_its_page(settings: Settings) -> None:
    """The only shopper in the store has earned the day's cap: the batch offers them nothing (it would pay
    nothing), so the order waits for that reason, and its page says that trip's shopper is at their cap, not
    that the trip could take it at the next batch."""
    world, store = _world(settings)
    publish_policy(
        MemoryRewardsUnitOfWork(world.rewards_db),
        {"base_cents": 300, "per_extra_km_cents": 60, "per_extra_minute_cents": 0, "per_bag_cents": 0,
         "minimum_cents": 300, "daily_cap_cents": 300},
        now=NOW - timedelta(days=1),
    )  # fmt: skip
    earlier, order = _order(store, "W0"), _order(store, "W1")
    with world.context.unit_of_work() as uow:
        uow.orders.add(earlier)
        uow.orders.add(order)
        uow.commit()
    _check_in(world, store, tier=TrustTier.GOLD, verified=True, bags=4)
    with world.context.unit_of_work() as uow:
        (trip,) = uow.trips.list_for_store(store.id, [TripStatus.OPEN])
        delivered = uow.orders.get(earlier.id, for_update=True)
        delivered.status = OrderStatus.DELIVERED  # delivered by hand this morning: the day's 300 are earned
        uow.orders.save(delivered, at=NOW - timedelta(hours=3))
        assert world.context.credit_delivery is not None
        world.context.credit_delivery(
            uow, DeliveredOrder(earlier.id, trip.id, trip.shopper_id, None, None, NOW - timedelta(hours=3))
        )
        uow.commit()
    report = run_batch(world.context, store_id=store.id)
    assert report.offers == []
    assert report.unassigned == {order.id: SHOPPERS_AT_THEIR_CAPS}
    waits = order_detail(world.context, order_id=order.id).unassigned
    assert waits is not None
    assert [verdict.reason for verdict in waits.trips] == ["cap"]
    assert waits.summary.startswith("no open trip may take it now")
