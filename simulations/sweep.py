"""Sweeps: a grid of scenarios, each a simulated day, run in parallel on Ray; one table and one chart.

A grid file (TOML) names a base scenario and the fields to vary, as dotted paths:

    base = "demo.toml"                      # relative to the grid file
    [set]                                   # the same for every run (optional)
    hours = 4
    [grid]                                  # every combination is one run
    "dispatch.batch_cadence_s" = [30, 60]
    "shoppers.willing_share" = [0.08, 0.12]

Fewer `hours` than the base's are its first hours, its hourly rates cut to match (as `simulate --hours`).

Ray runs locally (`ray.init(num_cpus=2)`) unless a cluster address is given; then the project's packages
are shipped to the workers with the job (`runtime_env.py_modules`).
"""

from __future__ import annotations

import csv
import html
import itertools
import json
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from crowdship.errors import DomainError, InvalidInput
from crowdship.files import read_toml_file
from crowdship.settings import PROJECT_ROOT
from crowdship.units import format_dollars
from simulations.extras import require
from simulations.scenario import Scenario, load_scenario, parse_scenario

PROJECT_PACKAGES = ("crowdship", "dispatch", "rewards", "routing", "simulations")


@dataclass(frozen=True)
class Grid:
    name: str
    base: Scenario
    fixed: Mapping[str, Any]
    axes: Mapping[str, Sequence[Any]]

    def runs(self) -> list[dict[str, Any]]:
        """Every combination of the axes, in the order the file lists them."""
        names = list(self.axes)
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*self.axes.values())]

    def is_range(self, key: str) -> bool:
        """Whether a varied field is a range (its two bounds, a pair in the scenario, like `orders.value_cents`)
        rather than a list of choices (like `shoppers.max_detour_m`): the file writes both as arrays."""
        target: Any = self.base
        for part in key.split("."):
            target = getattr(target, part, None)
        return isinstance(target, tuple)

    def scenario(self, overrides: Mapping[str, Any]) -> Scenario:
        label = ", ".join(f"{key}={value}" for key, value in overrides.items())
        values = {**self.fixed, **overrides}
        scenario = self.base
        hours = values.get("hours")
        if isinstance(hours, int) and not isinstance(hours, bool) and hours <= scenario.hours:
            # fewer hours cut the base's hourly rates to match, as `crowdship simulate --hours` does
            scenario = scenario.first_hours(hours)
        elif hours is not None:
            _refuse_hours_beyond_the_base_rates(scenario, values)
        scenario = scenario.with_overrides(values)
        return scenario.with_overrides({"name": f"{self.base.name} [{label}]" if label else self.base.name})


def _refuse_hours_beyond_the_base_rates(base: Scenario, values: Mapping[str, Any]) -> None:
    """More hours than the base has need rates for them: an hourly list of the base that the grid does not
    replace cannot be stretched, and the refusal names `hours`, the grid's own field, not the base's list."""
    for name, profile in (("orders.per_hour", base.orders.per_hour), ("shoppers.per_hour", base.shoppers.per_hour)):
        if isinstance(profile, list) and name not in values:
            raise InvalidInput(
                "hours",
                f"the base scenario's {name} has rates for {base.hours} hours; give {name} for more, "
                f"or at most {base.hours} hours",
            )


def load_grid(path: Path | str) -> Grid:
    path = Path(path)
    data = read_toml_file(path, "grid")
    if "grid" not in data and "base" not in data:  # one day's scenario: said so, not "stores: not a grid field"
        raise InvalidInput("grid", f"{path} is one day's scenario, not a grid: run it with `crowdship simulate`")
    unknown = sorted(set(data) - {"base", "set", "grid", "name"})
    if unknown:
        raise InvalidInput(unknown[0], "is not a grid field (base, name, set, grid)")
    if not isinstance(data.get("base"), str):
        raise InvalidInput("base", "name the base scenario file, relative to the grid file")
    base = load_scenario((path.parent / data["base"]).resolve())
    axes = data.get("grid", {})
    if not isinstance(axes, dict) or not axes:
        raise InvalidInput("grid", 'list at least one field to vary, e.g. "dispatch.batch_cadence_s" = [30, 60]')
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise InvalidInput(f"grid.{key}", "must be a non-empty list of values")
    fixed = data.get("set", {})
    grid = Grid(name=str(data.get("name", path.stem)), base=base, fixed=fixed, axes=axes)
    for overrides in grid.runs():
        try:
            grid.scenario(overrides)
        except InvalidInput as error:
            raise InvalidInput(f"grid.{error.field}", error.message.partition(": ")[2] or error.message) from error
    return grid


