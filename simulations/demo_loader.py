"""Puts the demo plan in the database through the live service's own use cases, and keeps it fresh.

Each run registers what is missing (the store, staff and shopper accounts), checks in again every demo
shopper whose trip ended or has nothing accepted yet (so trips are open for hours after each run), and tops
the store up to the plan's number of pending orders through order intake, which gives each order its bag code
and the hash of its delivery code, as for a real order.

What the demo does not own it leaves alone: a shopper's trust tier and identity check are the plan's only when
this run registers the shopper (later, a tier review or operations decide them), and a shopper whose account
was deactivated or who opted out of delivering is not checked in again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from crowdship.errors import NotFound
from dispatch.accounts import Role
from dispatch.model import OrderStatus, TripStatus
from dispatch.services import accounts, queries, stores, trips
from dispatch.services.context import DispatchContext, PasswordHasher
from dispatch.services.intake import ingest_order
from simulations.demo import DemoPlan

INTAKE_SCOPE = "demo"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: Role
    password: str
    shopper_id: UUID | None = None


@dataclass(frozen=True)
class DemoOrderCodes:
    external_ref: str
    order_id: UUID
    bag_code: str
    delivery_code: str


@dataclass
class DemoLoad:
    store_created: bool = False
    new_accounts: list[DemoAccount] = field(default_factory=list)
    """Accounts made by this run, with their passwords (shown once; only the hash is stored)."""
    trips_opened: int = 0
    new_orders: list[DemoOrderCodes] = field(default_factory=list)
    """Orders ingested by this run, with the codes only intake's first answer carries."""


def load_demo(
    ctx: DispatchContext, hasher: PasswordHasher, plan: DemoPlan, *, new_password: Callable[[], str]
) -> DemoLoad:
    load = DemoLoad()
    try:
        queries.get_store(ctx, store_id=plan.store.id)
    except NotFound:
        stores.register_store(ctx, plan.store)
        load.store_created = True
    for member in plan.staff:
        if accounts.find_user(ctx, email=member.email) is None:
            password = new_password()
            accounts.create_staff_user(ctx, hasher, email=member.email, password=password, role=member.role)
            load.new_accounts.append(DemoAccount(member.email, member.role, password))
    for person in plan.shoppers:
        user = accounts.find_user(ctx, email=person.email)
        if user is None:
            password = new_password()
            user, _ = accounts.register_shopper(
                ctx, hasher, email=person.email, password=password, display_name=person.display_name, home=person.home
            )
            load.new_accounts.append(DemoAccount(person.email, Role.SHOPPER, password, user.shopper_id))
            assert user.shopper_id is not None
            accounts.verify_shopper(
                ctx,
                shopper_id=user.shopper_id,
                identity_verified=person.identity_verified,
                trust_tier=person.trust_tier,
                actor_id=None,
            )
        assert user.shopper_id is not None
        if (
            person.trip is not None
            and _may_deliver(ctx, user.active, user.shopper_id)
            and _needs_a_fresh_trip(ctx, user.shopper_id)
        ):
            trips.check_in(
                ctx,
                shopper_id=user.shopper_id,
                store_id=plan.store.id,
                destination=person.home,
                capacity_bags=person.trip.capacity_bags,
                max_detour_m=person.trip.max_detour_m,
                max_detour_s=person.trip.max_detour_s,
                leave_by=ctx.clock.now() + person.trip.leave_in,
            )
            load.trips_opened += 1
    pending = queries.list_orders(ctx, store_id=plan.store.id, statuses=[OrderStatus.PENDING], limit=1, offset=0).total
    for intake in plan.orders[: max(0, len(plan.orders) - pending)]:
        result = ingest_order(ctx, scope=INTAKE_SCOPE, idempotency_key=intake.external_ref, intake=intake)
        if result.delivery_code is not None:
            load.new_orders.append(
                DemoOrderCodes(
                    intake.external_ref,
                    UUID(str(result.receipt["order_id"])),
                    str(result.receipt["bag_code"]),
                    result.delivery_code,
                )
            )
    return load


def _may_deliver(ctx: DispatchContext, active: bool, shopper_id: UUID) -> bool:
    """An active account whose shopper has not opted out: a deactivated one keeps its trips cancelled."""
    return active and accounts.get_shopper(ctx, shopper_id).opted_in


def _needs_a_fresh_trip(ctx: DispatchContext, shopper_id: UUID) -> bool:
    """True when the shopper has no active trip, or an open one with nothing accepted yet (then cancelled here,
    so the new trip gets offers afresh: an order is never offered twice to the same trip). A trip with accepted
    or picked-up orders is someone trying the flow: it is left alone."""
    try:
        trip = trips.current_trip(ctx, shopper_id=shopper_id)
    except NotFound:
        return True
    if trip.status is not TripStatus.OPEN or queries.orders_on_trip(ctx, trip_id=trip.id):
        return False
    trips.cancel_trip(ctx, shopper_id=shopper_id, trip_id=trip.id)
    return True
