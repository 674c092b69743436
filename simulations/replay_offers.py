"""A replay's batches and the shoppers' answers: the store batched at the live cadence (acceptance-aware when
asked, refitted hourly), each offer answered as the shopper answered it on record, or else by the acceptance
model with the replay's seeded generator."""

from __future__ import annotations

import math

from composition import acceptance_aware
from crowdship.errors import DomainError
from dispatch.model import Offer, OfferStatus, OrderStatus
from dispatch.offer_explanation import latest_departure
from dispatch.services.acceptance import REFIT_EVERY
from dispatch.services.batch import run_batch
from dispatch.services.offers import accept_offer, decline_offer
from simulations.day_records import SETTLED
from simulations.events import Kind
from simulations.replay_deliveries import leave
from simulations.replay_state import ReplayState


def batch(state: ReplayState, at_s: float, _payload: None) -> None:
    if state.options.acceptance_aware and (state.next_refit is None or state.clock.now() >= state.next_refit):
        state.ctx = acceptance_aware(state.ctx)
        state.next_refit = state.clock.now() + REFIT_EVERY
    report = run_batch(state.ctx, store_id=state.day.store.id, solver=state.options.solver)
    for offer in sorted(report.offers, key=lambda o: (state.trips[o.trip_id].checked_in_at, o.trip_id)):
        answer(state, at_s, offer)
    state.batching = state.orders_to_come > 0 or unfinished(state)
    if state.batching:
        state.queue.push(at_s + state.options.cadence_s, Kind.BATCH, None)


def unfinished(state: ReplayState) -> bool:
    """Something is left to dispatch or on its way (a failed order waits for operations, who requeue it
    when the record says: the batches start again then)."""
    index = state.memory.dispatch.orders_by_store.get(state.day.store.id, {})
    done = SETTLED | {OrderStatus.FAILED}
    return any(index.get(status) for status in OrderStatus if status not in done)


def answer(state: ReplayState, at_s: float, offer: Offer) -> None:
    state.offers += 1
    key = (state.recorded_trip[offer.trip_id], frozenset(state.recorded_order[order_id] for order_id in offer.stops))
    nth = state.made.get(key, 0)
    state.made[key] = nth + 1
    recorded = state.day.answer(*key, nth=nth)
    if recorded is not None:
        state.as_recorded += 1
        if recorded.resolved_at is None or recorded.status in (OfferStatus.EXPIRED, OfferStatus.WITHDRAWN):
            return  # the shopper let it expire, or had not answered when it was withdrawn
        delay = max(0.0, (recorded.resolved_at - recorded.created_at).total_seconds())
        respond_later(state, at_s + delay, offer, recorded.status is OfferStatus.ACCEPTED)
        return
    state.by_model += 1
    spec = state.options.acceptance
    score = (
        spec.intercept
        + spec.per_reward_dollar * offer.reward_quote_cents / 100.0
        + spec.per_detour_km * offer.extra_distance_m / 1000.0
        + spec.per_stop * (len(offer.stops) - 1)
    )
    accepts = bool(state.decisions.random() < 1.0 / (1.0 + math.exp(-score)))
    low, high = state.options.response_seconds
    delay = float(state.decisions.uniform(low, high))
    if at_s + delay < state.seconds(offer.expires_at):
        respond_later(state, at_s + delay, offer, accepts)


def respond_later(state: ReplayState, at_s: float, offer: Offer, accepts: bool) -> None:
    if accepts:
        state.accepting[offer.trip_id] = state.accepting.get(offer.trip_id, 0) + 1
    state.queue.push(at_s, Kind.RESPOND, (offer, accepts))


def respond(state: ReplayState, at_s: float, payload: tuple[Offer, bool]) -> None:
    offer, accepts = payload
    trip = state.trips[offer.trip_id]
    if accepts:
        state.accepting[trip.id] -= 1
    try:
        if accepts and state.clock.now() < trip.leave_by:
            accept_offer(state.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
            latest = latest_departure(offer)
            if latest is not None:  # told to leave by then to make its windows: they do, as a simulated shopper
                state.queue.push(max(at_s, state.seconds(latest)), Kind.LEAVE, (trip.id, False))
        else:
            decline_offer(state.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
    except DomainError:
        pass  # expired or withdrawn before the answer came
    if trip.id in state.due_to_leave and not state.accepting.get(trip.id):
        leave(state, at_s, (trip.id, False))
