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
import heapq
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from composition import in_memory
from crowdship.clock import ManualClock
from crowdship.errors import DomainError
from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchUnitOfWork
from dispatch.batching import BatchParameters
from dispatch.model import Offer, OfferStatus, OrderStatus, Shopper, Store, TrustTier
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.batch import BatchReport, run_batch
from dispatch.services.context import DeliveredOrder, DispatchConfig
from dispatch.services.delivery import confirm_pickup, deliver
from dispatch.services.intake import OrderIntake, ingest_order
from dispatch.services.offers import accept_offer, decline_offer
from dispatch.services.trips import check_in
from rewards.policy import PaymentMethod, PolicyStatus
from rewards.records import NothingToPay
from rewards.services import (
    RewardCredit,
    approve_payout_batch,
    create_reward_policy,
    decide_reward_policy,
    pay_payout_batch,
    prepare_payout_batch,
    reconciliation_report,
)
from routing.geo import GeoPoint
from routing.travel import StraightLineTravel
from simulations.city import City, build_city, uuid_from
from simulations.scenario import Scenario

SIMULATION_OPS = UUID(int=1)
"""Who proposes the scenario's policy in a simulated day; `SIMULATION_FINANCE` approves it and pays out."""
SIMULATION_FINANCE = UUID(int=2)
SERVICE_AREA_MARGIN = 0.98
"""Customers are drawn within this share of the radius: the area polygon is inscribed in the circle."""
HORIZON_AFTER_DAY = timedelta(hours=24)
"""A safety net: no simulated day runs on for longer than this after its last order."""


class Kind(IntEnum):
    """Event kinds; at the same instant the lower value happens first."""

    DELIVER = 0
    LEAVE = 1
    RESPOND = 2
    CANCEL = 3
    ORDER = 4
    SHOPPER = 5
    BATCH = 6


@dataclass
class OrderPlan:
    """An order as the world draws it, before it reaches intake."""

    index: int
    external_ref: str
    placed_s: float
    store_index: int
    dropoff: GeoPoint
    ready_s: float
    window_s: float
    bags: int
    value_cents: int
    age_restricted: bool
    perishable: bool
    cancel_after_s: float | None


@dataclass
class ShopperPlan:
    index: int
    arrives_s: float
    store_index: int
    home: GeoPoint
    capacity: int
    max_detour_m: int
    max_detour_s: int
    dwell_s: float
    tier: TrustTier
    identity_verified: bool


@dataclass
class OrderRecord:
    external_ref: str
    store: str
    placed_at: datetime
    dropoff: GeoPoint
    bags: int
    window_latest: datetime
    order_id: UUID | None = None
    status: str = "refused"
    delivered_at: datetime | None = None
    trip_id: UUID | None = None
    detour_m: float = 0.0
    reward_cents: float = 0.0
    fallback_cost_cents: int = 0
    courier_cost_cents: int = 0
    """What the all-courier baseline pays for this order."""

    @property
    def on_time(self) -> bool | None:
        if self.delivered_at is None:
            return None
        return self.delivered_at <= self.window_latest


@dataclass
class TripRecord:
    index: int
    trip_id: UUID
    shopper_id: UUID
    store_index: int
    checked_in_at: datetime
    leave_by: datetime
    destination: GeoPoint
    departed_at: datetime | None = None
    route: list[GeoPoint] = field(default_factory=list)
    delivered: int = 0
    reward_cents: int = 0


@dataclass
class BatchRecord:
    store: str
    at: datetime
    pending_orders: int
    eligible_trips: int
    offers: int
    fallback: int
    expired_offers: int
    matcher_s: float | None
    batch_s: float


@dataclass
class OfferRecord:
    offer_id: UUID
    trip_index: int
    stops: int
    extra_distance_m: int
    reward_quote_cents: int
    probability: float
    outcome: str = "open"


@dataclass(frozen=True)
class PayoutRecord:
    """The end-of-day payout batch, through finance's use cases."""

    lines: int = 0
    flagged_lines: int = 0
    paid_cents: int = 0
    books_agree: bool = True


@dataclass
class DayResult:
    scenario: Scenario
    stores: list[Store]
    orders: list[OrderRecord]
    trips: list[TripRecord]
    offers: list[OfferRecord]
    batches: list[BatchRecord]
    shopper_visits: int
    wall_s: float
    final_statuses: dict[str, int]
    payout: PayoutRecord = field(default_factory=PayoutRecord)


def _bounds(pair: tuple[int, int]) -> tuple[int, int]:
    return pair[0], pair[1]


