"""Every number that steers the matcher's search, in one frozen object passed down the `solve` pipeline.

Budgets, work-clock rates, thresholds and search parameters: each field says what it steers and, where it
was measured or tuned, on what. A rate in seconds per unit of work converts the deterministic work budget
(`budget.WorkClock`) into counts (solutions, limit checks, routes priced); it was measured on a lightly
loaded development machine, so a loaded one takes longer in wall time for the same answer.

`DEFAULT_TUNING` is what production, the benchmarks and the tests use unless they say otherwise; to try a
variant, `dataclasses.replace` it (sections too: `replace(DEFAULT_TUNING, routing=replace(...))`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class PairTuning:
    """Candidate pairs (`pairs`): how a huge batch is pruned within its share of the time."""

    pruning_share: float = 0.55
    """The share of the time limit after which the pruning of a huge batch stops (a wall-clock safety net)."""
    min_pair_budget: int = 600_000
    pairs_per_second: int = 250_000
    """A huge batch's pruning stops once max(min_pair_budget, pairs_per_second x time limit) pairs are found
    (what the assignment can solve in the time; the deterministic budget)."""
    chunked_pruning_cells: int = 4_000_000
    """Above this many order x trip cells the pruning runs over blocks of trips, checking the clock between."""
    huge_batch_orders_per_trip: int = 12
    """In a huge batch each trip keeps this many of the orders it passes closest to."""
    huge_batch_trips_per_order: int = 6
    """In a huge batch, an order that no trip kept among its closest gets this many trips of its own."""
    passed_over_rounds: int = 4
    passed_over_widening: float = 4.0
    """Searches for the orders no trip kept: at most this many, each with the slack widened this many times."""
    first_slack_share: float = 0.002
    """A huge batch's first route-limit slack, as a share of the median direct route (then tuned per block)."""
    later_block_factor: int = 10
    """Blocks of trips after the first (which calibrates the slack) are this many times larger."""
    slack_step_bounds: tuple[float, float] = (0.01, 4.0)
    """The most the slack may shrink or grow from one block to the next."""


@dataclass(frozen=True, kw_only=True)
class FleetTuning:
    """The savings-built fleet plan (`fleet`)."""

    all_pairs_orders: int = 600
    """Up to this many orders every pair's saving is computed; above, only near pairs'."""
    savings_neighbours: int = 40
    """Above all_pairs_orders, each order's savings with this many nearest orders (KD-tree)."""


@dataclass(frozen=True, kw_only=True)
class InitialPlanTuning:
    """The initial plan (`initial_plan`): estimates of what the fleet saves per order."""

    radial_estimate_orders: int = 1500
    """Up to this many fleet-capable orders, radial estimates are tried besides the savings plan's gains."""
    radial_factors: tuple[float, ...] = (2.0, 1.5, 1.0, 0.5)
    """The radial estimates: the fleet's cost of driving to the order and back, times each of these."""
    repair_share: float = 0.5
    """When the fleet has too few vehicles for the savings plan, the routing solver packs them until this
    share of the time limit."""


