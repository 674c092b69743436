"""The day's report: one self-contained HTML file (plotly's JavaScript inlined, nothing fetched online).

Each chart and the map has an accessible name saying what it shows and the gist of its numbers, for a screen
reader (the map's is its title; a chart's is on its figure and on the chart's own drawing).

The map is `routing.maps`' SVG (the console draws the same one): drop-offs by outcome and shopper routes at
equal scale in metres, on OpenStreetMap streets where a shipped network covers the store and on a metric
grid elsewhere; no tiles, since nothing outside the machine is reachable.
"""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from routing.map_symbols import STATUS_COLOURS
from routing.map_view import MapLayers, MapMarker, MapRoute, MapStore, fit_view
from routing.maps import render_map_svg
from routing.streets import street_base
from simulations.day_records import DayResult
from simulations.results import Summary, headline_rows

MAX_ROUTES_DRAWN = 400
MAX_DROPOFFS_DRAWN = 3_000
MAP_WIDTH_PX, MAP_HEIGHT_PX = 960, 720
OUTCOME_COLOURS = STATUS_COLOURS
"""The map's colours, so that a status looks the same on the map and in the charts."""


def map_svg(result: DayResult, networks_dir: Path | None) -> str:
    """The day on the store's map: drop-offs by outcome and the shoppers' routes, on OpenStreetMap streets
    where a shipped network covers the store, else on a metric grid (the same map as the console's)."""
    routes = [trip for trip in result.trips if len(trip.route) > 2][:MAX_ROUTES_DRAWN]
    layers = MapLayers(
        stores=[MapStore(store.location, store.name, store.service_area) for store in result.stores],
        dropoffs=[MapMarker(record.dropoff, record.external_ref, record.status) for record in result.orders],
        routes=[MapRoute(tuple(trip.route), f"trip {trip.index}: {trip.delivered} delivered") for trip in routes],
        routes_note="store, drop-offs, home, as straight lines",
    )
    view = fit_view(layers)
    base = street_base(view.center, view.radius_m, networks_dir=networks_dir)
    return render_map_svg(
        base,
        layers,
        title=f"{result.scenario.name}: drop-offs by outcome and shopper routes",
        view=view,
        width=MAP_WIDTH_PX,
        height=MAP_HEIGHT_PX,
        max_features=MAX_DROPOFFS_DRAWN,
        element_id="day-map",
    )


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


def _outcomes_by_hour_label(result: DayResult) -> str:
    outcomes = Counter(record.status for record in result.orders)
    hours = sorted({record.placed_at.hour for record in result.orders})
    said = "Stacked bar chart: orders by the hour they were placed, split by outcome"
    if not hours:
        return f"{said}. No order this day."
    split = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
    return f"{said}. {len(result.orders)} orders placed from {hours[0]:02d}:00 to {hours[-1]:02d}:59: {split}."


def _batches(result: DayResult) -> go.Figure:
    times = [batch.at for batch in result.batches]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=times, y=[b.pending_orders for b in result.batches], name="pending orders"))
    figure.add_trace(go.Scatter(x=times, y=[b.eligible_trips for b in result.batches], name="trips taking offers"))
    figure.add_trace(go.Bar(x=times, y=[b.offers for b in result.batches], name="offers made"))
    figure.update_layout(title="Each batch: the pool, the shoppers, the offers", yaxis_title="count")
    return figure


def _batches_label(result: DayResult) -> str:
    batches = result.batches
    said = "Chart of each batch through the day: orders pending and trips taking offers as lines, offers made as bars"
    if not batches:
        return f"{said}. No batch ran this day."
    return (
        f"{said}. {len(batches)} batches from {batches[0].at:%H:%M} to {batches[-1].at:%H:%M}; at most "
        f"{max(b.pending_orders for b in batches)} orders pending and {max(b.eligible_trips for b in batches)} "
        f"trips taking offers; {sum(b.offers for b in batches)} offers made in all."
    )


def _matcher(result: DayResult) -> go.Figure:
    seconds = [batch.matcher_s * 1000 for batch in result.batches if batch.matcher_s is not None]
    figure = go.Figure(go.Histogram(x=seconds, nbinsx=40, marker_color="#264653"))
    figure.update_layout(title="Matcher time per batch", xaxis_title="milliseconds", yaxis_title="batches")
    return figure


def _matcher_label(result: DayResult) -> str:
    times = [batch.matcher_s * 1000 for batch in result.batches if batch.matcher_s is not None]
    said = "Histogram of the matcher's time per batch, in milliseconds"
    if not times:
        return f"{said}. The matcher did not run this day."
    return f"{said}. {len(times)} runs: median {statistics.median(times):.1f} ms, longest {max(times):.1f} ms."


