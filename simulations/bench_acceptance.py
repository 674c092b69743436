"""Acceptance-blind vs acceptance-aware matching on the busy day, seed by seed (`crowdship bench acceptance`).

Every arm of a seed simulates the same world (orders, shoppers, their homes) with the live dispatcher's own
batch; the arms differ only in the context (`Arm`): `DispatchContext.acceptance`, with which every batch's
problem gets the acceptance section (`dispatch.acceptance.with_acceptance`) so that the matcher minimises
the expected cost of its offers, and `DispatchContext.prospects`, with which an order a batch leaves costs
its expected cost of waiting (`dispatch.prospects`) instead of the full fallback fee. An aware arm starts
from the default model and refits it on the day's own answers (through
`dispatch.services.acceptance.fit_from_history`, the live use case on the in-memory unit of work) every
`refit_every` of simulated time (`composition.acceptance_aware`, as `crowdship dispatcher --acceptance`
does every hour).

The shoppers' answers are the simulator's ground truth (`simulations.engine`: logistic in the quote,
the detour and the extra stops, `[acceptance]` of the scenario); the model does not see them, only the
recorded outcomes. Seeds replace the scenario's own; the seeds used to tune the method are not the ones
reported (see `simulations/README.md`).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table

from composition import acceptance_aware
from crowdship.errors import InvalidInput
from dispatch.acceptance import (
    DEFAULT_DECLINE_PENALTY_CENTS,
    DEFAULT_DECLINE_RULE,
    AcceptanceModel,
    AcceptanceWeighting,
)
from dispatch.matching.acceptance import DeclineRule
from dispatch.prospects import DEFAULT_PROSPECTS, ProspectTerms
from dispatch.services.acceptance import REFIT_EVERY
from dispatch.services.batch import BatchReport
from simulations.day_records import DayResult
from simulations.engine import DaySimulation
from simulations.results import quiet_batch_logs, summarise
from simulations.scenario import Scenario

REPORTED_SEEDS = (1, 2, 3, 4, 5)
TUNING_SEEDS = (101, 102, 103)
"""Seeds the decline penalty, the features and the prospects' terms were chosen on; never the reported ones."""


@dataclass(frozen=True)
class Arm:
    """One way of matching a day: with or without acceptance weighting, with or without order prospects."""

    name: str
    acceptance: AcceptanceWeighting | None
    prospects: ProspectTerms | None


ARM_NAMES = ("blind", "aware", "blind+prospects", "aware+prospects")
"""`blind` is the live dispatcher's default; the others add acceptance weighting, prospects, or both."""


def arms(
    names: Sequence[str], weighting: AcceptanceWeighting, prospects: ProspectTerms = DEFAULT_PROSPECTS
) -> list[Arm]:
    unknown = [name for name in names if name not in ARM_NAMES]
    if unknown:
        raise InvalidInput("--arms", f"unknown {unknown[0]!r}; choose from {', '.join(ARM_NAMES)}")
    return [
        Arm(
            name,
            weighting if name.startswith("aware") else None,
            prospects if name.endswith("+prospects") else None,
        )
        for name in names
    ]


class WeighedDay(DaySimulation):
    """A simulated day whose batches run as `arm` says; an aware arm refits its model every `refit_every`."""

    def __init__(self, scenario: Scenario, arm: Arm, *, refit_every: timedelta = REFIT_EVERY) -> None:
        super().__init__(scenario)
        self.arm = arm
        self.refit_every = refit_every
        self.models: list[AcceptanceModel] = []
        """The model after each refit, for the report."""
        self._next_refit: datetime | None = None
        self.ctx = dataclasses.replace(self.ctx, acceptance=arm.acceptance, prospects=arm.prospects)

    def batch_once(self, store_index: int) -> BatchReport:
        weighting = self.arm.acceptance
        now = self.clock.now()
        if weighting is not None and (self._next_refit is None or now >= self._next_refit):
            self.ctx = acceptance_aware(
                self.ctx,
                decline_penalty_cents=weighting.decline_penalty_cents,
                reward_term=weighting.reward_term,
                decline=weighting.decline,
                prospects=self.arm.prospects,
            )
            assert self.ctx.acceptance is not None
            self.models.append(self.ctx.acceptance.model)
            self._next_refit = now + self.refit_every
        return super().batch_once(store_index)


@dataclass(frozen=True)
class Row:
    seed: int
    matcher: str
    cost_per_order_cents: float
    shopper_share: float
    offers: int
    declined: int
    expired: int
    fallback: int
    never_offered: int
    """Orders that went to the fallback without a single offer."""
    mean_true_acceptance: float
    """The simulator's own probability, averaged over the offers made: what the matcher aimed for."""


def _row(seed: int, matcher: str, day: DaySimulation, result: DayResult) -> Row:
    summary = summarise(result)
    offers = result.offers
    offered = day.db.offers_of_order
    return Row(
        seed=seed,
        matcher=matcher,
        cost_per_order_cents=summary.cost_per_order_cents,
        shopper_share=summary.shopper_share,
        offers=len(offers),
        declined=sum(1 for offer in offers if offer.outcome == "declined"),
        expired=sum(1 for offer in offers if offer.outcome == "expired"),
        fallback=summary.fallback,
        never_offered=sum(
            1
            for record in result.orders
            if record.status == "fallback" and record.order_id is not None and not offered.get(record.order_id)
        ),
        mean_true_acceptance=statistics.fmean(offer.probability for offer in offers) if offers else 0.0,
    )


