"""What a batch reads and prices for the matcher besides the pending orders: the trips that may take an offer
now, their routes' terms under the reward policy in force, and each order's cost of being left for later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from dispatch.batching import BatchParameters, TripCandidate, open_for_offers
from dispatch.matching.reward_rule import RewardTerms
from dispatch.model import Order, Store, Trip
from dispatch.prospects import order_prospects
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import held_back_shoppers
from dispatch.services.context import DispatchContext


def waiting_costs(
    ctx: DispatchContext, store: Store, orders: Sequence[Order], recent: Sequence[Trip], now: datetime
) -> dict[UUID, float] | None:
    """Each order's cost of being left for later (`dispatch.prospects`); None without prospects."""
    if ctx.prospects is None:
        return None
    prospects = order_prospects(
        store=store, orders=orders, recent_trips=recent, now=now, parameters=ctx.config.batch, terms=ctx.prospects
    )
    return {order_id: prospect.waiting_cost_cents for order_id, prospect in prospects.items()}


def route_terms(ctx: DispatchContext, candidates: list[TripCandidate], now: datetime) -> dict[UUID, RewardTerms | None]:
    """Each trip's terms under the reward policy in force (None: the compensation rule prices it)."""
    if ctx.route_pricer is None or not candidates:
        return {}
    return ctx.route_pricer([(candidate.trip, candidate.shopper) for candidate in candidates], now)


def capped_trips(terms: Mapping[UUID, RewardTerms | None]) -> set[UUID]:
    """The trips whose shoppers can earn nothing more under the policy's caps (`build_match_problem` leaves
    them out)."""
    return {trip_id for trip_id, trip_terms in terms.items() if trip_terms is not None and trip_terms.room == 0}


def held_back_trips(
    uow: LiveUnitOfWork, candidates: Sequence[TripCandidate], now: datetime, parameters: BatchParameters
) -> set[UUID]:
    """The trips whose shoppers dropped out of too many accepted orders lately (`dispatch.rules.offers_resume_at`):
    a batch offers them nothing, and says so of an order only they could carry."""
    if not candidates:
        return set()
    limit = parameters.drop_outs
    drop_outs = uow.offers.drop_outs({each.shopper.id for each in candidates}, now - limit.window)
    held = held_back_shoppers(drop_outs, now, limit)
    return {each.trip.id for each in candidates if each.shopper.id in held}


def trip_candidates(
    uow: LiveUnitOfWork, store_id: UUID, now: datetime, parameters: BatchParameters
) -> list[TripCandidate]:
    """The store's open trips that may get an offer now: the answer time ends before their leave-by, they hold
    no open or accepted offer (one bundle per trip: a second offer's route would ignore the first's), and their
    shopper's account is active."""
    trips = [trip for trip in uow.trips.open_of_active_accounts(store_id) if open_for_offers(trip, now, parameters)]
    busy = uow.offers.busy_trips([trip.id for trip in trips]) if trips else set()
    free = [trip for trip in trips if trip.id not in busy]
    shoppers = uow.shoppers.get_many({trip.shopper_id for trip in free}) if free else {}
    return [TripCandidate(trip, shoppers[trip.shopper_id], trip.capacity_bags) for trip in free]