def _per_delivery(result: DayResult) -> go.Figure:
    """Detour and reward each on an axis of its own unit (km and dollars never share an axis)."""
    from plotly.subplots import make_subplots

    delivered = [record for record in result.orders if record.status == "delivered"]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Detour (km)", "Reward ($)"), horizontal_spacing=0.12)
    figure.add_trace(go.Histogram(x=[r.detour_m / 1000 for r in delivered], marker_color="#264653"), 1, 1)
    figure.add_trace(go.Histogram(x=[r.reward_cents / 100 for r in delivered], marker_color="#2a9d8f"), 1, 2)
    figure.update_yaxes(title_text="deliveries", row=1, col=1)
    figure.update_layout(title="Per shopper delivery: detour and reward", showlegend=False)
    if not delivered:
        figure.add_annotation(
            text="no delivery by a shopper this day", xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False
        )
    return figure


def _per_delivery_label(result: DayResult) -> str:
    delivered = [record for record in result.orders if record.status == "delivered"]
    said = "Two histograms of the deliveries by shoppers: the detour in kilometres and the reward in dollars"
    if not delivered:
        return f"{said}. No delivery by a shopper this day."
    detours = [record.detour_m / 1000 for record in delivered]
    rewards = [record.reward_cents / 100 for record in delivered]
    return (
        f"{said}. {len(delivered)} deliveries: detour {min(detours):.1f} to {max(detours):.1f} km, reward "
        f"${min(rewards):.2f} to ${max(rewards):.2f}."
    )


NAMED_CHART_SCRIPT = """
(function () {{
  var chart = document.getElementById('{{plot_id}}');
  var name = {label};
  function nameIt() {{
    var drawings = chart.querySelectorAll('svg.main-svg');
    drawings.forEach(function (svg, index) {{
      if (index === 0) {{
        svg.setAttribute('role', 'img');
        svg.setAttribute('aria-label', name);
      }} else {{
        svg.setAttribute('aria-hidden', 'true');
      }}
    }});
  }}
  var tester = document.getElementById('js-plotly-tester');  // plotly's own text-measuring drawing
  if (tester) {{
    tester.setAttribute('aria-hidden', 'true');
  }}
  nameIt();
  chart.on('plotly_afterplot', nameIt);
}})();
"""
"""Names a plotly chart's drawing (its first SVG, the axes and the bars) and hides its other layers (the same
chart's titles and legend, already in the name) and plotly's text-measuring drawing from assistive technology,
again after each redraw (a zoom)."""


def _chart(figure: go.Figure, label: str, *, with_plotly_js: bool) -> str:
    """A chart as a `<figure>` named by `label` (what it shows), its drawing named the same."""
    drawn = pio.to_html(
        figure,
        include_plotlyjs=with_plotly_js,
        full_html=False,
        config={"displaylogo": False, "showSendToCloud": False},  # nothing of the day leaves the machine
        post_script=NAMED_CHART_SCRIPT.format(label=json.dumps(label).replace("</", "<\\/")),
    )
    return f'<figure class="chart" aria-label="{html.escape(label)}">{drawn}</figure>'


def _headline_table(summary: Summary) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in headline_rows(summary)
    )
    return f"<table>{rows}</table>"


def write_report(result: DayResult, summary: Summary, path: Path, *, networks_dir: Path | None) -> None:
    charts = [
        (_outcomes_by_hour(result), _outcomes_by_hour_label(result)),
        (_batches(result), _batches_label(result)),
        (_per_delivery(result), _per_delivery_label(result)),
        (_matcher(result), _matcher_label(result)),
    ]
    parts = [_chart(figure, label, with_plotly_js=index == 0) for index, (figure, label) in enumerate(charts)]
    scenario = result.scenario
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(scenario.name)}: simulated day</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
 table {{ border-collapse: collapse; margin-bottom: 2rem; }}
 th, td {{ text-align: left; padding: 0.25rem 1rem 0.25rem 0; border-bottom: 1px solid #ddd; }}
 th {{ font-weight: normal; color: #555; }}
 figure.map, figure.chart {{ margin: 0 0 2rem; }}
 figure.map svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>{html.escape(scenario.name)}</h1>
<p>{scenario.date.isoformat()}, {scenario.start_hour:02d}:00 for {scenario.hours} h ({html.escape(scenario.timezone)}),
seed {scenario.seed}; batches every {scenario.dispatch.batch_cadence_s:g} s, the live dispatcher's batch and matcher
on in-memory repositories.</p>
{_headline_table(summary)}
<h2>Where the orders went</h2>
<figure class="map" aria-labelledby="day-map-title">{map_svg(result, networks_dir)}</figure>
<h2>Through the day</h2>
{"".join(parts)}
</body></html>
"""
    path.write_text(document, encoding="utf-8")
