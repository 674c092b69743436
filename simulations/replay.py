"""Replays a recorded day under another reward policy or matcher setting, on the simulator's footing.

The day's orders come in through intake at the instants they were taken, its shoppers check in when they did
(and cancel when they did), the store is batched at the live cadence with the live use cases, and the offers
are priced by the replay's policy: everything runs on the in-memory adapters wired by
`composition.in_memory`, with a `ManualClock` moved from event to event, as a simulated day does.

Shoppers' answers: an offer the shopper answered in reality (accepted, declined or let expire) is answered the
same way, after as long as they took, when the replay offers the same trip the same set of orders (the n-th
time as the n-th time); one they had not answered when it was withdrawn is left unanswered. Any other
offer is answered by the simulator's acceptance model (`AcceptanceSpec`, logistic in reward, detour and stops;
its defaults unless given), with a seeded generator.

Where the record says when something happened the replay follows it: a trip that left the store before its
leave-by leaves when it did (once the answers it accepted then have come in), and an order the same trip
delivered is delivered when it was. An order that failed at the door on the same trip fails again through the
delivery use case: each attempt the record refused is made again when it was, from where it was, with a wrong
code when the recorded one did not match, so that the last one fails the order; one operations marked not
delivered is marked so when they did; and operations' moves after (back in the store, requeued, to the courier
fleet) follow when they were made. Otherwise a shopper who has accepted leaves the store at the trip's
leave-by and drives the stops at the simulator's travel speed. A shopper's next check-in waits, as it did
live, until their replayed trip has ended. What the replay cannot play as recorded (an order intake refuses
now, a check-in whose leave-by passed while the shopper's earlier trip went on, a cancellation of what has
already left, a failed delivery on a trip that did not carry the order in the replay or that the replay's
attempts did not fail) is kept in `ReplayResult.unreplayed` and printed, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np

from composition import acceptance_aware, in_memory
from crowdship.clock import ManualClock, time_zone
from crowdship.errors import DomainError, InvalidInput
from crowdship.files import read_json_file, read_text_file
from dispatch.errors import AlreadyOnTrip, DeliveryRefused
from dispatch.model import DeliveryProof, Offer, OfferStatus, Order, OrderStatus, Trip, TripStatus
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.batch import Solver, matcher_solver, run_batch
from dispatch.services.context import DeliveredOrder, DispatchConfig
from dispatch.services.delivery import NOT_DELIVERED_NOTE, confirm_pickup, deliver, mark_not_delivered, mark_returned
from dispatch.services.intake import OrderIntake, ingest_order
from dispatch.services.offers import accept_offer, decline_offer
from dispatch.services.orders import cancel_order, hand_to_fallback, requeue_order
from dispatch.services.trips import cancel_trip, check_in
from rewards.policy import PolicyParameters, PolicyStatus
from rewards.recorded_day import DayFigures, RecordedDay, RecordedFailure, day_figures
from rewards.services import RewardCredit, create_reward_policy, decide_reward_policy
from rewards.services.wallet import DEFAULT_PAYMENT_METHOD
from routing.geo import GeoPoint
from routing.travel import StraightLineTravel
from simulations.books import SIMULATION_FINANCE, SIMULATION_OPS
from simulations.day_records import SETTLED
from simulations.events import EventQueue, Kind
from simulations.scenario import AcceptanceSpec

REFIT_EVERY = timedelta(hours=1)
"""How often an acceptance-aware replay refits its model (as the dispatcher does)."""
AFTER_THE_DAY = timedelta(hours=24)
"""A safety net: the replay stops this long after the day's end whatever is left."""


@dataclass(frozen=True)
class ReplayOptions:
    policy: Mapping[str, Any]
    """The reward policy's parameters (`rewards.policy.PolicyParameters` as JSON), in force all day."""
    config: DispatchConfig
    """The dispatcher's configuration (the matcher's time limit, offer time to live, bundles...)."""
    cadence_s: float = 10.0
    acceptance: AcceptanceSpec = dataclasses.field(default_factory=AcceptanceSpec)
    response_seconds: tuple[float, float] = (5.0, 40.0)
    """How long a modelled answer takes."""
    travel: StraightLineTravel = dataclasses.field(default_factory=StraightLineTravel)
    seed: int = 0
    solver: Solver = matcher_solver
    acceptance_aware: bool = False
    """Match as `crowdship dispatcher --acceptance` does: offers weighed by a model of the replay's own
    answers, refitted every hour of the replay's clock, and each order's waiting priced by its prospects."""


