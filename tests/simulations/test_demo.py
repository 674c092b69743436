"""The demo plan is the same for the same seed and honours its own rules; the loader puts it in the database
through the live use cases, once, and refreshes its trips and orders on later runs."""

from __future__ import annotations

import io
import shlex
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import typer
from psycopg_pool import ConnectionPool
from rich.console import Console
from typer.core import TyperGroup

from cli.main import app
from crowdship.clock import ManualClock
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import OrderStatus, TripStatus, TrustTier
from dispatch.services import accounts, trips
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.intake import OrderIntake, ingest_order
from rewards.adapters.postgres import PostgresRewardsUnitOfWork
from routing.areas import covers
from simulations.demo import build_demo_plan
from simulations.demo_loader import load_demo
from simulations.demo_run import demo_day, detour_limit, how_to_try, policy_line, remember, run_demo

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
PASSWORD = "Orbit-Lamp-77-Quince"
REPO = Path(__file__).resolve().parents[2]


class PlainPasswords:
    """Hashing passwords properly is slow and not what these tests are about."""

    def hash(self, password: str) -> str:
        return f"plain:{password}"

    def verify(self, password: str, password_hash: str | None) -> bool:
        return password_hash == f"plain:{password}"


def _context(pool: ConnectionPool, settings: Settings, clock: ManualClock) -> DispatchContext:
    return DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(pool),
        clock=clock,
        config=DispatchConfig.from_settings(settings),
    )


def test_the_same_seed_builds_the_same_plan_and_another_seed_other_orders_for_the_same_store() -> None:
    """Places and amounts are drawn from the seed; the store is the demo's one whatever the seed, so that a run
    with another seed tops it up instead of registering a second store of the same name."""
    first, second = build_demo_plan(NOW, seed=3), build_demo_plan(NOW, seed=3)
    assert first.store == second.store
    assert [o.dropoff for o in first.orders] == [o.dropoff for o in second.orders]
    assert [s.email for s in first.shoppers] == [s.email for s in second.shoppers]
    other = build_demo_plan(NOW, seed=4)
    assert other.store.id == first.store.id
    assert [o.dropoff for o in other.orders] != [o.dropoff for o in first.orders]
    assert all(order.store_id == first.store.id for order in other.orders)


def test_demo_orders_lie_in_the_service_area_and_trips_leave_hours_later() -> None:
    """Intake would refuse drop-offs outside the area, so the demo has none; trips stay open for hours."""
    plan = build_demo_plan(NOW, seed=7, orders=50)
    assert len(plan.orders) == 50
    assert len({order.external_ref for order in plan.orders}) == 50
    assert all(covers(plan.store.service_area, order.dropoff) for order in plan.orders)
    assert all(order.window_latest > NOW + timedelta(hours=1) for order in plan.orders)
    assert all(person.trip.leave_in >= timedelta(hours=2) for person in plan.shoppers if person.trip)


