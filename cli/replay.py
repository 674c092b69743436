"""`crowdship replay`: a recorded day of a store, played again under another reward policy or matcher setting."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from cli.output import console
from crowdship.settings import get_settings


def replay(
    store: Annotated[UUID, typer.Option("--store", help="Id of the store")],
    day: Annotated[str, typer.Option("--day", metavar="YYYY-MM-DD", help="The day, local to --timezone")],
    policy: Annotated[Path, typer.Option("--policy", help="JSON or TOML object of reward policy parameters")],
    matcher_time_limit: Annotated[
        float | None,
        typer.Option("--matcher-time-limit", min=0.0, max=60.0, help="Seconds per batch (default: settings)"),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="Where the day is counted (default: the policy file's timezone)")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the modelled answers")] = 0,
    acceptance: Annotated[
        bool,
        typer.Option(
            "--acceptance",
            help="Match as `crowdship dispatcher --acceptance` does (offers weighed by acceptance, waiting by "
            "prospects)",
        ),
    ] = False,
) -> None:
    """Replay a store's recorded day under another reward policy or matcher setting, beside the day as it was.

    Played through the live use cases on in-memory storage, and printed beside the day as it happened."""
    # Imported here: `crowdship --help` and every other command start without the simulator and the solver.
    from cli.database import command_pool
    from crowdship.clock import SystemClock, time_zone
    from crowdship.errors import InvalidInput
    from dispatch.services.context import DispatchConfig
    from rewards.adapters.postgres.recorded_day import read_recorded_day
    from rewards.policy import PolicyParameters
    from routing.travel import StraightLineTravel
    from simulations.replay import replay_day
    from simulations.replay_inputs import day_bounds, load_policy_file
    from simulations.replay_result import offers_line, replay_rows, unreplayed_lines
    from simulations.replay_state import ReplayOptions
    from simulations.results import quiet_batch_logs

    try:
        the_day = date.fromisoformat(day)
    except ValueError:  # a mistyped option, as typer tells a mistyped --store: status 2
        raise typer.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)", param_hint="'--day'") from None
    if timezone is not None:
        try:
            time_zone(timezone)
        except InvalidInput:  # as a mistyped --day: a usage error, status 2
            raise typer.BadParameter(f"{timezone!r} is no IANA time zone", param_hint="'--timezone'") from None
    parameters = load_policy_file(policy)
    zone = timezone or PolicyParameters.from_json(parameters).timezone
    start, end = day_bounds(the_day, zone)
    settings = get_settings()
    config = DispatchConfig.from_settings(settings)
    if matcher_time_limit is not None:
        config = dataclasses.replace(config, matcher_time_limit_s=matcher_time_limit)
    with command_pool() as pool:
        recorded = read_recorded_day(pool, store_id=store, start=start, end=end)
    options = ReplayOptions(
        policy=parameters,
        config=config,
        cadence_s=settings.dispatch_cadence_s,
        travel=StraightLineTravel(settings.road_factor, settings.travel_speed_kmh),
        seed=seed,
        acceptance_aware=acceptance,
    )
    quiet_batch_logs()  # a day is thousands of batches
    result = replay_day(recorded, options)
    table = Table(
        title=f"{escape(recorded.store.name)}, {the_day} ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC), "
        f"replayed under {escape(policy.name)}{', acceptance-aware' if acceptance else ''}"
    )
    for heading in ("", "as it happened", "replayed", "change"):
        table.add_column(heading, justify="left" if not heading else "right")
    for row in replay_rows(result):
        table.add_row(*row)
    console.print(table)
    now = SystemClock().now()
    if start > now:  # a day to come in that zone (a mistyped date, often): nothing to look for elsewhere
        console.print(f"[yellow]note:[/yellow] {the_day} has not begun in {zone}: nothing is recorded yet")
    elif not recorded.orders and not recorded.trips:  # a day counted in another zone than the one meant, often
        console.print(
            f"[yellow]note:[/yellow] nothing was recorded at this store on {the_day} in {zone} (no order taken in, "
            "no shopper checked in): is it that zone's day you meant? --timezone counts the day elsewhere"
        )
    if start <= now < end:
        console.print(
            "[yellow]note:[/yellow] the day is not over: 'as it happened' counts only what happened so far, while "
            "the replay runs the day's recorded orders to the end"
        )
    console.print(offers_line(result))
    for line in unreplayed_lines(result):  # what was recorded but is not in the replayed column
        console.print(f"[yellow]note:[/yellow] {escape(line)}")
