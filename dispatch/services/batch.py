"""One dispatch batch for one store: tidy up, build the problem, run the matcher, write the offers.

Used by the dispatcher loop and by the operations endpoint alike. A per-store lease (`dispatch.leases`) keeps two
dispatchers from working on the same store at once, and each of the batch's write transactions (clean-up, offers,
reasons) confirms it first: a batch whose lease ran out or was taken over writes nothing from then on (a process
frozen mid-batch and resumed). The database's partial unique indexes still refuse a second open offer for an order
or a trip, and an order keeps the reasons of the newest batch that left it pending (an older batch's, written
later, are not written over them, should two batches without a lease overlap).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.logging import get_logger
from dispatch.acceptance import with_acceptance
from dispatch.batch_offers import DroppedAssignment, offers_from_solution
from dispatch.batching import build_match_problem, compensation_quote, past_deadline
from dispatch.errors import AlreadyOffered
from dispatch.live import offer_event
from dispatch.matching import UnassignedReason
from dispatch.matching.reward_rule import RewardTerms
from dispatch.model import Offer, Order, OrderStatus, Store, Trip
from dispatch.offer_explanation import (
    OUTSIDE_SERVICE_AREA,
    best_alternatives,
    leave_after,
    leave_before,
    offer_breakdown,
    pending_reasons,
    waiting_reasons,
    withheld_reasons,
)
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import barred_pairs
from dispatch.services.batch_inputs import capped_trips, held_back_trips, route_terms, trip_candidates, waiting_costs
from dispatch.services.context import DispatchContext
from dispatch.services.moves import save_move
from dispatch.services.trips import release_trip_orders, trip_ended

log = get_logger(__name__)

Solver = Callable[[Mapping[str, Any], float], Mapping[str, Any]]
"""A `crowdship-match/1` problem and a time budget in, a `crowdship-match-solution/1` solution out."""


def matcher_solver(problem: Mapping[str, Any], time_limit_s: float) -> Mapping[str, Any]:
    """The project's OR-Tools matcher (dispatch.matching), through its file format."""
    from dispatch.matching import parse_problem, solution_to_json, solve

    return solution_to_json(solve(parse_problem(problem), time_limit=time_limit_s))


def load_solver(solver: Solver) -> None:
    """The project's matcher loaded, once per process (OR-Tools, SciPy, the compiled search: seconds, or a
    minute on a busy machine), waiting on a warm-up's import under way; another solver has nothing to load."""
    if solver is matcher_solver:
        import dispatch.matching.solver  # noqa: F401  (imported for its side effect)


@dataclass
class BatchReport:
    store_id: UUID
    started_at: datetime
    skipped: bool = False
    """Another dispatcher holds this store's lease."""
    expired_offers: int = 0
    expired_trips: int = 0
    fallback_orders: list[UUID] = field(default_factory=list)
    pending_orders: int = 0
    eligible_trips: int = 0
    offers: list[Offer] = field(default_factory=list)
    dropped: list[DroppedAssignment] = field(default_factory=list)
    conflicts: int = 0
    """Offers the database refused because another batch offered the order or the trip first."""
    unassigned: dict[UUID, str] = field(default_factory=dict)
    """The reason code of each order the batch left pending."""
    lost_lease: bool = False
    """The lease ran out, or was taken over, before the batch's writes were done (a round that outlived it): none
    was written from then on (clean-up, offers, reasons), since another dispatcher may be batching the store from
    fresher state."""


def run_batch(ctx: DispatchContext, *, store_id: UUID, solver: Solver = matcher_solver) -> BatchReport:
    report = BatchReport(store_id=store_id, started_at=ctx.clock.now())
    load_solver(solver)  # not under the lease: a batch soon after the service started would spend it loading
    token = None
    if ctx.leases is not None:
        token = ctx.leases.acquire(store_id, ctx.config.lease_ttl_s)
        if token is None:
            report.skipped = True
            return report
    try:
        if _tidy_up(ctx, store_id, report, lease=token):
            _match_and_offer(ctx, store_id, report, solver, lease=token)
    finally:
        if ctx.leases is not None and token is not None:
            ctx.leases.release(store_id, token)
    if report.lost_lease:
        log.warning("batch outlived its lease: nothing more written", store_id=str(store_id))
    _publish(ctx, report)
    log.info(
        "batch",
        store_id=str(store_id),
        offers=len(report.offers),
        fallback=len(report.fallback_orders),
        expired_offers=report.expired_offers,
        conflicts=report.conflicts,
        dropped=len(report.dropped),
        lost_lease=report.lost_lease,
    )
    return report


def expire_offers(uow: LiveUnitOfWork, store_id: UUID, now: datetime) -> int:
    """Closes offers whose time ran out and puts their orders back in the pool."""
    expired = uow.offers.open_past_expiry(store_id, now)
    for offer in expired:
        offer.expire(now)
        uow.offers.save(offer)
        for order_id in sorted(offer.stops):
            order = uow.orders.get(order_id, for_update=True)
            if order.status is OrderStatus.OFFERED:
                order.release(offer)
                save_move(uow, order, now, "offer expired")
    return len(expired)


