"""A replay's options and the state its events share: the in-memory service on a manual clock, the event
queue, which replayed order and trip stands for which recorded one, the answers on their way, and what could
not be played as recorded. The events themselves are in `replay_arrivals`, `replay_offers` and
`replay_deliveries`; `replay` sets a day up and runs it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np

from composition import in_memory
from crowdship.clock import ManualClock
from dispatch.model import Order, Trip
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.batch import Solver, matcher_solver
from dispatch.services.context import DeliveredOrder, DispatchConfig
from rewards.recorded_day import RecordedDay
from rewards.services import RewardCredit
from routing.travel import StraightLineTravel
from simulations.events import EventQueue
from simulations.replay_result import Unreplayed
from simulations.scenario import AcceptanceSpec


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


class ReplayState:
    """One replay's service, clock, queue and bookkeeping (intake and check-in give new ids, so each replayed
    order and trip is mapped to the recorded one it stands for)."""

    def __init__(self, day: RecordedDay, options: ReplayOptions) -> None:
        self.day, self.options = day, options
        self.clock = ManualClock(day.start)
        config = dataclasses.replace(options.config, delivery_code_work=2)  # nothing is kept: cheap code hashes
        self.memory = in_memory(config, self.clock)
        with self.memory.rewards() as rewards_uow:  # priced as live: by the choice in force at each offer
            for choice in day.payment_choices:
                rewards_uow.repos.payment_choices.add(choice)
            rewards_uow.commit()
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
        self.late = 0
        """Orders the replay delivered after their window closed."""
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

    def note(self, what: str, at: datetime, reason: str) -> None:
        self.unreplayed.append(Unreplayed(what, at, reason))

    def shopper(self, recorded: Trip) -> str:
        shopper = self.day.shoppers.get(recorded.shopper_id)
        return f"shopper {shopper.display_name if shopper else recorded.shopper_id}"

    def order_ref(self, order_id: UUID) -> str:
        return self.replayed_order(order_id).external_ref

    def replayed_order(self, order_id: UUID) -> Order:
        with self.ctx.unit_of_work() as uow:
            return uow.orders.get(order_id)