def run_arm(scenario: Scenario, seed: int, arm: Arm) -> tuple[Row, AcceptanceModel | None]:
    """One day of one seed matched as `arm` says; also the last model an aware arm fitted."""
    quiet_batch_logs()  # in the worker too: it is a process of its own
    day = WeighedDay(scenario.with_overrides({"seed": seed}), arm)
    row = _row(seed, arm.name, day, day.run())
    return row, day.models[-1] if day.models else None


def _mean(rows: Sequence[Row], matcher: str) -> Row:
    mine = [row for row in rows if row.matcher == matcher]
    return Row(
        seed=-1,
        matcher=matcher,
        cost_per_order_cents=statistics.fmean(r.cost_per_order_cents for r in mine),
        shopper_share=statistics.fmean(r.shopper_share for r in mine),
        offers=round(statistics.fmean(r.offers for r in mine)),
        declined=round(statistics.fmean(r.declined for r in mine)),
        expired=round(statistics.fmean(r.expired for r in mine)),
        fallback=round(statistics.fmean(r.fallback for r in mine)),
        never_offered=round(statistics.fmean(r.never_offered for r in mine)),
        mean_true_acceptance=statistics.fmean(r.mean_true_acceptance for r in mine),
    )


def acceptance_table(rows: Sequence[Row], title: str) -> Table:
    table = Table(
        "seed", "matcher", "cost/order ¢", "by shoppers", "offers", "declined", "expired", "fallback",
        "never offered", "mean true p", title=title,
    )  # fmt: skip
    names = list(dict.fromkeys(row.matcher for row in rows))
    means = [_mean(rows, name) for name in names]
    for row in [*sorted(rows, key=lambda r: (r.seed, names.index(r.matcher))), *means]:
        table.add_row(
            "mean" if row.seed < 0 else str(row.seed),
            row.matcher,
            f"{row.cost_per_order_cents:.1f}",
            f"{100 * row.shopper_share:.2f} %",
            str(row.offers),
            str(row.declined),
            str(row.expired),
            str(row.fallback),
            str(row.never_offered),
            f"{row.mean_true_acceptance:.3f}",
        )
    return table


def comparison_table(rows: Sequence[Row], baseline: str, challenger: str) -> Table:
    """Per seed, the challenger's change against the baseline (cost: lower is better; share: higher)."""
    table = Table("seed", "cost/order ¢", "by shoppers", "both better", title=f"{challenger} against {baseline}")
    by_key = {(row.seed, row.matcher): row for row in rows}
    for seed in sorted({row.seed for row in rows}):
        base, other = by_key.get((seed, baseline)), by_key.get((seed, challenger))
        if base is None or other is None:
            continue
        cost = other.cost_per_order_cents - base.cost_per_order_cents
        share = 100 * (other.shopper_share - base.shopper_share)
        table.add_row(str(seed), f"{cost:+.1f}", f"{share:+.2f} pt", "yes" if cost < 0 and share > 0 else "no")
    return table


def run_acceptance_benchmark(
    scenario: Scenario,
    seeds: Sequence[int],
    console: Console,
    *,
    arm_names: Sequence[str] = ARM_NAMES,
    decline_penalty_cents: int = DEFAULT_DECLINE_PENALTY_CENTS,
    reward_term: bool = True,
    decline: DeclineRule = DEFAULT_DECLINE_RULE,
    prospects: ProspectTerms = DEFAULT_PROSPECTS,
    jobs: int = 1,
) -> list[Row]:
    """`jobs` > 1 simulates that many days at once, in processes of their own (a day is deterministic for
    its seed wherever it runs, short of the matcher's wall-clock safety net firing on a loaded machine)."""
    quiet_batch_logs()
    weighting = AcceptanceWeighting(
        decline_penalty_cents=decline_penalty_cents, reward_term=reward_term, decline=decline
    )
    chosen = arms(arm_names, weighting, prospects)
    runs = [(seed, arm) for seed in seeds for arm in chosen]
    # a fresh process per day: days share no caches, and a day's memory goes back when it ends
    with ProcessPoolExecutor(max_workers=max(1, jobs), max_tasks_per_child=1) as pool:
        results = list(pool.map(run_arm, [scenario] * len(runs), *zip(*runs, strict=True)))
    rows = [row for row, _ in results]
    for (seed, arm), (row, model) in zip(runs, results, strict=True):
        fit = ""
        if model is not None:
            fit = (
                f"; last fit on {model.answers} answers: intercept {model.intercept:.2f}, "
                f"per $ {model.per_reward_dollar:.2f}, per km {model.per_detour_km:.2f}, "
                f"per extra stop {model.per_extra_stop:.2f}, per bag {model.per_bag:.2f}"
            )
        console.print(
            f"seed {seed} {arm.name}: cost/order {row.cost_per_order_cents:.1f} ¢, "
            f"by shoppers {100 * row.shopper_share:.2f} %{fit}"
        )
    console.print(
        acceptance_table(
            rows,
            f"{scenario.name}: acceptance-blind vs -aware (decline {decline}, penalty {decline_penalty_cents} ¢, "
            f"reward term {'on' if reward_term else 'off'}; prospects: look-back {prospects.lookback}, "
            f"take rate {prospects.take_rate:g}, later reward {prospects.later_reward_cents} ¢)",
        )
    )
    names = [arm.name for arm in chosen]
    pairs = [("blind", name) for name in names if name != "blind" and "blind" in names]
    if {"blind+prospects", "aware+prospects"} <= set(names):  # acceptance weighting alone, given prospects
        pairs.append(("blind+prospects", "aware+prospects"))
    for baseline, challenger in pairs:
        console.print(comparison_table(rows, baseline, challenger))
    return rows
