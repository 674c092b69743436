"""What a replay found, and how `crowdship replay` prints it: the day's figures as it happened and replayed
side by side, and one line per kind of record that could not be replayed as it happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crowdship.units import counted
from rewards.recorded_day import DayFigures


@dataclass(frozen=True)
class Unreplayed:
    """Something recorded that the replay could not play as it happened."""

    what: str
    """'order', 'check-in', 'cancellation' or 'failed delivery'."""
    at: datetime
    """When it happened."""
    reason: str


PLURALS = {
    "order": "orders",
    "check-in": "check-ins",
    "cancellation": "cancellations",
    "failed delivery": "failed deliveries",
}


@dataclass(frozen=True)
class ReplayResult:
    recorded: DayFigures
    replayed: DayFigures
    offers: int
    answered_as_recorded: int
    """Offers answered as the shopper did in reality (same trip, same orders)."""
    answered_by_model: int
    """Offers answered by the acceptance model."""
    unreplayed: tuple[Unreplayed, ...] = ()
    """What was recorded but could not be replayed, in the order it happened."""
    late_as_recorded: int = 0
    """Orders delivered after their window closed, as it happened."""
    late_replayed: int = 0
    """Orders delivered after their window closed in the replay."""


def offers_line(result: ReplayResult) -> str:
    """How the replay's offers were answered: as the shopper answered in reality, or by the acceptance model."""
    return (
        f"{counted(result.offers, 'offer')} in the replay: {result.answered_as_recorded} answered as the shopper "
        f"answered (same trip, same orders), {result.answered_by_model} by the simulator's acceptance model "
        "(logistic in reward, detour and stops; the scenario defaults). Money in cents."
    )


def unreplayed_lines(result: ReplayResult) -> list[str]:
    """One line per kind of record the replay could not play: '2 check-ins could not be replayed: ...'."""
    kinds: dict[str, list[Unreplayed]] = {}
    for item in sorted(result.unreplayed, key=lambda item: item.at):
        kinds.setdefault(item.what, []).append(item)
    lines = []
    for what, items in kinds.items():
        name = what if len(items) == 1 else PLURALS.get(what, what + "s")
        details = "; ".join(f"{item.at.astimezone(UTC):%H:%M:%S} UTC, {item.reason}" for item in items)
        lines.append(f"{len(items)} {name} could not be replayed: {details}")
    return lines


def replay_rows(result: ReplayResult) -> list[tuple[str, str, str, str]]:
    """The side-by-side table: figure, as it happened, replayed, change."""
    before, after = result.recorded, result.replayed

    def money(cents: int) -> str:
        return f"{cents:,}"

    def change(old: float, new: float, text: Callable[[Any], str]) -> str:
        delta = new - old
        sign = "+" if delta > 0 else ("-" if delta < 0 else "±")
        return f"{sign}{text(abs(delta))}"

    share = "{:.1%}".format
    return [
        ("payouts, cents (rewards credited)", money(before.payouts_cents), money(after.payouts_cents),
         change(before.payouts_cents, after.payouts_cents, lambda v: money(int(v)))),
        ("share delivered by shoppers", share(before.shopper_share), share(after.shopper_share),
         change(before.shopper_share, after.shopper_share, lambda v: f"{v * 100:.1f} pts")),
        ("cost, cents (rewards + fallback)", money(before.cost_cents), money(after.cost_cents),
         change(before.cost_cents, after.cost_cents, lambda v: money(int(v)))),
        ("orders delivered by shoppers", str(before.delivered), str(after.delivered),
         change(before.delivered, after.delivered, lambda v: str(int(v)))),
        ("orders to the fallback", str(before.fallback), str(after.fallback),
         change(before.fallback, after.fallback, lambda v: str(int(v)))),
        ("orders delivered after their window", str(result.late_as_recorded), str(result.late_replayed),
         change(result.late_as_recorded, result.late_replayed, lambda v: str(int(v)))),
        ("orders (cancelled)", f"{before.orders} ({before.cancelled})", f"{after.orders} ({after.cancelled})", ""),
    ]  # fmt: skip
