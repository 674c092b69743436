"""The day's report: one self-contained HTML file (plotly's JavaScript inlined, nothing fetched online).

The map draws the stores, drop-offs and shopper routes on plain lon/lat axes, without tiles: nothing
outside the machine is reachable, and a reader still sees where the orders went and who carried them.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from simulations.day_records import DayResult
from simulations.results import Summary, headline_rows

MAX_ROUTES_DRAWN = 400
OUTCOME_COLOURS = {
    "delivered": "#2a9d8f",
    "fallback": "#e76f51",
    "cancelled": "#8d99ae",
    "refused": "#6c757d",
}


def _map(result: DayResult) -> go.Figure:
    figure = go.Figure()
    routes = [trip for trip in result.trips if len(trip.route) > 2][:MAX_ROUTES_DRAWN]
    lons: list[float | None] = []
    lats: list[float | None] = []
    for trip in routes:
        lons += [point.lon for point in trip.route] + [None]
        lats += [point.lat for point in trip.route] + [None]
    if routes:
        figure.add_trace(
            go.Scatter(
                x=lons,
                y=lats,
                mode="lines",
                line={"width": 1, "color": "rgba(38, 70, 83, 0.35)"},
                name=f"shopper routes ({len(routes)})",
                hoverinfo="skip",
            )
        )
    by_outcome: dict[str, list[tuple[float, float, str]]] = {}
    for record in result.orders:
        by_outcome.setdefault(record.status, []).append((record.dropoff.lon, record.dropoff.lat, record.external_ref))
    for outcome, points in sorted(by_outcome.items()):
        figure.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="markers",
                marker={"size": 5, "color": OUTCOME_COLOURS.get(outcome, "#264653")},
                name=f"{outcome} ({len(points)})",
                text=[p[2] for p in points],
                hoverinfo="text",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[store.location.lon for store in result.stores],
            y=[store.location.lat for store in result.stores],
            mode="markers+text",
            marker={"size": 16, "symbol": "star", "color": "#f4a261", "line": {"width": 1, "color": "#000"}},
            text=[store.name for store in result.stores],
            textposition="top center",
            name="store",
        )
    )
    mean_lat = sum(store.location.lat for store in result.stores) / len(result.stores)
    figure.update_layout(
        title="Drop-offs by outcome and shopper routes (lon/lat, no map tiles)",
        xaxis_title="longitude",
        yaxis_title="latitude",
        height=700,
    )
    # One km east looks as long as one km north: stretch latitude by 1 / cos(latitude).
    figure.update_yaxes(scaleanchor="x", scaleratio=1.0 / math.cos(math.radians(mean_lat)))
    return figure


def _outcomes_by_hour(result: DayResult) -> go.Figure:
    counts: Counter[tuple[int, str]] = Counter((record.placed_at.hour, record.status) for record in result.orders)
    hours = sorted({hour for hour, _ in counts})
    figure = go.Figure()
    for outcome in sorted({status for _, status in counts}):
        figure.add_trace(
            go.Bar(
                x=[f"{hour:02d}:00" for hour in hours],
                y=[counts.get((hour, outcome), 0) for hour in hours],
                name=outcome,
                marker_color=OUTCOME_COLOURS.get(outcome, "#264653"),
            )
        )
    figure.update_layout(barmode="stack", title="Orders by hour placed and outcome", yaxis_title="orders")
    return figure


def _batches(result: DayResult) -> go.Figure:
    times = [batch.at for batch in result.batches]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=times, y=[b.pending_orders for b in result.batches], name="pending orders"))
    figure.add_trace(go.Scatter(x=times, y=[b.eligible_trips for b in result.batches], name="trips taking offers"))
    figure.add_trace(go.Bar(x=times, y=[b.offers for b in result.batches], name="offers made"))
    figure.update_layout(title="Each batch: the pool, the shoppers, the offers", yaxis_title="count")
    return figure


def _matcher(result: DayResult) -> go.Figure:
    seconds = [batch.matcher_s * 1000 for batch in result.batches if batch.matcher_s is not None]
    figure = go.Figure(go.Histogram(x=seconds, nbinsx=40, marker_color="#264653"))
    figure.update_layout(title="Matcher time per batch", xaxis_title="milliseconds", yaxis_title="batches")
    return figure


def _per_delivery(result: DayResult) -> go.Figure:
    delivered = [record for record in result.orders if record.status == "delivered"]
    figure = go.Figure()
    figure.add_trace(go.Histogram(x=[r.detour_m / 1000 for r in delivered], name="detour (km)", opacity=0.7))
    figure.add_trace(go.Histogram(x=[r.reward_cents / 100 for r in delivered], name="reward ($)", opacity=0.7))
    figure.update_layout(barmode="overlay", title="Per shopper delivery: detour and reward", yaxis_title="deliveries")
    return figure


def _headline_table(summary: Summary) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in headline_rows(summary)
    )
    return f"<table>{rows}</table>"


def write_report(result: DayResult, summary: Summary, path: Path) -> None:
    figures = [_map(result), _outcomes_by_hour(result), _batches(result), _per_delivery(result), _matcher(result)]
    parts = [
        pio.to_html(figure, include_plotlyjs=index == 0, full_html=False, config={"displaylogo": False})
        for index, figure in enumerate(figures)
    ]
    scenario = result.scenario
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(scenario.name)}: simulated day</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
 table {{ border-collapse: collapse; margin-bottom: 2rem; }}
 th, td {{ text-align: left; padding: 0.25rem 1rem 0.25rem 0; border-bottom: 1px solid #ddd; }}
 th {{ font-weight: normal; color: #555; }}
</style></head><body>
<h1>{html.escape(scenario.name)}</h1>
<p>{scenario.date.isoformat()}, {scenario.start_hour:02d}:00 for {scenario.hours} h ({html.escape(scenario.timezone)}),
seed {scenario.seed}; batches every {scenario.dispatch.batch_cadence_s:g} s, the live dispatcher's batch and matcher
on in-memory repositories.</p>
{_headline_table(summary)}
{"".join(f"<div>{part}</div>" for part in parts)}
</body></html>
"""
    path.write_text(document, encoding="utf-8")
