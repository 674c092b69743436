"""Replays a recorded day under another reward policy or matcher setting, on the simulator's footing.

The day's orders come in through intake at the instants they were taken, its shoppers check in when they did
(and cancel when they did), the store is batched at the live cadence with the live use cases, and the offers
are priced by the replay's policy: everything runs on the in-memory adapters wired by
`composition.in_memory`, with a `ManualClock` moved from event to event, as a simulated day does.

Shoppers' answers: an offer the shopper answered in reality (accepted, declined or let expire) is answered the
same way, after as long as they took, when the replay offers the same trip the same set of orders (the n-th
time as the n-th time); one they had not answered when it was withdrawn is left unanswered. Any other
offer is answered by the simulator's acceptance model (`AcceptanceSpec`, logistic in reward, detour and stops;
its defaults unless given), with a seeded generator.

Where the record says when something happened the replay follows it: a trip that left the store before its
leave-by leaves when it did (once the answers it accepted then have come in), and an order the same trip
delivered is delivered when it was. An order that failed at the door on the same trip fails again through the
delivery use case: each attempt the record refused is made again when it was, from where it was, with a wrong
code when the recorded one did not match, so that the last one fails the order; one operations marked not
delivered is marked so when they did; and operations' moves after (back in the store, requeued, to the courier
fleet) follow when they were made. Otherwise a shopper who has accepted leaves the store at the trip's
leave-by, or by the time the accepted offer says to leave to make its windows (`breakdown.leave_before`) when
that comes first, as a simulated shopper does (the same holds for a trip that left early on record: whichever
comes first), and drives the stops at the simulator's travel speed. A shopper's next check-in waits, as it did
live, until their replayed trip has ended. What the replay cannot play as recorded (an order intake refuses
now, a check-in whose leave-by passed while the shopper's earlier trip went on, a cancellation of what has
already left, a failed delivery on a trip that did not carry the order in the replay or that the replay's
attempts did not fail) is kept in `ReplayResult.unreplayed` and printed, never dropped silently.

Here the day is set up and run; its state is in `replay_state`, its events in `replay_arrivals` (orders,
check-ins, cancellations), `replay_offers` (batches, answers) and `replay_deliveries` (departures, doorsteps,
failures), its printing in `replay_result` and the command's inputs in `replay_inputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from dispatch.model import OrderStatus, TripStatus
from rewards.policy_versions import PolicyStatus
from rewards.recorded_day import RecordedDay, day_figures
from rewards.records import EarnedElsewhere
from rewards.services import create_reward_policy, decide_reward_policy
from simulations import replay_arrivals, replay_deliveries, replay_offers
from simulations.books import SIMULATION_FINANCE, SIMULATION_OPS
from simulations.events import Kind
from simulations.replay_result import ReplayResult
from simulations.replay_state import ReplayOptions, ReplayState

AFTER_THE_DAY = timedelta(hours=24)
"""A safety net: the replay stops this long after the day's end whatever is left."""


def replay_day(day: RecordedDay, options: ReplayOptions) -> ReplayResult:
    state = ReplayState(day, options)
    _set_up(state)
    handlers: Mapping[Kind, Callable[[float, Any], None]] = {
        Kind.DELIVER: partial(replay_deliveries.attempt_delivery, state),
        Kind.LEAVE: partial(replay_deliveries.leave, state),
        Kind.RESPOND: partial(replay_offers.respond, state),
        Kind.CANCEL: partial(replay_arrivals.cancel, state),
        Kind.ORDER: partial(replay_arrivals.take_in, state),
        Kind.SHOPPER: partial(replay_arrivals.arrive, state),
        Kind.BATCH: partial(replay_offers.batch, state),
        Kind.OPERATIONS: partial(replay_deliveries.operations, state),
        Kind.EARNED_ELSEWHERE: partial(_earned_elsewhere, state),
        Kind.REVERSED_ELSEWHERE: partial(_reversed_elsewhere, state),
    }
    horizon_s = state.seconds(day.end + AFTER_THE_DAY)
    while state.queue:
        at_s, kind, payload = state.queue.pop()
        if at_s > horizon_s:
            break
        state.clock.set(max(state.clock.now(), state.at(at_s)))
        handlers[kind](at_s, payload)
        if state.waiting:
            replay_arrivals.check_in_the_waiting(state, at_s)
    return _result(state)


