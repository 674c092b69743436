"""What a simulated day came to: the headline figures, and the files operations keep (JSON, CSV, HTML)."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from dispatch.model import OrderStatus
from simulations.day_records import DayResult
from simulations.extras import require


@dataclass(frozen=True)
class Summary:
    scenario: str
    seed: int
    orders: int
    """Orders that reached the store (intake accepted them)."""
    refused: int
    delivered_by_shoppers: int
    fallback: int
    cancelled: int
    unfinished: int
    """Orders in no final state when the day ended: must be 0."""
    shopper_share: float
    on_time_share: float
    """Of the shopper deliveries, those inside the window."""
    fallback_share: float
    cost_cents: int
    """Rewards paid plus the fallback's fees."""
    baseline_cost_cents: int
    """Every (not cancelled) order by the fallback."""
    savings_share: float
    cost_per_order_cents: float
    baseline_per_order_cents: float
    rewards_cents: int
    reward_per_delivery_cents: float
    detour_per_delivery_m: float
    shopper_visits: int
    trips: int
    trips_used: int
    utilisation: float
    """Checked-in trips that delivered at least one order."""
    offers: int
    offers_accepted: int
    acceptance_share: float
    orders_per_accepted_offer: float
    """Above 1 when the matcher bundled orders."""
    batches: int
    matcher_runs: int
    matcher_p50_s: float
    matcher_p95_s: float
    matcher_max_s: float
    batch_p95_s: float
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(part: float, whole: float) -> float:
    return float(part) / whole if whole else 0.0


def summarise(result: DayResult) -> Summary:
    orders = [record for record in result.orders if record.order_id is not None]
    counts = {status.value: 0 for status in OrderStatus}
    for record in orders:
        counts[record.status] += 1
    delivered = [record for record in orders if record.status == OrderStatus.DELIVERED.value]
    served = [record for record in orders if record.status != OrderStatus.CANCELLED.value]
    rewards = sum(trip.reward_cents for trip in result.trips)
    fallback_cost = sum(record.fallback_cost_cents for record in orders)
    baseline = sum(record.courier_cost_cents for record in served)
    matcher = np.array([batch.matcher_s for batch in result.batches if batch.matcher_s is not None])
    batch_times = np.array([batch.batch_s for batch in result.batches])
    accepted = sum(1 for offer in result.offers if offer.outcome == "accepted")
    final = {OrderStatus.DELIVERED.value, OrderStatus.FALLBACK.value, OrderStatus.CANCELLED.value}
    return Summary(
        scenario=result.scenario.name,
        seed=result.scenario.seed,
        orders=len(orders),
        refused=len(result.orders) - len(orders),
        delivered_by_shoppers=len(delivered),
        fallback=counts[OrderStatus.FALLBACK.value],
        cancelled=counts[OrderStatus.CANCELLED.value],
        unfinished=sum(1 for record in orders if record.status not in final),
        shopper_share=_ratio(len(delivered), len(served)),
        on_time_share=_ratio(sum(1 for record in delivered if record.on_time), len(delivered)),
        fallback_share=_ratio(counts[OrderStatus.FALLBACK.value], len(served)),
        cost_cents=rewards + fallback_cost,
        baseline_cost_cents=baseline,
        savings_share=1.0 - _ratio(rewards + fallback_cost, baseline) if baseline else 0.0,
        cost_per_order_cents=_ratio(rewards + fallback_cost, len(served)),
        baseline_per_order_cents=_ratio(baseline, len(served)),
        rewards_cents=rewards,
        reward_per_delivery_cents=_ratio(rewards, len(delivered)),
        detour_per_delivery_m=_ratio(sum(record.detour_m for record in delivered), len(delivered)),
        shopper_visits=result.shopper_visits,
        trips=len(result.trips),
        trips_used=sum(1 for trip in result.trips if trip.delivered),
        utilisation=_ratio(sum(1 for trip in result.trips if trip.delivered), len(result.trips)),
        offers=len(result.offers),
        offers_accepted=accepted,
        acceptance_share=_ratio(accepted, len(result.offers)),
        orders_per_accepted_offer=_ratio(
            sum(offer.stops for offer in result.offers if offer.outcome == "accepted"), accepted
        ),
        batches=len(result.batches),
        matcher_runs=len(matcher),
        matcher_p50_s=float(np.percentile(matcher, 50)) if len(matcher) else 0.0,
        matcher_p95_s=float(np.percentile(matcher, 95)) if len(matcher) else 0.0,
        matcher_max_s=float(matcher.max()) if len(matcher) else 0.0,
        batch_p95_s=float(np.percentile(batch_times, 95)) if len(batch_times) else 0.0,
        wall_s=result.wall_s,
    )


