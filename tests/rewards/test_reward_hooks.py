"""Dispatch's hooks backed by rewards: an offer's quote equals what its deliveries credit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from crowdship.units import Cents
from dispatch.batching import QuoteRequest
from dispatch.model import Offer, OfferStatus, OrderStatus, Shopper, Trip, TripStatus, TrustTier
from dispatch.services.context import DeliveredOrder
from rewards.hooks import delivery_credit, offer_quote
from rewards.policy import PaymentMethod
from rewards.pricing import bundle_inputs, split_evenly
from rewards.records import RewardRecord
from routing.geo import GeoPoint
from tests.rewards.conftest import NOW, PLAIN_PARAMETERS, World, publish_policy


def test_split_evenly_gives_the_rest_to_the_first_parts() -> None:
    """1 001 m over three stops is 334 + 334 + 333: whole metres, nothing lost."""
    assert split_evenly(1_001, 3) == [334, 334, 333]
    assert split_evenly(0, 2) == [0, 0]


def test_bundle_inputs_share_the_detour_and_keep_each_orders_bags() -> None:
    """Each stop gets its bags and a share of the offer's extra distance and time; the shares sum up."""
    stops = bundle_inputs(
        extra_distance_m=3_001,
        extra_duration_s=601,
        bags_per_stop=[1, 3],
        local_hour=17,
        trust_tier=TrustTier.SILVER,
        method=PaymentMethod.CASH,
    )
    assert [(s.extra_distance_m, s.extra_duration_s, s.bags) for s in stops] == [(1_501, 301, 1), (1_500, 300, 3)]


def _offer_then_deliver(world: World, shopper: Shopper, *, between: Callable[[], None] = lambda: None) -> Delivered:
    """A two-order offer to the shopper's trip, quoted as a batch quotes it (40 minutes ago), then `between`,
    then both orders delivered through the credit hook."""
    first = world.order(status=OrderStatus.PICKED_UP)
    second = world.order(status=OrderStatus.PICKED_UP)
    offered_at = NOW - timedelta(minutes=40)
    trip = Trip(
        shopper_id=shopper.id,
        store_id=world.store.id,
        destination=GeoPoint(52.35, 4.91),
        capacity_bags=6,
        checked_in_at=offered_at - timedelta(minutes=5),
        leave_by=offered_at + timedelta(minutes=20),
        max_detour_m=5_000,
        status=TripStatus.DEPARTED,
    )
    request = QuoteRequest(trip, shopper, (first, second), 3_001, 601, offered_at)
    quote = offer_quote(world.rewards)(request)
    offer = Offer(
        trip_id=trip.id,
        stops=(first.id, second.id),
        extra_distance_m=request.extra_distance_m,
        extra_duration_s=request.extra_duration_s,
        reward_quote_cents=quote,
        created_at=offered_at,
        expires_at=offered_at + timedelta(minutes=2),
        status=OfferStatus.ACCEPTED,
        resolved_at=offered_at + timedelta(minutes=1),
        trust_tier=shopper.trust_tier,
    )
    with world.dispatch() as uow:
        uow.trips.add(trip)
        uow.offers.add(offer)
        uow.commit()
    between()

    credit = delivery_credit(world.repos_within)
    for delivered_order, minutes in ((first, 0), (second, 5)):
        with world.dispatch() as uow:
            order = uow.orders.get(delivered_order.id, for_update=True)
            order.deliver()
            uow.orders.save(order, at=NOW)
            credit(
                uow,
                DeliveredOrder(order.id, trip.id, shopper.id, offer.id, quote, NOW + timedelta(minutes=minutes)),
            )
            uow.commit()
    with world.rewards() as rewards:
        credited = [rewards.repos.rewards.for_order(order.id) for order in (first, second)]
    return Delivered(quote, [record for record in credited if record is not None])


@dataclass(frozen=True)
class Delivered:
    quote: Cents
    credits: list[RewardRecord]


@pytest.mark.usefixtures("policy")
def test_an_offers_quote_equals_the_credits_of_its_deliveries(world: World) -> None:
    """Quote a two-order offer, deliver both orders through the credit hook: the credits sum to the quote."""
    delivered = _offer_then_deliver(world, world.add_shopper())
    assert len(delivered.credits) == 2
    amounts = [record.amount_cents for record in delivered.credits]
    assert sum(amounts) == delivered.quote
    # Two bags each: 300 + 75.05 (1 501 m) + 50.17 (301 s) + 50 → 475; 300 + 75 (1 500 m) + 50 (300 s) + 50 = 475.
    assert amounts == [475, 475]
    assert [record.inputs.extra_distance_m for record in delivered.credits] == [1_501, 1_500]


def test_a_tier_changed_between_the_offer_and_its_delivery_does_not_change_what_the_offer_promised(
    world: World,
) -> None:
    """The shopper accepted the quote of a new shopper; operations make them gold before they deliver (or a
    claim demotes them): the credits are still priced with the tier the offer was quoted with, and sum to it."""
    tiers = {"tier_multiplier_bps": [10_000, 11_000, 12_000, 13_000]}
    publish_policy(world.rewards(), {**PLAIN_PARAMETERS, **tiers}, now=NOW - timedelta(days=30))
    shopper = world.add_shopper(tier=TrustTier.NEW)

    def made_gold() -> None:
        with world.dispatch() as uow:
            uow.shoppers.lock(shopper.id)
            promoted = uow.shoppers.get(shopper.id)
            promoted.trust_tier = TrustTier.GOLD
            uow.shoppers.save(promoted)
            uow.commit()

    delivered = _offer_then_deliver(world, shopper, between=made_gold)
    assert sum(record.amount_cents for record in delivered.credits) == delivered.quote
    assert {record.inputs.trust_tier for record in delivered.credits} == {TrustTier.NEW}
