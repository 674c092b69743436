"""The `crowdship` command: one entry point whose subcommands grow with the product. It sits at the top of the
house: it may import every package, and none imports it."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cli.commands import Commands, Group
from cli.output import console, fail
from cli.servers import db_app, local_services, services_app
from crowdship.db import CommitOutcomeUnknown
from crowdship.errors import DomainError, without_pydantic_prefix
from crowdship.local_servers import ServiceError
from crowdship.logging import configure_logging, get_logger
from crowdship.outages import BACKING_SERVICE_ERRORS, ServerUnreachable, server_address, unreachable
from crowdship.settings import SettingMissing, get_settings


class _CommandLine(Group):
    """Every command reports a broken rule the same way: `error: <message>` on stderr and exit status 1
    (a mistyped command or option is click's usage error, status 2)."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context class is private
        try:
            return super().invoke(ctx)
        except typer.BadParameter as error:  # typer checks options with pydantic, whose message has a prefix
            error.message = without_pydantic_prefix(error.message)
            raise
        except DomainError as error:
            fail(error.message)
        except SettingMissing as error:
            fail(str(error))
        except ServiceError as error:  # the project's own servers would not start or stop
            fail(str(error))
        except ValidationError as error:  # a setting from the environment (or .local/services.env) is wrong
            fail("; ".join(_setting_problem(problem) for problem in error.errors()))
        except ServerUnreachable as error:
            fail(_unreachable(error))
        except CommitOutcomeUnknown:
            fail(
                f"PostgreSQL at {server_address(get_settings().database_url)} stopped answering as the change was "
                "being committed: it may have been made; look before running the command again"
            )
        except BACKING_SERVICE_ERRORS as error:
            settings = get_settings()
            fail(_unreachable(unreachable(error, database_url=settings.database_url, redis_url=settings.redis_url)))


def _unreachable(error: ServerUnreachable) -> str:
    """The server that cannot be reached, and what to do: the project's own (its URL is one the local servers
    have) starts with `crowdship services up`; anyone else's is theirs to bring back."""
    if error.url is not None and error.url in local_services().own_urls().values():
        return f"{error.message}; is it up? `crowdship services up` starts it"
    return f"{error.message}; is it up?"


def _setting_problem(problem: Any) -> str:
    name = "_".join(str(part) for part in problem.get("loc", ())).upper()
    message = without_pydantic_prefix(str(problem.get("msg", "is not valid")))
    return f"CROWDSHIP_{name}: {message}" if name else message


app = Commands(cls=_CommandLine, no_args_is_help=True, help="Crowd-delivery backend: dispatch, routing, rewards.")
app.add_typer(services_app, name="services")
app.add_typer(db_app, name="db")


@app.callback()
def _configure() -> None:
    configure_logging(get_settings())


@app.command("demo")
def demo(seed: Annotated[int, typer.Option(help="Seed of the demo data")] = 7) -> None:
    """Load (or refresh) the demo store, show its accounts, trips and orders, and simulate a day there."""
    from datetime import timedelta

    from cli.database import command_pool, live_service_context
    from composition import rewards_on
    from crowdship import migrate
    from crowdship.settings import ensure_development_key
    from dispatch.adapters.passwords import Argon2Passwords
    from simulations.demo_run import run_demo

    key_written = ensure_development_key(get_settings())
    settings = get_settings()
    url = settings.require_database_url()
    with migrate.readable_errors(url):
        migrate.upgrade(url)
    with command_pool(max_size=2, name="crowdship-demo") as pool:
        run_demo(
            console,
            # with Redis when there is one: a refreshed trip's live markers go with it, as on the API
            live_service_context(pool, with_redis=settings.redis_url is not None),
            rewards_on(pool),
            Argon2Passwords(),
            seed=seed,
            credentials=settings.local_dir / "demo" / "credentials.json",
            key_written=key_written,
            dispatch_cadence_s=settings.dispatch_cadence_s,
            token_ttl=timedelta(seconds=settings.access_token_ttl_s),
        )
    _demo_simulated_day()


def _demo_simulated_day() -> None:
    """The second half of the demo: a whole simulated day at the demo store, on the built-in city."""
    from simulations.run import DEMO_SCENARIO, local_results_dir, simulate_file

    console.print("\n[bold]A simulated day[/bold] (the live batch and matcher on in-memory repositories)")
    simulate_file(DEMO_SCENARIO, local_results_dir("demo"), console)


@app.command("simulate")
def simulate(
    scenario: Annotated[str, typer.Argument(metavar="SCENARIO.toml", help="A scenario file")],
    out: Annotated[
        str | None, typer.Option("--out", help="Folder for the results (default: .local/simulations/SCENARIO)")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, max=2**31 - 1, help="Instead of the file's")] = None,
    hours: Annotated[int | None, typer.Option("--hours", min=1, max=24, help="Only the day's first hours")] = None,
    status: Annotated[str | None, typer.Option("--status", help="A console run's status.json to report into")] = None,
) -> None:
    """Simulate a day: the live dispatcher's batch, matcher and rewards on in-memory repositories."""
    from pathlib import Path

    from simulations.run import simulate_file

    simulate_file(
        Path(scenario),
        Path(out) if out else None,
        console,
        seed=seed,
        hours=hours,
        status=Path(status) if status else None,
    )