def run_one(scenario_data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """One grid point, as a Ray task runs it: the summary with the varied values in front."""
    from simulations.engine import simulate_day
    from simulations.results import quiet_batch_logs, summarise

    quiet_batch_logs()
    summary = summarise(simulate_day(parse_scenario(scenario_data)))
    return {**overrides, **summary.to_json()}


class RayUnreachable(DomainError):
    """`--address` names a Ray cluster that does not answer."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot reach the Ray cluster at {address}: {reason}")
        self.address = address


RAY_CONNECT_TIMEOUT_S = 5.0
"""How long the cluster's address may take to accept a connection before the sweep gives up (Ray itself would
retry for half a minute or more, printing warnings)."""
RAY_GCS_WAIT = "RAY_gcs_server_port_wait_time_s"
RAY_GCS_WAIT_S = "5"
"""Ray's tries (about a second each) to get an answer from a cluster's head: 5 unless the environment says."""


def _ray_endpoint(address: str) -> tuple[str, int] | None:
    """Host and port of a `HOST:PORT` or `ray://HOST:PORT` address; None for what Ray resolves itself (`auto`)."""
    host, separator, port = address.removeprefix("ray://").rpartition(":")
    if not separator or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _require_reachable(address: str) -> None:
    endpoint = _ray_endpoint(address)
    if endpoint is None:
        return
    try:
        socket.create_connection(endpoint, timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise RayUnreachable(address, error.strerror or str(error) or type(error).__name__) from None


def _init_ray(address: str | None) -> None:
    require("ray", "a sweep")
    import ray

    if address:
        _require_reachable(address)
    if ray.is_initialized():
        return
    if address:
        root = PROJECT_ROOT
        own_wait = RAY_GCS_WAIT not in os.environ
        if own_wait:
            os.environ[RAY_GCS_WAIT] = RAY_GCS_WAIT_S
        try:
            ray.init(
                address=address,
                runtime_env={"py_modules": [str(root / package) for package in PROJECT_PACKAGES]},
            )
        except ConnectionError:  # something listens there, but it does not answer as a Ray cluster's head
            raise RayUnreachable(address, "no Ray cluster answers there") from None
        finally:
            if own_wait:
                os.environ.pop(RAY_GCS_WAIT, None)
    else:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)


def run_sweep(
    grid: Grid,
    *,
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Runs every grid point as a Ray task; rows in grid order whatever order they finish in."""
    ray = require("ray", "a sweep")
    _init_ray(address)
    task = ray.remote(num_cpus=1)(run_one)
    runs = grid.runs()
    pending = {
        task.remote(grid.scenario(overrides).model_dump(mode="json"), overrides): index
        for index, overrides in enumerate(runs)
    }
    rows: list[dict[str, Any] | None] = [None] * len(runs)
    remaining = list(pending)
    while remaining:
        done, remaining = ray.wait(remaining, num_returns=1)
        for reference in done:
            rows[pending[reference]] = ray.get(reference)
        if progress is not None:
            progress(len(runs) - len(remaining), len(runs))
    return [row for row in rows if row is not None]


