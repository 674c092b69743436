"""The dispatcher loop: every few seconds, one batch per store. Several processes may run it at once; the
per-store lease decides who batches which store, and the database refuses any double offer that slips by.

The loop never dies of a fault: a round that fails (PostgreSQL restarting, Redis gone) is logged and tried
again after a backoff that grows with each failure in a row, up to a minute, and resets after a good round.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta

from crowdship.logging import get_logger
from dispatch.services.batch import BatchReport, Solver, matcher_solver, run_batch
from dispatch.services.context import DispatchContext

log = get_logger(__name__)

Outages = tuple[type[Exception], ...]
"""The errors that mean a backing server is unreachable (`crowdship.outages`, given by the caller): every store
would fail alike, so the round stops and the loop backs off."""
MAX_BACKOFF_S = 60.0
PRUNE_EVERY_S = 60.0
PRUNE_BATCH = 10_000


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


def dispatch_round(
    ctx: DispatchContext, *, solver: Solver = matcher_solver, outages: Outages = ()
) -> list[BatchReport]:
    """One batch for every store. A store whose batch fails for its own reasons is logged and retried next
    round; PostgreSQL or Redis being unreachable ends the round with the error (the loop backs off)."""
    rebuild_live_state_if_lost(ctx)
    prune_live_positions(ctx)
    with ctx.unit_of_work() as uow:
        stores = uow.stores.list()
    reports = []
    for store in stores:
        try:
            reports.append(run_batch(ctx, store_id=store.id, solver=solver))
        except outages:
            raise
        except Exception:
            log.exception("batch failed", store_id=str(store.id))
    return reports


def backoff_s(cadence_s: float, failures: int, jitter: Callable[[], float] = random.random) -> float:
    """The wait before the next round: the cadence after a good round; after `failures` bad ones in a row,
    twice the cadence per failure, at most a minute, with up to a fifth taken off at random so that many
    dispatchers do not hammer a recovering server in step."""
    if failures == 0:
        return cadence_s
    delay: float = min(MAX_BACKOFF_S, cadence_s * 2.0**failures)
    return delay * (1 - 0.2 * jitter())


def _refreshed(ctx: DispatchContext, refresh: Callable[[DispatchContext], DispatchContext]) -> DispatchContext:
    try:
        return refresh(ctx)
    except Exception as error:
        log.error("dispatcher context refresh failed, the current one kept", error=type(error).__name__)
        return ctx


def keep_house(ctx: DispatchContext, housekeeping: Callable[[DispatchContext], object], outages: Outages = ()) -> None:
    """Runs the housekeeping; a failure is logged (briefly when a server is away) and tried again next time."""
    try:
        housekeeping(ctx)
    except Exception as error:
        log.error(
            "housekeeping failed, tried again later",
            error=type(error).__name__,
            exc_info=error if not isinstance(error, outages) else None,
        )


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
    refresh_every: timedelta = timedelta(hours=1),
) -> int:
    """Runs rounds every `cadence_s` seconds until `stop` is set (or `max_rounds`); returns the rounds run.

    Every `refresh_every` of the context's clock, `refresh` rebuilds the context (e.g. refits the acceptance
    model on the answers recorded since; one that fails keeps the context it had); `housekeeping` tidies the
    stores (e.g. forgets old idempotency keys; one that fails is tried again next time) at the first round and
    as often after it, so that a dispatcher restarted more often than that still does it."""
    rounds = failures = 0
    next_refresh = ctx.clock.now() + refresh_every
    next_housekeeping = ctx.clock.now()
    while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
        now = ctx.clock.now()
        if refresh is not None and now >= next_refresh:
            next_refresh = now + refresh_every
            ctx = _refreshed(ctx, refresh)
        if housekeeping is not None and now >= next_housekeeping:
            next_housekeeping = now + refresh_every
            keep_house(ctx, housekeeping, outages)
        try:
            dispatch_round(ctx, solver=solver, outages=outages)
        except Exception as error:
            failures += 1
            delay = backoff_s(cadence_s, failures)
            log.error(
                "dispatch round failed",
                error=type(error).__name__,
                failures_in_a_row=failures,
                retry_in_s=round(delay, 1),
                exc_info=error if not isinstance(error, outages) else None,
            )
        else:
            if failures:
                log.info("dispatch rounds resumed", after_failures=failures)
            failures = 0
            delay = cadence_s
        rounds += 1
        stop.wait(delay)
    return rounds
