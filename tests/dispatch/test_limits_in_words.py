"""A limit told to a shopper or to operations counts its unit in the singular when the setting is one: a store
that lets trips leave at most an hour ahead says "within the next 1 hour", not "1 hours" (nor "1 days")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.errors import InvalidInput
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.model import Shopper, Store
from dispatch.services.context import DispatchConfig
from dispatch.services.intake import OrderIntake, ingest_order
from dispatch.services.trips import check_in
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)


def _world(settings: Settings, **limits: object) -> tuple[InMemory, Store]:
    world = in_memory(DispatchConfig.from_settings(settings.model_copy(update=limits)), ManualClock(NOW))
    store = Store("Limits store", STORE_AT, circular_area(STORE_AT, 5_000), Cents(899))
    with world.context.unit_of_work() as uow:
        uow.stores.add(store)
        uow.commit()
    return world, store


def _leave_by_refusal(settings: Settings, hours: float) -> str:
    world, store = _world(settings, max_leave_by_h=hours)
    shopper = Shopper("Ana")
    with world.context.unit_of_work() as uow:
        uow.shoppers.add(shopper)
        uow.commit()
    with pytest.raises(InvalidInput) as refused:
        check_in(
            world.context,
            shopper_id=shopper.id,
            store_id=store.id,
            destination=GeoPoint(30.5, -84.22),
            capacity_bags=2,
            max_detour_m=2_000,
            max_detour_s=None,
            leave_by=NOW + timedelta(hours=hours + 1),
        )
    return refused.value.message


def test_a_leave_by_too_far_ahead_names_the_hours_in_the_singular_or_the_plural(settings: Settings) -> None:
    assert _leave_by_refusal(settings, 1) == "leave_by: must be within the next 1 hour: check in when you shop"
    assert _leave_by_refusal(settings, 1.5) == "leave_by: must be within the next 1.5 hours: check in when you shop"
    assert _leave_by_refusal(settings, 12) == "leave_by: must be within the next 12 hours: check in when you shop"


def test_an_order_window_too_far_ahead_names_one_day_in_the_singular(settings: Settings) -> None:
    world, store = _world(settings, order_horizon_days=1)
    intake = OrderIntake(
        store_id=store.id,
        external_ref="WEB-1",
        dropoff=GeoPoint(30.48, -84.219),
        dropoff_address="1 Main St",
        recipient_name="Jade",
        window_earliest=NOW,
        window_latest=NOW + timedelta(days=2),
        dispatch_deadline=None,
        size_bags=1,
        value_cents=Cents(4_000),
    )
    with pytest.raises(InvalidInput) as refused:
        ingest_order(world.context, scope="ops", idempotency_key="k-1", intake=intake)
    assert refused.value.message == "window_latest: must end within 1 day"
