"""Two simulated days side by side: each figure of both, the change, marked where they differ, escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from composition.run_comparison import COMPARED_FIGURES, comparison_html
from composition.simulation_runs import RunStatus

NOW = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)


def run(run_id: str, title: str = "Demo day", seed: int | None = None, hours: int | None = None) -> RunStatus:
    return RunStatus(
        id=run_id, kind="simulate", scenario="demo.toml", title=title, seed=seed, hours=hours, created_at=NOW
    )


def figures(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {key: 10 for key, _, _ in COMPARED_FIGURES}
    base.update(shopper_share=0.5, savings_share=0.25, cost_per_order_cents=650.0, detour_per_delivery_m=1500.0)
    base.update(changes)
    return base


def rows(fragment: str) -> dict[str, list[str]]:
    """figure key -> [label, first, second, change] texts."""
    table = ElementTree.fromstring(fragment)
    found = {}
    for row in table.iter("tr"):
        key = row.get("data-figure")
        if key:
            found[key] = ["".join(cell.itertext()) for cell in row]
    return found


def test_each_figure_shows_both_values_and_the_change_in_its_unit() -> None:
    fragment = comparison_html(
        run("a"), figures(), run("b"), figures(shopper_share=0.532, cost_per_order_cents=612.0, orders=12)
    )
    found = rows(fragment)
    assert found["shopper_share"] == ["share delivered by shoppers", "50.0%", "53.2%", "+3.2 pt"]
    assert found["cost_per_order_cents"] == ["cost per order", "$6.50", "$6.12", "\u2212$0.38"]
    assert found["orders"] == ["orders", "10", "12", "+2"]
    assert found["detour_per_delivery_m"][1:] == ["1.50 km", "1.50 km", "="]


def test_only_the_rows_that_differ_are_marked() -> None:
    table = ElementTree.fromstring(comparison_html(run("a"), figures(), run("b"), figures(orders=11)))
    marked = [row.get("data-figure") for row in table.iter("tr") if row.get("class") == "diff"]
    assert marked == ["orders"]


def test_a_figure_missing_or_not_a_number_shows_a_dash() -> None:
    found = rows(comparison_html(run("a"), figures(orders="many"), run("b"), {}))
    assert found["orders"][1:] == ["—", "—", "—"]


def test_what_each_run_was_heads_the_table_and_every_text_is_escaped() -> None:
    fragment = comparison_html(run("a", title="<script>x</script>", seed=4, hours=2), figures(), run("b"), figures())
    assert "<script>" not in fragment
    table = ElementTree.fromstring(fragment)
    settings = {
        "".join(row[0].itertext()): ["".join(cell.itertext()) for cell in row[1:3]]
        for row in table.iter("tr")
        if row.get("class") == "setting"
    }
    assert settings["scenario"] == ["<script>x</script>", "Demo day"]
    assert settings["seed"] == ["4", "the file's"]
    assert settings["hours"] == ["2", "all"]


def test_the_change_is_the_difference_of_the_values_as_shown() -> None:
    """$6.59 to $5.02 is minus $1.57 and 1.17 to 1.47 km is +0.30 km, whatever fractions lie under the rounding;
    values that read the same are not a change."""
    found = rows(
        comparison_html(
            run("a"),
            figures(
                cost_per_order_cents=659.4, detour_per_delivery_m=1174.0, shopper_share=0.50049, matcher_p95_s=0.01234
            ),
            run("b"),
            figures(
                cost_per_order_cents=501.5, detour_per_delivery_m=1465.0, shopper_share=0.50001, matcher_p95_s=0.0149
            ),
        )
    )
    assert found["cost_per_order_cents"][1:] == ["$6.59", "$5.02", "\u2212$1.57"]
    assert found["detour_per_delivery_m"][1:] == ["1.17 km", "1.47 km", "+0.30 km"]
    assert found["shopper_share"][1:] == ["50.0%", "50.0%", "="]
    assert found["matcher_p95_s"][1:] == ["12.3 ms", "14.9 ms", "+2.6 ms"]
    assert found["wall_s"][1:] == ["10.0 s", "10.0 s", "="]
    walls = rows(comparison_html(run("a"), figures(wall_s=5.26), run("b"), figures(wall_s=4.74)))["wall_s"]
    assert walls[1:] == ["5.3 s", "4.7 s", "\u22120.6 s"]
    table = ElementTree.fromstring(comparison_html(run("a"), figures(shopper_share=0.50049), run("b"), figures()))
    assert [row.get("data-figure") for row in table.iter("tr") if row.get("class") == "diff"] == []
