"""The dispatcher loop: every few seconds, one batch per store. Several processes may run it at once; the
per-store lease decides who batches which store, and the database refuses any double offer that slips by.

The loop never dies of a fault: a round that fails (PostgreSQL restarting, Redis gone) is logged and tried
again after a backoff that grows with each failure in a row, up to a minute, and resets after a good round.
Nor does it hang with one: each round runs on a thread of its own, and a round that finishes no store's batch
for `stall_s` (a server stopped mid-answer, which no timeout of the client ends) is abandoned and logged. The
rounds after it go on without the store it is stuck on; once it comes unstuck it starts no other store, so no
store is ever batched by two rounds of one process at once (between processes, the store's lease sees to it).
The loop's own chores, the housekeeping and the hourly refresh (the acceptance model's refit), run the same way:
on a thread of their own, abandoned when they have not ended within `stall_s` (tried again at their next time,
the refresh's context kept meanwhile); abandoned chores count with abandoned rounds against
`MAX_ABANDONED_ROUNDS`. A chore that fails (a server away) is tried again after `CHORE_RETRY`, not an hour
later: a dispatcher started during an outage fits its model within a minute of the database's return.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from crowdship.logging import Sampled, get_logger
from dispatch.services.acceptance import REFIT_EVERY
from dispatch.services.batch import BatchReport, Solver, matcher_solver, run_batch
from dispatch.services.context import DispatchContext

log = get_logger(__name__)

Outages = tuple[type[Exception], ...]
"""The errors that mean a backing server is unreachable (`crowdship.outages`, given by the caller): every store
would fail alike, so the round stops and the loop backs off."""
MAX_BACKOFF_S = 60.0
CHORE_RETRY = timedelta(minutes=1)
"""A chore that failed is tried again this soon (or at its regular time, when that comes sooner)."""
MAX_ABANDONED_ROUNDS = 2
"""Abandoned rounds (or chores) still stuck beyond which no new round or chore starts (each holds a thread and a
connection)."""
FROZEN_AFTER_S = 5.0
"""A wait of the loop's that ends this much later than asked: the process itself was frozen, not the round."""
PRUNE_EVERY_S = 60.0
PRUNE_BATCH = 10_000
_LIVE_STATE_SKIPS = Sampled(every_s=60.0)


def rebuild_live_state_if_lost(ctx: DispatchContext) -> int | None:
    """After a Redis flush (or on a first start), puts back the last known positions; None if not needed."""
    if ctx.live is None or not ctx.live.needs_rebuild():
        return None
    with ctx.unit_of_work() as uow:
        samples = uow.locations.latest_of_active_shoppers()
    restored = ctx.live.rebuild_positions(samples)
    log.info("live state rebuilt", positions=restored)
    return restored


def prune_live_positions(ctx: DispatchContext) -> int:
    """Drops live positions of shoppers no longer on a trip (left behind when Redis was away as a trip ended).
    Once a minute, by one dispatcher of many."""
    if ctx.live is None or not ctx.live.claim_chore("prune-positions", PRUNE_EVERY_S):
        return 0
    listed = ctx.live.shoppers_with_positions(PRUNE_BATCH)
    if not listed:
        return 0
    with ctx.unit_of_work() as uow:
        on_trip = uow.trips.on_a_trip(listed)
    pruned = ctx.live.forget_positions([shopper_id for shopper_id in listed if shopper_id not in on_trip])
    if pruned:
        log.info("stale live positions pruned", positions=pruned)
    return pruned


def tend_live_state(ctx: DispatchContext, outages: Outages = ()) -> None:
    """Rebuilds live state if it was lost and prunes stale positions; a server being away skips both until the
    next round (logged) rather than ending the round: while Redis is away the stores are still batched (their
    leases are PostgreSQL's), and a PostgreSQL outage ends the round soon enough."""
    try:
        rebuild_live_state_if_lost(ctx)
        prune_live_positions(ctx)
    except outages as error:
        held_back = _LIVE_STATE_SKIPS.take(type(error).__name__)
        if held_back is not None:  # a line a minute, not one a round, for as long as the outage lasts
            log.warning("live state not tended: a server is away", error=type(error).__name__, rounds_since=held_back)


