"""A store's day as it was recorded (its orders, check-ins, the answers to offers and what was credited), and
the figures a day comes to: what a replay under another policy is compared with.

Plain records: `rewards.adapters.postgres.recorded_day` reads them from PostgreSQL; the replay
(`simulations.replay`) plays them again on the in-memory adapters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from uuid import UUID

from crowdship.units import Cents
from dispatch.evidence import DeliveryProof
from dispatch.model import Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip
from rewards.records import EarnedElsewhere, PaymentMethodChoice


@dataclass(frozen=True)
class RecordedDay:
    store: Store
    start: datetime
    end: datetime
    orders: list[Order]
    """Taken in between `start` and `end`, oldest first, each in the status it has now."""
    trips: list[Trip]
    """Checked in between `start` and `end`, oldest first, each in the status it has now."""
    shoppers: Mapping[UUID, Shopper]
    """The shoppers of those trips."""
    offers: list[Offer]
    """Every offer made to those trips, oldest first, with how it was answered."""
    changed_at: Mapping[UUID, datetime]
    """When each order and trip last changed: a cancelled one's cancellation."""
    rewards_cents: Mapping[UUID, Cents]
    """What each delivered order's shopper was credited (the amount, in the way they are paid)."""
    payment_choices: tuple[PaymentMethodChoice, ...]
    """How those shoppers chose to be paid: each one's choice in force at the day's start and those made
    before its end, oldest first. A replay asks, as live does, which was in force when each offer was made
    (a shopper who chose store credit at noon was paid in cash in the morning)."""
    departed_at: Mapping[UUID, datetime] = field(default_factory=dict)
    """When each trip that left the store with orders left it (its bags were scanned)."""
    delivered: Mapping[UUID, tuple[UUID, datetime]] = field(default_factory=dict)
    """For each delivered order, the trip that delivered it and when."""
    refused: Mapping[UUID, tuple[DeliveryProof, ...]] = field(default_factory=dict)
    """For each order with a delivery attempt refused at its door (a wrong code, too far from the drop-off),
    those attempts, oldest first; each names its trip."""
    failures: Mapping[UUID, tuple[RecordedFailure, ...]] = field(default_factory=dict)
    """For each order that failed (its last attempt refused, or marked not delivered by operations), each
    failure, oldest first, with the trip that carried it and what operations did with it after."""
    earned_elsewhere: tuple[EarnedElsewhere, ...] = ()
    """What those shoppers earned that the day does not replay (at other stores, or here before the day), from
    a week before its start to its end, oldest first: the caps counted it live, so a replay counts it too."""

    @cached_property
    def _answers(self) -> dict[tuple[UUID, frozenset[UUID]], list[Offer]]:
        # A trip and a set of orders name its offers, oldest first (a pair may be offered again later).
        answers: dict[tuple[UUID, frozenset[UUID]], list[Offer]] = {}
        for offer in self.offers:
            if offer.status in ANSWERS:
                answers.setdefault((offer.trip_id, frozenset(offer.stops)), []).append(offer)
        return answers

    def answer(self, trip_id: UUID, stops: Iterable[UUID], nth: int = 0) -> Offer | None:
        """The `nth` (from 0) recorded offer to this trip of exactly these orders that the shopper answered
        (accepted, declined, left to expire) or left unanswered until it was withdrawn; None when the shopper
        never saw that offer or did not get to answer it."""
        answered = self._answers.get((trip_id, frozenset(stops)), [])
        return answered[nth] if nth < len(answered) else None

    def figures(self) -> DayFigures:
        return day_figures(
            statuses=[order.status for order in self.orders],
            rewards_cents=sum(self.rewards_cents.values()),
            fallback_fee_cents=self.store.fallback_cost_cents,
        )


@dataclass(frozen=True)
class RecordedFailure:
    """An order failed at `at` on the trip that carried it then (None when no acceptance says which), and
    what operations did with it after: took it back into the store (`returned`), then requeued it (`pending`),
    handed it to the courier fleet (`fallback`) or cancelled it, each with when."""

    trip_id: UUID | None
    at: datetime
    note: str | None
    """Why, as the order's history says it (`delivery failed`, or operations' reason for a not-delivered)."""
    then: tuple[tuple[OrderStatus, datetime], ...] = ()


