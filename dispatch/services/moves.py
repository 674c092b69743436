"""Every status change of an order is saved with a line in its history (`OrderEvent`), in the same
transaction: the history is what operations read to see what happened to an order and when."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from dispatch.history import OrderEvent
from dispatch.model import Order
from dispatch.repositories import LiveUnitOfWork


def save_move(
    uow: LiveUnitOfWork, order: Order, at: datetime, note: str | None = None, actor_id: UUID | None = None
) -> None:
    """Saves the order's new status and records it: when, why (`note`) and who (`actor_id`, a person)."""
    uow.orders.save(order, at=at)
    uow.history.add(OrderEvent(order.id, at, order.status, note, actor_id))


def last_move(uow: LiveUnitOfWork, order_id: UUID, note_prefix: str) -> bool:
    """Whether the order's latest move in its history is the one whose note starts with `note_prefix` (to tell
    a move made already from another that reached the same status)."""
    events = uow.history.for_order(order_id)
    return bool(events) and (events[-1].note or "").startswith(note_prefix)