class RoundStuck(Exception):
    """A round made no progress for the stall time and was abandoned, or too many abandoned ones are stuck."""


class RoundAbandoned(Exception):
    """The loop gave up waiting for this round: it starts no further store."""


@dataclass
class StoresInFlight:
    """The stores a round of this process is batching right now, shared by all its rounds."""

    _stores: set[UUID] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, store_id: UUID) -> bool:
        with self._lock:
            if store_id in self._stores:
                return False
            self._stores.add(store_id)
            return True

    def give_back(self, store_id: UUID) -> None:
        with self._lock:
            self._stores.discard(store_id)


@dataclass
class RoundWatch:
    """What the loop sees of a round (or a chore) running on its thread: when it last made progress, which store
    it is on, whether it ended (and how: its result or error); what the round sees of the loop: whether it was
    abandoned."""

    in_flight: StoresInFlight
    progress_at: float = field(default_factory=time.monotonic)
    store_id: UUID | None = None
    result: object = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    abandoned: threading.Event = field(default_factory=threading.Event)

    def begin(self, store_id: UUID) -> bool:
        """Whether to batch this store now: not once the round is abandoned (raises), nor while an earlier,
        abandoned round is stuck in it."""
        if self.abandoned.is_set():
            raise RoundAbandoned
        if not self.in_flight.take(store_id):
            log.warning("store skipped: an abandoned round is still in its batch", store_id=str(store_id))
            return False
        self.store_id = store_id
        self.progress_at = time.monotonic()
        return True

    def end(self, store_id: UUID) -> None:
        self.in_flight.give_back(store_id)
        self.store_id = None
        self.progress_at = time.monotonic()


def dispatch_round(
    ctx: DispatchContext, *, solver: Solver = matcher_solver, outages: Outages = (), watch: RoundWatch | None = None
) -> list[BatchReport]:
    """One batch for every store. A store whose batch fails for its own reasons is logged and retried next
    round; PostgreSQL or Redis being unreachable in a batch ends the round with the error (the loop backs off).
    Live state that cannot be tended (Redis away) is left for the next round. With a
    `watch`, a store another round of this process is still in is skipped, and an abandoned round stops."""
    tend_live_state(ctx, outages)
    with ctx.unit_of_work() as uow:
        stores = uow.stores.list()
    reports = []
    for store in stores:
        if watch is not None and not watch.begin(store.id):
            continue
        try:
            reports.append(run_batch(ctx, store_id=store.id, solver=solver))
        except outages:
            raise
        except Exception:
            log.exception("batch failed", store_id=str(store.id))
        finally:
            if watch is not None:
                watch.end(store.id)
    return reports


def _on_its_thread(watch: RoundWatch, work: Callable[[], object], name: str) -> RoundWatch:
    """Starts `work` on a thread of its own, which records in `watch` how it ended."""

    def run() -> None:
        try:
            watch.result = work()
        except RoundAbandoned:
            log.info("abandoned dispatch round ended")
        except BaseException as error:
            watch.error = error
            if watch.abandoned.is_set():
                log.warning("abandoned work ended with an error", work=name, error=type(error).__name__)
        finally:
            watch.done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    return watch


def _start_round(ctx: DispatchContext, solver: Solver, outages: Outages, in_flight: StoresInFlight) -> RoundWatch:
    watch = RoundWatch(in_flight)
    return _on_its_thread(
        watch, lambda: dispatch_round(ctx, solver=solver, outages=outages, watch=watch), "dispatch-round"
    )


