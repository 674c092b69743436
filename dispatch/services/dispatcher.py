"""The dispatcher loop: every few seconds, one batch per store. Several processes may run it at once; the
per-store lease decides who batches which store, and the database refuses any double offer that slips by."""

from __future__ import annotations

import threading

from crowdship.logging import get_logger
from dispatch.services.batch import BatchReport, Solver, matcher_solver, run_batch
from dispatch.services.context import DispatchContext

log = get_logger(__name__)


def rebuild_live_state_if_lost(ctx: DispatchContext) -> int | None:
    """After a Redis flush (or on a first start), puts back the last known positions; None if not needed."""
    if ctx.live is None or not ctx.live.needs_rebuild():
        return None
    with ctx.unit_of_work() as uow:
        samples = uow.locations.latest_of_active_shoppers()
    restored = ctx.live.rebuild_positions(samples)
    log.info("live state rebuilt", positions=restored)
    return restored


def dispatch_round(ctx: DispatchContext, *, solver: Solver = matcher_solver) -> list[BatchReport]:
    """One batch for every store; a store whose batch fails is logged and retried next round."""
    rebuild_live_state_if_lost(ctx)
    with ctx.unit_of_work() as uow:
        stores = uow.stores.list()
    reports = []
    for store in stores:
        try:
            reports.append(run_batch(ctx, store_id=store.id, solver=solver))
        except Exception:
            log.exception("batch failed", store_id=str(store.id))
    return reports


def run_dispatcher(
    ctx: DispatchContext,
    *,
    cadence_s: float,
    stop: threading.Event,
    solver: Solver = matcher_solver,
    max_rounds: int | None = None,
) -> int:
    """Runs rounds every `cadence_s` seconds until `stop` is set (or `max_rounds`); returns the rounds run."""
    rounds = 0
    while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
        dispatch_round(ctx, solver=solver)
        rounds += 1
        stop.wait(cadence_s)
    return rounds
