"""What the CLI's simulation commands do, kept here so that crowdship/cli.py only parses arguments."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from simulations.results import Summary, WrittenFiles, headline_rows, quiet_batch_logs, summarise, write_results
from simulations.scenario import REPOSITORY_ROOT, SCENARIO_DIR, Scenario, load_scenario

DEMO_SCENARIO = SCENARIO_DIR / "demo.toml"
BUSY_DAY_SCENARIO = SCENARIO_DIR / "busy_day.toml"
DEMO_OUT_DIR = REPOSITORY_ROOT / ".local" / "demo"


def headline_table(summary: Summary, title: str) -> Table:
    table = Table("figure", "value", title=title)
    for name, value in headline_rows(summary):
        table.add_row(name, value)
    return table


def simulate_and_write(
    scenario: Scenario, out_dir: Path, console: Console, *, progress: bool = True
) -> tuple[Summary, WrittenFiles]:
    """Runs the day, writes its files, prints the headline table and where the report is."""
    from simulations.engine import simulate_day

    quiet_batch_logs()
    result = simulate_day(scenario, progress=progress and console.is_terminal)
    summary = summarise(result)
    files = write_results(result, summary, out_dir)
    console.print(headline_table(summary, scenario.name))
    console.print(f"simulated {scenario.hours} h in {summary.wall_s:.1f} s wall time")
    console.print(f"report: {files.report_html}")
    console.print(f"data:   {files.summary_json}, {files.orders_csv}, {files.batches_csv}")
    return summary, files


def simulate_file(path: Path, out_dir: Path | None, console: Console) -> Summary:
    scenario = load_scenario(path)
    target = out_dir or REPOSITORY_ROOT / ".local" / "simulations" / path.stem
    return simulate_and_write(scenario, target, console)[0]


def sweep_file(path: Path, address: str | None, out_dir: Path | None, console: Console) -> None:
    from simulations.sweep import TABLE_COLUMNS, load_grid, run_sweep, write_sweep

    grid = load_grid(path)
    runs = grid.runs()
    console.print(f"sweep {grid.name}: {len(runs)} scenarios on Ray ({address or 'local, 2 CPUs'})")
    rows = run_sweep(
        grid, address=address, progress=lambda done, total: console.print(f"  {done}/{total} simulated days done")
    )
    table = Table(*[key.rsplit(".", 1)[-1] for key in grid.axes], *[label for _, label, _ in TABLE_COLUMNS])
    for row in rows:
        table.add_row(*[str(row[key]) for key in grid.axes], *[fmt.format(row[key]) for key, _, fmt in TABLE_COLUMNS])
    console.print(table)
    target = out_dir or REPOSITORY_ROOT / ".local" / "sweeps" / path.stem
    csv_path, json_path, chart_path = write_sweep(grid, rows, target)
    console.print(f"table: {csv_path}, {json_path}\nchart: {chart_path}")