def test_loading_twice_registers_once_and_refreshes_the_trips(db: ConnectionPool, settings: Settings) -> None:
    """The first run registers the store, accounts, trips and orders (each order with its codes); the second
    adds no account or order, and replaces each open trip with nothing accepted by a new one."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ctx = _context(db, settings, clock)
    plan = build_demo_plan(clock.now(), seed=7)
    first = load_demo(ctx, PlainPasswords(), plan, new_password=lambda: PASSWORD)
    assert first.store_created
    assert len(first.new_accounts) == len(plan.staff) + len(plan.shoppers)
    assert first.trips_opened == sum(1 for person in plan.shoppers if person.trip)
    assert len(first.new_orders) == len(plan.orders)
    with PostgresDispatchUnitOfWork(db) as uow:
        secrets = uow.secrets.for_orders([codes.order_id for codes in first.new_orders])
        first_trips = {trip.id for trip in uow.trips.list_for_store(plan.store.id, [TripStatus.OPEN])}
    assert {secret.bag_code for secret in secrets.values()} == {codes.bag_code for codes in first.new_orders}

    clock.advance(timedelta(minutes=5))
    second = load_demo(ctx, PlainPasswords(), build_demo_plan(clock.now(), seed=7), new_password=lambda: PASSWORD)
    assert not second.store_created
    assert second.new_accounts == []
    assert second.new_orders == []
    assert second.trips_opened == first.trips_opened
    with PostgresDispatchUnitOfWork(db) as uow:
        open_trips = uow.trips.list_for_store(plan.store.id, [TripStatus.OPEN])
        cancelled = uow.trips.list_for_store(plan.store.id, [TripStatus.CANCELLED])
        pending = uow.orders.list_for_store(plan.store.id, [OrderStatus.PENDING])
    assert {trip.id for trip in open_trips}.isdisjoint(first_trips)
    assert {trip.id for trip in cancelled} == first_trips
    assert len(pending) == len(plan.orders)
    assert all(trip.leave_by >= clock.now() + timedelta(hours=2) for trip in open_trips)


def test_a_later_run_tops_up_the_orders_and_leaves_a_departed_trip_alone(
    db: ConnectionPool, settings: Settings
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ctx = _context(db, settings, clock)
    plan = build_demo_plan(clock.now(), seed=7, orders=4)
    first = load_demo(ctx, PlainPasswords(), plan, new_password=lambda: PASSWORD)
    with PostgresDispatchUnitOfWork(db) as uow:
        order = uow.orders.get(first.new_orders[0].order_id, for_update=True)
        order.cancel()
        uow.orders.save(order, at=clock.now())
        uow.commit()
    shopper_id = next(account.shopper_id for account in first.new_accounts if account.shopper_id)
    assert shopper_id is not None
    kept = trips.current_trip(ctx, shopper_id=shopper_id)
    with PostgresDispatchUnitOfWork(db) as uow:
        trip = uow.trips.get(kept.id, for_update=True)
        trip.depart()
        uow.trips.save(trip, at=clock.now())
        uow.commit()

    clock.advance(timedelta(minutes=1))
    second = load_demo(
        ctx, PlainPasswords(), build_demo_plan(clock.now(), seed=7, orders=4), new_password=lambda: PASSWORD
    )
    assert len(second.new_orders) == 1
    assert second.new_orders[0].external_ref not in {codes.external_ref for codes in first.new_orders}
    assert trips.current_trip(ctx, shopper_id=shopper_id).id == kept.id


def test_the_credentials_file_is_private_and_forgets_orders_that_are_over(
    db: ConnectionPool, settings: Settings, tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ctx = _context(db, settings, clock)
    load = load_demo(
        ctx, PlainPasswords(), build_demo_plan(clock.now(), seed=7, orders=3), new_password=lambda: PASSWORD
    )
    path = tmp_path / "demo" / "credentials.json"
    with PostgresDispatchUnitOfWork(db) as uow:
        live = [uow.orders.get(codes.order_id) for codes in load.new_orders[:2]]
    saved = remember(path, load, live)
    assert path.stat().st_mode & 0o077 == 0
    assert set(saved["orders"]) == {order.external_ref for order in live}
    assert saved["accounts"][load.new_accounts[0].email]["password"] == PASSWORD


def test_a_later_run_leaves_a_shoppers_trust_tier_and_identity_check_as_they_were_changed(
    db: ConnectionPool, settings: Settings
) -> None:
    """A tier an insurance-claim review lowered (or an identity check withdrawn) is not put back to the plan's."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ctx = _context(db, settings, clock)
    plan = build_demo_plan(clock.now(), seed=7, orders=2)
    first = load_demo(ctx, PlainPasswords(), plan, new_password=lambda: PASSWORD)
    person = next(person for person in plan.shoppers if person.trust_tier is not TrustTier.NEW)
    shopper_id = next(account.shopper_id for account in first.new_accounts if account.email == person.email)
    assert shopper_id is not None
    assert accounts.get_shopper(ctx, shopper_id).trust_tier is person.trust_tier
    accounts.verify_shopper(
        ctx, shopper_id=shopper_id, trust_tier=TrustTier.NEW, identity_verified=False, actor_id=None
    )

    clock.advance(timedelta(minutes=5))
    load_demo(ctx, PlainPasswords(), build_demo_plan(clock.now(), seed=7, orders=2), new_password=lambda: PASSWORD)
    shopper = accounts.get_shopper(ctx, shopper_id)
    assert (shopper.trust_tier, shopper.identity_verified) == (TrustTier.NEW, False)