def _run_chore(
    work: Callable[[], object], *, name: str, in_flight: StoresInFlight, stop: threading.Event, stall_s: float
) -> RoundWatch:
    """Runs one of the loop's chores on a thread of its own and waits for it as for a round: its watch, ended
    (`done`, with its result) or, when it did not end within `stall_s` or a stop was asked, abandoned."""
    watch = _on_its_thread(RoundWatch(in_flight), work, name)
    if not _await_round(watch, stop, stall_s):
        watch.abandoned.set()
        if not stop.is_set():
            log.error("dispatcher chore stuck: abandoned, tried again at its next time", chore=name, stall_s=stall_s)
    return watch


def _await_round(
    watch: RoundWatch, stop: threading.Event, stall_s: float, monotonic: Callable[[], float] = time.monotonic
) -> bool:
    """Waits for the round to end (True); False when it made no progress for `stall_s` or a stop was asked.
    A wait that ends far later than asked means this process was frozen (SIGSTOP, a paused VM), the round with
    it: the round is given its `stall_s` again from then, rather than abandoned for time it could not run."""
    every = min(1.0, stall_s / 4)
    woke = monotonic()
    while not watch.done.wait(every):
        if stop.is_set():
            return False
        now = monotonic()
        if now - woke > every + FROZEN_AFTER_S:
            watch.progress_at = max(watch.progress_at, now)
        woke = now
        if now - watch.progress_at > stall_s:
            return False
    return True


def backoff_s(cadence_s: float, failures: int, jitter: Callable[[], float] = random.random) -> float:
    """The wait before the next round: the cadence after a good round; after `failures` bad ones in a row,
    twice the cadence per failure, at most a minute, with up to a fifth taken off at random so that many
    dispatchers do not hammer a recovering server in step."""
    if failures == 0:
        return cadence_s
    delay: float = min(MAX_BACKOFF_S, cadence_s * 2.0**failures)
    return delay * (1 - 0.2 * jitter())


def _refreshed(ctx: DispatchContext, refresh: Callable[[DispatchContext], DispatchContext]) -> DispatchContext | None:
    """The refreshed context, or None when the refresh failed (logged; the loop keeps the one it has)."""
    try:
        return refresh(ctx)
    except Exception as error:
        log.error(
            "dispatcher context refresh failed, the current one kept",
            error=type(error).__name__,
            retry_in_s=CHORE_RETRY.total_seconds(),
        )
        return None


def keep_house(ctx: DispatchContext, housekeeping: Callable[[DispatchContext], object], outages: Outages = ()) -> bool:
    """Runs the housekeeping; False when it failed (logged, briefly when a server is away)."""
    try:
        housekeeping(ctx)
    except Exception as error:
        log.error(
            "housekeeping failed, tried again later",
            error=type(error).__name__,
            exc_info=error if not isinstance(error, outages) else None,
        )
        return False
    return True


@dataclass
class _Chores:
    """The loop's chores, when each is next due, and how one is run (`_run_chore`)."""

    refresh: Callable[[DispatchContext], DispatchContext] | None
    housekeeping: Callable[[DispatchContext], object] | None
    every: timedelta
    outages: Outages
    run: Callable[..., RoundWatch]
    next_refresh: datetime
    next_housekeeping: datetime

    def run_due(self, ctx: DispatchContext, abandoned: list[RoundWatch]) -> DispatchContext:
        """Runs the chores due, unless `MAX_ABANDONED_ROUNDS` are stuck (then at the next round); one that does
        not end in time joins `abandoned`. Returns the context to go on with: the refreshed one, else `ctx`."""
        now = ctx.clock.now()
        retry_at = now + min(CHORE_RETRY, self.every)
        if self.refresh is not None and now >= self.next_refresh and len(abandoned) < MAX_ABANDONED_ROUNDS:
            self.next_refresh = now + self.every
            refreshing = self.run(partial(_refreshed, ctx, self.refresh), name="dispatcher-refresh")
            if not refreshing.done.is_set():
                abandoned.append(refreshing)  # the context it had is kept
            elif isinstance(refreshing.result, DispatchContext):
                ctx = refreshing.result
            else:
                self.next_refresh = retry_at
        if self.housekeeping is not None and now >= self.next_housekeeping and len(abandoned) < MAX_ABANDONED_ROUNDS:
            self.next_housekeeping = now + self.every
            housekeeper = self.run(
                partial(keep_house, ctx, self.housekeeping, self.outages), name="dispatcher-housekeeping"
            )
            if not housekeeper.done.is_set():
                abandoned.append(housekeeper)
            elif housekeeper.result is False:
                self.next_housekeeping = retry_at
        return ctx


