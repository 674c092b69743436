"""The audit log as the console says it: actions and subjects in words, changes as before → after, money in
dollars, empty values left out, long lists summarised."""

from __future__ import annotations

from api.console.audit_words import Detail, action_words, details_in_words, subject_words

EVENING_PEAK = [10_000] * 17 + [12_000] * 3 + [10_000] * 4


def test_known_actions_and_subjects_are_said_in_words() -> None:
    assert action_words("batch.prepared") == "Payout batch prepared"
    assert action_words("shopper.changed") == "Shopper changed"
    assert subject_words("payout_batch") == "Payout batch"


def test_an_unknown_code_falls_back_to_plain_words() -> None:
    assert action_words("coupon.was_issued") == "Coupon was issued"
    assert subject_words("gift_card") == "Gift card"


def test_a_change_reads_before_then_after() -> None:
    said = details_in_words("shopper.changed", {"trust_tier": {"after": "new", "before": "gold"}})
    assert said == [Detail("Trust tier", "Gold → New")]
    assert details_in_words("payment_method.changed", {"before": "cash", "after": "store_credit"}) == [
        Detail("Payment method", "cash → store credit")
    ]


def test_cents_read_as_money_and_empty_values_are_left_out() -> None:
    said = details_in_words("policy.approved", {"amount_cents": 300, "reason": "", "version": 2, "note": None})
    assert said == [Detail("Amount", "$3.00"), Detail("Version", "2")]


def test_a_free_text_reason_keeps_its_underscores() -> None:
    assert details_in_words("line.held", {"reason": "see ticket FIN_22"}) == [Detail("Reason", "see ticket FIN_22")]


def test_an_hourly_multiplier_list_says_only_the_hours_that_differ() -> None:
    parameters = {"base_cents": 300, "peak_multiplier_bps": EVENING_PEAK, "timezone": "America/New_York"}
    (folded,) = details_in_words("policy.proposed", {"version": 2, "parameters": parameters})[1:]
    assert folded.label == "Parameters"
    assert Detail("Peak multiplier by local hour", "17:00 x1.20, 18:00 x1.20, 19:00 x1.20") in folded.parts
    assert Detail("Base", "$3.00") in folded.parts


def test_a_long_list_of_unknown_meaning_is_told_by_its_length() -> None:
    assert details_in_words("coupon.issued", {"samples": list(range(24))}) == [Detail("Samples", "24 hourly values")]