class DaySimulation:
    """One run of a scenario. Build, then `run()`; the result is kept for inspection too."""

    def __init__(self, scenario: Scenario, *, progress: bool = False) -> None:
        self.scenario = scenario
        self.progress = progress
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
        self.queue: list[tuple[float, int, int, Any]] = []
        self._sequence = 0
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
        """The scenario's policy, proposed and approved (by two people, as live) at the start of the day."""
        with self.memory.rewards() as uow:
            policy = create_reward_policy(
                uow, parameters=policy_parameters(self.scenario), actor_id=SIMULATION_OPS, now=self.start
            )
        with self.memory.rewards() as uow:
            decide_reward_policy(
                uow, version=policy.version, status=PolicyStatus.APPROVED, actor_id=SIMULATION_FINANCE, now=self.start
            )

    def _pay_out(self) -> None:
        """At the end of the day, finance pays the cash earned: prepared, approved by a second person, paid."""
        now = self.clock.now()
        try:
            with self.memory.rewards() as uow:
                prepared = prepare_payout_batch(
                    uow,
                    period_start=self.start,
                    period_end=now,
                    actor_id=SIMULATION_FINANCE,
                    now=now,
                    idempotency_key="simulated-day",
                ).batch
        except NothingToPay:
            return
        with self.memory.rewards() as uow:
            approve_payout_batch(uow, batch_id=prepared.id, actor_id=SIMULATION_OPS, now=now)
        with self.memory.rewards() as uow:
            paid = pay_payout_batch(
                uow, batch_id=prepared.id, actor_id=SIMULATION_FINANCE, now=now, idempotency_key="simulated-day"
            )
        with self.memory.rewards() as uow:
            report = reconciliation_report(uow)
        self.payout = PayoutRecord(
            lines=len(prepared.lines),
            flagged_lines=sum(1 for line in prepared.lines if line.flags),
            paid_cents=paid.paid_cents,
            books_agree=report.agrees,
        )

    # --- the event queue -------------------------------------------------------------------------

    def _push(self, at_s: float, kind: Kind, payload: Any) -> None:
        self._sequence += 1
        heapq.heappush(self.queue, (at_s, int(kind), self._sequence, payload))

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(microseconds=round(seconds * 1e6))

    def _store_index_of(self, store_id: UUID) -> int:
        return next(i for i, store in enumerate(self.city.stores) if store.id == store_id)

    # --- drawing the world ---------------------------------------------------------------------------

    def _arrivals(self, rates: list[float]) -> npt.NDArray[np.float64]:
        counts = self.world.poisson(rates)
        times = [hour * 3600.0 + self.world.uniform(0.0, 3600.0, count) for hour, count in enumerate(counts)]
        return np.sort(np.concatenate(times)) if times else np.zeros(0)

    def _draw_orders(self) -> list[OrderPlan]:
        scenario, city, rng = self.scenario, self.city, self.world
        spec = scenario.orders
        times = self._arrivals(scenario.order_rates())
        radii = np.array(city.service_radius_m) * SERVICE_AREA_MARGIN
        served = city.distance_to_store_m <= radii[None, :]
        candidates = np.flatnonzero(served.any(axis=1))
        if len(candidates) == 0:
            return []
        weights = city.weights[candidates] / city.weights[candidates].sum()
        count = len(times)
        homes = candidates[rng.choice(len(candidates), size=count, p=weights)]
        distances = np.where(served[homes], city.distance_to_store_m[homes], np.inf)
        stores = np.argmin(distances, axis=1)
        ready_lo, ready_hi = _bounds(spec.ready_minutes)
        ready = rng.uniform(ready_lo * 60.0, ready_hi * 60.0, count)
        windows = rng.choice(np.array(spec.window_hours), size=count) * 3600.0
        bags = rng.choice(np.array(spec.bags), size=count)
        values = rng.integers(spec.value_cents[0], spec.value_cents[1] + 1, size=count)
        age = rng.random(count) < spec.age_restricted_share
        perishable = rng.random(count) < spec.perishable_share
        cancels = rng.random(count) < spec.cancel_share
        cancel_after = rng.uniform(60.0, 3600.0, count)
        return [
            OrderPlan(
                index=i,
                external_ref=f"SIM-{i + 1:06d}",
                placed_s=float(times[i]),
                store_index=int(stores[i]),
                dropoff=GeoPoint(round(float(city.homes[homes[i], 0]), 6), round(float(city.homes[homes[i], 1]), 6)),
                ready_s=float(ready[i]),
                window_s=float(windows[i]),
                bags=int(bags[i]),
                value_cents=int(values[i]),
                age_restricted=bool(age[i]),
                perishable=bool(perishable[i]),
                cancel_after_s=float(cancel_after[i]) if cancels[i] else None,
            )
            for i in range(count)
        ]

    def _draw_shoppers(self) -> list[ShopperPlan]:
        scenario, city, rng = self.scenario, self.city, self.world
        spec = scenario.shoppers
        times = self._arrivals(scenario.shopper_rates())
        self.shopper_visits = len(times)
        willing = rng.random(len(times)) < spec.willing_share
        times = times[willing]
        count = len(times)
        store_count = len(city.stores)
        stores = rng.integers(0, store_count, size=count)
        reach = np.array(city.service_radius_m) * spec.home_radius_factor
        near = city.distance_to_store_m <= reach[None, :]
        picks = rng.random(count)
        homes = np.empty(count, dtype=np.int64)
        for store in range(store_count):
            chosen = np.flatnonzero(stores == store)
            pool = np.flatnonzero(near[:, store])
            cumulative = np.cumsum(city.weights[pool])
            cumulative /= cumulative[-1]
            homes[chosen] = pool[np.minimum(np.searchsorted(cumulative, picks[chosen]), len(pool) - 1)]
        capacity = rng.choice(np.array(spec.capacity_bags), size=count)
        detour_m = rng.choice(np.array(spec.max_detour_m), size=count)
        detour_s = rng.choice(np.array(spec.max_detour_s), size=count)
        dwell_lo, dwell_hi = _bounds(spec.dwell_minutes)
        dwell = rng.uniform(dwell_lo * 60.0, dwell_hi * 60.0, count)
        tiers = rng.choice(4, size=count, p=np.array(spec.trust_tier_shares) / sum(spec.trust_tier_shares))
        verified = rng.random(count) < spec.identity_verified_share
        return [
            ShopperPlan(
                index=i,
                arrives_s=float(times[i]),
                store_index=int(stores[i]),
                home=GeoPoint(round(float(city.homes[homes[i], 0]), 6), round(float(city.homes[homes[i], 1]), 6)),
                capacity=int(capacity[i]),
                max_detour_m=int(detour_m[i]),
                max_detour_s=int(detour_s[i]),
                dwell_s=float(dwell[i]),
                tier=TrustTier(int(tiers[i])),
                identity_verified=bool(verified[i]),
            )
            for i in range(count)
        ]

    # --- running ----------------------------------------------------------------------------------

    def run(self) -> DayResult:  # noqa: PLR0912 (one loop, set-up and wrap-up: clearer in one place)
        started = time.perf_counter()
        with MemoryDispatchUnitOfWork(self.db) as uow:
            for store in self.city.stores:
                uow.stores.add(store)
            uow.commit()
        self.publish_policy()
        orders = self._draw_orders()
        shoppers = self._draw_shoppers()
        shopper_ids = [uuid_from(self.world) for _ in shoppers]
        for order in orders:
            self._push(order.placed_s, Kind.ORDER, order)
        for visit, shopper_id in zip(shoppers, shopper_ids, strict=True):
            self._push(visit.arrives_s, Kind.SHOPPER, (visit, shopper_id))
        self.orders_to_come = len(orders)
        for index in range(len(self.city.stores)):
            self._push(0.0, Kind.BATCH, index)
        day_end_s = self.scenario.hours * 3600.0
        horizon_s = day_end_s + HORIZON_AFTER_DAY.total_seconds()
        bar = _progress_bar(self.progress, day_end_s)
        handlers: Mapping[int, Callable[[float, Any], None]] = {
            Kind.DELIVER: self._deliver,
            Kind.LEAVE: self._leave,
            Kind.RESPOND: self._respond,
            Kind.CANCEL: self._cancel,
            Kind.ORDER: self._order,
            Kind.SHOPPER: self._shopper,
            Kind.BATCH: self._batch,
        }
        shown = 0.0
        while self.queue:
            at_s, kind, _, payload = heapq.heappop(self.queue)
            if at_s > horizon_s:
                break
            self.clock.set(self.at(at_s))
            handlers[kind](at_s, payload)
            if bar is not None and at_s > shown:
                bar.update(min(at_s, day_end_s) - shown)
                shown = min(at_s, day_end_s)
        if bar is not None:
            bar.close()
        self._pay_out()
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
            self._push(at_s + plan.cancel_after_s, Kind.CANCEL, record.order_id)

    def _cancel(self, _at_s: float, order_id: UUID) -> None:
        """The customer cancels; honoured only while the order still waits for a shopper."""
        with self.ctx.unit_of_work() as uow:
            order = uow.orders.get(order_id, for_update=True)
            if order.status is not OrderStatus.PENDING:
                return
            order.cancel()
            uow.orders.save(order)
            uow.commit()

    def _shopper(self, at_s: float, payload: tuple[ShopperPlan, UUID]) -> None:
        plan, shopper_id = payload
        store = self.city.stores[plan.store_index]
        shopper = Shopper(
            id=shopper_id,
            display_name=f"Shopper {plan.index + 1}",
            trust_tier=plan.tier,
            identity_verified=plan.identity_verified,
            home_location=plan.home if self.scenario.dispatch.record_shopper_homes else None,
        )
        with self.ctx.unit_of_work() as uow:
            uow.shoppers.add(shopper)
            uow.commit()
        leave_s = at_s + plan.dwell_s
        trip = check_in(
            self.ctx,
            shopper_id=shopper.id,
            store_id=store.id,
            destination=plan.home,
            capacity_bags=plan.capacity,
            max_detour_m=plan.max_detour_m,
            max_detour_s=plan.max_detour_s,
            leave_by=self.at(leave_s),
        )
        record = TripRecord(
            index=len(self.trips),
            trip_id=trip.id,
            shopper_id=shopper.id,
            store_index=plan.store_index,
            checked_in_at=trip.checked_in_at,
            leave_by=trip.leave_by,
            destination=plan.home,
        )
        self.trips.append(record)
        self.trip_of_id[trip.id] = record
        self._push(leave_s, Kind.LEAVE, trip.id)

    def _batch(self, at_s: float, store_index: int) -> None:
        report = self.batch_once(store_index)
        self._answer_offers(at_s, report)
        if self.orders_to_come > 0 or self._store_has_unfinished(report.store_id):
            self._push(at_s + self.scenario.dispatch.batch_cadence_s, Kind.BATCH, store_index)

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
        return any(index.get(status) for status in OrderStatus if status not in _FINAL)

    def _solve(self, problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
        """The live dispatcher's matcher call (`dispatch.matching` through its file format), timed."""
        from dispatch.matching import parse_problem, solution_to_json, solve

        started = time.perf_counter()
        solution = solution_to_json(
            solve(parse_problem(problem), time_limit=time_limit_s, seed=self.scenario.dispatch.matcher_seed)
        )
        self.matcher_seconds.append(time.perf_counter() - started)
        return solution

    def _answer_offers(self, at_s: float, report: BatchReport) -> None:
        """Each shopper weighs the offer (logistic in reward, detour, stops) and answers after a while."""
        spec = self.scenario.acceptance
        low, high = _bounds(self.scenario.shoppers.response_seconds)
        for offer in sorted(report.offers, key=lambda o: self.trip_of_id[o.trip_id].index):
            trip = self.trip_of_id[offer.trip_id]
            score = (
                spec.intercept
                + spec.per_reward_dollar * offer.reward_quote_cents / 100.0
                + spec.per_detour_km * offer.extra_distance_m / 1000.0
                + spec.per_stop * (len(offer.stops) - 1)
            )
            probability = 1.0 / (1.0 + math.exp(-score))
            accepts = bool(self.decisions.random() < probability)
            delay = float(self.decisions.uniform(low, high))
            self.offers[offer.id] = OfferRecord(
                offer.id, trip.index, len(offer.stops), offer.extra_distance_m, offer.reward_quote_cents, probability
            )
            if at_s + delay < (offer.expires_at - self.start).total_seconds():
                self._push(at_s + delay, Kind.RESPOND, (offer, accepts))

    def _respond(self, _at_s: float, payload: tuple[Offer, bool]) -> None:
        offer, accepts = payload
        trip = self.trip_of_id[offer.trip_id]
        record = self.offers[offer.id]
        if self.clock.now() >= trip.leave_by:
            accepts = False  # the shopper has left the store
        try:
            if accepts:
                accept_offer(self.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
                record.outcome = OfferStatus.ACCEPTED.value
            else:
                decline_offer(self.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
                record.outcome = OfferStatus.DECLINED.value
        except DomainError:
            # Withdrawn or expired before the answer came (the trip ran out, or a batch tidied up).
            with self.ctx.unit_of_work() as uow:
                record.outcome = uow.offers.get(offer.id).status.value

    def _leave(self, at_s: float, trip_id: UUID) -> None:
        """Checkout: with accepted orders, the shopper scans the bags and drives the stops in offer order."""
        trip = self.trip_of_id[trip_id]
        with self.ctx.unit_of_work() as uow:
            carried = uow.orders.on_trip(trip_id, [OrderStatus.ACCEPTED])
            codes = uow.secrets.for_orders([order.id for order in carried])
        if not carried:
            return  # leaves without orders; the next batch expires the trip
        confirm_pickup(
            self.ctx,
            shopper_id=trip.shopper_id,
            trip_id=trip_id,
            bag_codes=[codes[order.id].bag_code for order in carried],
        )
        store = self.city.stores[trip.store_index]
        trip.departed_at = self.clock.now()
        trip.route = [store.location]
        here, clock_s = store.location, at_s
        for order in carried:
            clock_s += self.travel.duration_s(here, order.dropoff)
            clock_s = max(clock_s, (order.window_earliest - self.start).total_seconds())
            self._push(clock_s, Kind.DELIVER, (trip_id, order.id))
            trip.route.append(order.dropoff)
            here = order.dropoff
        trip.route.append(trip.destination)

    def _deliver(self, _at_s: float, payload: tuple[UUID, UUID]) -> None:
        trip_id, order_id = payload
        trip = self.trip_of_id[trip_id]
        record = self.order_of_id[order_id]
        code = self.delivery_codes.pop(order_id)
        deliver(self.ctx, shopper_id=trip.shopper_id, order_id=order_id, position=record.dropoff, code=code)
        record.delivered_at = self.clock.now()
        record.trip_id = trip_id
        trip.delivered += 1


_FINAL = frozenset({OrderStatus.DELIVERED, OrderStatus.FALLBACK, OrderStatus.CANCELLED, OrderStatus.RETURNED})


def _progress_bar(enabled: bool, total_s: float) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm  # type: ignore[import-untyped]

    return tqdm(total=total_s, unit="sim-s", unit_scale=True, desc="simulated day", leave=False)


def policy_parameters(scenario: Scenario) -> dict[str, Any]:
    """The scenario's reward policy, as ops would propose it."""
    spec = scenario.rewards
    values: dict[str, Any] = {
        "base_cents": spec.base_cents,
        "per_extra_km_cents": spec.per_extra_km_cents,
        "per_extra_minute_cents": spec.per_extra_minute_cents,
        "per_bag_cents": spec.per_bag_cents,
        "minimum_cents": spec.minimum_cents,
        "daily_cap_cents": spec.daily_cap_cents,
        "store_credit_bonus_bps": spec.store_credit_bonus_bps,
        "timezone": scenario.timezone,
    }
    if spec.peak_multiplier_bps is not None:
        values["peak_multiplier_bps"] = spec.peak_multiplier_bps
    if spec.tier_multiplier_bps is not None:
        values["tier_multiplier_bps"] = spec.tier_multiplier_bps
    return values


def dispatch_config(scenario: Scenario) -> DispatchConfig:
    """The live dispatcher's configuration, filled from the scenario.

    The matcher prices a route by its own detour rule; it is set to follow the reward policy: per extra km
    the policy's km rate plus its minute rate at the travel speed, and at least the policy's minimum.
    """
    dispatch, rewards, travel = scenario.dispatch, scenario.rewards, scenario.travel
    offer_ttl = timedelta(seconds=dispatch.offer_ttl_s)
    per_km = rewards.per_extra_km_cents + rewards.per_extra_minute_cents * 60.0 / travel.speed_kmh
    caps: dict[int, int | None] = {
        tier: None if cap == "none" else int(cap) for tier, cap in dispatch.tier_value_caps_cents.items()
    }
    return DispatchConfig(
        offer_ttl=offer_ttl,
        geofence_m=150.0,
        max_delivery_attempts=3,
        lease_ttl_s=30.0,
        matcher_time_limit_s=dispatch.matcher_time_limit_s,
        location_sample_interval_s=30.0,
        location_rate_limit_per_s=10,
        batch=BatchParameters(
            road_factor=travel.road_factor,
            speed_km_per_min=travel.speed_kmh / 60.0,
            max_bundle_orders=dispatch.max_bundle_orders,
            tier_value_caps_cents=caps,
            own_address_radius_m=dispatch.own_address_radius_m,
            compensation_cents_per_km=round(per_km),
            compensation_minimum_cents=max(rewards.minimum_cents, rewards.base_cents + rewards.per_bag_cents),
            offer_ttl=offer_ttl,
        ),
        delivery_code_work=2,  # nothing is kept after the run: the codes' hashes need not be slow
    )


def simulate_day(scenario: Scenario, *, progress: bool = False) -> DayResult:
    return DaySimulation(scenario, progress=progress).run()
