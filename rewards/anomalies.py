"""The anomaly rules that flag payout lines: pure functions over plain facts (the repository gathers them).
A flag never holds a line by itself; finance reads it and decides."""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from crowdship.units import Cents, format_dollars
from dispatch.evidence import LocationSample
from rewards.policy import EarningsSoFar, RewardInputs
from rewards.policy_versions import RewardPolicy
from rewards.pricing import compute_reward
from routing.distance import geodesic_m


class FlagCode(StrEnum):
    NO_POSITION_PROOF = "no_position_proof"
    FAR_ABOVE_STORE_PEERS = "far_above_store_peers"
    REPEATED_RECIPIENT = "repeated_recipient"
    IMPOSSIBLE_SPEED = "impossible_speed"
    ABOVE_POLICY = "above_policy"


@dataclass(frozen=True)
class AnomalyFlag:
    code: FlagCode
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code.value, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnomalyFlag:
        return cls(FlagCode(data["code"]), str(data["detail"]))


@dataclass(frozen=True)
class DeliveryFact:
    """One rewarded delivery (of the batch's period, or behind a balance it pays), with what the rules need."""

    order_id: UUID
    shopper_id: UUID
    store_id: UUID
    recipient_key: str
    """Recipient name and address, normalised, to spot the same recipient again and again."""
    has_position_proof: bool
    """An accepted proof at the door (inside the geofence, with the recipient's code)."""
    track_near_dropoff: bool | None
    """Whether any position the shopper sent on that trip came within `TRACK_REACH_M` of the drop-off; None
    when they sent none (positions are optional for the app)."""
    cash_value_cents: Cents
    amount_cents: Cents
    policy: RewardPolicy
    inputs: RewardInputs
    earned_before: EarningsSoFar
    in_period: bool = True
    """Earned in the batch's period (else only behind a balance it pays)."""


@dataclass(frozen=True)
class AnomalyRules:
    peer_ratio: float = 3.0
    """Flag a shopper earning more than this many times the median of the other shoppers of the store."""
    min_peers: int = 3
    repeated_recipient_count: int = 4
    """Flag this many or more deliveries by one shopper to the same recipient in the period."""
    max_speed_m_per_s: float = 50.0
    """About 180 km/h: no shopper moves faster between two position samples."""


TRACK_REACH_M = 500.0
"""A trip's positions come at least this close to a drop-off it delivered; a proof sent from elsewhere, its
position made up, leaves a track that never did."""


def no_position_proof(deliveries: Iterable[DeliveryFact]) -> dict[UUID, list[AnomalyFlag]]:
    """Every delivery path records an accepted proof, so the first case means the books were written another
    way; the second, a proof whose position the trip's own track contradicts."""
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for fact in deliveries:
        if not fact.has_position_proof:
            why = f"order {fact.order_id} rewarded without an accepted proof at the door"
        elif fact.track_near_dropoff is False:
            why = f"order {fact.order_id}: the trip's positions never came within {TRACK_REACH_M:.0f} m of the drop-off"
        else:
            continue
        flags[fact.shopper_id].append(AnomalyFlag(FlagCode.NO_POSITION_PROOF, why))
    return dict(flags)


def far_above_store_peers(deliveries: Iterable[DeliveryFact], rules: AnomalyRules) -> dict[UUID, list[AnomalyFlag]]:
    earnings: dict[UUID, Counter[UUID]] = defaultdict(Counter)
    for fact in deliveries:
        earnings[fact.store_id][fact.shopper_id] += fact.cash_value_cents
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for store_id, by_shopper in earnings.items():
        everyone = sorted(by_shopper.values())
        if len(everyone) - 1 < rules.min_peers:
            continue
        for shopper_id, earned in by_shopper.items():
            median = median_without(everyone, earned)
            if earned > rules.peer_ratio * median:
                flags[shopper_id].append(
                    AnomalyFlag(
                        FlagCode.FAR_ABOVE_STORE_PEERS,
                        f"earned {format_dollars(Cents(earned))} at store {store_id}, "
                        f"peers' median {format_dollars(Cents(round(median)))}",
                    )
                )
    return dict(flags)