DECISION_FIELDS = tuple(
    name
    for name in Summary.__dataclass_fields__
    if name not in {"matcher_p50_s", "matcher_p95_s", "matcher_max_s", "batch_p95_s", "wall_s"}
)
"""The figures that depend only on the scenario, not on how fast the machine ran it."""


def headline_rows(summary: Summary) -> list[tuple[str, str]]:
    """The figures a reader looks at first, formatted."""
    return [
        ("orders", f"{summary.orders}"),
        ("delivered by shoppers", f"{summary.delivered_by_shoppers} ({summary.shopper_share:.1%})"),
        ("  of which on time", f"{summary.on_time_share:.1%}"),
        ("to the fallback", f"{summary.fallback} ({summary.fallback_share:.1%})"),
        ("cancelled", f"{summary.cancelled}"),
        ("cost per order", f"${summary.cost_per_order_cents / 100:.2f}"),
        ("all-courier baseline per order", f"${summary.baseline_per_order_cents / 100:.2f}"),
        ("savings", f"{summary.savings_share:.1%}"),
        ("reward per delivery", f"${summary.reward_per_delivery_cents / 100:.2f}"),
        ("detour per delivery", f"{summary.detour_per_delivery_m / 1000:.2f} km"),
        (
            "shopper visits / checked in / delivered",
            f"{summary.shopper_visits} / {summary.trips} / {summary.trips_used}",
        ),
        ("shopper utilisation", f"{summary.utilisation:.1%}"),
        ("offers (accepted)", f"{summary.offers} ({summary.acceptance_share:.1%})"),
        ("orders per accepted offer", f"{summary.orders_per_accepted_offer:.2f}"),
        ("batches (matcher runs)", f"{summary.batches} ({summary.matcher_runs})"),
        (
            "matcher per batch p50 / p95 / max",
            f"{summary.matcher_p50_s * 1000:.1f} / {summary.matcher_p95_s * 1000:.1f} / "
            f"{summary.matcher_max_s * 1000:.1f} ms",
        ),
        ("wall time", f"{summary.wall_s:.1f} s"),
    ]


def order_rows(result: DayResult) -> list[dict[str, Any]]:
    return [
        {
            "external_ref": record.external_ref,
            "store": record.store,
            "placed_at": record.placed_at.isoformat(),
            "lat": record.dropoff.lat,
            "lon": record.dropoff.lon,
            "bags": record.bags,
            "status": record.status,
            "delivered_at": record.delivered_at.isoformat() if record.delivered_at else "",
            "on_time": "" if record.on_time is None else record.on_time,
            "window_latest": record.window_latest.isoformat(),
            "detour_m": round(record.detour_m, 1),
            "reward_cents": record.reward_cents,
            "fallback_cost_cents": record.fallback_cost_cents,
            "courier_cost_cents": record.courier_cost_cents,
        }
        for record in result.orders
    ]


def batch_rows(result: DayResult) -> list[dict[str, Any]]:
    return [
        {
            "store": batch.store,
            "at": batch.at.isoformat(),
            "pending_orders": batch.pending_orders,
            "eligible_trips": batch.eligible_trips,
            "offers": batch.offers,
            "fallback": batch.fallback,
            "expired_offers": batch.expired_offers,
            "matcher_s": "" if batch.matcher_s is None else round(batch.matcher_s, 6),
            "batch_s": round(batch.batch_s, 6),
        }
        for batch in result.batches
    ]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        if not rows:
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class WrittenFiles:
    summary_json: Path
    summary_csv: Path
    orders_csv: Path
    batches_csv: Path
    report_html: Path


def write_results(
    result: DayResult, summary: Summary, out_dir: Path, *, networks_dir: Path | None = None
) -> WrittenFiles:
    """Writes summary.json/.csv, orders.csv, batches.csv and report.html into `out_dir` (its map on the street
    networks of `networks_dir` where one covers the store, else on a grid)."""
    require("plotly", "the HTML report")
    from simulations.report import write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    files = WrittenFiles(
        summary_json=out_dir / "summary.json",
        summary_csv=out_dir / "summary.csv",
        orders_csv=out_dir / "orders.csv",
        batches_csv=out_dir / "batches.csv",
        report_html=out_dir / "report.html",
    )
    payload = {
        "summary": summary.to_json(),
        "scenario": result.scenario.model_dump(mode="json"),
        "final_statuses": result.final_statuses,
    }
    files.summary_json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    _write_csv(files.summary_csv, [summary.to_json()])
    _write_csv(files.orders_csv, order_rows(result))
    _write_csv(files.batches_csv, batch_rows(result))
    write_report(result, summary, files.report_html, networks_dir=networks_dir)
    return files


def quiet_batch_logs() -> None:
    """A day runs hundreds of batches; their info lines would drown the output. Warnings still show."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
