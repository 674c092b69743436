"""What the CLI's simulation commands do, kept here so that the command line (`cli/`) only parses arguments."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from crowdship.clock import SystemClock
from crowdship.errors import DomainError, InvalidInput
from crowdship.settings import get_settings
from simulations.results import Summary, WrittenFiles, headline_rows, quiet_batch_logs, summarise, write_results
from simulations.runs import StatusReporter
from simulations.scenario import SCENARIO_DIR, Scenario, load_scenario

DEMO_SCENARIO = SCENARIO_DIR / "demo.toml"
BUSY_DAY_SCENARIO = SCENARIO_DIR / "busy_day.toml"


def local_results_dir(*parts: str) -> Path:
    """Where results go unless told otherwise: under `CROWDSHIP_LOCAL_DIR` (the clone's `.local` by default)."""
    return get_settings().local_dir.joinpath(*parts)


def headline_table(summary: Summary, title: str) -> Table:
    table = Table("figure", "value", title=title)
    for name, value in headline_rows(summary):
        table.add_row(name, value)
    return table


def results_folder(path: Path) -> Path:
    """The folder results go to, made now: a path that cannot be one is refused before hours of simulating."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput("out", f"{path} cannot hold the results: {error.strerror or error}") from None
    return path


def print_paths(console: Console, label: str, paths: list[Path]) -> None:
    """`label` and each path whole on a line of its own, to be copied: never folded at the console's width."""
    for index, path in enumerate(paths):
        console.print(f"{label if index == 0 else '':<8}{path}", soft_wrap=True, markup=False, highlight=False)


def simulate_and_write(
    scenario: Scenario,
    out_dir: Path,
    console: Console,
    *,
    progress: bool = True,
    status: StatusReporter | None = None,
) -> tuple[Summary, WrittenFiles]:
    """Runs the day, writes its files, prints the headline table and where the report is; reports into a
    console run's status file when given one."""
    from simulations.engine import simulate_day

    reporter = status or StatusReporter(None, SystemClock())
    quiet_batch_logs()
    try:
        results_folder(out_dir)
        reporter.started(f"simulating {scenario.hours} h")
        result = simulate_day(
            scenario,
            progress=progress and console.is_terminal,
            # the day is the first 90 % of the run, the report the rest: the message says the hours, not a share
            on_progress=lambda share: reporter.progress(
                0.9 * share, f"simulating: {share * scenario.hours:.1f} of {scenario.hours} h done"
            ),
        )
        reporter.progress(0.9, "writing the report")
        summary = summarise(result)
        files = write_results(result, summary, out_dir, networks_dir=get_settings().street_networks_dir)
    except Exception as error:
        reporter.failed(_reason(error))
        raise
    reporter.finished(f"{summary.orders} orders, {summary.shopper_share:.0%} by shoppers")
    console.print(headline_table(summary, scenario.name))
    console.print(f"simulated {scenario.hours} h in {summary.wall_s:.1f} s wall time")
    print_paths(console, "report:", [files.report_html])
    print_paths(console, "data:", [files.summary_json, files.summary_csv, files.orders_csv, files.batches_csv])
    return summary, files


def simulate_file(
    path: Path,
    out_dir: Path | None,
    console: Console,
    *,
    seed: int | None = None,
    hours: int | None = None,
    status: Path | None = None,
) -> Summary:
    """A scenario file's day, with another seed or only its first hours when asked."""
    reporter = StatusReporter(status, SystemClock())
    try:
        scenario = load_scenario(path)
        if seed is not None:
            scenario = scenario.with_overrides({"seed": seed})
        if hours is not None:
            scenario = scenario.first_hours(hours)
    except Exception as error:
        reporter.failed(_reason(error))
        raise
    target = out_dir or local_results_dir("simulations", path.stem)
    return simulate_and_write(scenario, target, console, status=reporter)[0]


def sweep_file(
    path: Path, address: str | None, out_dir: Path | None, console: Console, *, status: Path | None = None
) -> None:
    reporter = StatusReporter(status, SystemClock())
    try:
        _sweep(path, address, out_dir, console, reporter)
    except Exception as error:
        reporter.failed(_reason(error))
        raise


def _sweep(path: Path, address: str | None, out_dir: Path | None, console: Console, reporter: StatusReporter) -> None:
    from simulations.sweep import TABLE_COLUMNS, axis_label, axis_value, load_grid, run_sweep, write_sweep

    grid = load_grid(path)
    runs = grid.runs()
    target = results_folder(out_dir or local_results_dir("sweeps", path.stem))
    console.print(f"sweep {grid.name}: {len(runs)} scenarios on Ray ({address or 'local, 2 CPUs'})")
    reporter.started(f"0/{len(runs)} simulated days (starting Ray)")

    def progress(done: int, total: int) -> None:
        console.print(f"  {done}/{total} simulated days done")
        reporter.progress(0.95 * done / total, f"{done}/{total} simulated days")

    rows = run_sweep(grid, address=address, progress=progress)
    table = Table(*[axis_label(key) for key in grid.axes], *[label for _, label, _ in TABLE_COLUMNS])
    for row in rows:
        table.add_row(
            *[axis_value(key, row[key], ranged=grid.is_range(key)) for key in grid.axes],
            *[fmt(row[key]) for key, _, fmt in TABLE_COLUMNS],
        )
    console.print(table)
    csv_path, json_path, chart_path = write_sweep(grid, rows, target)
    print_paths(console, "table:", [csv_path, json_path])
    print_paths(console, "chart:", [chart_path])
    reporter.finished(f"{len(rows)} simulated days")


def _reason(error: Exception) -> str:
    """What a person reads in the console: a domain error's message, else the exception's type and text."""
    if isinstance(error, DomainError):
        return error.message
    return f"{type(error).__name__}: {error}"
