"""A shopper's choice of cash or store credit: stored as a history, read by the offer's quote and the
delivery's credit at the offer's instant, so that the store-credit bonus shown is the bonus credited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdship.errors import InvalidInput, NotFound
from crowdship.units import BASIS_POINTS, Cents
from dispatch.batching import QuoteRequest
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Trip, TripStatus
from dispatch.services.context import DeliveredOrder
from rewards.hooks import delivery_credit, offer_quote
from rewards.ledger import AccountKind
from rewards.policy import PaymentMethod, round_half_up
from rewards.policy_versions import RewardPolicy
from rewards.services import (
    payment_method_at,
    payment_preference,
    set_payment_preference,
)
from routing.geo import GeoPoint
from tests.rewards.conftest import NOW, PLAIN_PARAMETERS, World
from tests.unknown_offset import NoOffset

OFFERED_AT = NOW - timedelta(minutes=40)
PROPERTY_SETTINGS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
METHODS = st.sampled_from(list(PaymentMethod))
CHOICES = st.lists(st.tuples(st.integers(0, 120), METHODS), max_size=6).map(sorted)
"""Choices as (minutes after OFFERED_AT minus an hour, method), in the order a clock that moves forward makes them."""


def cash_for_everyone(shopper_id: UUID) -> PaymentMethod:
    """A payment-choice override: whatever the shopper chose, cash."""
    del shopper_id
    return PaymentMethod.CASH


def in_force(choices: list[tuple[int, PaymentMethod]], minute: int) -> PaymentMethod:
    """The model: the last choice made at or before `minute`, cash before any."""
    made = [method for at, method in choices if at <= minute]
    return made[-1] if made else PaymentMethod.CASH


def choose(world: World, shopper: Shopper, method: PaymentMethod, at: datetime) -> None:
    with world.rewards() as uow:
        set_payment_preference(uow, shopper_id=shopper.id, method=method, now=at, actor_id=None)


def quote_and_deliver(world: World, shopper: Shopper, orders: tuple[Order, ...]) -> tuple[Cents, list[Cents]]:
    """Quotes an offer of `orders` made at OFFERED_AT through the hook, then delivers each through the credit
    hook; returns the quote and the amounts credited, in delivery order."""
    trip = Trip(
        shopper_id=shopper.id,
        store_id=world.store.id,
        destination=GeoPoint(52.35, 4.91),
        capacity_bags=6,
        checked_in_at=OFFERED_AT - timedelta(minutes=5),
        leave_by=OFFERED_AT + timedelta(minutes=20),
        max_detour_m=5_000,
        status=TripStatus.DEPARTED,
    )
    offer = Offer(
        trip_id=trip.id,
        stops=tuple(order.id for order in orders),
        extra_distance_m=3_001,
        extra_duration_s=601,
        reward_quote_cents=Cents(0),
        created_at=OFFERED_AT,
        expires_at=OFFERED_AT + timedelta(minutes=2),
        status=OfferStatus.ACCEPTED,
        resolved_at=OFFERED_AT + timedelta(minutes=1),
    )
    quote = offer_quote(world.rewards)(
        QuoteRequest(trip, shopper, orders, offer.extra_distance_m, offer.extra_duration_s, OFFERED_AT)
    )
    with world.dispatch() as uow:
        uow.trips.add(trip)
        uow.offers.add(offer)
        uow.commit()
    credit = delivery_credit(world.repos_within)
    for minutes, delivered_order in enumerate(orders):
        with world.dispatch() as uow:
            order = uow.orders.get(delivered_order.id, for_update=True)
            order.deliver()
            uow.orders.save(order, at=NOW)
            credit(
                uow, DeliveredOrder(order.id, trip.id, shopper.id, offer.id, quote, NOW + timedelta(minutes=minutes))
            )
            uow.commit()
    with world.rewards() as rewards:
        records = [rewards.repos.rewards.for_order(order.id) for order in orders]
    assert all(record is not None for record in records)
    return quote, [record.amount_cents for record in records if record is not None]


def balances(world: World, shopper: Shopper) -> tuple[int, int]:
    with world.rewards() as uow:
        accounts = uow.repos.ledger.shopper_accounts(shopper.id)
        uow.commit()
    return accounts[AccountKind.STORE_CREDIT].held_cents, accounts[AccountKind.CASH_PAYABLE].held_cents


def test_a_shopper_who_never_chose_is_paid_in_cash(world: World) -> None:
    """No stored choice: the preference reads cash with no choice time, at any instant."""
    shopper = world.add_shopper()
    with world.rewards() as uow:
        preference = payment_preference(uow, shopper_id=shopper.id)
        assert payment_method_at(uow.repos, shopper.id, NOW) is PaymentMethod.CASH
    assert (preference.method, preference.chosen_at) == (PaymentMethod.CASH, None)


def test_the_choice_round_trips_and_each_change_is_audited(world: World) -> None:
    """Store credit, then cash again: each read returns the newest choice; each change writes before/after."""
    shopper = world.add_shopper()
    choose(world, shopper, PaymentMethod.STORE_CREDIT, NOW - timedelta(hours=2))
    with world.rewards() as uow:
        preference = payment_preference(uow, shopper_id=shopper.id)
    assert (preference.method, preference.chosen_at) == (PaymentMethod.STORE_CREDIT, NOW - timedelta(hours=2))

    choose(world, shopper, PaymentMethod.CASH, NOW - timedelta(hours=1))
    with world.rewards() as uow:
        preference = payment_preference(uow, shopper_id=shopper.id)
        audit = uow.repos.audit.for_subject("shopper", shopper.id)
    assert (preference.method, preference.chosen_at) == (PaymentMethod.CASH, NOW - timedelta(hours=1))
    changes = [(entry.action, entry.details) for entry in audit]
    assert changes == [
        ("payment_method.changed", {"before": "cash", "after": "store_credit"}),
        ("payment_method.changed", {"before": "store_credit", "after": "cash"}),
    ]


def test_choosing_the_method_in_force_again_changes_nothing(world: World) -> None:
    """A retried PUT: no new choice time, no audit entry; choosing cash without ever changing keeps the default."""
    shopper = world.add_shopper()
    choose(world, shopper, PaymentMethod.CASH, NOW - timedelta(hours=3))
    choose(world, shopper, PaymentMethod.STORE_CREDIT, NOW - timedelta(hours=2))
    choose(world, shopper, PaymentMethod.STORE_CREDIT, NOW - timedelta(hours=1))
    with world.rewards() as uow:
        preference = payment_preference(uow, shopper_id=shopper.id)
        audit = uow.repos.audit.for_subject("shopper", shopper.id)
    assert preference.chosen_at == NOW - timedelta(hours=2)
    assert len(audit) == 1


def test_the_method_in_force_at_an_instant_is_the_newest_choice_at_or_before_it(world: World) -> None:
    """The history answers for any instant: before the first choice, cash; from each choice on, that choice."""
    shopper = world.add_shopper()
    choose(world, shopper, PaymentMethod.STORE_CREDIT, NOW - timedelta(hours=2))
    choose(world, shopper, PaymentMethod.CASH, NOW)
    with world.rewards() as uow:
        at = [
            payment_method_at(uow.repos, shopper.id, NOW + offset)
            for offset in (timedelta(hours=-3), timedelta(hours=-2), timedelta(minutes=-1), timedelta(0))
        ]
    assert at == [PaymentMethod.CASH, PaymentMethod.STORE_CREDIT, PaymentMethod.STORE_CREDIT, PaymentMethod.CASH]


def test_a_method_other_than_cash_or_store_credit_is_refused_naming_the_field(world: World) -> None:
    """Anything else raises InvalidInput("method") and stores nothing."""
    shopper = world.add_shopper()
    with world.rewards() as uow, pytest.raises(InvalidInput) as raised:
        set_payment_preference(uow, shopper_id=shopper.id, method="bitcoin", now=NOW)  # type: ignore[arg-type]
    assert raised.value.field == "method"
    with world.rewards() as uow:
        assert payment_preference(uow, shopper_id=shopper.id).chosen_at is None


@pytest.mark.parametrize("zone", [None, NoOffset()])
def test_a_choice_made_at_a_naive_instant_is_refused_naming_the_field(world: World, zone: tzinfo | None) -> None:
    """It would be compared with offers' instants in UTC: refused, and nothing stored."""
    shopper = world.add_shopper()
    with world.rewards() as uow, pytest.raises(InvalidInput) as raised:
        set_payment_preference(
            uow, shopper_id=shopper.id, method=PaymentMethod.STORE_CREDIT, now=NOW.replace(tzinfo=zone)
        )
    assert raised.value.field == "now"
    with world.rewards() as uow:
        assert payment_preference(uow, shopper_id=shopper.id).chosen_at is None


