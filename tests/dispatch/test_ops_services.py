"""Operations' use cases on in-memory storage wired as live by `composition.in_memory`: stores created and
edited with their checks, an insurance claim reviewing the shopper's tier through the rewards hook (with its
audit entry, in the claim's transaction), and the history every status change leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from composition import InMemory, in_memory
from crowdship.clock import ManualClock
from crowdship.errors import InvalidInput
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.accounts import Role
from dispatch.adapters.passwords import Argon2Passwords
from dispatch.errors import ClaimExists
from dispatch.hours import DayHours, OpeningHours
from dispatch.incidents import Incident, IncidentKind
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Trip, TrustTier
from dispatch.services import accounts, orders
from dispatch.services.context import DispatchConfig
from dispatch.services.incidents import record_insurance_claim
from dispatch.services.order_detail import order_detail
from dispatch.services.stores import StoreChanges, StoreDraft, create_store, edit_store
from rewards.adapters.memory import MemoryRewardsRepositories
from routing.areas import circular_area
from routing.geo import GeoPoint

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
STORE_AT = GeoPoint(30.4627, -84.2211)


@pytest.fixture
def world(settings: Settings) -> InMemory:
    return in_memory(DispatchConfig.from_settings(settings), ManualClock(NOW))


def _draft(**changes: object) -> StoreDraft:
    fields: dict[str, object] = {
        "name": " Southside ",
        "location": STORE_AT,
        "service_area": circular_area(STORE_AT, 5_000),
        "fallback_cost_cents": Cents(899),
        "opening_hours": OpeningHours({0: DayHours(420, 1380)}),
    }
    fields.update(changes)
    return StoreDraft(**fields)  # type: ignore[arg-type]


def test_a_store_is_created_and_edited_with_its_area_checked_against_its_location(world: InMemory) -> None:
    store = create_store(world.context, _draft()).value
    assert store.name == "Southside"
    edited = edit_store(world.context, store_id=store.id, changes=StoreChanges(fallback_cost_cents=Cents(1_000)))
    assert (edited.fallback_cost_cents, edited.opening_hours) == (1_000, store.opening_hours)
    with pytest.raises(InvalidInput) as moved:
        edit_store(world.context, store_id=store.id, changes=StoreChanges(location=GeoPoint(30.7, -84.2)))
    assert moved.value.field == "service_area"
    with pytest.raises(InvalidInput) as costly:
        create_store(world.context, _draft(fallback_cost_cents=Cents(100_001)))
    assert costly.value.field == "fallback_cost_cents"
    with world.context.unit_of_work() as uow:
        assert uow.stores.get(store.id).fallback_cost_cents == 1_000


def test_a_store_created_and_changed_is_audited_with_its_author_and_what_changed(world: InMemory) -> None:
    """The fallback cost prices every order a store leaves to the courier fleet: who set it, and from what, is
    on record; an edit that changes nothing leaves no entry."""
    staff = uuid4()
    store = create_store(world.context, _draft(), actor_id=staff).value
    moved = GeoPoint(STORE_AT.lat + 0.001, STORE_AT.lon)
    edit_store(
        world.context,
        store_id=store.id,
        changes=StoreChanges(fallback_cost_cents=Cents(1_000), location=moved, opening_hours=OpeningHours({})),
        actor_id=staff,
    )
    edit_store(world.context, store_id=store.id, changes=StoreChanges(fallback_cost_cents=Cents(1_000)), actor_id=staff)
    audit = MemoryRewardsRepositories(world.rewards_db).audit.for_subject("store", store.id)
    assert [(entry.action, entry.actor_id, entry.at, entry.details) for entry in audit] == [
        ("store.created", staff, NOW, {"name": "Southside", "fallback_cost_cents": 899}),
        (
            "store.changed",
            staff,
            NOW,
            {
                "fallback_cost_cents": {"before": 899, "after": 1_000},
                "location": {"before": "30.462700, -84.221100", "after": "30.463700, -84.221100"},
                "also_changed": ["opening_hours"],
            },
        ),
    ]


def test_a_staff_account_created_deactivated_and_reactivated_is_audited_with_who_did_it(world: InMemory) -> None:
    """Who may move money is a decision on money: each step is on record, the command line's as nobody's."""
    user = accounts.create_staff_user(
        world.context, Argon2Passwords(), email="fin@example.org", password="lantern-quarry-77", role=Role.FINANCE
    )
    admin = uuid4()
    accounts.set_active(world.context, user_id=user.id, active=False, actor_id=admin)
    accounts.set_active(world.context, user_id=user.id, active=True, actor_id=admin)
    audit = MemoryRewardsRepositories(world.rewards_db).audit.for_subject("account", user.id)
    assert [(entry.action, entry.actor_id, entry.details) for entry in audit] == [
        ("account.created", None, {"role": "finance"}),
        ("account.deactivated", admin, {"role": "finance", "active": {"before": True, "after": False}}),
        ("account.activated", admin, {"role": "finance", "active": {"before": False, "after": True}}),
    ]


def _incident(world: InMemory, tier: TrustTier) -> Incident:
    store = create_store(world.context, _draft()).value
    shopper = Shopper("Ana", trust_tier=tier)
    trip = Trip(shopper.id, store.id, GeoPoint(30.5, -84.22), 3, NOW, NOW + timedelta(hours=1), max_detour_m=2_000)
    order = Order(
        store.id,
        "WEB-1",
        GeoPoint(30.48, -84.219),
        "1 Main St",
        "Jade Moreau",
        NOW,
        NOW + timedelta(hours=3),
        NOW + timedelta(hours=2),
        1,
        Cents(4_000),
        NOW,
    )
    incident = Incident(order.id, trip.id, shopper.id, IncidentKind.THEFT, "bag taken from the porch", NOW)
    with world.context.unit_of_work() as uow:
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        uow.orders.add(order)
        uow.incidents.add(incident)
        uow.commit()
    return incident


def test_an_insurance_claim_reviews_the_tier_and_audits_the_change(world: InMemory) -> None:
    """Gold and a theft: the review the claim triggers takes the shopper at once to bronze, the most one
    incident allows, with a `tier.changed` audit entry naming who recorded the claim."""
    incident = _incident(world, TrustTier.GOLD)
    staff = uuid4()
    recorded = record_insurance_claim(
        world.context, incident_id=incident.id, claim_ref="AXA-1", amount_cents=Cents(4_000), actor_id=staff
    )
    assert (recorded.tier_before, recorded.tier_after) == (TrustTier.GOLD, TrustTier.BRONZE)
    with world.context.unit_of_work() as uow:
        assert uow.shoppers.get(incident.shopper_id).trust_tier is TrustTier.BRONZE
    audit = MemoryRewardsRepositories(world.rewards_db).audit.for_subject("shopper", incident.shopper_id)
    assert [(entry.action, entry.actor_id, entry.details["after"]) for entry in audit] == [
        ("tier.changed", staff, "bronze")
    ]


def test_a_check_or_tier_set_by_hand_is_audited_with_its_author_and_a_no_change_is_not(world: InMemory) -> None:
    shopper = Shopper("Ana", trust_tier=TrustTier.SILVER)
    with world.context.unit_of_work() as uow:
        uow.shoppers.add(shopper)
        uow.commit()
    staff = uuid4()
    accounts.verify_shopper(
        world.context, shopper_id=shopper.id, identity_verified=True, trust_tier=TrustTier.GOLD, actor_id=staff
    )
    accounts.verify_shopper(
        world.context, shopper_id=shopper.id, identity_verified=True, trust_tier=TrustTier.GOLD, actor_id=staff
    )
    audit = MemoryRewardsRepositories(world.rewards_db).audit.for_subject("shopper", shopper.id)
    assert [(entry.action, entry.actor_id, entry.at, entry.details) for entry in audit] == [
        (
            "shopper.changed",
            staff,
            NOW,
            {
                "identity_verified": {"before": False, "after": True},
                "trust_tier": {"before": "silver", "after": "gold"},
            },
        )
    ]


def test_a_refused_claim_leaves_the_tier_alone(world: InMemory) -> None:
    """A reused claim reference is refused before the review: the tier and the audit log stay as they were."""
    incident = _incident(world, TrustTier.GOLD)
    record_insurance_claim(
        world.context, incident_id=incident.id, claim_ref="AXA-1", amount_cents=Cents(1), actor_id=None
    )
    with world.context.unit_of_work() as uow:
        shopper = uow.shoppers.get(incident.shopper_id)
        shopper.trust_tier = TrustTier.SILVER
        uow.shoppers.save(shopper)
        uow.commit()
    with pytest.raises(ClaimExists):
        record_insurance_claim(
            world.context, incident_id=incident.id, claim_ref="AXA-1", amount_cents=Cents(1), actor_id=None
        )
    with world.context.unit_of_work() as uow:
        assert uow.shoppers.get(incident.shopper_id).trust_tier is TrustTier.SILVER
    with pytest.raises(InvalidInput):
        record_insurance_claim(
            world.context, incident_id=incident.id, claim_ref="X" * 101, amount_cents=Cents(1), actor_id=None
        )


def test_cancelling_leaves_a_line_in_the_history_naming_who(world: InMemory) -> None:
    incident = _incident(world, TrustTier.SILVER)
    staff = uuid4()
    clock = world.context.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(minutes=5))
    orders.cancel_order(world.context, order_id=incident.order_id, actor_id=staff)
    detail = order_detail(world.context, order_id=incident.order_id)
    last = detail.timeline[-1]
    assert (last.status, last.actor_id, last.detail) == (OrderStatus.CANCELLED, staff, "cancelled by operations")
    assert detail.unassigned is None


def test_an_order_carried_by_a_trip_names_its_shopper_and_the_trip(world: InMemory) -> None:
    """The order's page says who carries it, not a trip id."""
    incident = _incident(world, TrustTier.SILVER)
    offer = Offer(
        trip_id=incident.trip_id,
        stops=(incident.order_id,),
        extra_distance_m=400,
        extra_duration_s=60,
        reward_quote_cents=Cents(300),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
        status=OfferStatus.ACCEPTED,
        resolved_at=NOW,
    )
    with world.context.unit_of_work() as uow:
        uow.offers.add(offer)
        uow.commit()
    detail = order_detail(world.context, order_id=incident.order_id)
    assert detail.carrier is not None
    assert (detail.carrier.shopper_name, detail.carrier.trip.id) == ("Ana", incident.trip_id)
