"""`crowdship demo`: the demo store loaded (or refreshed) in the database, shown, and how to try it live.

The accounts' passwords and the orders' delivery codes are shown once by the use cases that make them (only
hashes are stored), so this command keeps them for the demo in `.local/demo/credentials.json`, readable by
its owner only, and shows them again on later runs.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crowdship.units import Cents, counted, format_cents
from dispatch.accounts import Role
from dispatch.model import Order, OrderStatus, TripStatus
from dispatch.services import accounts, queries
from dispatch.services.context import DispatchContext, PasswordHasher
from rewards.policy_versions import PolicyStatus, RewardPolicy
from rewards.records import NoPolicyInForce
from rewards.repositories import RewardsUnitOfWork
from rewards.services import create_reward_policy, decide_reward_policy
from simulations.configuration import policy_parameters
from simulations.demo import DemoPlan, build_demo_plan
from simulations.demo_loader import DemoLoad, load_demo
from simulations.run import DEMO_SCENARIO
from simulations.scenario import load_scenario


def new_demo_password() -> str:
    return secrets.token_urlsafe(12)


def _read_credentials(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault("accounts", {})
    data.setdefault("orders", {})
    return data


def _write_credentials(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(data, handle, indent=2, default=str)


def remember(path: Path, load: DemoLoad, live_orders: list[Order]) -> dict[str, Any]:
    """Adds this run's new accounts and codes to the file; forgets codes of orders that are over."""
    data = _read_credentials(path)
    for account in load.new_accounts:
        data["accounts"][account.email] = {"role": account.role.value, "password": account.password}
    for codes in load.new_orders:
        data["orders"][codes.external_ref] = {
            "order_id": str(codes.order_id),
            "bag_code": codes.bag_code,
            "delivery_code": codes.delivery_code,
        }
    live = {order.external_ref for order in live_orders}
    data["orders"] = {ref: codes for ref, codes in data["orders"].items() if ref in live}
    _write_credentials(path, data)
    return data


def publish_demo_policy(
    ctx: DispatchContext, rewards: Callable[[], RewardsUnitOfWork], plan: DemoPlan
) -> RewardPolicy | None:
    """The demo scenario's reward policy, proposed by the demo's ops account and approved by its first finance
    account (two people, as the service demands), unless a policy is already in force. Returns the version
    published now, if any, so that deliveries in the demo earn their reward."""
    now = ctx.clock.now()
    with rewards() as uow:
        try:
            uow.repos.policies.in_force_at(now)
        except NoPolicyInForce:
            pass
        else:
            return None
    proposer = next(member for member in plan.staff if member.role is Role.OPS)
    approver = next(member for member in plan.staff if member.role is Role.FINANCE)
    with ctx.unit_of_work() as uow:
        proposer_user = uow.users.by_email(proposer.email)
        approver_user = uow.users.by_email(approver.email)
    if proposer_user is None or approver_user is None:
        return None
    parameters = policy_parameters(load_scenario(DEMO_SCENARIO))
    with rewards() as uow:
        proposed = create_reward_policy(
            uow, parameters=parameters, actor_id=proposer_user.id, now=now, note="the demo store's policy"
        )
    with rewards() as uow:
        return decide_reward_policy(
            uow, version=proposed.version, status=PolicyStatus.APPROVED, actor_id=approver_user.id, now=now
        )


def _policy_in_force(rewards: Callable[[], RewardsUnitOfWork], now: datetime) -> RewardPolicy | None:
    with rewards() as uow:
        try:
            return uow.repos.policies.in_force_at(now)
        except NoPolicyInForce:
            return None


def policy_line(policy: RewardPolicy, *, published: bool) -> str:
    """The reward policy the demo's offers are priced by: the one it published now, or, on a later run, the one
    in force (perhaps another person's, approved since as the README's steps do)."""
    base, per_km, minimum = (
        format_cents(Cents(cents))
        for cents in (
            policy.parameters.base_cents,
            policy.parameters.per_extra_km_cents,
            policy.parameters.minimum_cents,
        )
    )
    how = "published (proposed by ops, approved by finance)" if published else "in force"
    return f"Reward policy v{policy.version} {how}: ${base} a delivery, ${per_km} per extra km, at least ${minimum}"


