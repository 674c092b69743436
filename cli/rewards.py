"""`crowdship rewards ...`: propose, approve and list reward policies, reconcile the books; `bench rewards`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from psycopg_pool import ConnectionPool
from rich.table import Column, Table

from cli.commands import Commands
from cli.database import command_pool
from cli.output import console
from cli.prompts import ask_hidden
from crowdship.clock import Clock, SystemClock
from crowdship.errors import InvalidInput
from crowdship.files import read_json_file
from crowdship.settings import get_settings
from crowdship.units import counted
from dispatch.accounts import Role, User
from rewards.permissions import POLICY_DECIDERS, POLICY_WRITERS, require_role
from rewards.policy import PolicyParameters
from rewards.policy_versions import UNSHOWABLE, PolicyStatus
from rewards.repositories import RewardsUnitOfWork
from rewards.services import (
    create_reward_policy,
    decide_reward_policy,
    reconciliation_report,
    reward_policy_in_force,
)

rewards_app = Commands(no_args_is_help=True, help="Reward policies, ledger reconciliation.")
CLOCK: Clock = SystemClock()
"""Where the commands read the time: the project's clock, as the service's own use cases do."""


def _rewards(pool: ConnectionPool) -> Callable[[], RewardsUnitOfWork]:
    from composition import rewards_on  # the whole application: built only by the commands that need it

    return rewards_on(pool)


ActorEmail = Annotated[str, typer.Option("--actor", help="Your e-mail address, the one you sign in with")]
ActorPassword = Annotated[
    str | None,
    typer.Option(
        envvar="CROWDSHIP_ACTOR_PASSWORD",
        show_default=False,
        help="Asked for when not given (or read from CROWDSHIP_ACTOR_PASSWORD)",
    ),
]


def _asked(password: str | None, actor: str) -> str:
    """The actor's password, asked for on stderr when not given: `$(crowdship rewards ...)` captures only what
    the command prints, and the person still sees the question, naming whose password it wants."""
    if password is not None:
        return password
    return ask_hidden(f"Password of {actor}", otherwise="give it with --password or CROWDSHIP_ACTOR_PASSWORD")


def _actor(pool: ConnectionPool, email: str, password: str, roles: Collection[Role], action: str) -> User:
    """The acting user, signed in with their own password (so that one person cannot act as two), active and
    holding one of `roles`, as the API checks its callers."""
    from composition import live_context
    from dispatch.adapters.passwords import Argon2Passwords
    from dispatch.services.accounts import authenticate

    context = live_context(get_settings(), pool, clock=CLOCK, live=None)
    user = authenticate(context, Argon2Passwords(), email=email, password=password)
    if user is None:
        raise InvalidInput("actor", "wrong e-mail or password, or the account is deactivated")
    require_role(user, roles, action)
    return user


@rewards_app.command("policy-create")
def policy_create(
    parameters_file: Annotated[Path, typer.Argument(metavar="POLICY.json", help="JSON object of policy parameters")],
    actor: ActorEmail,
    password: ActorPassword = None,
    note: Annotated[str, typer.Option(help="Why this version")] = "",
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only the version proposed: version=$(crowdship rewards policy-create ... -q)"
        ),
    ] = False,
) -> None:
    """Proposes a new policy version (you: ops or admin); it takes effect once someone else approves it.

    Prints the version it proposed, the one to approve."""
    parameters = read_json_file(parameters_file)
    if not isinstance(parameters, dict):
        raise InvalidInput(str(parameters_file), "must hold a JSON object of policy parameters")
    try:  # checked before the password is asked for: nobody types it for a file that is refused anyway
        PolicyParameters.from_json(parameters)
    except InvalidInput as error:
        raise InvalidInput(str(parameters_file), error.message) from None
    password = _asked(password, actor)
    with command_pool() as pool:
        author = _actor(pool, actor, password, POLICY_WRITERS, "proposing a reward policy")
        with _rewards(pool)() as uow:
            policy = create_reward_policy(uow, parameters=parameters, actor_id=author.id, now=CLOCK.now(), note=note)
    if quiet:
        typer.echo(policy.version)
        return
    console.print(
        f"reward policy version {policy.version} proposed ({policy.id}); another person must approve it: "
        f"crowdship rewards policy-approve {policy.version} --actor EMAIL"
    )


@rewards_app.command("policy-approve")
def policy_approve(
    version: Annotated[int, typer.Argument(min=1, metavar="VERSION", help="The proposed version")],
    actor: ActorEmail,
    password: ActorPassword = None,
    reason: Annotated[str, typer.Option(help="What was checked")] = "",
) -> None:
    """Approves a proposed version (you: ops, finance or admin, not its author): in force from now on."""
    _decide(version, actor, password, PolicyStatus.APPROVED, reason)


@rewards_app.command("policy-reject")
def policy_reject(
    version: Annotated[int, typer.Argument(min=1, metavar="VERSION", help="The proposed version")],
    actor: ActorEmail,
    reason: Annotated[str, typer.Option(help="Why")],
    password: ActorPassword = None,
) -> None:
    """Rejects a proposed version (you: ops, finance or admin, not its author): it never takes effect."""
    _decide(version, actor, password, PolicyStatus.REJECTED, reason)


def _decide(version: int, actor: str, password: str | None, status: PolicyStatus, reason: str) -> None:
    password = _asked(password, actor)
    with command_pool() as pool:
        decider = _actor(pool, actor, password, POLICY_DECIDERS, "deciding on a reward policy")
        with _rewards(pool)() as uow:
            policy = decide_reward_policy(
                uow, version=version, status=status, actor_id=decider.id, now=CLOCK.now(), reason=reason
            )
    console.print(f"reward policy version {policy.version} {policy.status.value}")


def _on_one_line(text: str) -> str:
    """A note as one line a terminal shows as written: line breaks, and the controls and text-direction marks of
    a note stored before they were refused, spelled out (`\\n`, `\\x1b`, `\\u202e`) rather than run."""

    def spelled(found: re.Match[str]) -> str:
        character = found.group()
        if character in SPELLED:
            return SPELLED[character]
        code = ord(character)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return ONE_LINE_BREAKS.sub(spelled, UNSHOWABLE.sub(spelled, text))


ONE_LINE_BREAKS = re.compile("[\n\r\u2028\u2029]")
SPELLED = {"\n": "\\n", "\r": "\\r"}


@rewards_app.command("policies")
def policies() -> None:
    """Every policy version, oldest first, with who proposed and who decided it; the one in force is marked.

    The one in force is the version approved last.

    Below the table: each version's authors and note, then its parameters, one line of JSON to copy whole."""
    # Folded into the table's columns, the parameters made it unreadable on an 80-column terminal.
    from composition import live_context
    from dispatch.services.accounts import account_emails

    with command_pool() as pool:
        with _rewards(pool)() as uow:
            in_force = reward_policy_in_force(uow, at=CLOCK.now())
            every = uow.repos.policies.every_version()
        emails = account_emails(
            live_context(get_settings(), pool, clock=CLOCK, live=None),
            [
                user
                for policy in every
                for user in (policy.created_by, policy.decision.decided_by if policy.decision else None)
            ],
        )
    table = Table(
        Column("version", justify="right", no_wrap=True),
        Column("status", no_wrap=True),
        Column("proposed (UTC)", no_wrap=True),
        Column("decided (UTC)", no_wrap=True),
        title=f"Reward policies: version {in_force.version} is in force"
        if in_force is not None
        else "Reward policies: none is in force (one must be proposed and approved)",
    )
    for policy in every:
        decided = policy.decision
        table.add_row(
            str(policy.version),
            f"{policy.status.value}, in force"
            if in_force is not None and policy.id == in_force.id
            else policy.status.value,
            f"{policy.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            f"{decided.decided_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if decided else "",
        )
    console.print(table)
    for policy in every:
        parameters = json.dumps(policy.parameters.to_json(), separators=(",", ":"))
        who = f"proposed by {emails.get(policy.created_by, policy.created_by)}"
        if policy.decision is not None:
            decider = policy.decision.decided_by
            who += f", {policy.decision.status.value} by {emails.get(decider, decider)}"
        note = f": {_on_one_line(policy.note)}" if policy.note else ""
        console.print(f"version {policy.version}, {who}{note}", soft_wrap=True, markup=False)
        console.print(f"  {parameters}", soft_wrap=True, markup=False, highlight=False)


@rewards_app.command("reconcile")
def reconcile() -> None:
    """Ledger vs payouts vs deliveries; exits 1 when they differ."""
    with (
        command_pool() as pool,
        _rewards(pool)() as uow,
    ):
        report = reconciliation_report(uow)
    console.print(
        f"checked {counted(report.accounts_checked, 'account')}, "
        f"{counted(report.transactions_checked, 'transaction')}, {counted(report.rewards_checked, 'reward')}, "
        f"{counted(report.paid_lines_checked, 'paid line')}"
    )
    if report.agrees:
        console.print("[green]the books agree[/green]")
        return
    # One line per difference, never wrapped, so that scripts and people can grep for an id.
    for discrepancy in report.discrepancies:
        console.print(
            f"{discrepancy.kind.value}\t{discrepancy.subject_id}\t{discrepancy.detail}", soft_wrap=True, markup=False
        )
    if report.discrepancy_count > len(report.discrepancies):
        console.print(f"… and {report.discrepancy_count - len(report.discrepancies)} more differences")
    raise typer.Exit(1)


def bench_rewards(
    credits: Annotated[int, typer.Option(min=1, help="Credits per row")] = 400,
    shoppers: Annotated[int, typer.Option(min=1, help="Shoppers the credits go to")] = 50,
    threads: Annotated[str, typer.Option(help="Concurrent writers per row, comma separated")] = "1,2,4",
) -> None:
    """Credits per second with concurrent writers; payout and reconciliation times (throwaway database)."""
    from cli.options import comma_separated, positive_int
    from simulations.bench_rewards import run_rewards_benchmark

    writers = comma_separated(threads, "--threads", positive_int, "comma-separated whole numbers from 1")
    run_rewards_benchmark(
        console, get_settings().require_database_url(), credits=credits, shoppers=shoppers, threads=writers
    )