def failures_of(
    offers: Iterable[Offer], events: Iterable[tuple[UUID, OrderStatus, datetime, str | None]]
) -> dict[UUID, tuple[RecordedFailure, ...]]:
    """Each order's failures from its history (`events`: order, status, when, note, oldest first): a failure
    belongs to the trip whose acceptance of the order came last before it (as a pickup does, `departures`),
    and the moves out of `failed` until the order is waiting again, with the fleet or cancelled follow it."""
    acceptances = _acceptances(offers)
    failed: dict[UUID, list[RecordedFailure]] = {}
    for order_id, status, at, note in events:
        listed = failed.setdefault(order_id, [])
        if status is OrderStatus.FAILED:
            before = [accepted for accepted in acceptances.get(order_id, []) if accepted[0] <= at]
            listed.append(RecordedFailure(max(before)[1] if before else None, at, note))
        elif listed and status in AFTER_A_FAILURE and _still_returning(listed[-1]):
            last = listed[-1]
            listed[-1] = RecordedFailure(last.trip_id, last.at, last.note, (*last.then, (status, at)))
    return {order_id: tuple(listed) for order_id, listed in failed.items() if listed}


AFTER_A_FAILURE = frozenset({OrderStatus.RETURNED, OrderStatus.PENDING, OrderStatus.FALLBACK, OrderStatus.CANCELLED})


def _still_returning(failure: RecordedFailure) -> bool:
    """Operations' moves after the failure are still to come: it is not back in the queue, with the fleet or
    cancelled yet."""
    return not failure.then or failure.then[-1][0] is OrderStatus.RETURNED


def _acceptances(offers: Iterable[Offer]) -> dict[UUID, list[tuple[datetime, UUID]]]:
    acceptances: dict[UUID, list[tuple[datetime, UUID]]] = {}
    for offer in offers:
        if offer.status is OfferStatus.ACCEPTED and offer.resolved_at is not None:
            for order_id in offer.stops:
                acceptances.setdefault(order_id, []).append((offer.resolved_at, offer.trip_id))
    return acceptances


def departures(offers: Iterable[Offer], pickups: Iterable[tuple[UUID, datetime]]) -> dict[UUID, datetime]:
    """When each trip left the store, from `pickups` (an order, when it was picked up): a pickup belongs to the
    trip whose acceptance of that order came last before it (an order given back is accepted again by another
    trip), and a trip left at its first pickup (its bags are scanned at once, as it leaves)."""
    acceptances = _acceptances(offers)
    left: dict[UUID, datetime] = {}
    for order_id, at in pickups:
        before = [accepted for accepted in acceptances.get(order_id, []) if accepted[0] <= at]
        if before:
            trip_id = max(before)[1]
            left[trip_id] = min(left.get(trip_id, at), at)
    return left


ANSWERS = frozenset({OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.WITHDRAWN})
"""How a shopper's offer ended, all of which a replay follows (a withdrawn one: not answered before then)."""


@dataclass(frozen=True)
class DayFigures:
    orders: int
    delivered: int
    fallback: int
    cancelled: int
    payouts_cents: int
    """Rewards credited for the day's deliveries."""
    fallback_cents: int
    """The courier fleet's fees for the orders it took."""

    @property
    def cost_cents(self) -> int:
        return self.payouts_cents + self.fallback_cents

    @property
    def shopper_share(self) -> float:
        """Of the orders not cancelled, the share shoppers delivered."""
        served = self.orders - self.cancelled
        return self.delivered / served if served else 0.0


def day_figures(*, statuses: Iterable[OrderStatus], rewards_cents: int, fallback_fee_cents: int) -> DayFigures:
    listed = list(statuses)
    fallback = sum(1 for status in listed if status is OrderStatus.FALLBACK)
    return DayFigures(
        orders=len(listed),
        delivered=sum(1 for status in listed if status is OrderStatus.DELIVERED),
        fallback=fallback,
        cancelled=sum(1 for status in listed if status is OrderStatus.CANCELLED),
        payouts_cents=rewards_cents,
        fallback_cents=fallback * fallback_fee_cents,
    )