def _still_held(uow: LiveUnitOfWork, report: BatchReport, lease: str | None) -> bool:
    """Whether the batch's lease is still its own, confirmed in `uow`'s transaction and kept so until it ends;
    when not, the report says so and the caller writes nothing. Always, for a batch that takes no lease."""
    if lease is None or uow.leases.confirm(report.store_id, lease):
        return True
    report.lost_lease = True
    return False


def _tidy_up(ctx: DispatchContext, store_id: UUID, report: BatchReport, *, lease: str | None) -> bool:
    """Expires offers and trips whose time ran out and hands orders past their dispatch deadline to the courier
    fleet; False, and nothing written, when the lease is no longer the batch's."""
    now = report.started_at
    with ctx.unit_of_work() as uow:
        if not _still_held(uow, report, lease):
            return False
        report.expired_offers = expire_offers(uow, store_id, now)
        expired = list(uow.trips.past_leave_by(store_id, now))
        for trip in expired:
            trip.expire()
            release_trip_orders(uow, trip, now)
            uow.trips.save(trip, at=now)
            report.expired_trips += 1
        for order in past_deadline(uow.orders.list_for_store(store_id, [OrderStatus.PENDING]), now):
            locked = uow.orders.get(order.id, for_update=True)
            if locked.status is OrderStatus.PENDING:
                locked.hand_to_fallback()
                save_move(uow, locked, now, "past its dispatch deadline: courier fleet")
                report.fallback_orders.append(locked.id)
        uow.commit()
    for trip in expired:
        trip_ended(ctx, trip)
    return True


def _match_and_offer(
    ctx: DispatchContext, store_id: UUID, report: BatchReport, solver: Solver, *, lease: str | None
) -> None:
    now = report.started_at
    parameters = ctx.config.batch
    with ctx.unit_of_work() as uow:
        store = uow.stores.get(store_id)
        orders = [
            order
            for order in uow.orders.within_service_area(store_id, [OrderStatus.PENDING])
            if order.dispatch_deadline > now
        ]
        inside = {order.id for order in orders}
        outside = {
            order.id: OUTSIDE_SERVICE_AREA
            for order in uow.orders.list_for_store(store_id, [OrderStatus.PENDING])
            if order.id not in inside and order.dispatch_deadline > now
        }
        candidates = trip_candidates(uow, store_id, now, parameters)
        held = held_back_trips(uow, candidates, now, parameters)  # dropped out too often lately: offered nothing
        history = uow.offers.pair_offers([order.id for order in orders]) if orders else []
        recent = (
            uow.trips.checked_in_between(store_id, now - ctx.prospects.lookback, now, ctx.prospects.max_recent_trips)
            if ctx.prospects is not None and orders
            else []
        )
    offerable = [each for each in candidates if each.trip.id not in held]
    report.pending_orders, report.eligible_trips = len(orders), len(offerable)
    # `outside`: the store's area was redrawn since they were taken in, so no batch considers them now
    if not _record_unassigned(ctx, report, outside, now, lease=lease) or not orders:
        return
    excluded = barred_pairs(
        history,
        now,
        reoffer_after=parameters.reoffer_after,
        max_offers=parameters.max_offers_per_pair,
        trip_shoppers={each.trip.id: each.shopper.id for each in candidates},
    )
    terms = route_terms(ctx, offerable, now)
    waiting = waiting_costs(ctx, store, orders, recent, now)
    problem = build_match_problem(
        store=store,
        orders=orders,
        trips=offerable,
        excluded=excluded,
        now=now,
        parameters=parameters,
        terms=terms,
        waiting_costs=waiting,
    )
    if not problem["trips"]:  # the batch kept every order from every trip (by its leave-by, maybe): say which
        reason = UnassignedReason.NOT_A_CANDIDATE if candidates else UnassignedReason.NO_TRIP_TAKES_ORDERS
        told = withheld_reasons(
            {order.id: str(reason) for order in orders},
            store=store, orders=orders, trips=candidates, excluded=excluded, now=now, parameters=parameters,
            capped=capped_trips(terms), held_back=held,
        )  # fmt: skip
        _record_unassigned(ctx, report, told, now, lease=lease)
        return
    if ctx.acceptance is not None:  # acceptance-aware matching: the matcher minimises the expected cost
        problem = with_acceptance(problem, ctx.acceptance, at=now)
    solution = solver(problem, ctx.config.matcher_time_limit_s)
    made = offers_from_solution(
        store=store,
        orders=orders,
        trips=offerable,
        excluded=excluded,
        solution=solution,
        now=now,
        parameters=parameters,
        quote=ctx.reward_quote or compensation_quote(parameters),
    )
    report.dropped = made.dropped
    for dropped in made.dropped:
        log.warning("matcher assignment dropped", trip=dropped.trip_id, reason=dropped.reason)
    unwritten = _write_offers(
        ctx,
        report,
        made.offers,
        store=store,
        orders=orders,
        trips=[each.trip for each in offerable],
        terms=terms,
        problem=problem,
        solution=solution,
        now=now,
        lease=lease,
    )
    if unwritten is None:  # ran out, or taken over: nothing written
        return
    offered = {order_id for offer in report.offers for order_id in offer.stops}
    pending = [order.id for order in orders if order.id not in offered]
    reasons = withheld_reasons(
        pending_reasons(pending, solution, made.dropped, unwritten),
        store=store,
        orders=orders,
        trips=candidates,
        excluded=excluded,
        now=now,
        parameters=parameters,
        capped=capped_trips(terms),
        held_back=held,
    )
    if waiting is not None:  # "better left for the fallback" means "better left for a later trip" here
        reasons = waiting_reasons(reasons, waiting, float(store.fallback_cost_cents))
    _record_unassigned(ctx, report, reasons, now, lease=lease)


