"""The day's arrivals in a replay: orders taken in through intake when they were, shoppers checked in when
they were (or once their replayed trip before has ended, as it was live), and the cancellations of either."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crowdship.errors import DomainError
from dispatch.errors import AlreadyOnTrip
from dispatch.model import Order, Trip
from dispatch.services.intake import OrderIntake, ingest_order
from dispatch.services.orders import cancel_order
from dispatch.services.trips import cancel_trip, check_in
from simulations.events import Kind
from simulations.replay_state import ReplayState


def take_in(state: ReplayState, _at_s: float, order: Order) -> None:
    state.orders_to_come -= 1
    intake = OrderIntake(
        store_id=order.store_id,
        external_ref=order.external_ref,
        dropoff=order.dropoff,
        dropoff_address=order.dropoff_address,
        recipient_name=order.recipient_name,
        window_earliest=order.window_earliest,
        window_latest=order.window_latest,
        dispatch_deadline=order.dispatch_deadline,
        size_bags=order.size_bags,
        value_cents=order.value_cents,
        age_restricted=order.age_restricted,
        perishable=order.perishable,
    )
    try:
        result = ingest_order(state.ctx, scope="replay", idempotency_key=order.external_ref[:160], intake=intake)
    except DomainError as error:  # taken then (it is on record), refused now
        state.note("order", order.created_at, f"{order.external_ref}: {error}")
        return
    replayed = UUID(str(result.receipt["order_id"]))
    state.order_of_ref[order.external_ref] = replayed
    state.recorded_order[replayed] = order.id
    state.codes[replayed] = str(result.delivery_code)


def arrive(state: ReplayState, _at_s: float, recorded: Trip) -> None:
    """A recorded check-in: now, or after the ones of the same shopper that wait already."""
    if recorded.shopper_id in state.waiting:  # behind a check-in that waits already
        state.waiting[recorded.shopper_id].append(recorded)
        return
    try_check_in(state, recorded)


def check_in_the_waiting(state: ReplayState, _at_s: float) -> None:
    """Each waiting shopper whose replayed trip has ended checks in now, when their leave-by allows."""
    with state.ctx.unit_of_work() as uow:
        free = [shopper for shopper in state.waiting if uow.trips.active_for_shopper(shopper) is None]
    for shopper in free:
        waiting = state.waiting.pop(shopper)
        while waiting:
            recorded = waiting.pop(0)
            if state.clock.now() >= recorded.leave_by:
                state.note(
                    "check-in",
                    recorded.checked_in_at,
                    f"{state.shopper(recorded)}: the trip before went on past this one's leave-by",
                )
                continue
            if not try_check_in(state, recorded):  # still on a trip: it waits again, first
                state.waiting[shopper].extend(waiting)
            elif waiting:  # on the trip just checked in: the rest go on waiting
                state.waiting[shopper] = waiting
            break


def try_check_in(state: ReplayState, recorded: Trip) -> bool:
    """Checks the shopper in as recorded; False when they are still on a replayed trip (the check-in waits)."""
    try:
        trip = check_in(
            state.ctx,
            shopper_id=recorded.shopper_id,
            store_id=recorded.store_id,
            destination=recorded.destination,
            capacity_bags=recorded.capacity_bags,
            max_detour_m=recorded.max_detour_m,
            max_detour_s=recorded.max_detour_s,
            leave_by=recorded.leave_by,
        )
    except AlreadyOnTrip:
        state.waiting.setdefault(recorded.shopper_id, []).insert(0, recorded)
        return False
    except DomainError as error:
        state.note("check-in", recorded.checked_in_at, f"{state.shopper(recorded)}: {error}")
        return True
    state.trips[trip.id] = trip
    state.recorded_trip[trip.id] = recorded.id
    state.replayed_trip_of[recorded.id] = trip.id
    state.queue.push(state.seconds(trip.leave_by), Kind.LEAVE, (trip.id, False))
    departed = state.day.departed_at.get(recorded.id)
    if departed is not None and departed < trip.leave_by:  # it left early, when its bags were scanned
        state.queue.push(max(state.seconds(departed), state.seconds(state.clock.now())), Kind.LEAVE, (trip.id, True))
    return True


def cancel(state: ReplayState, _at_s: float, payload: tuple[str, Any]) -> None:
    kind, key = payload
    for shopper, waiting in list(state.waiting.items()):  # cancelled before it could be checked in
        for recorded in [trip for trip in waiting if kind == "trip" and trip.id == key]:
            waiting.remove(recorded)
            reason = f"{state.shopper(recorded)}: cancelled while the trip before went on"
            state.note("check-in", recorded.checked_in_at, reason)
        if not waiting:
            del state.waiting[shopper]
    try:
        if kind == "order" and key in state.order_of_ref:
            cancel_order(state.ctx, order_id=state.order_of_ref[key])
        elif kind == "trip" and key in state.replayed_trip_of:
            trip = state.trips[state.replayed_trip_of[key]]
            cancel_trip(state.ctx, shopper_id=trip.shopper_id, trip_id=trip.id)
    except DomainError as error:  # already beyond cancelling in the replay (picked up, departed, delivered)
        name = f"order {key}" if kind == "order" else f"trip {str(key)[:8]}"
        state.note("cancellation", state.clock.now(), f"{name}: {error}")