def run_demo(
    console: Console,
    ctx: DispatchContext,
    rewards: Callable[[], RewardsUnitOfWork],
    hasher: PasswordHasher,
    *,
    seed: int,
    credentials: Path,
    key_written: bool,
    dispatch_cadence_s: float,
    token_ttl: timedelta,
) -> None:
    plan = build_demo_plan(ctx.clock.now(), seed=seed)
    load = load_demo(ctx, hasher, plan, new_password=new_demo_password)
    published = publish_demo_policy(ctx, rewards, plan)
    now = ctx.clock.now()
    store = queries.get_store(ctx, store_id=plan.store.id)
    trips = queries.list_trips(
        ctx, store_id=store.id, shopper_id=None, statuses=[TripStatus.OPEN], limit=200, offset=0
    ).items
    active_statuses = [OrderStatus.PENDING, OrderStatus.OFFERED, OrderStatus.ACCEPTED, OrderStatus.PICKED_UP]
    orders = queries.list_orders(ctx, store_id=store.id, statuses=active_statuses, limit=200, offset=0).items
    saved = remember(credentials, load, list(orders))

    console.print(
        f"\n[bold]{escape(store.name)}[/bold] (id {store.id}) at {store.location.lat}, {store.location.lon} "
        f"({'registered now' if load.store_created else 'refreshed'}: {counted(load.trips_opened, 'trip')} checked in, "
        f"{counted(len(load.new_orders), 'order')} ingested)"
    )
    console.print(f"Fallback courier ${format_cents(store.fallback_cost_cents)} per order")
    in_force = published or _policy_in_force(rewards, now)
    if in_force is not None:
        console.print(policy_line(in_force, published=published is not None))
    console.print()
    account_table = Table("e-mail", "role", "password", title="Demo accounts")
    for email, account in sorted(saved["accounts"].items(), key=lambda item: (item[1]["role"], item[0])):
        account_table.add_row(email, account["role"], account["password"])
    console.print(account_table)

    shoppers = {trip.shopper_id: accounts.get_shopper(ctx, trip.shopper_id) for trip in trips}
    trip_table = Table("shopper", "tier", "ID verified", "bags", "max detour", "leave by (UTC)", title="Open trips")
    for trip in trips:
        shopper = shoppers[trip.shopper_id]
        trip_table.add_row(
            escape(shopper.display_name),
            shopper.trust_tier.name.lower(),
            "yes" if shopper.identity_verified else "no",
            str(trip.capacity_bags),
            detour_limit(trip.max_detour_m, trip.max_detour_s),
            f"{trip.leave_by:%H:%M}",
        )
    console.print(trip_table)

    order_table = Table(
        "order", "status", "drop-off", "bags", "value", "window (UTC)", "flags", "bag code", "delivery code",
        title="Orders in play",
    )  # fmt: skip
    for order in sorted(orders, key=lambda order: order.external_ref):
        codes = saved["orders"].get(order.external_ref, {})
        flags = [name for name, on in (("18+", order.age_restricted), ("perishable", order.perishable)) if on]
        order_table.add_row(
            escape(order.external_ref),
            order.status.value,
            escape(order.dropoff_address),
            str(order.size_bags),
            format_cents(order.value_cents),
            f"{order.window_earliest:%H:%M}-{order.window_latest:%H:%M}",
            ", ".join(flags),
            codes.get("bag_code", "-"),
            codes.get("delivery_code", "-"),
        )
    console.print(order_table)
    if key_written:
        console.print("A development signing key was written to .local/secret.env (the API needs one).")
    console.print(
        how_to_try(
            credentials,
            store_id=store.id,
            day=demo_day(now),
            cadence_s=dispatch_cadence_s,
            offer_ttl=ctx.config.offer_ttl,
            reoffer_after=ctx.config.batch.reoffer_after,
            token_ttl=token_ttl,
        )
    )


def detour_limit(max_detour_m: float | None, max_detour_s: float | None) -> str:
    """A trip's detour limits as checked in: a limit not given is left out (none), never shown as zero."""
    limits = [
        *([f"{max_detour_m / 1000:.1f} km"] if max_detour_m is not None else []),
        *([f"{int(max_detour_s) // 60} min"] if max_detour_s is not None else []),
    ]
    return " / ".join(limits) or "no limit"


def demo_day(now: datetime) -> date:
    """The store's day as `crowdship replay --day` counts it: local to the demo policy's time zone (the
    default of `--timezone` is the policy file's, and `docs/examples/policy.json` has the same zone)."""
    return now.astimezone(ZoneInfo(load_scenario(DEMO_SCENARIO).timezone)).date()


