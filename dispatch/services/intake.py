"""Order intake from the e-commerce side: idempotent, refused outside the store's service area."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.errors import DomainError, InvalidInput, NotFound
from crowdship.units import Cents
from dispatch.errors import IdempotencyKeyReused
from dispatch.model import Order, Store
from dispatch.repositories import OrderSecret
from dispatch.rules import delivery_code, hash_delivery_code
from dispatch.services.context import DispatchContext
from routing import areas
from routing.geo import GeoPoint

BAG_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: the code is read off a label."""


@dataclass(frozen=True)
class OrderIntake:
    store_id: UUID
    external_ref: str
    dropoff: GeoPoint
    dropoff_address: str
    recipient_name: str
    window_earliest: datetime
    window_latest: datetime
    dispatch_deadline: datetime | None
    """None: the end of the window."""
    size_bags: int
    value_cents: Cents
    age_restricted: bool = False
    perishable: bool = False

    def fingerprint(self) -> str:
        """Same request, same fingerprint: what tells a retry from a different request under one key."""
        canonical = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class IntakeResult:
    receipt: Mapping[str, Any]
    """The stored first response (JSON), without the delivery code."""
    delivery_code: str
    replayed: bool
    status_code: int


def new_bag_code() -> str:
    return "BAG-" + "".join(secrets.choice(BAG_CODE_ALPHABET) for _ in range(8))


def ensure_in_service_area(store: Store, point: GeoPoint) -> None:
    """Refuses a drop-off the store does not serve, naming the field and the reason."""
    ensure = getattr(areas, "ensure_within_service_area", None)
    if ensure is not None:
        try:
            ensure(store.name, store.service_area, point)
        except DomainError as error:
            raise InvalidInput("dropoff", error.message) from error
        return
    if not areas.covers(store.service_area, point):
        raise InvalidInput("dropoff", f"outside the service area of {store.name}")


def _receipt(order: Order, bag_code: str) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "store_id": str(order.store_id),
        "external_ref": order.external_ref,
        "status": order.status.value,
        "bag_code": bag_code,
        "dispatch_deadline": order.dispatch_deadline.isoformat(),
        "created_at": order.created_at.isoformat(),
    }


def ingest_order(ctx: DispatchContext, *, scope: str, idempotency_key: str, intake: OrderIntake) -> IntakeResult:
    """Stores a new pending order with its bag code and hashed delivery code, exactly once per key.

    The idempotency record is written in the same transaction as the order, so a crash between the two
    cannot happen; a retry racing the original waits for it and then replays its response.
    """
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        earlier = uow.idempotency.claim(scope, idempotency_key, intake.fingerprint())
        if earlier is not None:
            if earlier.request_hash != intake.fingerprint():
                raise IdempotencyKeyReused("this Idempotency-Key was used for a different request; use a new key")
            if earlier.body is None or earlier.status_code is None:
                raise RuntimeError("an idempotency record without its response")
            order_id = UUID(str(earlier.body["order_id"]))
            return IntakeResult(earlier.body, delivery_code(ctx.config.secret, order_id), True, earlier.status_code)
        try:
            store = uow.stores.get(intake.store_id)
        except NotFound as error:
            raise InvalidInput("store_id", "no such store") from error
        ensure_in_service_area(store, intake.dropoff)
        order = Order(
            store_id=store.id,
            external_ref=intake.external_ref,
            dropoff=intake.dropoff,
            dropoff_address=intake.dropoff_address,
            recipient_name=intake.recipient_name,
            window_earliest=intake.window_earliest,
            window_latest=intake.window_latest,
            dispatch_deadline=intake.dispatch_deadline or intake.window_latest,
            size_bags=intake.size_bags,
            value_cents=intake.value_cents,
            age_restricted=intake.age_restricted,
            perishable=intake.perishable,
            created_at=now,
        )
        if order.window_latest <= now:
            raise InvalidInput("window_latest", "is already over")
        code = delivery_code(ctx.config.secret, order.id)
        bag_code = new_bag_code()
        uow.orders.add(order)
        uow.secrets.add(OrderSecret(order.id, bag_code, hash_delivery_code(ctx.config.secret, order.id, code)))
        receipt = _receipt(order, bag_code)
        uow.idempotency.complete(scope, idempotency_key, 201, receipt)
        uow.commit()
    return IntakeResult(receipt, code, False, 201)