def median_without(ordered: Sequence[int], value: int) -> float:
    """The median of a sorted list once one occurrence of `value` is taken out, without copying it."""
    skip = bisect.bisect_left(ordered, value)

    def at(index: int) -> int:
        return ordered[index + 1] if index >= skip else ordered[index]

    count = len(ordered) - 1
    middle = count // 2
    return float(at(middle)) if count % 2 else (at(middle - 1) + at(middle)) / 2


def repeated_recipient(deliveries: Iterable[DeliveryFact], rules: AnomalyRules) -> dict[UUID, list[AnomalyFlag]]:
    counts: Counter[tuple[UUID, str]] = Counter((fact.shopper_id, fact.recipient_key) for fact in deliveries)
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for (shopper_id, recipient), count in sorted(counts.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        if count >= rules.repeated_recipient_count:
            flags[shopper_id].append(
                AnomalyFlag(FlagCode.REPEATED_RECIPIENT, f"{count} deliveries to the same recipient {recipient!r}")
            )
    return dict(flags)


def impossible_speed(samples: Iterable[LocationSample], rules: AnomalyRules) -> dict[UUID, list[AnomalyFlag]]:
    """Samples come ordered by shopper, then by time (as the repositories stream them): one pass, holding one
    sample at a time, however many a year of trips sent."""
    flags: dict[UUID, list[AnomalyFlag]] = {}
    for shopper_id, own in itertools.groupby(samples, key=lambda sample: sample.shopper_id):
        worst = 0.0
        jumps = 0
        for before, after in itertools.pairwise(own):
            if after.recorded_at < before.recorded_at:
                raise ValueError("location samples must come ordered by shopper, then by time")
            metres = geodesic_m(before.position, after.position)
            seconds = (after.recorded_at - before.recorded_at).total_seconds()
            speed = float("inf") if seconds <= 0 and metres > 0 else (metres / seconds if seconds > 0 else 0.0)
            if speed > rules.max_speed_m_per_s:
                jumps += 1
                worst = max(worst, speed)
        if jumps:
            shown = "instantaneous" if worst == float("inf") else f"{worst:.0f} m/s"
            flags[shopper_id] = [
                AnomalyFlag(FlagCode.IMPOSSIBLE_SPEED, f"{jumps} jumps between position samples, worst {shown}")
            ]
    return flags


def above_policy(deliveries: Iterable[DeliveryFact]) -> dict[UUID, list[AnomalyFlag]]:
    """Recomputes each reward from its recorded policy and inputs; more than that is an anomaly."""
    flags: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for fact in deliveries:
        expected = compute_reward(fact.policy, fact.inputs, fact.earned_before, explained=False).amount_cents
        if fact.amount_cents > expected:
            flags[fact.shopper_id].append(
                AnomalyFlag(
                    FlagCode.ABOVE_POLICY,
                    f"order {fact.order_id} credited {format_dollars(fact.amount_cents)}, "
                    f"policy v{fact.policy.version} gives {format_dollars(expected)}",
                )
            )
    return dict(flags)


def flag_anomalies(
    deliveries: Sequence[DeliveryFact], samples: Iterable[LocationSample], rules: AnomalyRules
) -> dict[UUID, tuple[AnomalyFlag, ...]]:
    """Every rule's flags, gathered per shopper. The comparisons (peers, recipients, speed) read the batch's
    period; each delivery is judged on its own wherever it lies, in the period or behind a balance the batch
    pays (a line pays the whole balance, earned before or after the period too)."""
    each = list({fact.order_id: fact for fact in deliveries}.values())
    period = [fact for fact in each if fact.in_period]
    gathered: dict[UUID, list[AnomalyFlag]] = defaultdict(list)
    for result in (
        no_position_proof(each),
        far_above_store_peers(period, rules),
        repeated_recipient(period, rules),
        impossible_speed(samples, rules),
        above_policy(each),
    ):
        for shopper_id, flags in result.items():
            gathered[shopper_id].extend(flags)
    return {shopper_id: tuple(flags) for shopper_id, flags in gathered.items()}