def test_a_later_run_checks_in_no_deactivated_or_opted_out_shopper(db: ConnectionPool, settings: Settings) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ctx = _context(db, settings, clock)
    plan = build_demo_plan(clock.now(), seed=7, orders=2)
    first = load_demo(ctx, PlainPasswords(), plan, new_password=lambda: PASSWORD)
    travelling = {person.email for person in plan.shoppers if person.trip is not None}
    deactivated, opted_out = [a for a in first.new_accounts if a.email in travelling][:2]
    assert deactivated.shopper_id is not None
    assert opted_out.shopper_id is not None
    user = accounts.find_user(ctx, email=deactivated.email)
    assert user is not None
    accounts.set_active(ctx, user_id=user.id, active=False)
    with PostgresDispatchUnitOfWork(db) as uow:
        trip = uow.trips.active_for_shopper(opted_out.shopper_id)
        assert trip is not None
        locked = uow.trips.get(trip.id, for_update=True)
        locked.cancel()
        uow.trips.save(locked, at=clock.now())
        shopper = uow.shoppers.get(opted_out.shopper_id)
        shopper.opted_in = False
        uow.shoppers.save(shopper)
        uow.commit()

    clock.advance(timedelta(minutes=5))
    second = load_demo(
        ctx, PlainPasswords(), build_demo_plan(clock.now(), seed=7, orders=2), new_password=lambda: PASSWORD
    )
    assert second.trips_opened == len(travelling) - 2
    with PostgresDispatchUnitOfWork(db) as uow:
        assert uow.trips.active_for_shopper(deactivated.shopper_id) is None
        assert uow.trips.active_for_shopper(opted_out.shopper_id) is None


def test_the_demo_day_is_the_stores_local_day_as_replay_counts_it() -> None:
    """At 03:00 UTC it is still the evening before in Tallahassee (America/New_York, the policy's zone)."""
    assert demo_day(datetime(2026, 12, 5, 3, 0, tzinfo=UTC)) == date(2026, 12, 4)
    assert demo_day(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) == date(2026, 12, 5)


def test_the_demo_names_its_store_in_a_replay_command_the_cli_accepts(tmp_path: Path) -> None:
    """`crowdship replay` needs the store's id, which the demo printed nowhere: it now prints the whole command,
    with options the command really has and a policy file that exists in the clone."""
    plan = build_demo_plan(NOW, seed=1)
    text = how_to_try(
        tmp_path / "credentials.json",
        store_id=plan.store.id,
        day=date(2026, 11, 22),
        cadence_s=10.0,
        offer_ttl=timedelta(minutes=1),
        reoffer_after=timedelta(minutes=5),
        token_ttl=timedelta(minutes=15),
    )
    line = next(line for line in text.splitlines() if "crowdship replay" in line)
    args = shlex.split(line)[2:]
    assert args[args.index("--store") + 1] == str(plan.store.id)
    assert args[args.index("--day") + 1] == "2026-11-22"
    assert (REPO / args[args.index("--policy") + 1]).is_file()
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    context = group.commands["replay"].make_context("replay", args)
    assert str(context.params["store"]) == str(plan.store.id)


def test_the_demos_hints_tell_the_timings_of_the_settings_in_force(tmp_path: Path) -> None:
    """An offer's lifetime, when an expired one comes back and the dispatcher's cadence are settings: the hints
    say the ones in force, not the defaults."""
    text = how_to_try(
        tmp_path / "credentials.json",
        store_id=uuid4(),
        day=date(2026, 11, 22),
        cadence_s=2.5,
        offer_ttl=timedelta(seconds=90),
        reoffer_after=timedelta(minutes=10),
        token_ttl=timedelta(minutes=30),
    )
    assert "offers every 2.5 s" in text
    assert "an offer lasts 90 s; one let expire comes back to the trip 10 minutes later" in text
    # a token expires while one tries the flow: its lifetime and what to do then are said
    assert "its access_token is TOKEN below, good for 30 minutes: sign in again when a request answers 401" in text


def test_the_demos_hints_tell_how_to_find_an_offered_orders_codes_and_another_port(tmp_path: Path) -> None:
    """The offer names an order by its id and address while the table lists references and drop-offs: the hint
    says to match the stop's address with the drop-off column. Port 8000 may be taken: the hint says what then.
    Most shoppers of the table get no offer at first: the 404 they see is told as expected."""
    text = how_to_try(
        tmp_path / "credentials.json",
        store_id=uuid4(),
        day=date(2026, 11, 22),
        cadence_s=10.0,
        offer_ttl=timedelta(minutes=1),
        reoffer_after=timedelta(minutes=5),
        token_ttl=timedelta(minutes=15),
    )
    flat = " ".join(text.split())
    assert "its address: the row of that drop-off in the table above has the BAG code and the recipient's CODE" in flat
    assert "lists them by order_id" in flat
    assert "port 8000 taken? `crowdship api` says so: give it another --port" in flat
    assert "404 `no open offer` until a batch offers that shopper's trip something" in flat


