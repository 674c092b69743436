"""The contract of the answered-offers read the acceptance model is fitted on, on PostGIS and in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Offer, OfferStatus, Order, Shopper, Store, Trip
from dispatch.repositories import LiveUnitOfWork
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
HERE = GeoPoint(30.4627, -84.2211)


@pytest.fixture(params=["postgres", "memory"])
def uow(request: pytest.FixtureRequest) -> LiveUnitOfWork:
    if request.param == "memory":
        return MemoryDispatchUnitOfWork(MemoryDispatchDatabase())
    return PostgresDispatchUnitOfWork(request.getfixturevalue("db"))


def _store(name: str) -> Store:
    return Store(name=name, location=HERE, service_area=circular_area(HERE, 5_000), fallback_cost_cents=Cents(899))


def _order(store: Store, ref: str, bags: int) -> Order:
    return Order(
        store_id=store.id,
        external_ref=ref,
        dropoff=HERE,
        dropoff_address="1 Main St",
        recipient_name="Pat",
        window_earliest=NOW,
        window_latest=NOW + timedelta(hours=2),
        dispatch_deadline=NOW + timedelta(hours=1),
        size_bags=bags,
        value_cents=Cents(1_000),
        created_at=NOW - timedelta(hours=3),
    )


def _answered(uow: LiveUnitOfWork, store: Store, orders: list[Order], made: datetime, outcome: OfferStatus) -> Offer:
    shopper = Shopper(display_name="S")
    trip = Trip(
        shopper_id=shopper.id, store_id=store.id, destination=HERE, capacity_bags=6,
        checked_in_at=made - timedelta(minutes=5), leave_by=made + timedelta(minutes=30), max_detour_m=2_000,
    )  # fmt: skip
    offer = Offer(
        trip_id=trip.id,
        stops=tuple(order.id for order in orders),
        extra_distance_m=1_200,
        extra_duration_s=140,
        reward_quote_cents=Cents(375),
        created_at=made,
        expires_at=made + timedelta(minutes=1),
    )
    uow.shoppers.add(shopper)
    uow.trips.add(trip)
    uow.offers.add(offer)
    moves = {
        OfferStatus.ACCEPTED: lambda: offer.accept(made + timedelta(seconds=10)),
        OfferStatus.DECLINED: lambda: offer.decline(made + timedelta(seconds=10)),
        OfferStatus.EXPIRED: lambda: offer.expire(made + timedelta(minutes=2)),
        OfferStatus.WITHDRAWN: lambda: offer.withdraw(made + timedelta(seconds=10)),
    }
    if outcome in moves:
        moves[outcome]()
        uow.offers.save(offer)
    return offer


def test_answered_offers_are_the_answered_ones_newest_first_with_their_bags(uow: LiveUnitOfWork) -> None:
    """Accepted, declined and expired offers of the store since the instant come back newest first, at most
    `limit`, each with the bags of its orders; open and withdrawn ones, older ones and another store's don't."""
    store, other = _store("S"), _store("T")
    with uow:
        uow.stores.add(store)
        uow.stores.add(other)
        orders = [_order(store, f"O{i}", bags=1 + i % 3) for i in range(8)]
        foreign = _order(other, "X", bags=1)
        for order in [*orders, foreign]:
            uow.orders.add(order)
        accepted = _answered(uow, store, orders[0:2], NOW - timedelta(minutes=50), OfferStatus.ACCEPTED)
        declined = _answered(uow, store, orders[2:3], NOW - timedelta(minutes=40), OfferStatus.DECLINED)
        expired = _answered(uow, store, orders[3:4], NOW - timedelta(minutes=30), OfferStatus.EXPIRED)
        _answered(uow, store, orders[4:5], NOW - timedelta(minutes=20), OfferStatus.WITHDRAWN)
        _answered(uow, store, orders[5:6], NOW - timedelta(minutes=10), OfferStatus.OPEN)
        _answered(uow, store, orders[6:7], NOW - timedelta(hours=2), OfferStatus.DECLINED)
        _answered(uow, other, [foreign], NOW - timedelta(minutes=45), OfferStatus.ACCEPTED)
        uow.commit()
    with uow:
        found = uow.offers.answered(store_id=store.id, since=NOW - timedelta(hours=1), limit=10)
        newest_two = uow.offers.answered(store_id=store.id, since=NOW - timedelta(hours=1), limit=2)
        everywhere = uow.offers.answered(store_id=None, since=NOW - timedelta(hours=1), limit=10)
    assert [item.offer.id for item in found] == [expired.id, declined.id, accepted.id]
    assert [item.offer.status for item in found] == [OfferStatus.EXPIRED, OfferStatus.DECLINED, OfferStatus.ACCEPTED]
    assert [item.bags for item in found] == [orders[3].size_bags, orders[2].size_bags, 1 + 2]
    assert found[2].offer == accepted
    assert [item.offer.id for item in newest_two] == [expired.id, declined.id]
    assert len(everywhere) == 4


def test_drop_outs_are_accepted_offers_withdrawn_after_since_and_pair_offers_say_whose(uow: LiveUnitOfWork) -> None:
    """An offer accepted and then withdrawn is a drop-out of its trip's shopper, kept with its withdrawal time;
    one withdrawn unanswered is not; a rolled-back withdrawal leaves none. Pair offers carry the shopper and
    the acceptance, so that a batch bars the order from every later trip of that shopper."""
    store = _store("S")
    with uow:
        uow.stores.add(store)
        orders = [_order(store, f"O{i}", bags=1) for i in range(3)]
        for order in orders:
            uow.orders.add(order)
        dropped = _answered(uow, store, orders[0:1], NOW - timedelta(minutes=50), OfferStatus.ACCEPTED)
        dropped.withdraw(NOW - timedelta(minutes=40))
        uow.offers.save(dropped)
        old = _answered(uow, store, orders[1:2], NOW - timedelta(hours=30), OfferStatus.ACCEPTED)
        old.withdraw(NOW - timedelta(hours=29))
        uow.offers.save(old)
        _answered(uow, store, orders[2:3], NOW - timedelta(minutes=20), OfferStatus.WITHDRAWN)
        uow.commit()
    with uow:
        shoppers = set(uow.trips.shoppers_of([dropped.trip_id, old.trip_id]).values())
        shopper = uow.trips.shoppers_of([dropped.trip_id])[dropped.trip_id]
        found = uow.offers.drop_outs(shoppers, NOW - timedelta(hours=24))
        pairs = uow.offers.pair_offers([orders[0].id, orders[2].id])
        assert uow.offers.get(dropped.id).accepted_at == NOW - timedelta(minutes=50, seconds=-10)
    assert [(each.shopper_id, each.at) for each in found] == [(shopper, NOW - timedelta(minutes=40))]
    assert [(pair.shopper_id, pair.dropped_out) for pair in pairs if pair.order_id == orders[0].id] == [(shopper, True)]
    assert [pair.dropped_out for pair in pairs if pair.order_id == orders[2].id] == [False]
    with uow:  # a withdrawal rolled back is no drop-out
        again = _answered(uow, store, orders[2:3], NOW - timedelta(minutes=5), OfferStatus.ACCEPTED)
        again.withdraw(NOW - timedelta(minutes=1))
        uow.offers.save(again)
        rolled_back = uow.trips.shoppers_of([again.trip_id])[again.trip_id]
        assert len(uow.offers.drop_outs([rolled_back], NOW - timedelta(hours=1))) == 1
        uow.rollback()
    with uow:
        assert uow.offers.drop_outs([rolled_back], NOW - timedelta(hours=1)) == []