def dollars(cents: float) -> str:
    """An amount of cents (a mean may have a fraction) in dollars, to the cent, halves up: 1234.5 -> "$12.35"."""
    whole = int(Decimal(str(cents)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return format_dollars(whole)


def _share(value: float) -> str:
    return f"{value:.1%}"


TABLE_COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("shopper_share", "shoppers", _share),
    ("on_time_share", "on time", _share),
    ("fallback_share", "fallback", _share),
    ("cost_per_order_cents", "cost/order", dollars),
    ("savings_share", "savings", _share),
    ("detour_per_delivery_m", "detour m", "{:.0f}".format),
    ("reward_per_delivery_cents", "reward", dollars),
    ("utilisation", "utilisation", _share),
    ("matcher_p95_s", "matcher p95 s", "{:.3f}".format),
)
"""The figures of each run as the chart's table and the command line show them (money in dollars, shares in
percent); results.csv and results.json keep the raw numbers (money in cents)."""


def write_sweep(grid: Grid, rows: Sequence[Mapping[str, Any]], out_dir: Path) -> tuple[Path, Path, Path]:
    """results.csv, results.json and chart.html in `out_dir`."""
    require("plotly", "the sweep's chart")
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, chart_path = out_dir / "results.csv", out_dir / "results.json", out_dir / "chart.html"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    json_path.write_text(json.dumps({"grid": grid.name, "rows": list(rows)}, indent=2) + "\n", encoding="utf-8")
    chart_path.write_text(sweep_chart_html(grid, rows), encoding="utf-8")
    return csv_path, json_path, chart_path


UNITS = {"s": "s", "m": "m", "km": "km", "h": "h"}
"""The units a scenario field's name ends with that its values are said in (money and basis points apart)."""


def axis_label(key: str) -> str:
    """`dispatch.batch_cadence_s` -> "batch cadence": what a person reads (each value says its unit, see
    `axis_value`); the key stays in the title."""
    words = key.rsplit(".", 1)[-1].split("_")
    if len(words) > 1 and (words[-1] in UNITS or words[-1] in {"cents", "bps"}):
        words.pop()
    return " ".join(words)


def axis_value(key: str, value: Any, *, ranged: bool = False) -> str:
    """A varied value as people read it, by the unit its field's name ends with: cents in dollars ("$0.40"),
    basis points as a percentage or, for a multiplier or bonus, as a factor ("x1.5" with a multiplication sign),
    metres from 1 km in km, a share in percent; a range (`ranged`, see `Grid.is_range`) as "from" and "to" with
    an en dash between, a list of choices as a list."""
    if isinstance(value, list | tuple):
        said = [axis_value(key, item) for item in value]
        return "\N{EN DASH}".join(said) if ranged and len(said) == 2 else ", ".join(said)
    if isinstance(value, dict):
        return ", ".join(f"{name}: {axis_value(key, item)}" for name, item in value.items())
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    name = key.rsplit(".", 1)[-1]
    unit = name.rsplit("_", 1)[-1]
    if unit == "cents":
        return dollars(value)
    if unit == "bps":
        return (
            f"\N{MULTIPLICATION SIGN}{value / 10_000:g}"
            if "multiplier" in name or "bonus" in name
            else f"{value / 100:g}%"
        )
    if name.endswith(("_share", "_rate")):
        return f"{value * 100:g}%"
    if unit == "m" and abs(value) >= 1_000:
        return f"{value / 1_000:g} km"
    if unit in UNITS:
        return f"{value:g} {UNITS[unit]}"
    return f"{value:g}"


def sweep_chart_html(grid: Grid, rows: Sequence[Mapping[str, Any]]) -> str:
    """One self-contained page: savings and shares per run, runs numbered on a shared axis (long labels of
    varied values would overlap the titles), and a table saying what each number varied."""
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.subplots import make_subplots

    numbers = [f"#{index + 1}" for index in range(len(rows))]
    said = [{key: axis_value(key, row[key], ranged=grid.is_range(key)) for key in grid.axes} for row in rows]
    settings = [", ".join(f"{axis_label(key)} {values[key]}" for key in grid.axes) for values in said]
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.14,
        subplot_titles=("Savings against the all-courier baseline", "Shares of orders and of trips"),
    )
    figure.add_trace(
        go.Bar(x=numbers, y=[row["savings_share"] for row in rows], name="savings", hovertext=settings), 1, 1
    )
    for key, name in (("shopper_share", "by shoppers"), ("on_time_share", "on time"), ("utilisation", "utilisation")):
        figure.add_trace(
            go.Scatter(x=numbers, y=[row[key] for row in rows], name=name, mode="lines+markers", hovertext=settings),
            2,
            1,
        )
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    figure.update_xaxes(type="category", title_text="run (see the table below)", row=2, col=1)
    figure.update_layout(
        height=720,
        margin={"t": 60, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "x": 0},
    )
    chart = pio.to_html(figure, include_plotlyjs=True, full_html=False, config={"displaylogo": False})
    header = "".join(f'<th title="{html.escape(key)}">{html.escape(axis_label(key))}</th>' for key in grid.axes)
    header += "".join(f'<th class="num">{html.escape(label)}</th>' for _, label, _ in TABLE_COLUMNS)
    body = "".join(
        f"<tr><th>{number}</th>"
        + "".join(f'<td class="varied">{html.escape(values[key])}</td>' for key in grid.axes)
        + "".join(f'<td class="num">{html.escape(fmt(row[key]))}</td>' for key, _, fmt in TABLE_COLUMNS)
        + "</tr>"
        for number, row, values in zip(numbers, rows, said, strict=True)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Sweep {html.escape(grid.name)}</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
 .table {{ overflow-x: auto; max-width: 100%; }}
 table {{ border-collapse: collapse; margin-top: 1rem; font-size: 0.9rem; }}
 th, td {{ text-align: left; padding: 0.2rem 0.8rem 0.2rem 0; border-bottom: 1px solid #ddd; }}
 .num {{ text-align: right; font-variant-numeric: tabular-nums; }}
 td.varied {{ white-space: nowrap; }}
</style></head><body>
<h1>Sweep {html.escape(grid.name)}: {len(rows)} simulated days</h1>
<p>Base scenario: {html.escape(grid.base.name)}.</p>
{chart}
<h2>What each run varied</h2>
<div class="table"><table><thead><tr><th>run</th>{header}</tr></thead><tbody>{body}</tbody></table></div>
</body></html>
"""
