"""A replay's departures and doorsteps: a trip leaves the store when it did on record (or at its leave-by),
each order it carries is delivered when the same trip delivered it, fails again as it failed (the refused
attempts made again, or marked not delivered as operations did, and operations' moves after), or otherwise
is driven to at the simulator's travel speed. Failures the replay never came to are noted."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crowdship.errors import DomainError
from dispatch.errors import DeliveryRefused
from dispatch.evidence import DeliveryProof
from dispatch.model import OrderStatus, Trip, TripStatus
from dispatch.services.delivery import NOT_DELIVERED_NOTE, confirm_pickup, deliver, mark_not_delivered, mark_returned
from dispatch.services.orders import hand_to_fallback, requeue_order
from rewards.recorded_day import RecordedFailure
from routing.geo import GeoPoint
from simulations.events import Kind
from simulations.replay_state import ReplayState


@dataclass(frozen=True)
class Attempt:
    """A delivery attempt to make: with the recipient's code at `position`, or as the `refused` one was."""

    trip: Trip
    order_id: UUID
    position: GeoPoint
    refused: DeliveryProof | None = None


def leave(state: ReplayState, at_s: float, payload: tuple[UUID, bool]) -> None:
    """The shopper leaves the store: at the recorded departure (`as_recorded`) once the answers accepting
    offers then are in, or at the trip's leave-by. One with nothing to carry at the recorded departure (or
    checked in only after it, behind a longer trip before) leaves as soon as they have accepted something,
    and at the latest at the leave-by."""
    trip_id, as_recorded = payload
    trip = state.trips[trip_id]
    if as_recorded:
        state.due_to_leave.add(trip_id)
        if state.accepting.get(trip_id):
            return  # once the answers on their way are in
    with state.ctx.unit_of_work() as uow:
        if uow.trips.get(trip_id).status is not TripStatus.OPEN:
            return
        carried = uow.orders.on_trips([trip_id], [OrderStatus.ACCEPTED])[trip_id]
        codes = uow.secrets.for_orders([order.id for order in carried])
    if not carried:
        return  # leaves without orders; the next batch expires the trip
    confirm_pickup(
        state.ctx, shopper_id=trip.shopper_id, trip_id=trip_id, bag_codes=[codes[o.id].bag_code for o in carried]
    )
    state.due_to_leave.discard(trip_id)
    recorded_trip = state.recorded_trip[trip_id]
    here, clock_s = state.day.store.location, at_s
    for order in carried:
        recorded_order = state.recorded_order[order.id]
        delivered = state.day.delivered.get(recorded_order)
        refused = [proof for proof in state.day.refused.get(recorded_order, ()) if proof.trip_id == recorded_trip]
        failure = next(
            (
                failure
                for failure in state.day.failures.get(recorded_order, ())
                if failure.trip_id == recorded_trip and (recorded_order, failure.at) not in state.failures_met
            ),
            None,
        )
        for proof in refused:  # the attempts refused at this door, again when and where they were made
            clock_s = max(clock_s, state.seconds(proof.recorded_at))
            state.queue.push(clock_s, Kind.DELIVER, Attempt(trip, order.id, proof.position, proof))
        if delivered is not None and delivered[0] == recorded_trip:  # the same trip delivered it: then
            clock_s = max(clock_s, state.seconds(delivered[1]))
            state.queue.push(clock_s, Kind.DELIVER, Attempt(trip, order.id, order.dropoff))
        elif failure is not None:  # it failed on this trip: when it did (the last refused attempt, or operations)
            clock_s = max(clock_s, state.seconds(failure.at))
            state.queue.push(clock_s, Kind.OPERATIONS, (trip, order.id, failure, None))
        else:
            if not refused:
                clock_s += state.options.travel.duration_s(here, order.dropoff)
            clock_s = max(clock_s, state.seconds(order.window_earliest))
            state.queue.push(clock_s, Kind.DELIVER, Attempt(trip, order.id, order.dropoff))
        here = order.dropoff


