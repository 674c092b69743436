"""An offer is answered up to its expiry (`CROWDSHIP_OFFER_TTL_S`), and the shopper leaves once they accept:
every route a batch offers must still reach each drop-off inside its window when left at the offer's expiry,
not only when left at the batch time. An order whose window closes within the answer time is not offered, and
says why (`window`) in the batch and in the order's explanation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.batch_offers import route_metrics
from dispatch.batching import TripCandidate
from dispatch.matching import UnassignedReason
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from dispatch.services.batch import run_batch
from dispatch.services.context import DispatchConfig
from dispatch.unassigned import why_unassigned
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
NEAR = GeoPoint(30.4700, -84.2211)  # on the way home, about 2 minutes' drive from the store
HOME = GeoPoint(30.5000, -84.2211)


def _world(settings: Settings) -> tuple[InMemory, Store, Trip, Shopper]:
    world = in_memory(DispatchConfig.from_settings(settings), ManualClock(NOW))
    store = Store("Answers", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    shopper = Shopper("Ana Lee", trust_tier=TrustTier.GOLD, identity_verified=True)
    trip = Trip(
        shopper_id=shopper.id, store_id=store.id, destination=HOME, capacity_bags=4,
        checked_in_at=NOW - timedelta(minutes=5), leave_by=NOW + timedelta(hours=1), max_detour_m=3_000,
    )  # fmt: skip
    with world.context.unit_of_work() as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        uow.commit()
    return world, store, trip, shopper


def _closing(world: InMemory, store: Store, trip: Trip, after_arrival: timedelta) -> Order:
    """A pending order at NEAR whose window closes `after_arrival` after a shopper leaving now would get there."""
    probe = Order(
        store_id=store.id, external_ref="N1", dropoff=NEAR, dropoff_address="1 Main St", recipient_name="Jo Doe",
        window_earliest=NOW - timedelta(minutes=5), window_latest=NOW + timedelta(hours=1),
        dispatch_deadline=NOW + timedelta(minutes=1), size_bags=1, value_cents=Cents(2_000), created_at=NOW,
    )  # fmt: skip
    arrival = route_metrics(store, trip, [probe], world.context.config.batch).arrival_minutes[0]
    probe.window_latest = NOW + timedelta(minutes=arrival) + after_arrival
    with world.context.unit_of_work() as uow:
        uow.orders.add(probe)
        uow.commit()
    return probe


def test_an_order_whose_window_closes_within_the_answer_time_is_not_offered_and_says_window(
    settings: Settings,
) -> None:
    """The window closes 30 s after the arrival of a shopper leaving at the batch time: one who accepts when
    the 60 s offer is about to expire arrives late. It was offered; now it waits, with `window`, and the
    order's explanation says the trip would arrive after its window."""
    world, store, trip, shopper = _world(settings)
    order = _closing(world, store, trip, timedelta(seconds=30))

    report = run_batch(world.context, store_id=store.id)

    assert report.offers == []
    assert report.unassigned == {order.id: str(UnassignedReason.WINDOW)}
    explained = why_unassigned(
        order=order, store=store, trips=[TripCandidate(trip, shopper, trip.capacity_bags)], busy_trips=(),
        barred_pairs=(), now=NOW, parameters=world.context.config.batch,
    )  # fmt: skip
    assert explained is not None
    assert [verdict.reason for verdict in explained.trips] == ["window"]


def test_an_order_whose_window_outlasts_the_answer_time_is_offered(settings: Settings) -> None:
    """Closing 90 s after the arrival of a shopper leaving now, the window is met by one who answers at the
    last second of the offer's 60 s: it is offered."""
    world, store, trip, _ = _world(settings)
    order = _closing(world, store, trip, timedelta(seconds=90))

    report = run_batch(world.context, store_id=store.id)

    (offer,) = report.offers
    assert offer.stops == (order.id,)
    assert report.unassigned == {}


def test_an_offer_whose_window_closes_before_the_leave_by_allows_says_when_to_leave_at_the_latest(
    settings: Settings,
) -> None:
    """The shopper may stay an hour, but the window closes 20 minutes after a shopper leaving now arrives: the
    offer says to leave 20 minutes from now at the latest (`leave_before`), where it only said the leave-by,
    an hour away, and one who left then arrived 40 minutes late."""
    world, store, trip, _ = _world(settings)
    _closing(world, store, trip, timedelta(minutes=20))

    (offer,) = run_batch(world.context, store_id=store.id).offers

    assert offer.breakdown is not None
    leave = datetime.fromisoformat(offer.breakdown["leave_before"])
    assert NOW + timedelta(minutes=20, seconds=-1) <= leave <= NOW + timedelta(minutes=20)
    assert offer.breakdown["leave_after"] is None


def test_an_offer_whose_windows_outlast_the_leave_by_says_no_latest_departure_but_the_leave_by(
    settings: Settings,
) -> None:
    world, store, trip, _ = _world(settings)
    _closing(world, store, trip, timedelta(hours=2))

    (offer,) = run_batch(world.context, store_id=store.id).offers

    assert offer.breakdown is not None
    assert offer.breakdown["leave_before"] is None