@dataclass(frozen=True, kw_only=True)
class RoutingTuning:
    """The OR-Tools routing solver (`routing_search`) and the groups it is given (`routing_passes`)."""

    check_seconds: float = 1.3e-6
    check_seconds_per_vehicle: float = 3.5e-8
    tiny_model_orders: int = 10
    tiny_check_seconds: float = 4e-6
    """The search's work is counted in its limit checks (made at every node of every neighbour it tries):
    one costs about check_seconds + check_seconds_per_vehicle x vehicles, tiny_check_seconds on a model of
    at most tiny_model_orders orders (its checks are few and far between). Measured, checks per wall second:
    about 1e6 on Archetti models (up to 56 vehicles), 2.5-4e5 on tiny ones, 2.8e5 on a store of 100 orders x
    113 trips, 0.5-1.3e5 on sectors of 143 orders x 200 trips of a large batch; the rate is rounded down."""
    time_window_check_factor: float = 2.5
    """In a model with a time dimension (some order of the group has a window) every check costs this many
    times more: its cumulative variables are propagated at each move. Measured as CPU time per check on the
    same instances with and without their orders' windows (30 orders x 20 three-order trips and 120 x 80,
    with a fleet; 0.05 and 0.3 s of search): 1.8 to 3.3 times, median 2.4. Without it, such a search ran
    about 2.2 times longer than its budget, and under load it reached the wall-clock safety net."""
    min_checks: int = 50
    """The fewest limit checks any search gets."""
    build_seconds: float = 0.01
    build_seconds_per_vehicle_node: float = 1.2e-6
    """Building and closing a model, and its first local optimum, cost about build_seconds plus this times
    vehicles x nodes (per-vehicle transit vectors; measured: 0.15-0.2 s for a sector of 160 orders and 300
    trips, 10-20 ms for a tiny model)."""
    small_group_orders: int = 160
    """Up to this many orders the routing solver sees the whole store at once; above, sectors of this size."""
    max_trips_per_order: int = 8
    max_group_trips: int = 300
    """A group's routing model gets each order's cheapest candidate trips (at most max_trips_per_order, then
    4, 2, 1), within max_group_trips trips in all, so that it builds in a moment."""
    min_spare_fleet_routes: int = 3
    spare_fleet_route_divisor: int = 3
    """A group's model gets its warm plan's fleet routes plus max(min_spare_fleet_routes, those routes //
    spare_fleet_route_divisor) spare vehicles (within the fleet's limit)."""
    seconds_per_route_check: float = 4e-5
    """Work-clock charge per route when a group's candidate plan is priced exactly (measured 25-40 us)."""


@dataclass(frozen=True, kw_only=True)
class BundleTuning:
    """Bundles of up to three orders per trip (`bundles`) and their share of the search (`improve`)."""

    share: float = 0.8
    """Without a fleet, the share of the search time the bundles get (LP, CP-SAT; routing gets the rest)."""
    max_multi_order_trips: int = 700
    """Above this many multi-order trips the CP-SAT model takes too long to build; sectors of routing instead
    (unless the bundles and their LP surely fit the time)."""
    lp_share: float = 0.5
    """The most of the bundles' time the LP relaxation may take (it needs far less below 1 000 orders)."""
    enumerate_seconds_per_bundle: float = 4e-6
    """Work-clock charge for enumerating and pricing the bundles (measured 3-4 us per bundle)."""
    orders_per_trip: int = 8
    """Each multi-order trip bundles among this many of its cheapest candidate orders."""
    singles_per_order: int = 12
    """One-order bundles kept per order (its cheapest trips), so that large batches stay small models."""
    seconds_per_bundle: float = 4e-5
    """Roughly what building and presolving the CP-SAT model costs per bundle, to size the model to the time."""
    min_kept_bundles: int = 1000
    """CP-SAT keeps at least this many of the most saving bundles, however short its time."""
    model_share: float = 0.5
    """The share of CP-SAT's time the kept bundles are sized for (at seconds_per_bundle each)."""
    build_seconds_per_bundle: float = 2e-5
    """What building the CP-SAT model costs per bundle (measured), out of the work before CP-SAT's share."""
    deterministic_per_second: float = 0.3
    """CP-SAT deterministic time per second of budget (measured on this set packing, one worker: 0.28-0.39 per
    wall second at 100 orders x 150 trips when nothing else runs; 0.16 under load, where the safety net takes
    over)."""
    min_cp_sat_seconds: float = 0.05
    """Below this much work CP-SAT is not started; the same is held back from its deterministic time."""
    lp_seconds_per_bundle: float = 7e-6
    lp_deterministic_per_second: float = 2.0
    """The LP relaxation's work-clock charge per bundle (measured 3-6 us with GLOP: 0.015 s at 5 052 bundles,
    0.1 s at 19 387, 0.68 s at 107 283), and the deterministic time it may use per second of that charge (GLOP
    needed 0.01, 0.06 and 0.6 there: generous, so that the limit cuts only a pathological LP)."""