def run_dispatcher(
    ctx: DispatchContext,
    *,
    cadence_s: float,
    stop: threading.Event,
    solver: Solver = matcher_solver,
    max_rounds: int | None = None,
    outages: Outages = (),
    refresh: Callable[[DispatchContext], DispatchContext] | None = None,
    housekeeping: Callable[[DispatchContext], object] | None = None,
    refresh_every: timedelta = REFIT_EVERY,
    refresh_at_start: bool = False,
    stall_s: float = 30.0,
) -> int:
    """Runs rounds every `cadence_s` seconds until `stop` is set (or `max_rounds`); returns the rounds run.

    Every `refresh_every` of the context's clock, `refresh` rebuilds the context (e.g. refits the acceptance
    model on the answers recorded since), first at the first round when `refresh_at_start`; `housekeeping`
    tidies the stores (e.g. forgets old idempotency keys) at the first round and as often after it, so that a
    dispatcher restarted more often than that still does it. A chore that fails is tried again after
    `CHORE_RETRY` (a failed refresh keeps the context it had). A round, the refresh
    or the housekeeping that makes no progress for `stall_s` is abandoned (module docstring); while
    `MAX_ABANDONED_ROUNDS` are still stuck, no new round starts, and no chore (it waits for the next round)."""
    rounds = failures = 0
    in_flight = StoresInFlight()
    abandoned: list[RoundWatch] = []
    chores = _Chores(
        refresh,
        housekeeping,
        refresh_every,
        outages,
        partial(_run_chore, in_flight=in_flight, stop=stop, stall_s=stall_s),
        next_refresh=ctx.clock.now() + (timedelta(0) if refresh_at_start else refresh_every),
        next_housekeeping=ctx.clock.now(),
    )
    while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
        abandoned = [watch for watch in abandoned if not watch.done.is_set()]
        ctx = chores.run_due(ctx, abandoned)
        if stop.is_set():
            break
        try:
            if len(abandoned) >= MAX_ABANDONED_ROUNDS:
                raise RoundStuck(f"{len(abandoned)} abandoned rounds or chores are still stuck; no new round starts")
            watch = _start_round(ctx, solver, outages, in_flight)
            if not _await_round(watch, stop, stall_s):
                if stop.is_set():
                    break
                watch.abandoned.set()
                abandoned.append(watch)
                raise RoundStuck(
                    f"no progress for {stall_s:g} s"
                    + (f" in the batch of store {watch.store_id}" if watch.store_id else " before its first store")
                )
            if watch.error is not None:
                raise watch.error
        except Exception as error:
            failures += 1
            delay = backoff_s(cadence_s, failures)
            log.error(
                "dispatch round failed",
                error=type(error).__name__,
                **({"detail": str(error)} if isinstance(error, RoundStuck) else {}),
                failures_in_a_row=failures,
                retry_in_s=round(delay, 1),
                exc_info=None if isinstance(error, (RoundStuck, *outages)) else error,
            )
        else:
            if failures:
                log.info("dispatch rounds resumed", after_failures=failures)
            failures = 0
            delay = cadence_s
        rounds += 1
        stop.wait(delay)
    return rounds