@app.command("sweep")
def sweep(
    grid: Annotated[str, typer.Argument(metavar="GRID.toml", help="A grid of scenarios over a base scenario")],
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster address; local Ray if absent")] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Folder for the table and chart (default: .local/sweeps/GRID)")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", help="A console run's status.json to report into")] = None,
) -> None:
    """Simulate every scenario of a grid in parallel on Ray; one table (CSV) and one chart (HTML)."""
    from pathlib import Path

    from simulations.run import sweep_file

    sweep_file(Path(grid), address, Path(out) if out else None, console, status=Path(status) if status else None)


@app.command("match")
def match(
    problem_file: Annotated[str, typer.Argument(metavar="PROBLEM.json", help="A crowdship-match/1 problem")],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.0, max=600.0, help="Seconds for the search (all of them are spent)")
    ] = 5.0,
    seed: Annotated[int, typer.Option(help="Seed of the search")] = 0,
) -> None:
    """Assign the problem's orders to trips; writes the solution JSON (crowdship-match-solution/1) to stdout."""
    import json

    from crowdship.files import read_json_file
    from dispatch.matching import parse_problem, solution_to_json, solve

    solution = solve(parse_problem(read_json_file(problem_file)), time_limit=time_limit, seed=seed)
    sys.stdout.write(json.dumps(solution_to_json(solution)) + "\n")


# --- Accounts, the API server, the dispatcher (live dispatch) ---------------------------------------------

from cli.users import users_app  # noqa: E402

app.add_typer(users_app, name="users")


@app.command("api")
def serve_api(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", min=1, max=65_535)] = 8000,
) -> None:
    """Serve the HTTP API with uvicorn."""
    # What can refuse the start is checked before the application is imported: importing it loads the matcher
    # (numba), seconds of silence, tens on a busy machine, that a taken port or a missing key should not cost.
    _require_free_port(host, port)
    settings = get_settings()
    settings.require_secret_key()
    get_logger("crowdship.api").info("api loading", host=host, port=port)
    import uvicorn

    from api.app import create_app, settle_garbage_collection
    from api.http_protocol import BoundedHeadProtocol

    app = create_app(settings)
    settle_garbage_collection()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            http=BoundedHeadProtocol,  # httptools, with a bound on a request's headers
            proxy_headers=bool(settings.trusted_proxies.strip()),  # none trusted: X-Forwarded-For is ignored
            forwarded_allow_ips=settings.trusted_proxies,
        )
    except SystemExit as exit_:
        if exit_.code == STARTUP_FAILURE:  # taken in the meantime, or the app's startup failed: uvicorn logged why
            fail(f"the API could not start on {host}:{port}; its log above says why")
        raise


STARTUP_FAILURE = 3
"""uvicorn's exit status when it cannot listen or the application's startup fails."""


