"""What operations do to an order: cancel it, put a returned one back in the queue, or hand it to the courier
fleet. Each move is one the order's lifecycle allows (else 409); an offer it was in is dealt with in the same
transaction, and the shopper concerned is told (best effort). A move made already (a second click, a retry
after a lost answer, two operators at once) changes nothing and answers with the order as it stands."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from dispatch.errors import IllegalTransition
from dispatch.model import OfferStatus, Order, OrderStatus, Trip
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.context import DispatchContext
from dispatch.services.moves import last_move, save_move

REQUEUED_NOTE = "requeued by operations"
"""How the order's history says operations put it back in the queue."""


def cancel_order(ctx: DispatchContext, *, order_id: UUID, actor_id: UUID | None = None) -> Order:
    """The customer or the store cancels an order that has not left the store. If it was on offer, that offer
    is withdrawn and its other orders go back to the queue; if a shopper had accepted it, they no longer carry
    it (the rest of their offer stands) and are told."""
    now = ctx.clock.now()
    while True:
        with ctx.unit_of_work() as uow:
            trip_id = _trip_holding(uow, order_id)
            trip = uow.trips.get(trip_id, for_update=True) if trip_id is not None else None
            order = uow.orders.get(order_id, for_update=True)
            # Locked, the order can go into no other offer; one that took it between the read and the lock
            # (a batch, an accept) would be left holding a cancelled order: read again from the start.
            if _trip_holding(uow, order_id) == trip_id:
                if order.status is OrderStatus.CANCELLED:
                    return order  # cancelled already (only this move leads there): nothing more is done or told
                told = _cancel(uow, order, trip, now, actor_id)
                uow.commit()
                break
    if told is not None and ctx.live is not None:
        ctx.live.publish_offer(told, {"event": "order_cancelled", "order_id": str(order.id)})
    return order


def _cancel(uow: LiveUnitOfWork, order: Order, trip: Trip | None, now: datetime, actor_id: UUID | None) -> UUID | None:
    """Cancels the locked order, withdrawing the open offer of `trip` it is in; returns the shopper to tell (one
    who had accepted it), if any."""
    told: UUID | None = None
    if order.status is OrderStatus.OFFERED and trip is not None:
        for listed in uow.offers.list_for_trip(trip.id, [OfferStatus.OPEN]):
            if order.id in listed.stops:
                offer = uow.offers.get(listed.id, for_update=True)
                offer.withdraw(now)
                uow.offers.save(offer)
                for other_id in sorted(set(offer.stops) - {order.id}):
                    other = uow.orders.get(other_id, for_update=True)
                    if other.status is OrderStatus.OFFERED:
                        other.release(offer)
                        save_move(uow, other, now, f"offer withdrawn: order {order.external_ref} cancelled")
    if order.status is OrderStatus.ACCEPTED and trip is not None:
        told = trip.shopper_id
    order.cancel()
    save_move(uow, order, now, "cancelled by operations", actor_id)
    return told


def requeue_order(ctx: DispatchContext, *, order_id: UUID, actor_id: UUID | None = None) -> Order:
    """A returned order goes back to the queue for the next batches. Requeued again while it still waits where
    the requeue left it (pending, nothing moved it since) answers with it as it is; an order pending for
    another reason (taken in, an offer withdrawn) was never requeued: 409 as ever."""
    with ctx.unit_of_work() as uow:
        order = uow.orders.get(order_id, for_update=True)
        if order.status is OrderStatus.PENDING and last_move(uow, order.id, REQUEUED_NOTE):
            return order
        if order.status is not OrderStatus.RETURNED:
            raise IllegalTransition("order", order.id, order.status, "requeued (only a returned order is)")
        order.release()
        save_move(uow, order, ctx.clock.now(), REQUEUED_NOTE, actor_id)
        uow.commit()
        return order


def hand_to_fallback(ctx: DispatchContext, *, order_id: UUID, actor_id: UUID | None = None) -> Order:
    """The courier fleet takes the order (a returned one, or one still waiting). One the fleet has already
    (handed over by operations or, past its dispatch deadline, by a batch: the same move) answers as it is."""
    with ctx.unit_of_work() as uow:
        order = uow.orders.get(order_id, for_update=True)
        if order.status is OrderStatus.FALLBACK:
            return order
        order.hand_to_fallback()
        save_move(uow, order, ctx.clock.now(), "handed to the courier fleet by operations", actor_id)
        uow.commit()
        return order


def _trip_holding(uow: LiveUnitOfWork, order_id: UUID) -> UUID | None:
    """The trip whose open or accepted offer holds the order (read first, to lock trip before order)."""
    accepted = uow.orders.carrying_trips([order_id]).get(order_id)
    if accepted is not None:
        return accepted
    return uow.offers.open_trip_of_order(order_id)
