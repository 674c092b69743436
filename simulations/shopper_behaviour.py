"""What the simulated shoppers do once an offer reaches them: weigh it and answer after a while, scan the bags at
checkout, drive the stops and hand each order over with its code. The world's choices, drawn from the day's
decision stream; every step goes through the live use cases."""

from __future__ import annotations

import math
from datetime import datetime
from uuid import UUID

import numpy as np

from crowdship.clock import ManualClock
from crowdship.errors import DomainError
from dispatch.model import Offer, OfferStatus, OrderStatus
from dispatch.offer_explanation import latest_departure
from dispatch.services.batch import BatchReport
from dispatch.services.context import DispatchContext
from dispatch.services.delivery import confirm_pickup, deliver
from dispatch.services.offers import accept_offer, decline_offer
from routing.travel import StraightLineTravel
from simulations.city import City
from simulations.day_records import OfferRecord, OrderRecord, TripRecord
from simulations.events import EventQueue, Kind
from simulations.scenario import Scenario
from simulations.world import bounds


class ShopperBehaviour:
    """The shoppers' half of `DaySimulation`, which owns the state named here."""

    scenario: Scenario
    ctx: DispatchContext
    clock: ManualClock
    start: datetime
    city: City
    travel: StraightLineTravel
    decisions: np.random.Generator
    queue: EventQueue
    trip_of_id: dict[UUID, TripRecord]
    order_of_id: dict[UUID, OrderRecord]
    offers: dict[UUID, OfferRecord]
    delivery_codes: dict[UUID, str]

    def _answer_offers(self, at_s: float, report: BatchReport) -> None:
        """Each shopper weighs the offer (logistic in reward, detour, stops) and answers after a while."""
        spec = self.scenario.acceptance
        low, high = bounds(self.scenario.shoppers.response_seconds)
        for offer in sorted(report.offers, key=lambda o: self.trip_of_id[o.trip_id].index):
            trip = self.trip_of_id[offer.trip_id]
            score = (
                spec.intercept
                + spec.per_reward_dollar * offer.reward_quote_cents / 100.0
                + spec.per_detour_km * offer.extra_distance_m / 1000.0
                + spec.per_stop * (len(offer.stops) - 1)
            )
            probability = 1.0 / (1.0 + math.exp(-score))
            accepts = bool(self.decisions.random() < probability)
            delay = float(self.decisions.uniform(low, high))
            self.offers[offer.id] = OfferRecord(
                offer.id, trip.index, len(offer.stops), offer.extra_distance_m, offer.reward_quote_cents, probability
            )
            if at_s + delay < (offer.expires_at - self.start).total_seconds():
                self.queue.push(at_s + delay, Kind.RESPOND, (offer, accepts))

    def _respond(self, _at_s: float, payload: tuple[Offer, bool]) -> None:
        offer, accepts = payload
        trip = self.trip_of_id[offer.trip_id]
        record = self.offers[offer.id]
        if self.clock.now() >= trip.leave_by:
            accepts = False  # the shopper has left the store
        try:
            if accepts:
                accept_offer(self.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
                record.outcome = OfferStatus.ACCEPTED.value
                self._leave_in_time(offer)
            else:
                decline_offer(self.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
                record.outcome = OfferStatus.DECLINED.value
        except DomainError:
            # Withdrawn or expired before the answer came (the trip ran out, or a batch tidied up).
            with self.ctx.unit_of_work() as uow:
                record.outcome = uow.offers.get(offer.id).status.value

    def _leave_in_time(self, offer: Offer) -> None:
        """A shopper told to leave sooner than their leave-by to make a window (`breakdown.leave_before`) does:
        their checkout comes then (the one planned at the leave-by then finds nothing left to carry)."""
        latest = latest_departure(offer)
        if latest is not None:
            self.queue.push((latest - self.start).total_seconds(), Kind.LEAVE, offer.trip_id)

    def _leave(self, at_s: float, trip_id: UUID) -> None:
        """Checkout: with accepted orders, the shopper scans the bags and drives the stops in offer order."""
        trip = self.trip_of_id[trip_id]
        with self.ctx.unit_of_work() as uow:
            carried = uow.orders.on_trips([trip_id], [OrderStatus.ACCEPTED])[trip_id]
            codes = uow.secrets.for_orders([order.id for order in carried])
        if not carried:
            return  # leaves without orders; the next batch expires the trip
        confirm_pickup(
            self.ctx,
            shopper_id=trip.shopper_id,
            trip_id=trip_id,
            bag_codes=[codes[order.id].bag_code for order in carried],
        )
        store = self.city.stores[trip.store_index]
        trip.departed_at = self.clock.now()
        trip.route = [store.location]
        here, clock_s = store.location, at_s
        for order in carried:
            clock_s += self.travel.duration_s(here, order.dropoff)
            clock_s = max(clock_s, (order.window_earliest - self.start).total_seconds())
            self.queue.push(clock_s, Kind.DELIVER, (trip_id, order.id))
            trip.route.append(order.dropoff)
            here = order.dropoff
        trip.route.append(trip.destination)

    def _deliver(self, _at_s: float, payload: tuple[UUID, UUID]) -> None:
        trip_id, order_id = payload
        trip = self.trip_of_id[trip_id]
        record = self.order_of_id[order_id]
        code = self.delivery_codes.pop(order_id)
        deliver(self.ctx, shopper_id=trip.shopper_id, order_id=order_id, position=record.dropoff, code=code)
        record.delivered_at = self.clock.now()
        record.trip_id = trip_id
        trip.delivered += 1