def test_an_unknown_shopper_has_no_preference_to_read_or_set(world: World) -> None:
    """NotFound both ways, rather than a stored choice for nobody."""
    with world.rewards() as uow, pytest.raises(NotFound):
        set_payment_preference(uow, shopper_id=uuid4(), method=PaymentMethod.STORE_CREDIT, now=NOW)
    with world.rewards() as uow, pytest.raises(NotFound):
        payment_preference(uow, shopper_id=uuid4())


@pytest.mark.usefixtures("policy")
def test_a_store_credit_shopper_is_quoted_and_credited_store_credit_with_the_bonus(world: World) -> None:
    """The quote shown equals the credits, all in store credit, each the cash value plus the policy's 20 %."""
    shopper = world.add_shopper()
    choose(world, shopper, PaymentMethod.STORE_CREDIT, OFFERED_AT - timedelta(hours=1))
    orders = (world.order(status=OrderStatus.PICKED_UP), world.order(status=OrderStatus.PICKED_UP))

    quote, credited = quote_and_deliver(world, shopper, orders)

    assert sum(credited) == quote
    bonus = PLAIN_PARAMETERS["store_credit_bonus_bps"]
    # Cash value 475 each (as in test_reward_hooks); with the 12 000 bps bonus, 570 each.
    assert credited == [round_half_up(Fraction(475 * bonus, BASIS_POINTS))] * 2 == [570, 570]
    assert balances(world, shopper) == (quote, 0)
    with world.rewards() as uow:
        records = [uow.repos.rewards.for_order(order.id) for order in orders]
    assert [record.inputs.method for record in records if record is not None] == [PaymentMethod.STORE_CREDIT] * 2


