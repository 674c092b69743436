"""Two simulated days side by side: the same figures of each, and how far the second moved from the first.

Pure: it takes the two runs' status and `summary.json` figures and returns an HTML fragment (a table),
every text escaped; a figure missing from either side (an older file, a sweep) shows as a dash.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from composition.simulation_runs import RunStatus
from crowdship.units import format_dollars

Unit = Literal["count", "share", "cents", "metres", "seconds", "ratio"]

COMPARED_FIGURES: tuple[tuple[str, str, Unit], ...] = (
    ("orders", "orders", "count"),
    ("delivered_by_shoppers", "delivered by shoppers", "count"),
    ("shopper_share", "share delivered by shoppers", "share"),
    ("on_time_share", "of which on time", "share"),
    ("fallback", "to the fallback", "count"),
    ("cancelled", "cancelled", "count"),
    ("cost_per_order_cents", "cost per order", "cents"),
    ("baseline_per_order_cents", "all-courier baseline per order", "cents"),
    ("savings_share", "savings", "share"),
    ("reward_per_delivery_cents", "reward per delivery", "cents"),
    ("detour_per_delivery_m", "detour per delivery", "metres"),
    ("shopper_visits", "shopper visits", "count"),
    ("trips", "shoppers checked in", "count"),
    ("utilisation", "shopper utilisation", "share"),
    ("offers", "offers", "count"),
    ("acceptance_share", "offers accepted", "share"),
    ("orders_per_accepted_offer", "orders per accepted offer", "ratio"),
    ("matcher_p95_s", "matcher per batch, p95", "seconds"),
    ("wall_s", "wall time", "seconds"),
)
"""The figures compared, in the order of the day's report."""


def comparison_html(
    left: RunStatus, left_figures: Mapping[str, Any], right: RunStatus, right_figures: Mapping[str, Any]
) -> str:
    """A table: what each run was, then per figure the first run's value, the second's, and the change
    (percentage points for shares); rows that differ are marked."""
    head = (
        "<thead><tr><th scope='col'>figure</th>"
        f"<th scope='col' class='num'>{_run_heading(left)}</th>"
        f"<th scope='col' class='num'>{_run_heading(right)}</th>"
        "<th scope='col' class='num'>change</th></tr></thead>"
    )
    about = [
        ("scenario", html.escape(left.title), html.escape(right.title), ""),
        ("seed", _setting(left.seed, "the file's"), _setting(right.seed, "the file's"), ""),
        ("hours", _setting(left.hours, "all"), _setting(right.hours, "all"), ""),
    ]
    rows = [
        f"<tr class='setting'><th scope='row'>{name}</th><td class='num'>{a}</td><td class='num'>{b}</td>"
        f"<td class='num'>{change}</td></tr>"
        for name, a, b, change in about
    ]
    for key, label, unit in COMPARED_FIGURES:
        a, b = _shown(left_figures.get(key), unit), _shown(right_figures.get(key), unit)
        changed = a is not None and b is not None and a != b
        marked = " class='diff'" if changed else ""
        rows.append(
            f"<tr{marked} data-figure='{key}'><th scope='row'>{html.escape(label)}</th>"
            f"<td class='num'>{_format(a, unit)}</td><td class='num'>{_format(b, unit)}</td>"
            f"<td class='num'>{_change(a, b, unit)}</td></tr>"
        )
    caption = (
        f"<caption>Run {html.escape(left.id)} and run {html.escape(right.id)}: the change is the second minus "
        "the first; shares change in percentage points.</caption>"
    )
    return f"<table class='comparison'>{caption}{head}<tbody>{''.join(rows)}</tbody></table>"


def _run_heading(run: RunStatus) -> str:
    return f"<code>{html.escape(run.id)}</code>"


def _setting(value: int | None, otherwise: str) -> str:
    return str(value) if value is not None else f"<span class='muted'>{otherwise}</span>"


PRECISION: dict[Unit, Decimal] = {
    "count": Decimal(1),
    "share": Decimal("0.1"),  # percent
    "cents": Decimal(1),
    "metres": Decimal("0.01"),  # km
    "seconds": Decimal("0.1"),  # ms below a second, s from one
    "ratio": Decimal("0.01"),
}
"""What a value is rounded to before it is shown, in the unit it is shown in."""


def _shown(value: object, unit: Unit) -> Decimal | None:
    """A figure as the table shows it, in the unit it is shown in (percent, cents, km, seconds...) and rounded
    as shown, halves up; the change is computed from these, so that it is the difference of what one reads."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    exact = Decimal(str(value))
    if unit == "share":
        exact *= 100
    elif unit == "metres":
        exact /= 1000
    elif unit == "seconds" and exact < 1:
        return (exact * 1000).quantize(PRECISION[unit], rounding=ROUND_HALF_UP) / 1000
    return exact.quantize(PRECISION[unit], rounding=ROUND_HALF_UP)


def _format(value: Decimal | None, unit: Unit) -> str:
    if value is None:
        return "—"
    if unit == "share":
        return f"{value:.1f}%"
    if unit == "cents":
        return format_dollars(int(value))
    if unit == "metres":
        return f"{value:,.2f} km"
    if unit == "seconds":
        return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.1f} s"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _change(a: Decimal | None, b: Decimal | None, unit: Unit) -> str:
    """The second value minus the first, both as shown; shares in percentage points."""
    if a is None or b is None:
        return "—"
    if a == b:
        return "="
    delta = b - a
    sign = "+" if delta > 0 else "\u2212"  # a minus sign, as wide as the plus
    size = abs(delta)
    if unit == "share":
        return f"{sign}{size:.1f} pt"
    if unit == "seconds" and max(a, b) >= 1:
        return f"{sign}{size:,.1f} s"  # in the unit the values read in: 5.3 s to 4.7 s is 0.6 s less
    return sign + _format(size, unit)