def _set_up(state: ReplayState) -> None:
    """The policy in force (proposed and approved by the simulation's staff), the store and its shoppers, and
    the day's recorded events on the queue."""
    day = state.day
    with state.memory.rewards() as rewards:
        proposed = create_reward_policy(
            rewards, parameters=state.options.policy, actor_id=SIMULATION_OPS, now=day.start
        )
    with state.memory.rewards() as rewards:
        decide_reward_policy(
            rewards, version=proposed.version, status=PolicyStatus.APPROVED, actor_id=SIMULATION_FINANCE,
            now=day.start,
        )  # fmt: skip
    with state.ctx.unit_of_work() as uow:
        uow.stores.add(day.store)
        for shopper in day.shoppers.values():
            uow.shoppers.add(shopper)
        uow.commit()
    for order in day.orders:
        state.queue.push(state.seconds(order.created_at), Kind.ORDER, order)
        if order.status is OrderStatus.CANCELLED:
            cancelled_at = max(day.changed_at[order.id], order.created_at)
            state.queue.push(state.seconds(cancelled_at), Kind.CANCEL, ("order", order.external_ref))
    for trip in day.trips:
        state.queue.push(state.seconds(trip.checked_in_at), Kind.SHOPPER, trip)
        if trip.status is TripStatus.CANCELLED:
            cancelled_at = max(day.changed_at[trip.id], trip.checked_in_at)
            state.queue.push(state.seconds(cancelled_at), Kind.CANCEL, ("trip", trip.id))
    for earned in day.earned_elsewhere:  # what the caps counted live, each from when it was earned
        state.queue.push(state.seconds(earned.earned_at), Kind.EARNED_ELSEWHERE, earned)
        if earned.reversed_at is not None:  # until it was reversed (a reversal after the day: all day long)
            state.queue.push(state.seconds(earned.reversed_at), Kind.REVERSED_ELSEWHERE, earned)
    firsts = [state.seconds(order.created_at) for order in day.orders]
    if firsts:
        state.queue.push(min(firsts), Kind.BATCH, None)
        state.batching = True


def _earned_elsewhere(state: ReplayState, _at_s: float, earned: EarnedElsewhere) -> None:
    state.memory.rewards_db.earned_elsewhere.append(earned)


def _reversed_elsewhere(state: ReplayState, _at_s: float, earned: EarnedElsewhere) -> None:
    state.memory.rewards_db.earned_elsewhere.remove(earned)


def _result(state: ReplayState) -> ReplayResult:
    """The replayed day's figures (an order intake refused still counts as an order), beside the recorded
    ones, with what could not be replayed: check-ins still waiting, failures never come to."""
    day = state.day
    with state.ctx.unit_of_work() as uow:
        statuses = [uow.orders.get(order_id).status for order_id in state.order_of_ref.values()]
    refused = len(day.orders) - len(state.order_of_ref)
    replayed = day_figures(
        statuses=statuses, rewards_cents=state.rewards_cents, fallback_fee_cents=day.store.fallback_cost_cents
    )
    replayed = dataclasses.replace(replayed, orders=replayed.orders + refused)
    for waiting in state.waiting.values():
        for recorded in waiting:
            state.note("check-in", recorded.checked_in_at, f"{state.shopper(recorded)}: still on the trip before")
    replay_deliveries.note_failures_not_met(state)
    late = sum(
        1
        for order in day.orders
        if (delivered := day.delivered.get(order.id)) is not None and delivered[1] > order.window_latest
    )
    return ReplayResult(
        day.figures(),
        replayed,
        state.offers,
        state.as_recorded,
        state.by_model,
        tuple(state.unreplayed),
        late_as_recorded=late,
        late_replayed=state.late,
    )
