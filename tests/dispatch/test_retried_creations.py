"""Creations retried after a lost answer, as the use cases decide them, on in-memory storage wired as live: a
check-in (with its key, or identical to the open trip), an insurance claim under its key (the tier reviewed once),
and a registration, which never says whether its address had an account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.errors import NotFound
from crowdship.idempotency import IdempotencyKeyReused, Outcome
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.accounts import User
from dispatch.errors import AlreadyOnTrip
from dispatch.incidents import Incident, IncidentKind
from dispatch.model import Shopper, Store, Trip, TripStatus, TrustTier
from dispatch.services import accounts, trips
from dispatch.services.context import DispatchConfig
from dispatch.services.incidents import ClaimRecorded, record_insurance_claim_once
from rewards.adapters.memory import MemoryRewardsRepositories
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)
HOME = GeoPoint(30.5, -84.2211)


class _PlainPasswords:
    """A hasher that shows what it hashed: these tests are about which hash is kept, not its strength."""

    def hash(self, password: str) -> str:
        return f"plain:{password}"

    def verify(self, password: str, password_hash: str | None) -> bool:
        return password_hash == f"plain:{password}"


@pytest.fixture
def world(settings: Settings) -> InMemory:
    return in_memory(DispatchConfig.from_settings(settings), ManualClock(NOW))


def _shopper_at_a_store(world: InMemory) -> tuple[Shopper, Store]:
    shopper = Shopper("Ana", trust_tier=TrustTier.GOLD)
    store = Store("S", STORE_AT, circular_area(STORE_AT, 12_000), Cents(899))
    with world.context.unit_of_work() as uow:
        uow.shoppers.add(shopper)
        uow.stores.add(store)
        uow.commit()
    return shopper, store


def _asked(store: Store, **changes: object) -> trips.CheckIn:
    fields: dict[str, object] = {
        "store_id": store.id,
        "destination": HOME,
        "capacity_bags": 3,
        "max_detour_m": 3_000,
        "max_detour_s": None,
        "leave_by": NOW + timedelta(hours=1),
    }
    fields.update(changes)
    return trips.CheckIn(**fields)  # type: ignore[arg-type]


def _trips_of(world: InMemory, shopper: Shopper, store: Store) -> list[Trip]:
    with world.context.unit_of_work() as uow:
        return [trip for trip in uow.trips.list_for_store(store.id) if trip.shopper_id == shopper.id]


def test_a_check_in_under_its_key_starts_one_trip_and_answers_it_again(world: InMemory) -> None:
    shopper, store = _shopper_at_a_store(world)
    first = trips.check_in_once(world.context, shopper_id=shopper.id, asked=_asked(store), idempotency_key="k")
    again = trips.check_in_once(world.context, shopper_id=shopper.id, asked=_asked(store), idempotency_key="k")
    assert (first.replayed, again.replayed, again.value) == (False, True, first.value)
    with pytest.raises(IdempotencyKeyReused):
        trips.check_in_once(
            world.context, shopper_id=shopper.id, asked=_asked(store, capacity_bags=1), idempotency_key="k"
        )
    assert _trips_of(world, shopper, store) == [first.value]


def test_the_same_check_in_without_a_key_is_the_open_trip_and_another_is_refused(world: InMemory) -> None:
    """Identical to the open trip: that trip, said replayed, nothing new; a changed leave-by (or a trip no longer
    open) is not a retry."""
    shopper, store = _shopper_at_a_store(world)
    trip = trips.check_in(world.context, shopper_id=shopper.id, **vars(_asked(store)))
    again = trips.check_in_once(world.context, shopper_id=shopper.id, asked=_asked(store), idempotency_key=None)
    assert (again.replayed, again.value) == (True, trip)
    with pytest.raises(AlreadyOnTrip):  # the simulator's own check-in: it never loses an answer, and waits
        trips.check_in(world.context, shopper_id=shopper.id, **vars(_asked(store)))
    later = _asked(store, leave_by=NOW + timedelta(hours=2))
    with pytest.raises(AlreadyOnTrip):
        trips.check_in_once(world.context, shopper_id=shopper.id, asked=later, idempotency_key=None)
    assert not _asked(store).started(Trip(**{**vars(trip), "status": TripStatus.DEPARTED}))
    assert _trips_of(world, shopper, store) == [trip]


def test_a_claim_retried_under_its_key_answers_the_first_review_and_reviews_once(world: InMemory) -> None:
    """Gold and a theft: the claim takes the shopper to bronze; its retry says gold to bronze again (not bronze to
    bronze), and the audit log holds one tier change."""
    shopper, _ = _shopper_at_a_store(world)
    incident = Incident(uuid4(), uuid4(), shopper.id, IncidentKind.THEFT, "bag taken from the porch", NOW)
    with world.context.unit_of_work() as uow:
        uow.incidents.add(incident)
        uow.commit()
    staff = uuid4()

    def claim(ref: str) -> Outcome[ClaimRecorded]:
        return record_insurance_claim_once(
            world.context,
            incident_id=incident.id,
            claim_ref=ref,
            amount_cents=Cents(4_000),
            actor_id=staff,
            idempotency_key="claim-1",
        )

    first, again = claim("AXA-1"), claim("AXA-1")
    assert (first.replayed, again.replayed, again.value) == (False, True, first.value)
    assert (first.value.tier_before, first.value.tier_after) == (TrustTier.GOLD, TrustTier.BRONZE)
    with pytest.raises(IdempotencyKeyReused):
        claim("AXA-2")
    audit = MemoryRewardsRepositories(world.rewards_db).audit.for_subject("shopper", shopper.id)
    assert [entry.action for entry in audit] == ["tier.changed"]


def test_registering_a_taken_address_answers_a_new_looking_account_and_saves_nothing(world: InMemory) -> None:
    passwords = _PlainPasswords()
    first = accounts.register_shopper_once(
        world.context,
        passwords,
        email="ana@example.org",
        password="Orbit-Lamp-77",
        display_name="Ana",
        home=None,
        idempotency_key=None,
    ).value
    again = accounts.register_shopper_once(
        world.context,
        passwords,
        email="Ana@example.org",
        password="Quince-Moth-12",
        display_name="A",
        home=None,
        idempotency_key=None,
    ).value
    assert (again.email, again.role, again.active) == (first.email, first.role, True)
    assert again.id != first.id
    assert accounts.find_user(world.context, email="ana@example.org") == first
    assert again.shopper_id is not None
    with world.context.unit_of_work() as uow, pytest.raises(NotFound):
        uow.shoppers.get(again.shopper_id)


def test_a_registration_under_its_key_answers_the_first_account_for_its_password_only(world: InMemory) -> None:
    """The password is no part of the request's fingerprint (it would keep a fast hash of it): the kept answer's
    password hash tells it instead, so the key with another password is refused like any other request."""
    passwords = _PlainPasswords()

    def register(password: str) -> Outcome[User]:
        return accounts.register_shopper_once(
            world.context,
            passwords,
            email="ben@example.org",
            password=password,
            display_name="Ben",
            home=HOME,
            idempotency_key="reg-1",
        )

    first, again = register("Orbit-Lamp-77"), register("Orbit-Lamp-77")
    assert (first.replayed, again.replayed, again.value.id) == (False, True, first.value.id)
    with pytest.raises(IdempotencyKeyReused):
        register("Quince-Moth-12")
