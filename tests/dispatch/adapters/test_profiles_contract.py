"""The contract of commute-profile storage, on PostGIS and in memory: round trips, what `save` writes, deletion,
per-shopper listing in creation order, and nothing kept without a commit."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import pytest

from crowdship.errors import NotFound
from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchDatabase, MemoryDispatchUnitOfWork
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Shopper, Store
from dispatch.profiles import CommuteProfile, Weekday
from dispatch.repositories import LiveUnitOfWork
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)


@pytest.fixture(params=["postgres", "memory"])
def uow(request: pytest.FixtureRequest) -> LiveUnitOfWork:
    if request.param == "memory":
        return MemoryDispatchUnitOfWork(MemoryDispatchDatabase())
    return PostgresDispatchUnitOfWork(request.getfixturevalue("db"))


def _profile(store: Store, shopper: Shopper, name: str = "Home", minutes_later: int = 0) -> CommuteProfile:
    return CommuteProfile(
        shopper_id=shopper.id,
        store_id=store.id,
        name=name,
        destination=GeoPoint(30.5012345, -84.3012345),
        days=(Weekday.MON, Weekday.WED, Weekday.FRI),
        departure=time(17, 30),
        time_zone="America/New_York",
        capacity_bags=3,
        max_detour_m=3_000,
        max_detour_s=None,
        created_at=NOW + timedelta(minutes=minutes_later),
    )


def _stored(uow: LiveUnitOfWork) -> tuple[Store, Shopper, Shopper]:
    store = Store("S", STORE_AT, circular_area(STORE_AT, 8_000), Cents(899))
    ana, ben = Shopper(display_name="Ana"), Shopper(display_name="Ben")
    with uow:
        uow.stores.add(store)
        uow.shoppers.add(ana)
        uow.shoppers.add(ben)
        uow.commit()
    return store, ana, ben


def test_a_profile_reads_back_as_written(uow: LiveUnitOfWork) -> None:
    """Every field, the point to the microdegree and the days in week order, comes back equal."""
    store, ana, _ = _stored(uow)
    profile = _profile(store, ana)
    with uow:
        uow.profiles.add(profile)
        uow.commit()
    with uow:
        assert uow.profiles.get(profile.id) == profile


def test_save_writes_the_changes_but_not_the_owner_or_creation(uow: LiveUnitOfWork) -> None:
    """`save` rewrites what a shopper may change; the owner and creation time stay as first written."""
    store, ana, ben = _stored(uow)
    profile = _profile(store, ana)
    with uow:
        uow.profiles.add(profile)
        uow.commit()
    changed = _profile(store, ana, name="Gym")
    changed.id, changed.days, changed.departure = profile.id, (Weekday.SAT,), time(9, 15)
    changed.max_detour_m, changed.max_detour_s, changed.time_zone = None, 600, "Europe/Paris"
    changed.shopper_id, changed.created_at = ben.id, NOW + timedelta(days=1)
    with uow:
        uow.profiles.save(changed, at=NOW)
        uow.commit()
    with uow:
        loaded = uow.profiles.get(profile.id)
    assert (loaded.name, loaded.days, loaded.departure, loaded.time_zone) == (
        "Gym",
        (Weekday.SAT,),
        time(9, 15),
        "Europe/Paris",
    )
    assert (loaded.max_detour_m, loaded.max_detour_s) == (None, 600)
    assert (loaded.shopper_id, loaded.created_at) == (ana.id, NOW)


def test_profiles_are_listed_per_shopper_oldest_first_and_deleted(uow: LiveUnitOfWork) -> None:
    """A shopper sees only their own, in creation order; a deleted one is gone (NotFound)."""
    store, ana, ben = _stored(uow)
    late, early, other = _profile(store, ana, "Late", 5), _profile(store, ana, "Early", 1), _profile(store, ben)
    with uow:
        for profile in (late, early, other):
            uow.profiles.add(profile)
        uow.commit()
    with uow:
        assert [p.name for p in uow.profiles.list_for_shopper(ana.id, for_update=True)] == ["Early", "Late"]
        uow.profiles.delete(early.id)
        uow.commit()
    with uow:
        assert [p.id for p in uow.profiles.list_for_shopper(ana.id)] == [late.id]
        assert [p.id for p in uow.profiles.list_for_shopper(ben.id)] == [other.id]
        with pytest.raises(NotFound, match="commute profile"):
            uow.profiles.get(early.id)
        with pytest.raises(NotFound, match="commute profile"):
            uow.profiles.get(uuid4())


def test_profile_changes_without_commit_are_undone(uow: LiveUnitOfWork) -> None:
    """An add, a save and a delete in a unit of work that did not commit leave nothing behind."""
    store, ana, _ = _stored(uow)
    kept = _profile(store, ana, "Kept")
    with uow:
        uow.profiles.add(kept)
        uow.commit()
    with uow:
        uow.profiles.add(_profile(store, ana, "Dropped", 3))
        renamed = uow.profiles.get(kept.id)
        renamed.name = "Renamed"
        uow.profiles.save(renamed, at=NOW)
        uow.profiles.delete(kept.id)
    with uow:
        assert [p.name for p in uow.profiles.list_for_shopper(ana.id)] == ["Kept"]