@dataclass(frozen=True)
class Unreplayed:
    """Something recorded that the replay could not play as it happened."""

    what: str
    """'order', 'check-in', 'cancellation' or 'failed delivery'."""
    at: datetime
    """When it happened."""
    reason: str


PLURALS = {
    "order": "orders",
    "check-in": "check-ins",
    "cancellation": "cancellations",
    "failed delivery": "failed deliveries",
}


@dataclass(frozen=True)
class ReplayResult:
    recorded: DayFigures
    replayed: DayFigures
    offers: int
    answered_as_recorded: int
    """Offers answered as the shopper did in reality (same trip, same orders)."""
    answered_by_model: int
    """Offers answered by the acceptance model."""
    unreplayed: tuple[Unreplayed, ...] = ()
    """What was recorded but could not be replayed, in the order it happened."""


def unreplayed_lines(result: ReplayResult) -> list[str]:
    """One line per kind of record the replay could not play: '2 check-ins could not be replayed: ...'."""
    kinds: dict[str, list[Unreplayed]] = {}
    for item in sorted(result.unreplayed, key=lambda item: item.at):
        kinds.setdefault(item.what, []).append(item)
    lines = []
    for what, items in kinds.items():
        name = what if len(items) == 1 else PLURALS.get(what, what + "s")
        details = "; ".join(f"{item.at.astimezone(UTC):%H:%M:%S} UTC, {item.reason}" for item in items)
        lines.append(f"{len(items)} {name} could not be replayed: {details}")
    return lines


def replay_day(day: RecordedDay, options: ReplayOptions) -> ReplayResult:
    return _Replay(day, options).run()


def replay_rows(result: ReplayResult) -> list[tuple[str, str, str, str]]:
    """The side-by-side table: figure, as it happened, replayed, change."""
    before, after = result.recorded, result.replayed

    def money(cents: int) -> str:
        return f"{cents:,}"

    def change(old: float, new: float, text: Callable[[Any], str]) -> str:
        delta = new - old
        sign = "+" if delta > 0 else ("-" if delta < 0 else "±")
        return f"{sign}{text(abs(delta))}"

    share = "{:.1%}".format
    return [
        ("payouts, cents (rewards credited)", money(before.payouts_cents), money(after.payouts_cents),
         change(before.payouts_cents, after.payouts_cents, lambda v: money(int(v)))),
        ("share delivered by shoppers", share(before.shopper_share), share(after.shopper_share),
         change(before.shopper_share, after.shopper_share, lambda v: f"{v * 100:.1f} pts")),
        ("cost, cents (rewards + fallback)", money(before.cost_cents), money(after.cost_cents),
         change(before.cost_cents, after.cost_cents, lambda v: money(int(v)))),
        ("orders delivered by shoppers", str(before.delivered), str(after.delivered),
         change(before.delivered, after.delivered, lambda v: str(int(v)))),
        ("orders to the fallback", str(before.fallback), str(after.fallback),
         change(before.fallback, after.fallback, lambda v: str(int(v)))),
        ("orders (cancelled)", f"{before.orders} ({before.cancelled})", f"{after.orders} ({after.cancelled})", ""),
    ]  # fmt: skip