@dataclass(frozen=True, kw_only=True)
class RuinRecreateTuning:
    """Ruin and recreate with simulated annealing (`ruin_recreate`)."""

    share: float = 0.9
    """With a fleet and one-order trips (no windows on the fleet's orders), the share of the search spent on
    ruin and recreate; the routing solver gets the rest (measured on the occasional-drivers set at 10 s when
    the steps ran in Python: mean gap +0.97 % over all 420 instances this way; +2.3 % on 18 of them with the
    routing solver alone)."""
    seconds_per_step: float = 1e-7
    seconds_per_insertion: float = 6.4e-7
    seconds_per_slot: float = 6.5e-10
    seconds_per_pair: float = 4.2e-9
    seconds_per_rematch: float = 5e-3
    """Work-clock charge of the compiled steps (`ruin_recreate_kernel`) per step, per order put back, per
    place it was priced at (fleet slots, held trips looked at) and per pair of arcs 2-opt tried, and of each
    exact re-match of a new best (in Python): a non-negative least-squares fit of the relative error of the
    whole phase's wall time on 18 occasional-drivers instances spread over the groups (actual / fitted 0.90
    to 1.24), plus 10 % (`MatcherTuning.work_share` keeps the rest of the margin)."""
    temperatures: tuple[float, ...] = (0.3, 1.0, 3.0)
    """Each run's starting temperature as a multiple of the starting plan's mean cost per order; a run cools
    to `cooling` of it. The runs' budget is split between one run per temperature, all from the same start,
    the best kept: which temperature escapes an instance's first valley varies. Tuned on the tuning part of
    the occasional-drivers set (od50 and od100, 36 instances, 10 s) once the steps ran compiled: mean gap
    -0.18 % with these, -0.07 % with (2, 6, 20), -0.03 % with a single run at 1.0 (+3.3 % on one instance)."""
    fewer_routes_share: float = 0.5
    """The share of the budget kept for plans with one fleet route fewer than the best (`_fewer_routes`),
    tried after the runs, again while each try finds a cheaper plan and budget is left. The runs seldom
    empty a route when that takes thirty orders moved at once (a long-haul vehicle): 9.6 % above the
    best-known value on one instance, 0.0 % with a try. Tuning part: mean gap -0.12 % with 0.25 of the
    budget, -0.30 % with 0.5, -0.28 % with 0.7."""
    fewer_routes_step_share: float = 1.0
    """The share of what is left that one such try may spend (0.5: -0.23 % on the tuning part)."""
    fewer_routes_temperature: float = 1.0
    """Its starting temperature, as a multiple of the starting plan's mean cost per order (0.3: -0.22 %)."""
    absence_penalty: float = 2.0
    """While it runs, an order that must be served but is out costs this many times a route of its own."""
    take_over: int = 4
    """Putting an order back also weighs taking one of its this many cheapest held trips, the order there
    moving to its own cheapest free one (0: never). Tuning part: mean gap -0.34 % this way, -0.30 % without."""
    cooling: float = 0.01
    """The temperature a run ends at, as a share of the one it started at."""
    max_string: int = 10
    """The longest run of consecutive stops removed from one fleet route in one step."""
    blink_rate: float = 0.01
    """The chance that putting an order back passes over a fleet slot it would otherwise take (SISR's blinks:
    the cheapest place is not always taken, which keeps the search from repeating itself)."""
    min_removed: int = 2
    """A step removes at least this many orders."""
    removal_share: float = 0.25
    """A step removes between min_removed and 3 + this share of the orders (tuned on 64 occasional-drivers
    instances at 10 s when the steps ran in Python: mean gap +1.10 % at 0.5, +0.92 % at 0.25, +0.96 % at
    0.35, +1.17 % at 0.12; on four hard instances, compiled: +0.40 % at 0.25, +0.70 % at 0.12)."""
    route_cost_memory: int = 200_000
    """Fleet route costs remembered by the search (then forgotten all at once)."""
    exact_share: float = 0.5
    """With a fleet where the fast search does not apply (windows, multi-order trips) and one routing group,
    the share of the search spent on ruin and recreate priced by the exact route checks
    (`ruin_recreate_exact`); the routing solver gets the rest from its best plan."""
    exact_seconds_per_insertion: float = 4.5e-5
    exact_seconds_per_slot: float = 7.5e-7
    exact_seconds_per_route: float = 2.5e-5
    """Work-clock charge of the exact search per order put back, per fleet slot it was weighed at and per
    route priced exactly (each priced once, then remembered): a non-negative least-squares fit of the CPU
    time on 16 store batches with a fleet and windows (30 to 150 orders, one- and three-order trips; within
    25 % on each), plus 25 %."""


