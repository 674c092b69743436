"""The anomaly rules that flag payout lines: each rule on plain facts, and all of them gathered per shopper."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from crowdship.units import Cents
from dispatch.evidence import LocationSample
from dispatch.model import TrustTier
from rewards.anomalies import (
    AnomalyRules,
    DeliveryFact,
    FlagCode,
    above_policy,
    far_above_store_peers,
    flag_anomalies,
    impossible_speed,
    median_without,
    no_position_proof,
    repeated_recipient,
)
from rewards.policy import EarningsSoFar, PaymentMethod, PolicyParameters, RewardInputs
from rewards.policy_versions import RewardPolicy
from routing.geo import GeoPoint

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)
POLICY = RewardPolicy(
    version=3,
    parameters=PolicyParameters(
        base_cents=300, per_extra_km_cents=0, per_extra_minute_cents=0, per_bag_cents=0, minimum_cents=0
    ),
    created_by=uuid4(),
    created_at=NOW - timedelta(days=10),
)
INPUTS = RewardInputs(0, 0, 1, 12, TrustTier.NEW, PaymentMethod.CASH)


def a_fact(shopper: UUID, **overrides: Any) -> DeliveryFact:
    values: dict[str, Any] = {
        "order_id": uuid4(),
        "shopper_id": shopper,
        "store_id": STORE,
        "recipient_key": f"someone {uuid4().hex[:4]}",
        "has_position_proof": True,
        "track_near_dropoff": None,
        "cash_value_cents": Cents(300),
        "amount_cents": Cents(300),
        "policy": POLICY,
        "inputs": INPUTS,
        "earned_before": EarningsSoFar(),
    }
    values.update(overrides)
    return DeliveryFact(**values)


STORE = uuid4()


def test_no_position_proof_flags_the_delivery() -> None:
    """A reward without an accepted proof is flagged for its shopper; one with proof is not."""
    shopper = uuid4()
    flags = no_position_proof([a_fact(shopper, has_position_proof=False), a_fact(uuid4())])
    assert list(flags) == [shopper]
    assert flags[shopper][0].code is FlagCode.NO_POSITION_PROOF


def test_a_proof_whose_trip_never_came_near_the_drop_off_is_flagged() -> None:
    """A proof at the door while every position the trip sent was far away; a trip that sent none is not
    judged (positions are optional), one that came by is fine."""
    faked, silent, honest = uuid4(), uuid4(), uuid4()
    facts = [
        a_fact(faked, track_near_dropoff=False),
        a_fact(silent, track_near_dropoff=None),
        a_fact(honest, track_near_dropoff=True),
    ]
    flags = no_position_proof(facts)
    assert list(flags) == [faked]
    assert "never came within 500 m of the drop-off" in flags[faked][0].detail


def test_far_above_store_peers_flags_the_outlier_only() -> None:
    """Four shoppers earning 300 ¢ and one earning 3 000 ¢ at the same store: only the latter (x10 > x3)."""
    peers = [uuid4() for _ in range(4)]
    outlier = uuid4()
    facts = [a_fact(peer) for peer in peers] + [a_fact(outlier, cash_value_cents=Cents(3_000))]
    flags = far_above_store_peers(facts, AnomalyRules())
    assert list(flags) == [outlier]


def test_far_above_store_peers_needs_enough_peers() -> None:
    """With two peers there is no meaningful median: no flag."""
    facts = [a_fact(uuid4()), a_fact(uuid4()), a_fact(uuid4(), cash_value_cents=Cents(9_000))]
    assert far_above_store_peers(facts, AnomalyRules()) == {}


def test_the_same_recipient_again_and_again_is_flagged() -> None:
    """Four deliveries to one recipient flag; three do not."""
    busy, normal = uuid4(), uuid4()
    facts = [a_fact(busy, recipient_key="ana | 1 main st") for _ in range(4)]
    facts += [a_fact(normal, recipient_key="bo | 2 side st") for _ in range(3)]
    flags = repeated_recipient(facts, AnomalyRules())
    assert list(flags) == [busy]


def test_impossible_speed_between_samples_is_flagged() -> None:
    """About 11 km in 60 s (~185 m/s) flags; the same distance in 30 minutes does not."""
    teleporting, cycling = uuid4(), uuid4()
    a, b = GeoPoint(52.37, 4.89), GeoPoint(52.47, 4.89)
    samples = [
        LocationSample(teleporting, None, a, NOW),
        LocationSample(teleporting, None, b, NOW + timedelta(seconds=60)),
        LocationSample(cycling, None, a, NOW),
        LocationSample(cycling, None, b, NOW + timedelta(minutes=30)),
    ]
    flags = impossible_speed(samples, AnomalyRules())
    assert list(flags) == [teleporting]
    assert "185 m/s" in flags[teleporting][0].detail


def test_impossible_speed_flags_a_jump_at_the_same_instant() -> None:
    """Two places at one instant is instantaneous travel."""
    shopper = uuid4()
    samples = [
        LocationSample(shopper, None, GeoPoint(52.37, 4.89), NOW),
        LocationSample(shopper, None, GeoPoint(52.38, 4.89), NOW + timedelta(minutes=10)),
        LocationSample(shopper, None, GeoPoint(52.39, 4.89), NOW + timedelta(minutes=10)),
    ]
    flags = impossible_speed(samples, AnomalyRules())
    assert "instantaneous" in flags[shopper][0].detail


def test_impossible_speed_reads_a_stream_once_and_refuses_samples_out_of_order() -> None:
    """The repositories stream samples by shopper then time; the rule holds one at a time, so an unordered
    stream would judge wrong pairs: it is refused rather than misread."""
    shopper = uuid4()
    ordered = (LocationSample(shopper, None, GeoPoint(52.37, 4.89), NOW + timedelta(minutes=m)) for m in range(3))
    assert impossible_speed(ordered, AnomalyRules()) == {}
    shuffled = [
        LocationSample(shopper, None, GeoPoint(52.37, 4.89), NOW + timedelta(minutes=10)),
        LocationSample(shopper, None, GeoPoint(52.38, 4.89), NOW),
    ]
    with pytest.raises(ValueError, match="ordered by shopper, then by time"):
        impossible_speed(shuffled, AnomalyRules())


def test_reward_above_policy_is_flagged() -> None:
    """The policy gives 300 ¢; a recorded 450 ¢ is flagged, a recorded 300 ¢ is not."""
    honest, inflated = uuid4(), uuid4()
    flags = above_policy([a_fact(honest), a_fact(inflated, amount_cents=Cents(450))])
    assert list(flags) == [inflated]
    assert "v3 gives $3.00" in flags[inflated][0].detail


def test_flag_anomalies_gathers_every_rule_per_shopper() -> None:
    """One shopper with two problems gets both flags."""
    shopper = uuid4()
    facts = [a_fact(shopper, has_position_proof=False, amount_cents=Cents(999))]
    flags = flag_anomalies(facts, [], AnomalyRules())
    assert {flag.code for flag in flags[shopper]} == {FlagCode.NO_POSITION_PROOF, FlagCode.ABOVE_POLICY}


def test_a_delivery_outside_the_period_but_behind_the_balance_is_still_judged_once() -> None:
    """A line pays the whole balance: a delivery earned after the period (unpaid) gets its own flags, and one
    in both lists is flagged once; comparisons with peers read the period only."""
    shopper = uuid4()
    in_both = a_fact(shopper, has_position_proof=False)
    after_the_period = a_fact(shopper, amount_cents=Cents(999), in_period=False)
    flags = flag_anomalies([in_both, in_both, after_the_period], [], AnomalyRules())
    assert sorted(flag.code for flag in flags[shopper]) == [FlagCode.ABOVE_POLICY, FlagCode.NO_POSITION_PROOF]


def test_the_peers_median_leaves_out_the_shopper_judged_as_a_copy_would() -> None:
    """The median of the others, read from one sorted list, equals the median of a copy without that shopper
    (odd and even counts, ties, the smallest and the largest)."""
    rng = random.Random(5)
    for _ in range(300):
        values = sorted(rng.randint(0, 20) for _ in range(rng.randint(2, 9)))
        taken = rng.choice(values)
        others = list(values)
        others.remove(taken)
        assert median_without(values, taken) == statistics.median(others)
