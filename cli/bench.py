"""`crowdship bench …`: the benchmarks, each printing a table of measured figures."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import typer

from cli.commands import Commands
from cli.options import comma_separated, non_negative_int, positive_float, size_pair
from cli.output import console

bench_app = Commands(no_args_is_help=True, help="Benchmarks: print tables of measured figures.")


@bench_app.command("simulation")
def bench_simulation(
    scenario: Annotated[str | None, typer.Option(help="Scenario file (default: the busy day)")] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Folder for the results (default: .local/simulations/SCENARIO, where `simulate` writes the same "
            "scenario)",
        ),
    ] = None,
) -> None:
    """A busy day (2 000 orders, 20 000 shopper visits, 10 % willing, 60 s batches) against the clock."""
    from pathlib import Path

    from simulations.run import BUSY_DAY_SCENARIO, simulate_file

    simulate_file(Path(scenario) if scenario else BUSY_DAY_SCENARIO, Path(out) if out else None, console)


class DeclineRuleChoice(StrEnum):
    FALLBACK = "fallback"
    REOFFER = "reoffer"


@bench_app.command("acceptance")
def bench_acceptance(
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds (default: the reported ones, 1 to 5)")] = "",
    decline_penalty: Annotated[
        int | None,
        typer.Option("--decline-penalty", min=0, max=100_000, help="Cents per order of a declined offer"),
    ] = None,
    reward_term: Annotated[
        bool, typer.Option("--reward-term/--no-reward-term", help="Weigh routes by their reward too")
    ] = True,
    decline: Annotated[
        DeclineRuleChoice | None,
        typer.Option(help="A declined route costs its orders' fallback, or a re-offer at its price"),
    ] = None,
    arms: Annotated[
        str, typer.Option(help="Comma-separated: blind, aware, blind+prospects, aware+prospects (default: all)")
    ] = "",
    take_rate: Annotated[
        float | None, typer.Option(min=0.0, max=10.0, help="Prospects: share of passing shoppers taking an order")
    ] = None,
    later_reward: Annotated[
        int | None, typer.Option(min=0, max=100_000, help="Prospects: cents a later shopper is paid for an order")
    ] = None,
    lookback_minutes: Annotated[
        int | None, typer.Option(min=1, max=24 * 60, help="Prospects: minutes of check-ins that stand for supply")
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, max=8, help="Days simulated at once (processes)")] = 1,
    scenario: Annotated[str | None, typer.Option(help="Scenario file (default: the busy day)")] = None,
) -> None:
    """The busy day matched acceptance-blind and -aware, each with and without order prospects, per seed."""
    from pathlib import Path

    from dispatch.acceptance import DEFAULT_DECLINE_PENALTY_CENTS, DEFAULT_DECLINE_RULE
    from dispatch.prospects import DEFAULT_PROSPECTS, ProspectTerms
    from simulations.bench_acceptance import ARM_NAMES, REPORTED_SEEDS, run_acceptance_benchmark
    from simulations.run import BUSY_DAY_SCENARIO
    from simulations.scenario import load_scenario

    def _arm(name: str) -> str:
        if name not in ARM_NAMES:
            raise ValueError(name)
        return name

    chosen = (
        tuple(comma_separated(seeds, "--seeds", non_negative_int, "comma-separated non-negative integers"))
        if seeds.strip()
        else REPORTED_SEEDS
    )
    if len(chosen) > 50:
        raise typer.BadParameter("at most 50 seeds", param_hint="--seeds")
    arm_names = (
        tuple(comma_separated(arms, "--arms", _arm, f"arms among {', '.join(ARM_NAMES)}"))
        if arms.strip()
        else ARM_NAMES
    )
    prospects = ProspectTerms(
        lookback=DEFAULT_PROSPECTS.lookback if lookback_minutes is None else timedelta(minutes=lookback_minutes),
        take_rate=DEFAULT_PROSPECTS.take_rate if take_rate is None else take_rate,
        later_reward_cents=DEFAULT_PROSPECTS.later_reward_cents if later_reward is None else later_reward,
    )
    run_acceptance_benchmark(
        load_scenario(Path(scenario) if scenario else BUSY_DAY_SCENARIO),
        chosen,
        console,
        decline_penalty_cents=DEFAULT_DECLINE_PENALTY_CENTS if decline_penalty is None else decline_penalty,
        reward_term=reward_term,
        decline=DEFAULT_DECLINE_RULE if decline is None else decline.value,
        arm_names=arm_names,
        prospects=prospects,
        jobs=jobs,
    )


@bench_app.command("routing")
def bench_routing(
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per figure; the best is shown")] = 3,
    brute_max_pairs: Annotated[
        int, typer.Option(help="Skip the brute force above this many order x trip pairs")
    ] = 10_000_000,
    road_sources: Annotated[int, typer.Option(min=1, help="Random source nodes per street network")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the instances")] = 0,
    sizes: Annotated[
        str, typer.Option(help="Pruning rows ORDERSxTRIPS, comma separated")
    ] = "100x200,1000x2000,5000x10000",
) -> None:
    """Candidate pruning against brute force, distance-matrix throughput, road factors of OSM networks."""
    from simulations.bench_routing import run_routing_benchmark

    rows = comma_separated(sizes, "--sizes", size_pair, "comma-separated ORDERSxTRIPS like 100x200, each at least 1")
    run_routing_benchmark(
        console, repeats=repeats, brute_max_pairs=brute_max_pairs, road_sources=road_sources, seed=seed, sizes=rows
    )


@bench_app.command("matcher")
def bench_matcher(
    archetti: Annotated[bool, typer.Option(help="Run the occasional-drivers (Archetti) instances")] = True,
    synthetic: Annotated[bool, typer.Option(help="Run the synthetic store batches")] = True,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per Archetti instance")] = 10.0,
    group: Annotated[
        list[str] | None,
        typer.Option(metavar="<str>", help="Only this Archetti group, e.g. od50; repeat it for several"),
    ] = None,
    per_group: Annotated[int, typer.Option(help="Archetti instances per group (spread over bases)")] = 2,
    limit: Annotated[int | None, typer.Option(help="At most this many Archetti instances")] = None,
    part: Annotated[
        str,
        typer.Option(help="Archetti part: tuning (the instances the matcher was tuned on), report (the rest) or all"),
    ] = "all",
    jobs: Annotated[int, typer.Option(min=1, max=8, help="Archetti instances solved at once (processes)")] = 1,
    wall_factor: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="Archetti: plan the work of --time-limit but allow this many times the wall time (a loaded "
            "machine gives the idle machine's answers)",
        ),
    ] = 1.0,
    csv_out: Annotated[str | None, typer.Option("--csv", help="Also write the Archetti rows to this CSV file")] = None,
    sizes: Annotated[str, typer.Option(help="Synthetic sizes ORDERSxTRIPS, comma separated")] = (
        "100x150,300x500,1000x2000,5000x10000"
    ),
    synthetic_limits: Annotated[str, typer.Option(help="Synthetic time limits in seconds")] = "1,5",
    max_orders: Annotated[int, typer.Option(help="max_orders of the synthetic trips")] = 3,
    fleet: Annotated[
        bool, typer.Option("--fleet", help="Synthetic batches with a store fleet and windows (no PyVRP peer on them)")
    ] = False,
    peer: Annotated[bool, typer.Option(help="Run PyVRP as the reference (needs the bench extra)")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the instances and the search")] = 0,
    city: Annotated[
        str,
        typer.Option(
            help="Homes of the synthetic batches: built-in (no data needed) or leon-county (census blocks from "
            "../shared/data; refused without them)"
        ),
    ] = "built-in",
) -> None:
    """The matcher against the occasional-drivers best-known values and against PyVRP on store batches."""
    from simulations.bench_matcher import BATCH_CITIES, check_city, one_order_timing, run_archetti, run_synthetic

    size_pairs = comma_separated(
        sizes, "--sizes", size_pair, "comma-separated ORDERSxTRIPS like 100x150, each at least 1"
    )
    time_limits = comma_separated(
        synthetic_limits, "--synthetic-limits", positive_float, "comma-separated seconds above 0"
    )
    if city not in BATCH_CITIES:
        raise typer.BadParameter(f"must be one of {', '.join(BATCH_CITIES)}", param_hint="--city")
    check_city(city)  # its data, before the long runs
    if part not in ("tuning", "report", "all"):
        raise typer.BadParameter("must be one of tuning, report, all", param_hint="--part")

    if archetti:
        from pathlib import Path

        run_archetti(
            console,
            time_limit=time_limit,
            groups=group or [],
            per_group=per_group,
            limit=limit,
            seed=seed,
            part=part,  # type: ignore[arg-type]
            jobs=jobs,
            csv_path=Path(csv_out) if csv_out else None,
            wall_factor=wall_factor,
        )
    if synthetic:
        one_order_timing(console, seed=seed, city=city)
        run_synthetic(
            console,
            sizes=size_pairs,
            time_limits=time_limits,
            max_orders=max_orders,
            peer=peer,
            seed=seed,
            city=city,
            fleet=fleet,
        )


@bench_app.command("api")
def bench_api(
    seconds: Annotated[float, typer.Option(help="Length of the location-update phase")] = 10.0,
    shoppers: Annotated[int, typer.Option(help="Simulated shoppers sending positions")] = 400,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once")] = 64,
    accepts: Annotated[int, typer.Option(help="Offers to create and accept for the latency figures")] = 200,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes serving the API")] = 1,
) -> None:
    """Location updates per second and accept latency (p50/p99) against a local server on loopback."""
    from simulations.bench_api import run_bench_api

    run_bench_api(
        console, seconds=seconds, shoppers=shoppers, concurrency=concurrency, accepts=accepts, workers=workers
    )