def _require_free_port(host: str, port: int) -> None:
    """Binds every address `host` stands for as uvicorn will (and lets go), so that a port in use is told as one
    line before the application is built, not as uvicorn's log and status 3."""
    import errno
    import socket

    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        fail(f"cannot listen on {host}: {error.strerror}")
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    fail(f"port {port} is already in use on {host}: give another with --port, and use it in the URLs")
                fail(f"cannot listen on {host}:{port}: {error.strerror or error}")


@app.command("dispatcher")
def dispatcher(
    cadence: Annotated[
        float | None, typer.Option(help="Seconds between rounds (default from settings)", min=0.1, max=3_600)
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run one round and exit")] = False,
    acceptance: Annotated[
        bool,
        typer.Option(
            "--acceptance",
            help="Weigh offers by the chance the shopper accepts (model refitted on the answers every hour) "
            "and price each order's waiting by the shoppers likely to pass it",
        ),
    ] = False,
) -> None:
    """Run dispatch batches for every store at a steady cadence; safe to run in several processes."""
    import signal
    import threading
    from functools import partial

    from cli.database import command_pool, live_service_context
    from composition import acceptance_aware, forgetting_old_idempotency_keys
    from crowdship.db import open_pool
    from crowdship.outages import BACKING_SERVICE_ERRORS
    from crowdship.units import counted
    from dispatch.adapters.leases import WRITER_IDLE_LIMIT_S
    from dispatch.services.batch import matcher_solver
    from dispatch.services.dispatcher import dispatch_round, keep_house, run_dispatcher
    from dispatch.services.matcher_loading import load_before_batching

    settings = get_settings()
    stop = threading.Event()
    if once:  # one round, and its failure is the command's: `error: …` and status 1
        with command_pool(max_size=4, name="crowdship-dispatcher") as pool:
            context = live_service_context(pool)
            load_before_batching(matcher_solver, stop)
            keep_house(context, forgetting_old_idempotency_keys(pool, settings), BACKING_SERVICE_ERRORS)
            dispatch_round(acceptance_aware(context) if acceptance else context, outages=BACKING_SERVICE_ERRORS)
        console.print("dispatcher ran one round")
        return
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # The dispatcher starts, and keeps going, while PostgreSQL or Redis is away: its rounds back off and retry.
    with open_pool(
        settings.require_database_url(),
        max_size=4,
        name="crowdship-dispatcher",
        timeout_s=5.0,
        connect_timeout_s=settings.db_connect_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
        # Its transactions are short and wait on nobody: one left silent is a process frozen mid-round, whose row
        # locks would otherwise keep the API's requests on those rows waiting until it resumes.
        idle_in_transaction_s=WRITER_IDLE_LIMIT_S,
        wait=False,
    ) as pool:
        context = live_service_context(pool)
        if acceptance:  # the default model until the loop's first round fits one (retried soon if it cannot)
            context = acceptance_aware(context, refit="later")
        if not load_before_batching(matcher_solver, stop):  # a stop asked meanwhile
            console.print("dispatcher stopped before its first round")
            return
        rounds = run_dispatcher(
            context,
            cadence_s=settings.dispatch_cadence_s if cadence is None else cadence,
            stop=stop,
            outages=BACKING_SERVICE_ERRORS,
            refresh=partial(acceptance_aware, refit="now") if acceptance else None,
            refresh_at_start=acceptance,
            housekeeping=forgetting_old_idempotency_keys(pool, settings),
            stall_s=settings.dispatch_stall_s,
        )
    console.print(f"dispatcher stopped after {counted(rounds, 'round')}")


# --- Rewards: policies, reconciliation, ledger benchmark ---------------------------------------------------

from cli.bench import bench_app  # noqa: E402 - registered once the shared apps exist
from cli.rewards import bench_rewards, rewards_app  # noqa: E402

app.add_typer(rewards_app, name="rewards")
app.add_typer(bench_app, name="bench")
bench_app.command("rewards")(bench_rewards)

from cli.replay import replay  # noqa: E402

app.command("replay")(replay)