def _spoken(duration: timedelta) -> str:
    """ "a minute", "5 minutes", "90 s": a duration as the demo's hints say it."""
    seconds = duration.total_seconds()
    if seconds % 60:
        return f"{seconds:g} s"
    minutes = int(seconds // 60)
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def how_to_try(
    credentials: Path,
    *,
    store_id: UUID,
    day: date,
    cadence_s: float,
    offer_ttl: timedelta,
    reoffer_after: timedelta,
    token_ttl: timedelta,
) -> str:
    """What to run next: the API and dispatcher, a shopper's requests, and the store's recorded day replayed
    (`crowdship replay` wants the store's id, which nothing else the demo prints names). The timings are the
    settings' (an offer's lifetime, when an expired one comes back, the dispatcher's cadence, a token's
    lifetime: one runs out while a newcomer reads the offer, and the 401 that follows is told beforehand)."""
    return (
        "\n[bold]Try it live[/bold] (two more terminals; run `make demo` again later to refresh the trips):\n"
        "  .venv/bin/crowdship api --port 8000        # the API; http://127.0.0.1:8000/docs\n"
        "  (port 8000 taken? `crowdship api` says so: give it another --port and put that in the URLs below)\n"
        f"  .venv/bin/crowdship dispatcher             # offers every {cadence_s:g} s\n"
        "Then, as a shopper of the table above:\n"
        "  curl -s -d 'username=EMAIL&password=PASSWORD' http://127.0.0.1:8000/auth/token   # a bearer token\n"
        f"  (its access_token is TOKEN below, good for {_spoken(token_ttl)}: "
        "sign in again when a request answers 401)\n"
        "  (a shopper with no open trip above, not in the store yet, checks in first: LAT and LON where they\n"
        "   are heading, e.g. home, and LEAVE_BY when they leave, a UTC time like YYYY-MM-DDTHH:MM:SSZ)\n"
        "  curl -s -X POST -H 'Authorization: Bearer TOKEN' -H 'Content-Type: application/json' \\\n"
        f'       -d \'{{"store_id": "{store_id}", "capacity_bags": 3, "max_detour_m": 3000,\n'
        '            "destination": {"lat": LAT, "lon": LON}, "leave_by": "LEAVE_BY"}\' \\\n'
        "       http://127.0.0.1:8000/shopper/trips\n"
        "  curl -s -H 'Authorization: Bearer TOKEN' http://127.0.0.1:8000/shopper/offers/current\n"
        "  (404 `no open offer` until a batch offers that shopper's trip something: not every trip passes an\n"
        "   order; the console's live page of the store lists the open offers by shopper)\n"
        "  curl -s -X POST -H 'Authorization: Bearer TOKEN' http://127.0.0.1:8000/shopper/offers/OFFER/accept\n"
        "  (OFFER is the current offer's id, its first field)\n"
        f"  (an offer lasts {_spoken(offer_ttl)}; one let expire comes back to the trip {_spoken(reoffer_after)} "
        "later, a declined one never:\n"
        "   when offers stop coming, `make demo` again checks the trips in anew)\n"
        "  The accepted offer names TRIP (its trip_id), and each stop its ORDER (order_id), the drop-off's\n"
        "  LAT and LON, and its address: the row of that drop-off in the table above has the BAG code and the\n"
        "  recipient's CODE (the credentials file below lists them by order_id too).\n"
        "  curl -s -X POST -H 'Authorization: Bearer TOKEN' -H 'Content-Type: application/json' \\\n"
        '       -d \'{"bag_codes": ["BAG-..."]}\' http://127.0.0.1:8000/shopper/trips/TRIP/pickup\n'
        "  curl -s -X POST -H 'Authorization: Bearer TOKEN' -H 'Content-Type: application/json' \\\n"
        '       -d \'{"position": {"lat": LAT, "lon": LON}, "code": "CODE"}\' \\\n'
        "       http://127.0.0.1:8000/shopper/orders/ORDER/delivery\n"
        f"Accounts and codes stay in {credentials} (readable by you only).\n"
        "Staff sign in to the console at http://127.0.0.1:8000/console with the ops and finance accounts.\n"
        "The store's day so far, replayed under another reward policy:\n"
        f"  .venv/bin/crowdship replay --store {store_id} --day {day.isoformat()} --policy docs/examples/policy.json\n"
    )
