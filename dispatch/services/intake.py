"""Order intake from the e-commerce side: idempotent, refused outside the store's service area."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import once
from crowdship.units import Cents, counted
from dispatch.errors import IllegalTransition
from dispatch.model import Order, OrderStatus, Store
from dispatch.repositories import OrderSecret
from dispatch.rules import DELIVERY_CODE_DIGITS, hash_delivery_code
from dispatch.services.context import DispatchContext
from routing import areas
from routing.geo import GeoPoint

CREATED = 201
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

    def as_request(self) -> dict[str, Any]:
        """The request as idempotency fingerprints it: what tells a retry from another request under one key.
        The instants stay `datetime`s, which the fingerprint compares in UTC (`INSTANT_TEXT_SEP`); the rest is
        text, as `str` writes it."""
        return {
            name: value if isinstance(value, bool | int | datetime) else str(value)
            for name, value in asdict(self).items()
        }


INSTANT_TEXT_SEP = " "
"""Intake's keys were fingerprinted with their instants as `str` writes them (`2026-12-05 17:00:00+00:00`)
before instants were compared in UTC; the fingerprint writes them so still, so that an instant written in UTC
fingerprints as it did and a key kept then matches its retry. (The API hands intake its instants in UTC, so
every key it kept was written so; one a direct caller kept with another offset no longer matches.)"""


@dataclass(frozen=True)
class IntakeResult:
    receipt: Mapping[str, Any]
    """The stored first response (JSON), without the delivery code."""
    delivery_code: str | None
    """The recipient's code, in the first response only: it is not kept, so a replay cannot show it again."""
    replayed: bool


EARLIEST_WINDOW_START = timedelta(days=1)
"""A delivery window may have opened before intake (deliver as soon as you can), but not longer ago than this."""


def new_bag_code() -> str:
    return "BAG-" + "".join(secrets.choice(BAG_CODE_ALPHABET) for _ in range(8))


def new_delivery_code() -> str:
    return f"{secrets.randbelow(10**DELIVERY_CODE_DIGITS):0{DELIVERY_CODE_DIGITS}d}"


def _secret_hash(ctx: DispatchContext, order_id: UUID, code: str) -> str:
    return hash_delivery_code(order_id, code, salt=secrets.token_bytes(16), work=ctx.config.delivery_code_work)


def ensure_in_service_area(store: Store, point: GeoPoint) -> None:
    """Refuses a drop-off the store does not serve, naming the field and how far outside it lies."""
    try:
        areas.ensure_within_service_area(store.name, store.service_area, point)
    except areas.OutsideServiceArea as error:
        raise InvalidInput("dropoff", error.message) from error


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
    """Stores a new pending order with its bag code and the hash of a random delivery code, exactly once per
    key (`crowdship.idempotency`). The code itself is in this answer only.
    """
    now = ctx.clock.now()
    codes: dict[str, str] = {}

    def run() -> dict[str, Any]:
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
        if order.window_earliest < now - EARLIEST_WINDOW_START:
            raise InvalidInput("window_earliest", "must not start more than a day before the order is taken in")
        if order.window_latest > now + ctx.config.order_horizon:
            raise InvalidInput("window_latest", f"must end within {counted(ctx.config.order_horizon.days, 'day')}")
        if intake.dispatch_deadline is not None and intake.dispatch_deadline <= now:
            raise InvalidInput("dispatch_deadline", "is already past")
        codes["delivery"] = new_delivery_code()
        bag_code = new_bag_code()
        uow.orders.add(order)
        uow.secrets.add(OrderSecret(order.id, bag_code, _secret_hash(ctx, order.id, codes["delivery"])))
        return _receipt(order, bag_code)

    with ctx.unit_of_work() as uow:
        outcome = once(
            uow.idempotency,
            scope=scope,
            key=idempotency_key,
            request=intake.as_request(),
            run=run,
            dump=lambda receipt: {"status_code": CREATED, "receipt": receipt},
            load=lambda stored: dict(stored["receipt"]),
            date_time_sep=INSTANT_TEXT_SEP,
        )
        uow.commit()
    return IntakeResult(outcome.value, codes.get("delivery"), outcome.replayed)


def reissue_delivery_code(ctx: DispatchContext, *, order_id: UUID) -> str:
    """A new code for the recipient (the first was lost, or the replay of an intake could not show it); the
    old code stops working at once. Only while the order can still be delivered."""
    with ctx.unit_of_work() as uow:
        order = uow.orders.get(order_id, for_update=True)
        if order.is_final or order.status is OrderStatus.FAILED:
            raise IllegalTransition("order", order.id, order.status, "a new delivery code")
        code = new_delivery_code()
        uow.secrets.replace_code_hash(order.id, _secret_hash(ctx, order.id, code))
        uow.commit()
    return code
