"""A reward policy's parameters as the Policies page and the audit log say them: a share as a percentage of
the reward it is taken from (never basis points), distances and durations with their units."""

from __future__ import annotations

from api.console.audit_words import Detail, details_in_words
from api.console.policy_words import LABELS, shown


def test_the_referral_commission_reads_as_a_percentage_of_the_referred_shoppers_reward() -> None:
    assert shown("referral_commission_bps", 750) == "7.5% of the new shopper's reward"
    assert shown("referral_commission_bps", 1_000) == "10% of the new shopper's reward"
    assert shown("referral_commission_bps", 5) == "0.05% of the new shopper's reward"
    assert shown("referral_commission_bps", 0) == "none"
    assert "basis points" not in LABELS["referral_commission_bps"]


def test_distance_and_time_included_carry_their_units() -> None:
    assert shown("included_distance_m", 500) == "500 m"
    assert shown("included_duration_s", 120) == "120 s"
    assert "(m)" not in LABELS["included_distance_m"]
    assert "(s)" not in LABELS["included_duration_s"]


def test_the_audit_log_says_a_proposed_commission_in_percent() -> None:
    parameters = {"referral_commission_bps": 750, "included_distance_m": 500}
    (folded,) = details_in_words("policy.proposed", {"version": 2, "parameters": parameters})[1:]
    assert Detail("Referral commission", "7.5% of the new shopper's reward") in folded.parts
    assert Detail("Distance included", "500 m") in folded.parts