@dataclass(frozen=True, kw_only=True)
class DriversVsFleetTuning:
    """Two starts for a fleet with one-order trips where ruin and recreate does not apply (`improve`), and
    the drivers-vs-fleet rounds of the second (`drivers_vs_fleet`)."""

    direct_share: float = 0.45
    """The share of the search the routing solver gets straight from the initial plan (the first start)."""
    alternate_share: float = 0.5
    """Of what is left then, the share spent moving orders back and forth between drivers and fleet; the
    routing solver gets the rest from the result (the second start)."""
    round_seconds: float = 0.002
    round_seconds_per_pair: float = 1.5e-6
    """Work-clock charge for one drivers-vs-fleet reassignment round besides its routing search."""
    perturbation: tuple[float, float] = (0.7, 1.3)
    """After the first round, the fleet's marginal costs are scaled by a random factor in this range."""
    reroute_share: float = 0.25
    min_reroute_seconds: float = 0.05
    max_reroute_seconds: float = 1.0
    """A round's re-routing of the fleet gets this share of the rounds' time left, within these bounds."""


@dataclass(frozen=True, kw_only=True)
class PolishTuning:
    """The exact single-order local search (`polish`) and how it alternates with routing passes (`solver`)."""

    max_orders: int = 400
    """Up to this many orders the full local search runs after the routing solver (above, only orders that
    nothing serves are moved)."""
    seconds_per_price: float = 2.5e-5
    """Work-clock charge for pricing one route exactly (measured, rounded up)."""
    reserve_share: float = 0.08
    max_reserve_seconds: float = 1.0
    """The routing search stops this share of its time before the finish (at most max_reserve_seconds), so
    that polishing has room."""
    min_seconds_for_another_pass: float = 0.3
    """A small store polished with at least this much work left gets another routing pass, then polish."""
    again_reserve_share: float = 0.3
    max_again_reserve_seconds: float = 0.5
    """Another routing pass stops this share of what is left before the finish (at most the maximum)."""


@dataclass(frozen=True, kw_only=True)
class MatcherTuning:
    """The time plan of a solve, and each step's section."""

    work_share: float = 0.75
    """The share of the time limit the work budget is planned to fill; the rest absorbs calibration error
    (the rates were measured on a lightly loaded machine; a loaded one is slower). A smaller share leaves
    more room before the wall-clock safety net, i.e. reproducibility on a slow or loaded machine, for less
    search."""
    finish_reserve_seconds: float = 0.05
    finish_reserve_share: float = 0.02
    """Kept back from the time limit (this many seconds plus this share of the limit) for explanations and the
    answer; the wall-clock safety net fires there."""
    setup_seconds_per_cell: float = 2.5e-8
    setup_seconds_per_pair: float = 6e-7
    setup_seconds_per_fleet_order: float = 1.5e-4
    """Work-clock charge for the pruning and the initial plan, from the problem's size (measured, rounded up)."""
    pairs: PairTuning = field(default_factory=PairTuning)
    fleet: FleetTuning = field(default_factory=FleetTuning)
    initial_plan: InitialPlanTuning = field(default_factory=InitialPlanTuning)
    routing: RoutingTuning = field(default_factory=RoutingTuning)
    bundles: BundleTuning = field(default_factory=BundleTuning)
    ruin_recreate: RuinRecreateTuning = field(default_factory=RuinRecreateTuning)
    drivers_vs_fleet: DriversVsFleetTuning = field(default_factory=DriversVsFleetTuning)
    polish: PolishTuning = field(default_factory=PolishTuning)

    def __post_init__(self) -> None:
        if not 0.0 < self.work_share <= 1.0:
            raise ValueError(f"work_share must be in (0, 1], got {self.work_share!r}")


DEFAULT_TUNING = MatcherTuning()
"""The calibrated tuning every caller uses unless it says otherwise."""
