"""Commute profiles' rules and use cases, on the in-memory adapters: what a profile refuses, the per-shopper
limit, owner-only access, and one-tap check-in for today at the profile's local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

import pytest

from crowdship.clock import ManualClock
from crowdship.errors import InvalidInput, NotFound
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchDatabase, memory_unit_of_work
from dispatch.errors import AlreadyOnTrip
from dispatch.model import Shopper, Store, TripStatus
from dispatch.profiles import MAX_PROFILES_PER_SHOPPER, CommuteProfile, DepartureTimePassed, TooManyProfiles, Weekday
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.profiles import (
    ProfileDraft,
    check_in_from_profile,
    check_in_from_profile_once,
    create_profile,
    delete_profile,
    get_profile,
    list_profiles,
    update_profile,
)
from routing.areas import circular_area
from routing.geo import GeoPoint
from tests.unknown_offset import NoOffset

STORE_AT = GeoPoint(30.4627, -84.2211)
HOME = GeoPoint(30.5, -84.2211)
# Monday 30 November 2026, 14:00 in New York (EST, UTC-5).
MONDAY_2PM_NEW_YORK = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_2PM_NEW_YORK)


@pytest.fixture
def world(settings: Settings, clock: ManualClock) -> tuple[DispatchContext, Store, Shopper, Shopper]:
    db = MemoryDispatchDatabase()
    ctx = DispatchContext(
        unit_of_work=memory_unit_of_work(db), clock=clock, config=DispatchConfig.from_settings(settings)
    )
    store = Store("S", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    ana, ben = Shopper(display_name="Ana"), Shopper(display_name="Ben")
    with ctx.unit_of_work() as uow:
        uow.stores.add(store)
        uow.shoppers.add(ana)
        uow.shoppers.add(ben)
        uow.commit()
    return ctx, store, ana, ben


def _draft(store: Store, **changes: object) -> ProfileDraft:
    values: dict[str, object] = {
        "store_id": store.id,
        "name": "Home after work",
        "destination": HOME,
        "days": [Weekday.FRI, Weekday.MON],
        "departure": time(17, 30),
        "time_zone": "America/New_York",
        "capacity_bags": 3,
        "max_detour_m": 3_000,
        "max_detour_s": 600,
    }
    values.update(changes)
    return ProfileDraft(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("name", {"name": "   "}),
        ("name", {"name": "x" * 61}),
        ("days", {"days": []}),
        ("days", {"days": ["someday"]}),
        ("time_zone", {"time_zone": "Mars/Olympus_Mons"}),
        ("capacity_bags", {"capacity_bags": 0}),
        ("max_detour_m", {"max_detour_m": None, "max_detour_s": None}),
        ("max_detour_s", {"max_detour_s": 86_401}),
        ("created_at", {"created_at": datetime(2026, 11, 30, 19, 0)}),
        ("created_at", {"created_at": datetime(2026, 11, 30, 19, 0, tzinfo=NoOffset())}),
    ],
)
def test_a_profile_refuses_bad_fields_by_name(field: str, changes: dict[str, object]) -> None:
    """Each broken rule is an `InvalidInput` naming its field."""
    values: dict[str, object] = {
        "shopper_id": uuid4(),
        "store_id": uuid4(),
        "name": "Home",
        "destination": HOME,
        "days": (Weekday.MON,),
        "departure": time(17, 30),
        "time_zone": "America/New_York",
        "capacity_bags": 3,
        "max_detour_m": 3_000,
        "max_detour_s": None,
        "created_at": MONDAY_2PM_NEW_YORK,
    }
    values.update(changes)
    with pytest.raises(InvalidInput) as refused:
        CommuteProfile(**values)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_days_are_kept_once_each_in_week_order(world: tuple[DispatchContext, Store, Shopper, Shopper]) -> None:
    ctx, store, ana, _ = world
    profile = create_profile(ctx, shopper_id=ana.id, draft=_draft(store, days=["sun", Weekday.MON, "sun"]))
    assert profile.days == (Weekday.MON, Weekday.SUN)
    assert profile.runs_on(date(2026, 11, 29))
    assert not profile.runs_on(date(2026, 12, 1))


def test_the_destination_must_be_near_the_store_and_the_store_must_exist(
    world: tuple[DispatchContext, Store, Shopper, Shopper],
) -> None:
    ctx, store, ana, _ = world
    with pytest.raises(InvalidInput) as far:
        create_profile(ctx, shopper_id=ana.id, draft=_draft(store, destination=GeoPoint(40.7, -74.0)))
    assert far.value.field == "destination"
    with pytest.raises(InvalidInput) as unknown:
        create_profile(ctx, shopper_id=ana.id, draft=_draft(store, store_id=uuid4()))
    assert unknown.value.field == "store_id"
    assert list_profiles(ctx, shopper_id=ana.id) == []


def test_a_shopper_keeps_at_most_ten_profiles(world: tuple[DispatchContext, Store, Shopper, Shopper]) -> None:
    """The eleventh is refused; deleting one makes room again."""
    ctx, store, ana, _ = world
    made = [
        create_profile(ctx, shopper_id=ana.id, draft=_draft(store, name=f"P{n}"))
        for n in range(MAX_PROFILES_PER_SHOPPER)
    ]
    with pytest.raises(TooManyProfiles):
        create_profile(ctx, shopper_id=ana.id, draft=_draft(store, name="One too many"))
    delete_profile(ctx, shopper_id=ana.id, profile_id=made[0].id)
    create_profile(ctx, shopper_id=ana.id, draft=_draft(store, name="Room again"))
    assert len(list_profiles(ctx, shopper_id=ana.id)) == MAX_PROFILES_PER_SHOPPER


def test_another_shoppers_profile_is_not_found(world: tuple[DispatchContext, Store, Shopper, Shopper]) -> None:
    """Reading, changing, deleting or checking in from someone else's profile: NotFound, and nothing changes."""
    ctx, store, ana, ben = world
    profile = create_profile(ctx, shopper_id=ana.id, draft=_draft(store))
    for attempt in (
        lambda: get_profile(ctx, shopper_id=ben.id, profile_id=profile.id),
        lambda: update_profile(ctx, shopper_id=ben.id, profile_id=profile.id, draft=_draft(store, name="Mine")),
        lambda: delete_profile(ctx, shopper_id=ben.id, profile_id=profile.id),
        lambda: check_in_from_profile(ctx, shopper_id=ben.id, profile_id=profile.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert get_profile(ctx, shopper_id=ana.id, profile_id=profile.id) == profile


def test_update_replaces_the_fields_and_keeps_id_and_creation(
    world: tuple[DispatchContext, Store, Shopper, Shopper], clock: ManualClock
) -> None:
    ctx, store, ana, _ = world
    profile = create_profile(ctx, shopper_id=ana.id, draft=_draft(store))
    clock.advance(timedelta(seconds=60))
    changed = update_profile(
        ctx, shopper_id=ana.id, profile_id=profile.id, draft=_draft(store, name="Gym", departure=time(19, 0))
    )
    assert (changed.id, changed.created_at, changed.name, changed.departure) == (
        profile.id,
        profile.created_at,
        "Gym",
        time(19, 0),
    )
    assert get_profile(ctx, shopper_id=ana.id, profile_id=profile.id) == changed


def test_check_in_from_a_profile_leaves_today_at_its_local_time(
    world: tuple[DispatchContext, Store, Shopper, Shopper],
) -> None:
    """At 14:00 in New York, a 17:30 profile gives a trip with everything from the profile, leaving at 17:30
    New York time (22:30 UTC) today."""
    ctx, store, ana, _ = world
    profile = create_profile(ctx, shopper_id=ana.id, draft=_draft(store))
    trip = check_in_from_profile(ctx, shopper_id=ana.id, profile_id=profile.id)
    assert trip.leave_by == datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
    assert (trip.store_id, trip.destination, trip.capacity_bags, trip.max_detour_m, trip.max_detour_s) == (
        store.id,
        HOME,
        3,
        3_000,
        600,
    )
    assert trip.status is TripStatus.OPEN
    assert trip.checked_in_at == MONDAY_2PM_NEW_YORK


def test_check_in_is_refused_once_the_time_passed_or_when_on_a_trip(
    world: tuple[DispatchContext, Store, Shopper, Shopper],
) -> None:
    """A 13:00 profile at 14:00 is refused naming the time; another check-in while on a trip too, and the same one
    again to a caller that cannot lose an answer (the simulator), but the app's (`_once`) answers the trip it
    started."""
    ctx, store, ana, _ = world
    past = create_profile(ctx, shopper_id=ana.id, draft=_draft(store, departure=time(13, 0)))
    with pytest.raises(DepartureTimePassed, match="13:00 EST"):
        check_in_from_profile(ctx, shopper_id=ana.id, profile_id=past.id)
    later = create_profile(ctx, shopper_id=ana.id, draft=_draft(store, name="Later"))
    trip = check_in_from_profile(ctx, shopper_id=ana.id, profile_id=later.id)
    with pytest.raises(AlreadyOnTrip):
        check_in_from_profile(ctx, shopper_id=ana.id, profile_id=later.id)
    again = check_in_from_profile_once(ctx, shopper_id=ana.id, profile_id=later.id, idempotency_key=None)
    assert (again.value, again.replayed) == (trip, True)
    smaller = create_profile(ctx, shopper_id=ana.id, draft=_draft(store, name="Smaller", capacity_bags=1))
    with pytest.raises(AlreadyOnTrip):
        check_in_from_profile(ctx, shopper_id=ana.id, profile_id=smaller.id)


def test_today_is_the_shoppers_day_not_utcs(
    world: tuple[DispatchContext, Store, Shopper, Shopper], clock: ManualClock
) -> None:
    """At 01:00 UTC on Tuesday it is still Monday 20:00 in New York: a 21:00 profile leaves in an hour."""
    ctx, store, ana, _ = world
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    profile = create_profile(ctx, shopper_id=ana.id, draft=_draft(store, departure=time(21, 0)))
    trip = check_in_from_profile(ctx, shopper_id=ana.id, profile_id=profile.id)
    assert trip.leave_by == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