def attempt_delivery(state: ReplayState, _at_s: float, attempt: Attempt) -> None:
    """A delivery attempt through the live use case: with the recipient's code, or as a recorded attempt
    was made (a wrong code when the recorded one did not match); the refusal of one the record refused is
    as it happened."""
    code = state.codes[attempt.order_id]
    if attempt.refused is not None and not attempt.refused.code_matched:
        code = wrong_code(code)
    try:
        deliver(
            state.ctx, shopper_id=attempt.trip.shopper_id, order_id=attempt.order_id, position=attempt.position,
            code=code,
        )  # fmt: skip
    except DeliveryRefused:
        if attempt.refused is None:
            raise
    except DomainError as error:  # the order failed already in the replay (fewer attempts allowed now)
        what = "a refused attempt" if attempt.refused is not None else "the delivery"
        state.note("failed delivery", state.clock.now(), f"{state.order_ref(attempt.order_id)}: {what}: {error}")
    else:
        if state.clock.now() > state.replayed_order(attempt.order_id).window_latest:
            state.late += 1


def operations(state: ReplayState, at_s: float, payload: tuple[Trip, UUID, RecordedFailure, int | None]) -> None:
    """A failure as recorded (`step` None) or operations' `step`-th move after it: back in the store,
    requeued, to the courier fleet (a cancellation is replayed as every cancellation is)."""
    trip, order_id, failure, step = payload
    ref = state.order_ref(order_id)
    if step is None:
        fail(state, at_s, trip, order_id, failure)
        return
    status, at = failure.then[step]
    try:
        if status is OrderStatus.RETURNED:
            mark_returned(state.ctx, order_id=order_id)
        elif status is OrderStatus.PENDING:
            requeue_order(state.ctx, order_id=order_id)
            if not state.batching:  # the batches had stopped: the requeued order is dispatched again
                state.batching = True
                state.queue.push(at_s, Kind.BATCH, None)
        elif status is OrderStatus.FALLBACK:
            hand_to_fallback(state.ctx, order_id=order_id)
    except DomainError as error:
        state.note("failed delivery", at, f"{ref}: {status.value} as recorded after it failed: {error}")


def fail(state: ReplayState, at_s: float, trip: Trip, order_id: UUID, failure: RecordedFailure) -> None:
    """The order failed on this trip on record: its refused attempts failed it in the replay too, or
    operations mark it not delivered as they did; operations' moves after follow when they were made. One
    the replay's attempts left undelivered otherwise is noted and delivered (as the replay models it)."""
    state.failures_met.add((state.recorded_order[order_id], failure.at))
    with state.ctx.unit_of_work() as uow:
        status = uow.orders.get(order_id).status
    note = failure.note or ""
    if status is OrderStatus.PICKED_UP and note.startswith(NOT_DELIVERED_NOTE):
        why = note.removeprefix(NOT_DELIVERED_NOTE) or "as recorded"
        mark_not_delivered(state.ctx, order_id=order_id, reason=why)
        status = OrderStatus.FAILED
    if status is not OrderStatus.FAILED:
        reason = f"{state.order_ref(order_id)}: failed at the door on record, {status.value} in the replay"
        state.note("failed delivery", failure.at, reason)
        if status is OrderStatus.PICKED_UP:  # the replay's attempts did not fail it: delivered as modelled
            order = state.replayed_order(order_id)
            state.queue.push(at_s, Kind.DELIVER, Attempt(trip, order_id, order.dropoff))
        return
    for step, (move, at) in enumerate(failure.then):
        if move is not OrderStatus.CANCELLED:
            state.queue.push(max(at_s, state.seconds(at)), Kind.OPERATIONS, (trip, order_id, failure, step))


def note_failures_not_met(state: ReplayState) -> None:
    """Recorded failures the replay never came to: the order was not on the trip it failed on."""
    replayed = {recorded: replayed for replayed, recorded in state.recorded_order.items()}
    refs = {order.id: order.external_ref for order in state.day.orders}
    for recorded_order, failures in state.day.failures.items():
        if recorded_order not in replayed:
            continue  # intake refused it: noted as an order
        for failure in failures:
            if (recorded_order, failure.at) not in state.failures_met:
                ref = refs.get(recorded_order, str(recorded_order))
                state.note("failed delivery", failure.at, f"{ref}: not on the trip it failed on in the replay")


def wrong_code(code: str) -> str:
    """A code that is not `code` (each digit moved on by one), of the same length."""
    return "".join(str((int(char) + 1) % 10) if char.isdigit() else "0" for char in code) or "0"