class _Replay:
    def __init__(self, day: RecordedDay, options: ReplayOptions) -> None:
        self.day, self.options = day, options
        self.clock = ManualClock(day.start)
        config = dataclasses.replace(options.config, delivery_code_work=2)  # nothing is kept: cheap code hashes
        self.memory = in_memory(
            config, self.clock, payment_choice=lambda shopper: day.payment_methods.get(shopper, DEFAULT_PAYMENT_METHOD)
        )
        credit = self.memory.context.credit_delivery
        assert credit is not None
        self.ctx = dataclasses.replace(self.memory.context, credit_delivery=self._noting(credit))
        self.decisions = np.random.default_rng(options.seed)
        self.next_refit: datetime | None = None
        self.queue = EventQueue()
        self.order_of_ref: dict[str, UUID] = {}
        """Replayed order id by external reference (intake gives new ids)."""
        self.recorded_order: dict[UUID, UUID] = {}
        self.trips: dict[UUID, Trip] = {}
        """Replayed trip by id."""
        self.recorded_trip: dict[UUID, UUID] = {}
        self.replayed_trip_of: dict[UUID, UUID] = {}
        self.codes: dict[UUID, str] = {}
        self.rewards_cents = 0
        self.offers = self.as_recorded = self.by_model = 0
        self.orders_to_come = len(day.orders)
        self.unreplayed: list[Unreplayed] = []
        self.made: dict[tuple[UUID, frozenset[UUID]], int] = {}
        """Offers made so far by recorded trip and set of recorded orders (the n-th gets the n-th answer)."""
        self.waiting: dict[UUID, list[Trip]] = {}
        """A shopper's recorded check-ins that wait for their replayed trip to end, oldest first."""
        self.accepting: dict[UUID, int] = {}
        """Answers on their way that accept an offer, by replayed trip."""
        self.due_to_leave: set[UUID] = set()
        """Open trips whose recorded departure has come: they leave once the accepting answers are in."""
        self.failures_met: set[tuple[UUID, datetime]] = set()
        """Recorded failures (recorded order, when) the replay came to, reproduced or noted as not."""
        self.batching = False
        """The store's batches are running (they stop once nothing is left to dispatch)."""

    def _noting(
        self, credit: Callable[[LiveUnitOfWork, DeliveredOrder], object]
    ) -> Callable[[LiveUnitOfWork, DeliveredOrder], object]:
        def credit_and_note(uow: LiveUnitOfWork, delivered: DeliveredOrder) -> object:
            credited = credit(uow, delivered)
            if isinstance(credited, RewardCredit):
                self.rewards_cents += credited.amount_cents
            return credited

        return credit_and_note

    def seconds(self, instant: datetime) -> float:
        return (instant - self.day.start).total_seconds()

    def at(self, seconds: float) -> datetime:
        return self.day.start + timedelta(microseconds=round(seconds * 1e6))

    # --- set-up and the loop ------------------------------------------------------------------------------

    def run(self) -> ReplayResult:
        day = self.day
        with self.memory.rewards() as rewards:
            proposed = create_reward_policy(
                rewards, parameters=self.options.policy, actor_id=SIMULATION_OPS, now=day.start
            )
        with self.memory.rewards() as rewards:
            decide_reward_policy(
                rewards, version=proposed.version, status=PolicyStatus.APPROVED, actor_id=SIMULATION_FINANCE,
                now=day.start,
            )  # fmt: skip
        with self.ctx.unit_of_work() as uow:
            uow.stores.add(day.store)
            for shopper in day.shoppers.values():
                uow.shoppers.add(shopper)
            uow.commit()
        for order in day.orders:
            self.queue.push(self.seconds(order.created_at), Kind.ORDER, order)
            if order.status is OrderStatus.CANCELLED:
                cancelled_at = max(day.changed_at[order.id], order.created_at)
                self.queue.push(self.seconds(cancelled_at), Kind.CANCEL, ("order", order.external_ref))
        for trip in day.trips:
            self.queue.push(self.seconds(trip.checked_in_at), Kind.SHOPPER, trip)
            if trip.status is TripStatus.CANCELLED:
                cancelled_at = max(day.changed_at[trip.id], trip.checked_in_at)
                self.queue.push(self.seconds(cancelled_at), Kind.CANCEL, ("trip", trip.id))
        firsts = [self.seconds(order.created_at) for order in day.orders]
        if firsts:
            self.queue.push(min(firsts), Kind.BATCH, None)
            self.batching = True
        handlers: Mapping[Kind, Callable[[float, Any], None]] = {
            Kind.DELIVER: self._deliver,
            Kind.LEAVE: self._leave,
            Kind.RESPOND: self._respond,
            Kind.CANCEL: self._cancel,
            Kind.ORDER: self._order,
            Kind.SHOPPER: self._check_in,
            Kind.BATCH: self._batch,
            Kind.OPERATIONS: self._operations,
        }
        horizon_s = self.seconds(day.end + AFTER_THE_DAY)
        while self.queue:
            at_s, kind, payload = self.queue.pop()
            if at_s > horizon_s:
                break
            self.clock.set(max(self.clock.now(), self.at(at_s)))
            handlers[kind](at_s, payload)
            if self.waiting:
                self._check_in_the_waiting(at_s)
        with self.ctx.unit_of_work() as uow:
            statuses = [uow.orders.get(order_id).status for order_id in self.order_of_ref.values()]
        refused = len(day.orders) - len(self.order_of_ref)
        replayed = day_figures(
            statuses=statuses, rewards_cents=self.rewards_cents, fallback_fee_cents=day.store.fallback_cost_cents
        )
        replayed = dataclasses.replace(replayed, orders=replayed.orders + refused)
        for waiting in self.waiting.values():
            for recorded in waiting:
                self._note("check-in", recorded.checked_in_at, f"{self._shopper(recorded)}: still on the trip before")
        self._note_failures_not_met()
        return ReplayResult(
            day.figures(), replayed, self.offers, self.as_recorded, self.by_model, tuple(self.unreplayed)
        )

    def _note(self, what: str, at: datetime, reason: str) -> None:
        self.unreplayed.append(Unreplayed(what, at, reason))

    def _shopper(self, recorded: Trip) -> str:
        shopper = self.day.shoppers.get(recorded.shopper_id)
        return f"shopper {shopper.display_name if shopper else recorded.shopper_id}"

    # --- what happens ---------------------------------------------------------------------------------------

    def _order(self, _at_s: float, order: Order) -> None:
        self.orders_to_come -= 1
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
            result = ingest_order(self.ctx, scope="replay", idempotency_key=order.external_ref[:160], intake=intake)
        except DomainError as error:  # taken then (it is on record), refused now
            self._note("order", order.created_at, f"{order.external_ref}: {error}")
            return
        replayed = UUID(str(result.receipt["order_id"]))
        self.order_of_ref[order.external_ref] = replayed
        self.recorded_order[replayed] = order.id
        self.codes[replayed] = str(result.delivery_code)

    def _check_in(self, _at_s: float, recorded: Trip) -> None:
        if recorded.shopper_id in self.waiting:  # behind a check-in that waits already
            self.waiting[recorded.shopper_id].append(recorded)
            return
        self._try_check_in(recorded)

    def _check_in_the_waiting(self, _at_s: float) -> None:
        """Each waiting shopper whose replayed trip has ended checks in now, when their leave-by allows."""
        with self.ctx.unit_of_work() as uow:
            free = [shopper for shopper in self.waiting if uow.trips.active_for_shopper(shopper) is None]
        for shopper in free:
            waiting = self.waiting.pop(shopper)
            while waiting:
                recorded = waiting.pop(0)
                if self.clock.now() >= recorded.leave_by:
                    self._note(
                        "check-in",
                        recorded.checked_in_at,
                        f"{self._shopper(recorded)}: the trip before went on past this one's leave-by",
                    )
                    continue
                if not self._try_check_in(recorded):  # still on a trip: it waits again, first
                    self.waiting[shopper].extend(waiting)
                elif waiting:  # on the trip just checked in: the rest go on waiting
                    self.waiting[shopper] = waiting
                break

    def _try_check_in(self, recorded: Trip) -> bool:
        """Checks the shopper in as recorded; False when they are still on a replayed trip (the check-in waits)."""
        try:
            trip = check_in(
                self.ctx,
                shopper_id=recorded.shopper_id,
                store_id=recorded.store_id,
                destination=recorded.destination,
                capacity_bags=recorded.capacity_bags,
                max_detour_m=recorded.max_detour_m,
                max_detour_s=recorded.max_detour_s,
                leave_by=recorded.leave_by,
            )
        except AlreadyOnTrip:
            self.waiting.setdefault(recorded.shopper_id, []).insert(0, recorded)
            return False
        except DomainError as error:
            self._note("check-in", recorded.checked_in_at, f"{self._shopper(recorded)}: {error}")
            return True
        self.trips[trip.id] = trip
        self.recorded_trip[trip.id] = recorded.id
        self.replayed_trip_of[recorded.id] = trip.id
        self.queue.push(self.seconds(trip.leave_by), Kind.LEAVE, (trip.id, False))
        departed = self.day.departed_at.get(recorded.id)
        if departed is not None and departed < trip.leave_by:  # it left early, when its bags were scanned
            self.queue.push(max(self.seconds(departed), self.seconds(self.clock.now())), Kind.LEAVE, (trip.id, True))
        return True

    def _cancel(self, _at_s: float, payload: tuple[str, Any]) -> None:
        kind, key = payload
        for shopper, waiting in list(self.waiting.items()):  # cancelled before it could be checked in
            for recorded in [trip for trip in waiting if kind == "trip" and trip.id == key]:
                waiting.remove(recorded)
                reason = f"{self._shopper(recorded)}: cancelled while the trip before went on"
                self._note("check-in", recorded.checked_in_at, reason)
            if not waiting:
                del self.waiting[shopper]
        try:
            if kind == "order" and key in self.order_of_ref:
                cancel_order(self.ctx, order_id=self.order_of_ref[key])
            elif kind == "trip" and key in self.replayed_trip_of:
                trip = self.trips[self.replayed_trip_of[key]]
                cancel_trip(self.ctx, shopper_id=trip.shopper_id, trip_id=trip.id)
        except DomainError as error:  # already beyond cancelling in the replay (picked up, departed, delivered)
            name = f"order {key}" if kind == "order" else f"trip {str(key)[:8]}"
            self._note("cancellation", self.clock.now(), f"{name}: {error}")

    def _batch(self, at_s: float, _payload: None) -> None:
        if self.options.acceptance_aware and (self.next_refit is None or self.clock.now() >= self.next_refit):
            self.ctx = acceptance_aware(self.ctx)
            self.next_refit = self.clock.now() + REFIT_EVERY
        report = run_batch(self.ctx, store_id=self.day.store.id, solver=self.options.solver)
        for offer in sorted(report.offers, key=lambda o: (self.trips[o.trip_id].checked_in_at, o.trip_id)):
            self._answer(at_s, offer)
        self.batching = self.orders_to_come > 0 or self._unfinished()
        if self.batching:
            self.queue.push(at_s + self.options.cadence_s, Kind.BATCH, None)

    def _unfinished(self) -> bool:
        """Something is left to dispatch or on its way (a failed order waits for operations, who requeue it
        when the record says: the batches start again then)."""
        index = self.memory.dispatch.orders_by_store.get(self.day.store.id, {})
        done = SETTLED | {OrderStatus.FAILED}
        return any(index.get(status) for status in OrderStatus if status not in done)

    def _answer(self, at_s: float, offer: Offer) -> None:
        self.offers += 1
        key = (self.recorded_trip[offer.trip_id], frozenset(self.recorded_order[order_id] for order_id in offer.stops))
        nth = self.made.get(key, 0)
        self.made[key] = nth + 1
        recorded = self.day.answer(*key, nth=nth)
        if recorded is not None:
            self.as_recorded += 1
            if recorded.resolved_at is None or recorded.status in (OfferStatus.EXPIRED, OfferStatus.WITHDRAWN):
                return  # the shopper let it expire, or had not answered when it was withdrawn
            delay = max(0.0, (recorded.resolved_at - recorded.created_at).total_seconds())
            self._respond_later(at_s + delay, offer, recorded.status is OfferStatus.ACCEPTED)
            return
        self.by_model += 1
        spec = self.options.acceptance
        score = (
            spec.intercept
            + spec.per_reward_dollar * offer.reward_quote_cents / 100.0
            + spec.per_detour_km * offer.extra_distance_m / 1000.0
            + spec.per_stop * (len(offer.stops) - 1)
        )
        accepts = bool(self.decisions.random() < 1.0 / (1.0 + math.exp(-score)))
        low, high = self.options.response_seconds
        delay = float(self.decisions.uniform(low, high))
        if at_s + delay < self.seconds(offer.expires_at):
            self._respond_later(at_s + delay, offer, accepts)

    def _respond_later(self, at_s: float, offer: Offer, accepts: bool) -> None:
        if accepts:
            self.accepting[offer.trip_id] = self.accepting.get(offer.trip_id, 0) + 1
        self.queue.push(at_s, Kind.RESPOND, (offer, accepts))

    def _respond(self, at_s: float, payload: tuple[Offer, bool]) -> None:
        offer, accepts = payload
        trip = self.trips[offer.trip_id]
        if accepts:
            self.accepting[trip.id] -= 1
        try:
            if accepts and self.clock.now() < trip.leave_by:
                accept_offer(self.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
            else:
                decline_offer(self.ctx, shopper_id=trip.shopper_id, offer_id=offer.id)
        except DomainError:
            pass  # expired or withdrawn before the answer came
        if trip.id in self.due_to_leave and not self.accepting.get(trip.id):
            self._leave(at_s, (trip.id, False))

    def _leave(self, at_s: float, payload: tuple[UUID, bool]) -> None:
        """The shopper leaves the store: at the recorded departure (`as_recorded`) once the answers accepting
        offers then are in, or at the trip's leave-by. One with nothing to carry at the recorded departure (or
        checked in only after it, behind a longer trip before) leaves as soon as they have accepted something,
        and at the latest at the leave-by."""
        trip_id, as_recorded = payload
        trip = self.trips[trip_id]
        if as_recorded:
            self.due_to_leave.add(trip_id)
            if self.accepting.get(trip_id):
                return  # once the answers on their way are in
        with self.ctx.unit_of_work() as uow:
            if uow.trips.get(trip_id).status is not TripStatus.OPEN:
                return
            carried = uow.orders.on_trips([trip_id], [OrderStatus.ACCEPTED])[trip_id]
            codes = uow.secrets.for_orders([order.id for order in carried])
        if not carried:
            return  # leaves without orders; the next batch expires the trip
        confirm_pickup(
            self.ctx, shopper_id=trip.shopper_id, trip_id=trip_id, bag_codes=[codes[o.id].bag_code for o in carried]
        )
        self.due_to_leave.discard(trip_id)
        recorded_trip = self.recorded_trip[trip_id]
        here, clock_s = self.day.store.location, at_s
        for order in carried:
            recorded_order = self.recorded_order[order.id]
            delivered = self.day.delivered.get(recorded_order)
            refused = [proof for proof in self.day.refused.get(recorded_order, ()) if proof.trip_id == recorded_trip]
            failure = next(
                (
                    failure
                    for failure in self.day.failures.get(recorded_order, ())
                    if failure.trip_id == recorded_trip and (recorded_order, failure.at) not in self.failures_met
                ),
                None,
            )
            for proof in refused:  # the attempts refused at this door, again when and where they were made
                clock_s = max(clock_s, self.seconds(proof.recorded_at))
                self.queue.push(clock_s, Kind.DELIVER, _Attempt(trip, order.id, proof.position, proof))
            if delivered is not None and delivered[0] == recorded_trip:  # the same trip delivered it: then
                clock_s = max(clock_s, self.seconds(delivered[1]))
                self.queue.push(clock_s, Kind.DELIVER, _Attempt(trip, order.id, order.dropoff))
            elif failure is not None:  # it failed on this trip: when it did (the last refused attempt, or operations)
                clock_s = max(clock_s, self.seconds(failure.at))
                self.queue.push(clock_s, Kind.OPERATIONS, (trip, order.id, failure, None))
            else:
                if not refused:
                    clock_s += self.options.travel.duration_s(here, order.dropoff)
                clock_s = max(clock_s, self.seconds(order.window_earliest))
                self.queue.push(clock_s, Kind.DELIVER, _Attempt(trip, order.id, order.dropoff))
            here = order.dropoff

    def _deliver(self, _at_s: float, attempt: _Attempt) -> None:
        """A delivery attempt through the live use case: with the recipient's code, or as a recorded attempt
        was made (a wrong code when the recorded one did not match); the refusal of one the record refused is
        as it happened."""
        code = self.codes[attempt.order_id]
        if attempt.refused is not None and not attempt.refused.code_matched:
            code = wrong_code(code)
        try:
            deliver(
                self.ctx, shopper_id=attempt.trip.shopper_id, order_id=attempt.order_id, position=attempt.position,
                code=code,
            )  # fmt: skip
        except DeliveryRefused:
            if attempt.refused is None:
                raise
        except DomainError as error:  # the order failed already in the replay (fewer attempts allowed now)
            what = "a refused attempt" if attempt.refused is not None else "the delivery"
            self._note("failed delivery", self.clock.now(), f"{self._order_ref(attempt.order_id)}: {what}: {error}")

    def _operations(self, at_s: float, payload: tuple[Trip, UUID, RecordedFailure, int | None]) -> None:
        """A failure as recorded (`step` None) or operations' `step`-th move after it: back in the store,
        requeued, to the courier fleet (a cancellation is replayed as every cancellation is)."""
        trip, order_id, failure, step = payload
        ref = self._order_ref(order_id)
        if step is None:
            self._fail(at_s, trip, order_id, failure)
            return
        status, at = failure.then[step]
        try:
            if status is OrderStatus.RETURNED:
                mark_returned(self.ctx, order_id=order_id)
            elif status is OrderStatus.PENDING:
                requeue_order(self.ctx, order_id=order_id)
                if not self.batching:  # the batches had stopped: the requeued order is dispatched again
                    self.batching = True
                    self.queue.push(at_s, Kind.BATCH, None)
            elif status is OrderStatus.FALLBACK:
                hand_to_fallback(self.ctx, order_id=order_id)
        except DomainError as error:
            self._note("failed delivery", at, f"{ref}: {status.value} as recorded after it failed: {error}")

    def _fail(self, at_s: float, trip: Trip, order_id: UUID, failure: RecordedFailure) -> None:
        """The order failed on this trip on record: its refused attempts failed it in the replay too, or
        operations mark it not delivered as they did; operations' moves after follow when they were made. One
        the replay's attempts left undelivered otherwise is noted and delivered (as the replay models it)."""
        self.failures_met.add((self.recorded_order[order_id], failure.at))
        with self.ctx.unit_of_work() as uow:
            status = uow.orders.get(order_id).status
        note = failure.note or ""
        if status is OrderStatus.PICKED_UP and note.startswith(NOT_DELIVERED_NOTE):
            why = note.removeprefix(NOT_DELIVERED_NOTE) or "as recorded"
            mark_not_delivered(self.ctx, order_id=order_id, reason=why)
            status = OrderStatus.FAILED
        if status is not OrderStatus.FAILED:
            reason = f"{self._order_ref(order_id)}: failed at the door on record, {status.value} in the replay"
            self._note("failed delivery", failure.at, reason)
            if status is OrderStatus.PICKED_UP:  # the replay's attempts did not fail it: delivered as modelled
                order = self._replayed_order(order_id)
                self.queue.push(at_s, Kind.DELIVER, _Attempt(trip, order_id, order.dropoff))
            return
        for step, (move, at) in enumerate(failure.then):
            if move is not OrderStatus.CANCELLED:
                self.queue.push(max(at_s, self.seconds(at)), Kind.OPERATIONS, (trip, order_id, failure, step))

    def _note_failures_not_met(self) -> None:
        """Recorded failures the replay never came to: the order was not on the trip it failed on."""
        replayed = {recorded: replayed for replayed, recorded in self.recorded_order.items()}
        refs = {order.id: order.external_ref for order in self.day.orders}
        for recorded_order, failures in self.day.failures.items():
            if recorded_order not in replayed:
                continue  # intake refused it: noted as an order
            for failure in failures:
                if (recorded_order, failure.at) not in self.failures_met:
                    ref = refs.get(recorded_order, str(recorded_order))
                    self._note("failed delivery", failure.at, f"{ref}: not on the trip it failed on in the replay")

    def _order_ref(self, order_id: UUID) -> str:
        return self._replayed_order(order_id).external_ref

    def _replayed_order(self, order_id: UUID) -> Order:
        with self.ctx.unit_of_work() as uow:
            return uow.orders.get(order_id)


@dataclass(frozen=True)
class _Attempt:
    """A delivery attempt to make: with the recipient's code at `position`, or as the `refused` one was."""

    trip: Trip
    order_id: UUID
    position: GeoPoint
    refused: DeliveryProof | None = None


def wrong_code(code: str) -> str:
    """A code that is not `code` (each digit moved on by one), of the same length."""
    return "".join(str((int(char) + 1) % 10) if char.isdigit() else "0" for char in code) or "0"


# --- the command's inputs -------------------------------------------------------------------------------------


def load_policy_file(path: Path) -> dict[str, Any]:
    """A policy's parameters from a JSON or (by its `.toml` suffix) TOML file, validated as
    `crowdship rewards policy-create` validates them (`InvalidInput` naming the field)."""
    if path.suffix.lower() == ".toml":
        try:
            data: object = tomllib.loads(read_text_file(path, "policy"))
        except tomllib.TOMLDecodeError as error:
            raise InvalidInput("policy", f"{path}: not valid TOML ({error})") from None
    else:
        data = read_json_file(path, "policy")
    if not isinstance(data, dict):
        raise InvalidInput("policy", f"{path}: must hold an object of policy parameters")
    PolicyParameters.from_json(data)
    return data


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours on a daylight-saving change)."""
    zone = time_zone(timezone, field="timezone")
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
