"""A simulated day: a discrete-event simulation that drives the live service's own use cases.

Orders come in through the intake use case, shoppers check in through the trip use case, every batch is
`dispatch.services.batch.run_batch` with the OR-Tools matcher, shoppers answer offers through the offer use
cases, pick up and deliver through the delivery use cases; the scenario's reward policy is proposed and
approved, offers are priced, deliveries credited and the day's cash paid out through the rewards use cases,
wired by the composition root as live. Only the repositories differ (in memory), and the time (a
`ManualClock` moved from event to event). What the simulator adds is the
world: when people arrive, where they live, whether they accept, how long driving takes
(`routing.travel.StraightLineTravel`).

Deterministic for a scenario: one `SeedSequence` from the scenario's seed feeds every random draw, the
world is drawn up front, decisions are drawn in a canonical order, and the matcher's seed is fixed. (With a
positive matcher time limit the routing search may reach further on a faster machine, and bundles differ.)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from composition import in_memory
from crowdship.clock import ManualClock
from crowdship.errors import DomainError
from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchUnitOfWork
from dispatch.model import OrderStatus, Shopper, Store
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.batch import BatchReport, run_batch
from dispatch.services.context import DeliveredOrder
from dispatch.services.intake import OrderIntake, ingest_order
from dispatch.services.moves import save_move
from dispatch.services.profiles import check_in_from_profile
from dispatch.services.trips import check_in
from rewards.policy import PaymentMethod
from rewards.services import (
    RewardCredit,
)
from routing.geo import GeoPoint
from routing.travel import StraightLineTravel
from simulations.books import pay_out_day, publish_scenario_policy
from simulations.city import City, build_city, uuid_from
from simulations.configuration import dispatch_config
from simulations.day_records import (
    SETTLED,
    BatchRecord,
    DayResult,
    OfferRecord,
    OrderRecord,
    PayoutRecord,
    TripRecord,
)
from simulations.events import EventQueue, Kind
from simulations.extras import require
from simulations.regulars import Visit, with_regulars
from simulations.scenario import Scenario
from simulations.shopper_behaviour import ShopperBehaviour
from simulations.world import (
    OrderPlan,
    ShopperPlan,
    draw_orders,
    draw_shoppers,
)

HORIZON_AFTER_DAY = timedelta(hours=24)
"""A safety net: no simulated day runs on for longer than this after its last order."""


class DaySimulation(ShopperBehaviour):
    """One run of a scenario. Build, then `run()`; the result is kept for inspection too."""

    def __init__(
        self, scenario: Scenario, *, progress: bool = False, on_progress: Callable[[float], None] | None = None
    ) -> None:
        self.scenario = scenario
        self.progress = progress
        self.on_progress = on_progress
        """Told the share of the simulated day done (0 to 1), about every percent: the console's progress."""
        root = np.random.SeedSequence(scenario.seed)
        world_seed, decision_seed = root.spawn(2)
        self.world = np.random.default_rng(world_seed)
        self.decisions = np.random.default_rng(decision_seed)
        zone = ZoneInfo(scenario.timezone)
        self.start = datetime(
            scenario.date.year, scenario.date.month, scenario.date.day, scenario.start_hour, tzinfo=zone
        )
        self.clock = ManualClock(self.start)
        self.city: City = build_city(scenario, self.world)
        self.travel = StraightLineTravel(scenario.travel.road_factor, scenario.travel.speed_kmh)
        method = PaymentMethod(scenario.rewards.method)
        self.memory = in_memory(dispatch_config(scenario), self.clock, payment_choice=lambda _shopper: method)
        self.db = self.memory.dispatch
        credit = self.memory.context.credit_delivery
        assert credit is not None
        self.ctx = dataclasses.replace(self.memory.context, credit_delivery=self._recording(credit))
        self.payout: PayoutRecord = PayoutRecord()
        self.queue = EventQueue()
        self.orders: list[OrderRecord] = []
        self.order_of_id: dict[UUID, OrderRecord] = {}
        self.delivery_codes: dict[UUID, str] = {}
        """What intake gave each order for its recipient, handed over at the door."""
        self.trips: list[TripRecord] = []
        self.trip_of_id: dict[UUID, TripRecord] = {}
        self.offers: dict[UUID, OfferRecord] = {}
        self.batches: list[BatchRecord] = []
        self.matcher_seconds: list[float] = []
        self.orders_to_come = 0
        self.shopper_visits = 0

    # --- rewards: the live use cases, on the in-memory books ------------------------------------------

    def _recording(
        self, credit: Callable[[LiveUnitOfWork, DeliveredOrder], object]
    ) -> Callable[[LiveUnitOfWork, DeliveredOrder], object]:
        """The live credit hook, noting what each delivery earned for the day's figures."""

        def credit_and_note(uow: LiveUnitOfWork, delivered: DeliveredOrder) -> object:
            credited = credit(uow, delivered)
            if isinstance(credited, RewardCredit):
                self.trip_of_id[delivered.trip_id].reward_cents += credited.amount_cents
                self.order_of_id[delivered.order_id].reward_cents = credited.amount_cents
            if delivered.offer_id is not None:
                offer = uow.offers.get(delivered.offer_id)
                self.order_of_id[delivered.order_id].detour_m = offer.extra_distance_m / len(offer.stops)
            return credited

        return credit_and_note

    def publish_policy(self) -> None:
        publish_scenario_policy(self.memory, self.scenario, self.start)

    # --- time and place ---------------------------------------------------------------------------

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(microseconds=round(seconds * 1e6))

    # --- running ----------------------------------------------------------------------------------

    def run(self) -> DayResult:  # noqa: PLR0912 (one loop, set-up and wrap-up: clearer in one place)
        started = time.perf_counter()
        with MemoryDispatchUnitOfWork(self.db) as uow:
            for store in self.city.stores:
                uow.stores.add(store)
            uow.commit()
        self.publish_policy()
        orders = draw_orders(self.scenario, self.city, self.world)
        shoppers, self.shopper_visits = draw_shoppers(self.scenario, self.city, self.world)
        visits: list[Visit] = [(visit, uuid_from(self.world), None) for visit in shoppers]
        if self.scenario.shoppers.regular_share > 0:
            visits = self._with_regulars(visits)
        for order in orders:
            self.queue.push(order.placed_s, Kind.ORDER, order)
        for visit in visits:
            self.queue.push(visit[0].arrives_s, Kind.SHOPPER, visit)
        self.orders_to_come = len(orders)
        for index in range(len(self.city.stores)):
            self.queue.push(0.0, Kind.BATCH, index)
        day_end_s = self.scenario.hours * 3600.0
        horizon_s = day_end_s + HORIZON_AFTER_DAY.total_seconds()
        bar = _progress_bar(self.progress, day_end_s)
        handlers: Mapping[Kind, Callable[[float, Any], None]] = {
            Kind.DELIVER: self._deliver,
            Kind.LEAVE: self._leave,
            Kind.RESPOND: self._respond,
            Kind.CANCEL: self._cancel,
            Kind.ORDER: self._order,
            Kind.SHOPPER: self._shopper,
            Kind.BATCH: self._batch,
        }
        shown = 0.0
        told = 0.0
        while self.queue:
            at_s, kind, payload = self.queue.pop()
            if at_s > horizon_s:
                break
            self.clock.set(self.at(at_s))
            handlers[kind](at_s, payload)
            if bar is not None and at_s > shown:
                bar.update(min(at_s, day_end_s) - shown)
                shown = min(at_s, day_end_s)
            if self.on_progress is not None and at_s >= told + day_end_s / 100:
                told = min(at_s, day_end_s)
                self.on_progress(told / day_end_s)
        if bar is not None:
            bar.close()
        self.payout = pay_out_day(self.memory, self.start, self.clock.now())
        with MemoryDispatchUnitOfWork(self.db) as uow:
            for record in self.orders:
                if record.order_id is not None:
                    record.status = uow.orders.get(record.order_id).status.value
            for offer_id, offer_record in self.offers.items():
                offer_record.outcome = uow.offers.get(offer_id).status.value  # unanswered ones expired
        for record in self.orders:
            if record.status == OrderStatus.FALLBACK.value:
                record.fallback_cost_cents = record.courier_cost_cents
        statuses: dict[str, int] = {}
        for record in self.orders:
            statuses[record.status] = statuses.get(record.status, 0) + 1
        return DayResult(
            scenario=self.scenario,
            stores=self.city.stores,
            orders=self.orders,
            trips=self.trips,
            offers=list(self.offers.values()),
            batches=self.batches,
            shopper_visits=self.shopper_visits,
            wall_s=time.perf_counter() - started,
            final_statuses=statuses,
            payout=self.payout,
        )

    def _courier_cost(self, store: Store, dropoff: GeoPoint) -> int:
        fallback = self.scenario.fallback
        if fallback.kind == "courier":
            return int(store.fallback_cost_cents)
        km = 2 * self.travel.distance_m(store.location, dropoff) / 1000.0
        return round(fallback.fleet_fixed_cents + fallback.fleet_per_km_cents * km)

    def _order(self, at_s: float, plan: OrderPlan) -> None:
        self.orders_to_come -= 1
        store = self.city.stores[plan.store_index]
        earliest = self.at(at_s + plan.ready_s)
        latest = earliest + timedelta(seconds=plan.window_s)
        deadline = latest - timedelta(minutes=self.scenario.orders.deadline_before_end_minutes)
        record = OrderRecord(
            external_ref=plan.external_ref,
            store=store.name,
            placed_at=self.clock.now(),
            dropoff=plan.dropoff,
            bags=plan.bags,
            window_latest=latest,
            courier_cost_cents=self._courier_cost(store, plan.dropoff),
        )
        self.orders.append(record)
        intake = OrderIntake(
            store_id=store.id,
            external_ref=plan.external_ref,
            dropoff=plan.dropoff,
            dropoff_address=f"{plan.dropoff.lat:.5f}, {plan.dropoff.lon:.5f}",
            recipient_name="Customer",
            window_earliest=earliest,
            window_latest=latest,
            dispatch_deadline=deadline,
            size_bags=plan.bags,
            value_cents=Cents(plan.value_cents),
            age_restricted=plan.age_restricted,
            perishable=plan.perishable,
        )
        try:
            result = ingest_order(self.ctx, scope="simulation", idempotency_key=plan.external_ref, intake=intake)
        except DomainError:
            return  # intake refused it (e.g. outside the service area); it never became an order
        record.order_id = UUID(str(result.receipt["order_id"]))
        self.delivery_codes[record.order_id] = str(result.delivery_code)
        record.status = OrderStatus.PENDING.value
        self.order_of_id[record.order_id] = record
        if plan.cancel_after_s is not None:
            self.queue.push(at_s + plan.cancel_after_s, Kind.CANCEL, record.order_id)

    def _cancel(self, _at_s: float, order_id: UUID) -> None:
        """The customer cancels; honoured only while the order still waits for a shopper."""
        with self.ctx.unit_of_work() as uow:
            order = uow.orders.get(order_id, for_update=True)
            if order.status is not OrderStatus.PENDING:
                return
            order.cancel()
            save_move(uow, order, self.ctx.clock.now(), "cancelled by the customer")
            uow.commit()

    def _register(self, plan: ShopperPlan, shopper_id: UUID, name: str) -> None:
        shopper = Shopper(
            id=shopper_id,
            display_name=name,
            trust_tier=plan.tier,
            identity_verified=plan.identity_verified,
            home_location=plan.home if self.scenario.dispatch.record_shopper_homes else None,
        )
        with self.ctx.unit_of_work() as uow:
            uow.shoppers.add(shopper)
            uow.commit()

    def _with_regulars(self, visits: list[Visit]) -> list[Visit]:
        """Fewer occasional visitors, and the regulars who come today (`simulations.regulars`)."""
        return with_regulars(self.ctx, self.scenario, self.city, visits, at=self.at, register=self._register)

    def _shopper(self, at_s: float, payload: Visit) -> None:
        plan, shopper_id, profile_id = payload
        store = self.city.stores[plan.store_index]
        leave_s = at_s + plan.dwell_s  # a regular's arrival and dwell are whole seconds: their leave-by exactly
        if profile_id is None:
            self._register(plan, shopper_id, f"Shopper {plan.index + 1}")
            trip = check_in(
                self.ctx,
                shopper_id=shopper_id,
                store_id=store.id,
                destination=plan.home,
                capacity_bags=plan.capacity,
                max_detour_m=plan.max_detour_m,
                max_detour_s=plan.max_detour_s,
                leave_by=self.at(leave_s),
            )
        else:
            try:
                trip = check_in_from_profile(self.ctx, shopper_id=shopper_id, profile_id=profile_id)
            except DomainError:
                return  # e.g. a departure past midnight whose day already turned: the regular stays home
        record = TripRecord(
            index=len(self.trips),
            trip_id=trip.id,
            shopper_id=shopper_id,
            store_index=plan.store_index,
            checked_in_at=trip.checked_in_at,
            leave_by=trip.leave_by,
            destination=plan.home,
            regular=profile_id is not None,
        )
        self.trips.append(record)
        self.trip_of_id[trip.id] = record
        self.queue.push(leave_s, Kind.LEAVE, trip.id)

    def _batch(self, at_s: float, store_index: int) -> None:
        report = self.batch_once(store_index)
        self._answer_offers(at_s, report)
        if self.orders_to_come > 0 or self._store_has_unfinished(report.store_id):
            self.queue.push(at_s + self.scenario.dispatch.batch_cadence_s, Kind.BATCH, store_index)

    def batch_once(self, store_index: int) -> BatchReport:
        """One batch of the store at the clock's time: the live use case, timed and recorded."""
        store = self.city.stores[store_index]
        before = len(self.matcher_seconds)
        started = time.perf_counter()
        report = run_batch(self.ctx, store_id=store.id, solver=self._solve)
        batch_s = time.perf_counter() - started
        ran = len(self.matcher_seconds) > before
        self.batches.append(
            BatchRecord(
                store=store.name,
                at=report.started_at,
                pending_orders=report.pending_orders,
                eligible_trips=report.eligible_trips,
                offers=len(report.offers),
                fallback=len(report.fallback_orders),
                expired_offers=report.expired_offers,
                matcher_s=self.matcher_seconds[-1] if ran else None,
                batch_s=batch_s,
            )
        )
        return report

    def _store_has_unfinished(self, store_id: UUID) -> bool:
        index = self.db.orders_by_store.get(store_id, {})
        return any(index.get(status) for status in OrderStatus if status not in SETTLED)

    def _solve(self, problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        """The live dispatcher's matcher call (`dispatch.matching` through its file format), timed."""
        from dispatch.matching import parse_problem, solution_to_json, solve

        started = time.perf_counter()
        solution = solution_to_json(
            solve(parse_problem(problem), time_limit=time_limit_s, seed=self.scenario.dispatch.matcher_seed)
        )
        self.matcher_seconds.append(time.perf_counter() - started)
        return solution


def _progress_bar(enabled: bool, total_s: float) -> Any:
    if not enabled:
        return None
    tqdm = require("tqdm", "the progress bar").tqdm
    return tqdm(total=total_s, unit="sim-s", unit_scale=True, desc="simulated day", leave=False)


def simulate_day(
    scenario: Scenario, *, progress: bool = False, on_progress: Callable[[float], None] | None = None
) -> DayResult:
    return DaySimulation(scenario, progress=progress, on_progress=on_progress).run()
