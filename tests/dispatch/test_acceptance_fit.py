"""Fitting the acceptance model through the dispatch unit of work (the use case, on the in-memory adapter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crowdship.units import Cents
from dispatch.acceptance import DEFAULT_MODEL, MIN_ANSWERS
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.model import Offer, Order, Shopper, Store, Trip
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.acceptance import fit_from_history, recorded_answers
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 12, 19, 17, 0, tzinfo=UTC)
HERE = GeoPoint(30.4627, -84.2211)


def _history(database: MemoryDispatchDatabase, count: int) -> Store:
    """`count` one-order offers a minute apart: the short ones (under 2 km) accepted, the others declined,
    every third of them left to expire instead."""
    store = Store(name="S", location=HERE, service_area=circular_area(HERE, 5_000), fallback_cost_cents=Cents(899))
    with MemoryDispatchUnitOfWork(database) as uow:
        uow.stores.add(store)
        for index in range(count):
            made = NOW - timedelta(minutes=count - index)
            order = Order(
                store_id=store.id, external_ref=f"O{index}", dropoff=HERE, dropoff_address="1 Main St",
                recipient_name="Pat", window_earliest=made, window_latest=made + timedelta(hours=2),
                dispatch_deadline=made + timedelta(hours=1), size_bags=1 + index % 3, value_cents=Cents(1_000),
                created_at=made,
            )  # fmt: skip
            shopper = Shopper(display_name="S")
            trip = Trip(
                shopper_id=shopper.id, store_id=store.id, destination=HERE, capacity_bags=6,
                checked_in_at=made, leave_by=made + timedelta(minutes=30), max_detour_m=6_000,
            )  # fmt: skip
            detour = (index * 37) % 4_000
            offer = Offer(
                trip_id=trip.id, stops=(order.id,), extra_distance_m=detour, extra_duration_s=detour // 8,
                reward_quote_cents=Cents(300 + detour // 10), created_at=made, expires_at=made + timedelta(minutes=1),
            )  # fmt: skip
            uow.orders.add(order)
            uow.shoppers.add(shopper)
            uow.trips.add(trip)
            uow.offers.add(offer)
            if detour < 2_000:
                offer.accept(made + timedelta(seconds=5))
            elif index % 3:
                offer.decline(made + timedelta(seconds=5))
            else:
                offer.expire(made + timedelta(minutes=1))
            uow.offers.save(offer)
        uow.commit()
    return store


def _unit_of_work(database: MemoryDispatchDatabase) -> LiveUnitOfWork:
    return MemoryDispatchUnitOfWork(database)


def test_recorded_answers_count_declines_and_expiries_as_no() -> None:
    """Each answer carries the offer's quote, detour, stops, bags and time; only an acceptance is a yes."""
    database = MemoryDispatchDatabase()
    _history(database, 30)
    with MemoryDispatchUnitOfWork(database) as uow:
        answers = recorded_answers(uow, now=NOW)
    assert len(answers) == 30
    assert all(a.accepted == (a.features.detour_m < 2_000) for a in answers)
    assert {a.features.bags for a in answers} == {1, 2, 3}
    assert all(a.features.reward_cents == 300 + a.features.detour_m // 10 for a in answers)


def test_before_enough_history_the_default_model_is_used() -> None:
    database = MemoryDispatchDatabase()
    _history(database, MIN_ANSWERS - 1)
    assert fit_from_history(lambda: _unit_of_work(database), now=NOW) == DEFAULT_MODEL


def test_a_fit_on_history_learns_that_long_detours_are_declined() -> None:
    """With enough answers the fitted model, not the default, says a 3 km detour is far less likely taken."""
    database = MemoryDispatchDatabase()
    _history(database, 2 * MIN_ANSWERS)
    model = fit_from_history(lambda: _unit_of_work(database), now=NOW + timedelta(minutes=1))
    assert model.answers == 2 * MIN_ANSWERS
    assert model.per_detour_km < DEFAULT_MODEL.per_detour_km
    only_recent = fit_from_history(lambda: _unit_of_work(database), now=NOW, lookback=timedelta(minutes=10))
    assert only_recent == DEFAULT_MODEL
