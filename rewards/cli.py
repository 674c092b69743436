"""`crowdship rewards ...`: publish and list reward policies, reconcile the books; `crowdship bench rewards`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Column, Table

from crowdship.db import open_pool
from crowdship.settings import get_settings
from rewards.adapters.postgres import PostgresRewardsUnitOfWork
from rewards.services import create_reward_policy, reconciliation_report

rewards_app = typer.Typer(no_args_is_help=True, help="Reward policies, ledger reconciliation.")
console = Console(width=None if sys.stdout.isatty() else 160)


@rewards_app.command("policy-create")
def policy_create(
    parameters_file: Annotated[Path, typer.Argument(help="JSON object of policy parameters", exists=True)],
    actor: Annotated[UUID, typer.Option(help="Id of the ops user publishing it")],
    note: Annotated[str, typer.Option(help="Why this version")] = "",
) -> None:
    """Publishes a new policy version; earlier versions stay as they were."""
    parameters = json.loads(parameters_file.read_text())
    with (
        open_pool(get_settings().require_database_url(), max_size=1, name="crowdship-cli") as pool,
        PostgresRewardsUnitOfWork(pool) as uow,
    ):
        policy = create_reward_policy(uow, parameters=parameters, actor_id=actor, now=datetime.now(UTC), note=note)
    console.print(f"reward policy version {policy.version} created ({policy.id})")


@rewards_app.command("policies")
def policies() -> None:
    """Every policy version, oldest first."""
    table = Table(
        Column("version", justify="right"),
        Column("created (UTC)", no_wrap=True),
        Column("by", no_wrap=True),
        "note",
        Column("parameters", overflow="fold"),
    )
    with (
        open_pool(get_settings().require_database_url(), max_size=1, name="crowdship-cli") as pool,
        PostgresRewardsUnitOfWork(pool) as uow,
    ):
        for policy in uow.repos.policies.list():
            table.add_row(
                str(policy.version),
                f"{policy.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                str(policy.created_by),
                policy.note,
                json.dumps(policy.parameters.to_json(), separators=(",", ":")),
            )
    console.print(table)


@rewards_app.command("reconcile")
def reconcile() -> None:
    """Ledger vs payouts vs deliveries; exits 1 when they differ."""
    with (
        open_pool(get_settings().require_database_url(), max_size=1, name="crowdship-cli") as pool,
        PostgresRewardsUnitOfWork(pool) as uow,
    ):
        report = reconciliation_report(uow)
    console.print(
        f"checked {report.accounts_checked} accounts, {report.transactions_checked} transactions, "
        f"{report.rewards_checked} rewards, {report.paid_lines_checked} paid lines"
    )
    if report.agrees:
        console.print("[green]the books agree[/green]")
        return
    # One line per difference, never wrapped, so that scripts and people can grep for an id.
    for discrepancy in report.discrepancies:
        console.print(
            f"{discrepancy.kind.value}\t{discrepancy.subject_id}\t{discrepancy.detail}", soft_wrap=True, markup=False
        )
    raise typer.Exit(1)


def bench_rewards(
    credits: Annotated[int, typer.Option(min=1, help="Credits per row")] = 400,
    shoppers: Annotated[int, typer.Option(min=1, help="Shoppers the credits go to")] = 50,
    threads: Annotated[str, typer.Option(help="Concurrent writers per row, comma separated")] = "1,2,4",
) -> None:
    """Credits per second with concurrent writers; payout and reconciliation times (throwaway database)."""
    from rewards.bench import run_rewards_benchmark

    run_rewards_benchmark(
        console,
        get_settings().require_database_url(),
        credits=credits,
        shoppers=shoppers,
        threads=[int(value) for value in threads.split(",") if value],
    )