@pytest.mark.usefixtures("policy")
def test_a_shopper_who_never_chose_is_quoted_and_credited_cash(world: World) -> None:
    """The default: cash, no bonus, on the cash-payable account."""
    shopper = world.add_shopper()
    quote, credited = quote_and_deliver(world, shopper, (world.order(status=OrderStatus.PICKED_UP),))
    assert credited == [quote]
    assert balances(world, shopper) == (0, quote)
    assert quote == 300 + 150 + 100 + 50  # base, 3 001 m at 50/km, 601 s at 10/min, two bags: 600.22 → 600


@pytest.mark.usefixtures("policy")
def test_a_change_after_the_offer_applies_to_the_next_offers_not_to_this_one(world: World) -> None:
    """Store credit when offered, cash chosen before delivery: credited in store credit, as quoted."""
    shopper = world.add_shopper()
    choose(world, shopper, PaymentMethod.STORE_CREDIT, OFFERED_AT - timedelta(hours=1))
    # Cash chosen ten minutes after the offer was made (and before its delivery).
    choose(world, shopper, PaymentMethod.CASH, OFFERED_AT + timedelta(minutes=10))

    quote, credited = quote_and_deliver(world, shopper, (world.order(status=OrderStatus.PICKED_UP),))

    assert quote == 720  # 600 in cash, with the 20 % store-credit bonus
    assert credited == [quote]
    assert balances(world, shopper) == (quote, 0)
    with world.rewards() as uow:
        assert payment_preference(uow, shopper_id=shopper.id).method is PaymentMethod.CASH


def test_an_explicit_payment_choice_still_overrides_the_stored_one(world: World, policy: RewardPolicy) -> None:
    """`cash_for_everyone` passed to the quote hook prices in cash even for a store-credit shopper."""
    shopper = world.add_shopper()
    choose(world, shopper, PaymentMethod.STORE_CREDIT, OFFERED_AT - timedelta(hours=1))
    order = world.order(status=OrderStatus.PICKED_UP)
    trip = Trip(
        shopper_id=shopper.id,
        store_id=world.store.id,
        destination=GeoPoint(52.35, 4.91),
        capacity_bags=6,
        checked_in_at=OFFERED_AT - timedelta(minutes=5),
        leave_by=OFFERED_AT + timedelta(minutes=20),
        max_detour_m=5_000,
        status=TripStatus.DEPARTED,
    )
    request = QuoteRequest(trip, shopper, (order,), 3_001, 601, OFFERED_AT)
    assert offer_quote(world.rewards, cash_for_everyone)(request) == 600
    assert offer_quote(world.rewards)(request) == round_half_up(
        Fraction(600 * policy.parameters.store_credit_bonus_bps, BASIS_POINTS)
    )


@PROPERTY_SETTINGS
@given(choices=CHOICES, queries=st.lists(st.integers(-10, 130), min_size=1, max_size=5))
def test_the_method_in_force_follows_the_history_of_choices(
    fresh_world: Callable[[], World], choices: list[tuple[int, PaymentMethod]], queries: list[int]
) -> None:
    """For any history of choices, the method in force at any minute is the newest choice at or before it."""
    world = fresh_world()
    shopper = world.add_shopper()
    start = OFFERED_AT - timedelta(hours=1)
    for minute, method in choices:
        choose(world, shopper, method, start + timedelta(minutes=minute))
    with world.rewards() as uow:
        answers = [payment_method_at(uow.repos, shopper.id, start + timedelta(minutes=q)) for q in queries]
        newest = payment_preference(uow, shopper_id=shopper.id).method
    assert answers == [in_force(choices, q) for q in queries]
    assert newest == in_force(choices, 10_000)


@PROPERTY_SETTINGS
@given(choices=CHOICES)
def test_whatever_the_choices_the_quote_equals_the_credit_on_the_account_in_force_at_the_offer(
    fresh_world: Callable[[], World], choices: list[tuple[int, PaymentMethod]]
) -> None:
    """Choices before and after the offer (made at minute 60): quote = credit, on the account of the choice
    in force when the offer was made, with the bonus exactly when that is store credit."""
    world = fresh_world()
    shopper = world.add_shopper()
    start = OFFERED_AT - timedelta(hours=1)
    for minute, method in choices:
        choose(world, shopper, method, start + timedelta(minutes=minute))

    quote, credited = quote_and_deliver(world, shopper, (world.order(status=OrderStatus.PICKED_UP),))

    assert credited == [quote]
    if in_force(choices, 60) is PaymentMethod.STORE_CREDIT:
        assert (quote, balances(world, shopper)) == (720, (720, 0))
    else:
        assert (quote, balances(world, shopper)) == (600, (0, 600))