def _write_offers(
    ctx: DispatchContext,
    report: BatchReport,
    offers: Sequence[Offer],
    *,
    store: Store,
    orders: Sequence[Order],
    trips: Sequence[Trip],
    terms: Mapping[UUID, RewardTerms | None],
    problem: Mapping[str, Any],
    solution: Mapping[str, Any],
    now: datetime,
    lease: str | None,
) -> set[UUID] | None:
    """Writes each offer with its breakdown, in one transaction; the orders of those it could not write (their
    trip or an order changed since the batch read them). None, and nothing written, when the store's lease is
    no longer the batch's: checked in the same transaction, so that no takeover comes between."""
    parameters = ctx.config.batch
    orders_by_id = {order.id: order for order in orders}
    trips_by_id = {trip.id: trip for trip in trips}
    alternatives = best_alternatives(problem, offers)
    assignments = dict(solution.get("assignments", {}))
    unwritten: set[UUID] = set()
    with ctx.unit_of_work() as uow:
        if not _still_held(uow, report, lease):
            return None
        for offer in offers:
            trip, stops = trips_by_id[offer.trip_id], [orders_by_id[order_id] for order_id in offer.stops]
            explained = replace(
                offer,
                breakdown=offer_breakdown(
                    offer,
                    orders_by_id,
                    terms.get(offer.trip_id),
                    parameters,
                    matcher_cost=_matcher_cost(offer, assignments, priced=terms.get(offer.trip_id) is not None),
                    alternative=alternatives[offer.id],
                    leave_after=leave_after(store, trip, stops, now, parameters),
                    leave_before=leave_before(store, trip, stops, now, parameters),
                ),
            )
            if _write_offer(uow, explained, now):
                report.offers.append(explained)
            else:
                report.conflicts += 1
                unwritten.update(offer.stops)
        uow.commit()
    return unwritten


def _matcher_cost(offer: Offer, assignments: Mapping[str, Any], *, priced: bool) -> float | None:
    """What the matcher costed the offer's route at; None when the offer is only a part of its route. A route
    priced by the policy whose cost and quote differ is logged: the policy changed between pricing and quoting,
    or the rule and rewards disagree."""
    assignment = assignments.get(str(offer.trip_id), {})
    if assignment.get("orders") != [str(order_id) for order_id in offer.stops]:
        return None
    cost = assignment.get("compensation")
    if priced and cost is not None and round(cost) != offer.reward_quote_cents:
        log.warning(
            "offer quote differs from the matcher's cost",
            trip=str(offer.trip_id),
            quote=offer.reward_quote_cents,
            matcher_cost=cost,
        )
    return None if cost is None else float(cost)


def _record_unassigned(
    ctx: DispatchContext, report: BatchReport, reasons: dict[UUID, str], now: datetime, *, lease: str | None
) -> bool:
    """Writes why each of these orders waits; False, and nothing written, when the lease is no longer the batch's."""
    if not reasons:
        return True
    with ctx.unit_of_work() as uow:
        if not _still_held(uow, report, lease):
            return False
        uow.orders.record_unassigned(reasons, now)
        uow.commit()
    report.unassigned = {**report.unassigned, **reasons}
    return True


def _write_offer(uow: LiveUnitOfWork, offer: Offer, now: datetime) -> bool:
    """Writes one offer if its trip and orders are still as the batch saw them; False when they changed."""
    trip = uow.trips.get(offer.trip_id, for_update=True)
    if not trip.can_take_offers(now):  # the batch checked the answer time; here only that it is still open
        return False
    orders = [uow.orders.get(order_id, for_update=True) for order_id in sorted(offer.stops)]
    if any(order.status is not OrderStatus.PENDING for order in orders):
        return False
    try:
        uow.offers.add(offer)
    except AlreadyOffered:
        return False
    for order in orders:
        order.offer()
        save_move(uow, order, now, f"offered to trip {offer.trip_id}")
    return True


def _publish(ctx: DispatchContext, report: BatchReport) -> None:
    if ctx.live is None or not report.offers:
        return
    with ctx.unit_of_work() as uow:
        shoppers = {offer.id: uow.trips.get(offer.trip_id).shopper_id for offer in report.offers}
    for offer in report.offers:
        ctx.live.publish_offer(shoppers[offer.id], offer_event(offer))