def test_a_later_demo_run_names_the_policy_in_force_and_a_first_one_the_policy_it_published() -> None:
    """After the README's steps approve `docs/examples/policy.json`, a refreshed demo is priced by that version:
    the demo says which version prices its offers, not only on the run that published its own."""
    import json

    from rewards.policy import PolicyParameters
    from rewards.policy_versions import RewardPolicy

    example = json.loads((REPO / "docs" / "examples" / "policy.json").read_text())
    policy = RewardPolicy(version=2, parameters=PolicyParameters.from_json(example), created_by=uuid4(), created_at=NOW)
    assert policy_line(policy, published=False) == (
        "Reward policy v2 in force: $3.00 a delivery, $0.40 per extra km, at least $3.50"
    )
    assert policy_line(policy, published=True).startswith(
        "Reward policy v2 published (proposed by ops, approved by finance): $3.00 a delivery"
    )


def test_the_demos_hints_check_a_shopper_in_with_a_body_the_api_takes(tmp_path: Path) -> None:
    """The last demo shopper has no trip, and a trip ends once delivered: the hints show the check-in, naming the
    store, with a body the API's schema accepts once the placeholders are filled in."""
    from api.shopper_schemas import TripIn

    store_id = uuid4()
    text = how_to_try(
        tmp_path / "credentials.json",
        store_id=store_id,
        day=date(2026, 11, 22),
        cadence_s=10.0,
        offer_ttl=timedelta(minutes=1),
        reoffer_after=timedelta(minutes=5),
        token_ttl=timedelta(minutes=15),
    )
    command = next(chunk for chunk in text.split("\n  curl") if "/shopper/trips\n" in chunk + "\n")
    words = shlex.split(command.replace("\\\n", " "))
    body = words[words.index("-d") + 1]
    filled = body.replace("LAT", "30.5").replace("LON", "-84.2").replace("LEAVE_BY", "2026-11-22T19:00:00Z")
    trip = TripIn.model_validate_json(filled)
    assert str(trip.store_id) == str(store_id)
    assert words[-1] == "http://127.0.0.1:8000/shopper/trips"


def test_a_trips_detour_limit_shows_only_the_limits_it_has() -> None:
    """A trip checked in with metres only (as the demo's own hint does) has no time limit: not '0 min', which
    reads as no detour at all."""
    assert detour_limit(3000, None) == "3.0 km"
    assert detour_limit(None, 900) == "15 min"
    assert detour_limit(1500, 300) == "1.5 km / 5 min"
    assert detour_limit(None, None) == "no limit"


def test_the_demos_hints_say_which_field_of_the_current_offer_is_offer(tmp_path: Path) -> None:
    """`/shopper/offers/OFFER/accept` wants the offer's `id`, the first field `offers/current` answers; a newcomer
    looking for an `offer_id` beside the `trip_id` and `order_id` the hints name found none."""
    text = how_to_try(
        tmp_path / "credentials.json",
        store_id=uuid4(),
        day=date(2026, 11, 22),
        cadence_s=10.0,
        offer_ttl=timedelta(minutes=1),
        reoffer_after=timedelta(minutes=5),
        token_ttl=timedelta(minutes=15),
    )
    flat = " ".join(text.split())
    assert "OFFER is the current offer's id" in flat


def test_the_demos_tables_print_an_address_taken_in_with_brackets_as_typed(
    db: ConnectionPool, settings: Settings, tmp_path: Path
) -> None:
    """The orders the demo lists are every order in play at its store, taken in from the online shop: an address
    with `[/]` in it stopped `make demo` with rich's MarkupError, and `[link=…]` printed a link it does not show."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ctx = _context(db, settings, clock)
    plan = build_demo_plan(clock.now(), seed=3)
    load_demo(ctx, PlainPasswords(), plan, new_password=lambda: PASSWORD)
    address = "12 [/] [link=https://evil.example]Main St[/link]"
    intake = OrderIntake(
        store_id=plan.store.id,
        external_ref="WEB-[bold]1",
        dropoff=plan.orders[0].dropoff,
        dropoff_address=address,
        recipient_name="Jo",
        window_earliest=clock.now() + timedelta(hours=1),
        window_latest=clock.now() + timedelta(hours=3),
        dispatch_deadline=None,
        size_bags=1,
        value_cents=Cents(1_000),
    )
    ingest_order(ctx, scope="test", idempotency_key="bracketed", intake=intake)
    printed = io.StringIO()
    run_demo(
        Console(file=printed, width=400),
        ctx,
        lambda: PostgresRewardsUnitOfWork(db),
        PlainPasswords(),
        seed=3,
        credentials=tmp_path / "credentials.json",
        key_written=False,
        dispatch_cadence_s=10.0,
        token_ttl=timedelta(minutes=15),
    )
    assert address in printed.getvalue()
    assert "WEB-[bold]1" in printed.getvalue()
