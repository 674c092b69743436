"""A simulated day: the same seed gives the same day, every order ends somewhere, the files are written."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.adapters.memory import MemoryDispatchUnitOfWork
from dispatch.model import OfferStatus, OrderStatus, TripStatus
from rewards.ledger import AccountKind
from rewards.policy_versions import PolicyStatus
from simulations.books import SIMULATION_FINANCE, SIMULATION_FINANCE_APPROVER
from simulations.day_records import DayResult
from simulations.engine import DaySimulation, simulate_day
from simulations.report import map_svg
from simulations.results import DECISION_FIELDS, summarise, write_results
from simulations.scenario import Scenario, parse_scenario
from tests.simulations.conftest import ScenarioData

SVG = "{http://www.w3.org/2000/svg}"
FINAL = {OrderStatus.DELIVERED.value, OrderStatus.FALLBACK.value, OrderStatus.CANCELLED.value}


def _decisions(result: DayResult) -> list[tuple[Any, ...]]:
    """Everything the day decided, per order, without ids drawn at random by the use cases."""
    return [
        (r.external_ref, r.status, r.delivered_at, r.detour_m, r.reward_cents, r.fallback_cost_cents)
        for r in result.orders
    ]


def test_the_same_seed_gives_the_same_day(tiny_scenario: Scenario) -> None:
    """Two runs of one scenario decide the same for every order and reach the same figures."""
    first, second = simulate_day(tiny_scenario), simulate_day(tiny_scenario)
    assert len(first.orders) > 20
    assert _decisions(first) == _decisions(second)
    assert [(o.trip_index, o.stops, o.reward_quote_cents, o.outcome) for o in first.offers] == [
        (o.trip_index, o.stops, o.reward_quote_cents, o.outcome) for o in second.offers
    ]
    one, other = asdict(summarise(first)), asdict(summarise(second))
    assert {key: one[key] for key in DECISION_FIELDS} == {key: other[key] for key in DECISION_FIELDS}


def test_another_seed_gives_another_day(tiny_scenario: Scenario) -> None:
    """The seed is really used: a different one draws a different day."""
    other = tiny_scenario.with_overrides({"seed": tiny_scenario.seed + 1})
    assert _decisions(simulate_day(tiny_scenario)) != _decisions(simulate_day(other))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    willing=st.sampled_from([0.0, 0.05, 0.3]),
    cadence=st.sampled_from([30.0, 300.0]),
    bundle=st.sampled_from([1, 3]),
)
def test_every_order_ends_delivered_fallback_or_cancelled(
    tiny_data: ScenarioData, seed: int, willing: float, cadence: float, bundle: int
) -> None:
    """Conservation: whatever the day, no order is left pending, offered, accepted or on the road."""
    data = tiny_data(seed=seed, hours=2)
    data["shoppers"]["willing_share"] = willing
    data["dispatch"] = {"batch_cadence_s": cadence, "max_bundle_orders": bundle}
    result = simulate_day(parse_scenario(data))
    admitted = [record for record in result.orders if record.order_id is not None]
    assert admitted
    assert {record.status for record in admitted} <= FINAL
    summary = summarise(result)
    assert summary.unfinished == 0
    assert summary.delivered_by_shoppers + summary.fallback + summary.cancelled == summary.orders
    if willing == 0.0:
        assert summary.delivered_by_shoppers == 0
        assert summary.cost_cents == summary.baseline_cost_cents


def test_the_repositories_agree_with_the_records_at_the_end(tiny_scenario: Scenario) -> None:
    """Delivered orders have an accepted offer on a completed trip; no offer is still open."""
    simulation = DaySimulation(tiny_scenario)
    result = simulation.run()
    delivered = [r for r in result.orders if r.status == OrderStatus.DELIVERED.value]
    assert delivered
    with MemoryDispatchUnitOfWork(simulation.db) as uow:
        for record in delivered:
            assert record.order_id is not None
            assert record.trip_id is not None
            assert uow.orders.carrying_trips([record.order_id]) == {record.order_id: record.trip_id}
            assert uow.trips.get(record.trip_id).status is TripStatus.COMPLETED
            assert [p.accepted for p in uow.proofs.list_for_order(record.order_id)] == [True]
        store = result.stores[0].id
        assert uow.offers.page(store_id=store, statuses=[OfferStatus.OPEN], limit=10, offset=0).total == 0


def test_rewards_go_through_the_live_use_cases_and_the_day_is_paid_out(tiny_scenario: Scenario) -> None:
    """The scenario's policy is proposed and approved (version 1); every delivery is credited by the live use
    case (the day's figures are the books' records); at the end of the day finance pays out every cent of cash
    earned, and the books reconcile."""
    simulation = DaySimulation(tiny_scenario.with_overrides({"dispatch.max_bundle_orders": 3}))
    result = simulation.run()
    delivered = [record for record in result.orders if record.status == OrderStatus.DELIVERED.value]
    assert delivered
    with simulation.memory.rewards() as uow:
        assert [(p.version, p.status) for p in uow.repos.policies.every_version()] == [(1, PolicyStatus.APPROVED)]
        rewards = {
            record.order_id: uow.repos.rewards.for_order(record.order_id)
            for record in delivered
            if record.order_id is not None
        }
        clearing = uow.repos.ledger.entries_sum(uow.repos.ledger.company_account(AccountKind.PAYOUTS_CLEARING).id)
    for record in delivered:
        assert record.order_id is not None
        reward = rewards[record.order_id]
        assert reward is not None
        assert (reward.policy_version, reward.amount_cents) == (1, record.reward_cents)
    assert sum(trip.reward_cents for trip in result.trips) == sum(record.reward_cents for record in delivered)
    cash = sum(reward.amount_cents for reward in rewards.values() if reward and reward.inputs.method.value == "cash")
    assert result.payout.paid_cents == cash == clearing > 0
    assert result.payout.books_agree


def test_the_days_payout_is_approved_by_a_second_finance_person_as_live(tiny_scenario: Scenario) -> None:
    """Live, only finance approves a payout batch, and never the person who prepared it: so does the simulation."""
    simulation = DaySimulation(tiny_scenario)
    assert simulation.run().payout.paid_cents > 0
    with simulation.memory.rewards() as uow:
        (batch_id,) = uow.repos.payouts.batch_ids(None, newest_first=True, limit=10, offset=0).items
        batch = uow.repos.payouts.get(batch_id)
    assert (batch.prepared_by, batch.approved_by, batch.paid_by) == (
        SIMULATION_FINANCE,
        SIMULATION_FINANCE_APPROVER,
        SIMULATION_FINANCE,
    )


def test_a_day_without_willing_shoppers_costs_the_baseline(tiny_scenario: Scenario) -> None:
    """Nobody delivers: every order goes to the fallback at its deadline and savings are zero."""
    result = simulate_day(tiny_scenario.with_overrides({"shoppers.willing_share": 0.0}))
    summary = summarise(result)
    assert summary.trips == 0
    assert summary.fallback == summary.orders - summary.cancelled
    assert summary.savings_share == 0.0
    for record in result.orders:
        if record.status == OrderStatus.FALLBACK.value:
            assert record.fallback_cost_cents == tiny_scenario.stores[0].fallback_cost_cents


def test_the_results_are_written_as_json_csv_and_self_contained_html(tiny_scenario: Scenario, tmp_path: Path) -> None:
    """summary.json holds the figures; the report inlines plotly and fetches nothing online."""
    result = simulate_day(tiny_scenario)
    summary = summarise(result)
    files = write_results(result, summary, tmp_path)
    saved = json.loads(files.summary_json.read_text())
    assert saved["summary"]["orders"] == summary.orders
    assert saved["scenario"]["name"] == tiny_scenario.name
    assert files.orders_csv.read_text().count("\n") == len(result.orders) + 1
    assert files.batches_csv.read_text().count("\n") == len(result.batches) + 1
    report = files.report_html.read_text()
    assert len(report) > 1_000_000  # plotly.js itself, inlined
    assert "<script src=" not in report  # nothing loaded from elsewhere
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="day-map"' in report  # the store's map, not lon/lat axes


def test_the_report_map_draws_every_drop_off_by_outcome_and_the_routes(tiny_scenario: Scenario) -> None:
    """The same map as the console's: one dot per order coloured by its outcome, routes of the trips that
    delivered, a legend counting them, and the metric grid where no street network is shipped."""
    result = simulate_day(tiny_scenario)
    root = ElementTree.fromstring(map_svg(result, networks_dir=None))
    layers = {g.get("data-layer"): g for g in root.iter(f"{SVG}g") if g.get("data-layer")}
    dots = list(layers["dropoffs"])
    assert len(dots) == len(result.orders)
    assert Counter(dot.get("data-status") for dot in dots) == Counter(record.status for record in result.orders)
    assert len(list(layers["routes"])) == sum(1 for trip in result.trips if len(trip.route) > 2)
    assert layers["base"].get("data-base") == "graticule"
    legend = " ".join(text.text or "" for text in layers["legend"].iter(f"{SVG}text"))
    delivered = sum(1 for record in result.orders if record.status == "delivered")
    assert f"drop-offs delivered ({delivered})" in legend


def test_bundled_offers_are_carried_and_credited_per_order(tiny_data: ScenarioData) -> None:
    """With the routing search on, multi-order offers are made and accepted, and flow through pickup and
    delivery; nothing is lost: every order ends in a final state, each accepted offer's quote equals the sum of
    its orders' credits, and its stops are driven in its order. (The search works to a deterministic amount,
    so the bundles it finds here do not depend on the machine.)"""
    data = tiny_data(hours=1)
    data["orders"] = {"per_hour": 120, "window_hours": [2]}
    data["shoppers"] = {"per_hour": 200, "willing_share": 0.1, "capacity_bags": [6], "max_detour_m": [6000]}
    data["dispatch"] = {"batch_cadence_s": 180, "matcher_time_limit_s": 0.2}
    simulation = DaySimulation(parse_scenario(data))
    result = simulation.run()
    assert summarise(result).unfinished == 0
    delivered = [r for r in result.orders if r.status == OrderStatus.DELIVERED.value]
    assert delivered
    with MemoryDispatchUnitOfWork(simulation.db) as uow:
        accepted = [o for trip in result.trips for o in uow.offers.list_for_trip(trip.trip_id, [OfferStatus.ACCEPTED])]
        assert any(len(offer.stops) > 1 for offer in accepted), "no bundle was accepted: nothing here is tested"
        for trip in result.trips:
            for offer in uow.offers.list_for_trip(trip.trip_id, [OfferStatus.ACCEPTED]):
                credits = [simulation.order_of_id[order_id].reward_cents for order_id in offer.stops]
                assert sum(credits) == offer.reward_quote_cents
                arrivals = [simulation.order_of_id[order_id].delivered_at for order_id in offer.stops]
                times = [arrival for arrival in arrivals if arrival is not None]
                assert len(times) == len(arrivals)
                assert times == sorted(times)  # driven in the offer's stop order


def test_simulated_shoppers_leave_in_time_for_the_windows_they_accepted(tiny_data: ScenarioData) -> None:
    """One-hour windows the courier deadline leaves whole: an offer whose window closes before the shopper's
    leave-by says when to leave at the latest (`leave_before`), and the simulated shopper leaves by then. They
    left at their leave-by whatever they carried, and delivered some orders after their windows."""
    data = tiny_data(seed=5)
    data["orders"] = {"per_hour": 30, "window_hours": [1], "deadline_before_end_minutes": 0}
    result = simulate_day(parse_scenario(data))
    delivered = [record for record in result.orders if record.delivered_at is not None]
    assert len(delivered) > 20
    assert [record.external_ref for record in delivered if not record.on_time] == []
