"""Reconciliation finds every kind of difference between ledger, payouts and deliveries, and no false ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from dispatch.model import TrustTier
from rewards.policy import EarningsSoFar, PaymentMethod, PolicyParameters, RewardInputs
from rewards.policy_versions import RewardPolicy
from rewards.reconciliation import (
    MAX_DISCREPANCIES_KEPT,
    AccountSnapshot,
    DiscrepancyKind,
    PayoutLineSnapshot,
    PricedFrom,
    ReconciliationData,
    RewardSnapshot,
    TransactionSnapshot,
    reconcile,
)

ORDER = uuid4()
REWARD_TX = uuid4()
LINE = uuid4()
SHOPPER_ACCOUNT = uuid4()
REWARD = RewardSnapshot(ORDER, delivered=True, amount_cents=500, credited_cents=500)
CREDIT = TransactionSnapshot(REWARD_TX, 0, credits_shoppers=True, has_source=True)


def consistent(**changes: Any) -> ReconciliationData:
    values: dict[str, Any] = {
        "accounts": [AccountSnapshot(SHOPPER_ACCOUNT, True, 0, 0), AccountSnapshot(uuid4(), False, None, -500)],
        "transactions": [CREDIT, TransactionSnapshot(uuid4(), 0, credits_shoppers=False, has_source=False)],
        "rewards": [REWARD],
        "payout_lines": [PayoutLineSnapshot(LINE, 500, 500)],
    }
    values.update(changes)
    return ReconciliationData(**values)


def kinds(data: ReconciliationData) -> list[DiscrepancyKind]:
    return [d.kind for d in reconcile(data).discrepancies]


def test_consistent_books_agree() -> None:
    report = reconcile(consistent())
    assert report.agrees
    assert (report.accounts_checked, report.transactions_checked) == (2, 2)
    assert (report.rewards_checked, report.paid_lines_checked) == (1, 1)


def test_each_planted_difference_is_found() -> None:
    """Every kind of mismatch shows up as its own discrepancy."""
    assert kinds(consistent(transactions=[replace(CREDIT, entries_sum_cents=1)])) == [
        DiscrepancyKind.UNBALANCED_TRANSACTION
    ]
    assert kinds(consistent(accounts=[AccountSnapshot(SHOPPER_ACCOUNT, True, 7, 0)])) == [
        DiscrepancyKind.BALANCE_NOT_SUM_OF_ENTRIES
    ]
    assert kinds(consistent(accounts=[AccountSnapshot(SHOPPER_ACCOUNT, True, -1, -1)])) == [
        DiscrepancyKind.NEGATIVE_SHOPPER_BALANCE
    ]
    assert kinds(consistent(transactions=[replace(CREDIT, has_source=False)])) == [DiscrepancyKind.UNEXPLAINED_CREDIT]
    assert kinds(consistent(transactions=[replace(CREDIT, mirrors_reversed=False)])) == [
        DiscrepancyKind.REVERSAL_NOT_MIRRORED
    ]
    assert kinds(consistent(rewards=[REWARD, RewardSnapshot(uuid4(), True, None)])) == [
        DiscrepancyKind.DELIVERED_WITHOUT_REWARD
    ]
    assert kinds(consistent(rewards=[replace(REWARD, delivered=False)])) == [DiscrepancyKind.REWARD_WITHOUT_DELIVERY]
    assert kinds(consistent(rewards=[replace(REWARD, credited_cents=499)])) == [DiscrepancyKind.REWARD_NOT_IN_LEDGER]
    assert kinds(consistent(payout_lines=[PayoutLineSnapshot(LINE, 500, 0)])) == [
        DiscrepancyKind.PAID_LINE_NOT_IN_LEDGER
    ]
    assert kinds(
        consistent(payout_lines=[PayoutLineSnapshot(LINE, 500, 500), PayoutLineSnapshot(uuid4(), None, 20)])
    ) == [DiscrepancyKind.PAYOUT_WITHOUT_PAID_LINE]


def test_a_reward_credited_in_full_but_partly_to_someone_else_is_a_difference() -> None:
    """The right amount on the rewarded shopper is not enough: a referral bonus (or a part of the credit) that
    landed on another shopper's account is told, with how much."""
    [found] = reconcile(consistent(rewards=[replace(REWARD, credited_elsewhere_cents=120)])).discrepancies
    assert found.kind is DiscrepancyKind.REWARD_NOT_IN_LEDGER
    assert found.detail == "reward of 5.00, ledger credited 5.00, and 1.20 to other shoppers"


def test_a_company_account_keeps_no_balance_to_compare() -> None:
    """Company accounts may go negative and keep no running balance: only their entries are read."""
    assert reconcile(consistent(accounts=[AccountSnapshot(uuid4(), False, None, -9_999)])).agrees


def test_a_reversed_reward_of_an_undelivered_order_is_not_a_difference() -> None:
    """A disputed delivery whose reward was reversed is consistent; without the reversal it would not be."""
    assert reconcile(consistent(rewards=[replace(REWARD, delivered=False, reversed=True)])).agrees


def test_a_delivered_order_whose_reward_was_reversed_is_accounted_for() -> None:
    """A disputed delivery that stays delivered, with its reward reversed, is a correction, not a gap."""
    assert reconcile(consistent(rewards=[replace(REWARD, reversed=True)])).agrees


def test_the_streams_are_read_once_and_a_flood_of_differences_is_counted_not_all_kept() -> None:
    """A systematic fault (every transaction unbalanced) is counted in full while the report keeps a bounded
    list; each stream is consumed in one pass, so the repository can hand over cursors."""
    flood = 3 * MAX_DISCREPANCIES_KEPT

    def unbalanced() -> Iterator[TransactionSnapshot]:
        for _ in range(flood):
            yield TransactionSnapshot(uuid4(), 1, credits_shoppers=False, has_source=False)

    report = reconcile(consistent(transactions=unbalanced()))
    assert report.discrepancy_count == flood
    assert len(report.discrepancies) == MAX_DISCREPANCIES_KEPT
    assert report.transactions_checked == flood
    assert not report.agrees


def test_a_reward_not_what_its_policy_gives_for_its_recorded_inputs_is_a_difference() -> None:
    """Pricing the reward again from its recorded policy, inputs and earnings before it: 1 cent more or less
    than that is a difference even when the ledger credited exactly the reward; a policy not given is not priced."""
    parameters = PolicyParameters(
        base_cents=500, per_extra_km_cents=0, per_extra_minute_cents=0, per_bag_cents=0, minimum_cents=0
    )
    policy = RewardPolicy(
        version=1, parameters=parameters, created_by=uuid4(), created_at=datetime(2026, 12, 1, tzinfo=UTC)
    )
    priced = PricedFrom(policy.id, RewardInputs(0, 0, 1, 12, TrustTier.NEW, PaymentMethod.CASH), EarningsSoFar())
    as_priced = replace(REWARD, priced_from=priced)
    assert reconcile(consistent(rewards=[as_priced]), {policy.id: policy}).agrees
    for amount in (499, 501):
        wrong = replace(as_priced, amount_cents=amount, credited_cents=amount)
        report = reconcile(consistent(rewards=[wrong]), {policy.id: policy})
        assert [(d.kind, d.detail) for d in report.discrepancies] == [
            (DiscrepancyKind.REWARD_NOT_AS_PRICED, f"reward of {amount // 100}.{amount % 100:02d}, policy v1 gives "
             "5.00 for its recorded inputs")
        ]  # fmt: skip
    assert reconcile(consistent(rewards=[replace(as_priced, amount_cents=499, credited_cents=499)])).agrees


def test_a_referral_bonus_not_the_policys_share_of_the_cash_value_is_a_difference() -> None:
    """10 % of a 5.00 reward is 0.50 on the referrer; 0.51 is a difference, as is any bonus under a policy paying
    none; no bonus at all is none (the referred shopper was past their first deliveries)."""
    parameters = PolicyParameters(
        base_cents=500, per_extra_km_cents=0, per_extra_minute_cents=0, per_bag_cents=0, minimum_cents=0,
        referral_commission_bps=1_000, referral_first_deliveries=1,
    )  # fmt: skip
    policy = RewardPolicy(
        version=2, parameters=parameters, created_by=uuid4(), created_at=datetime(2026, 12, 1, tzinfo=UTC)
    )
    priced = PricedFrom(policy.id, RewardInputs(0, 0, 1, 12, TrustTier.NEW, PaymentMethod.CASH), EarningsSoFar())
    policies = {policy.id: policy}
    for bonus in (0, 50):
        assert reconcile(
            consistent(rewards=[replace(REWARD, priced_from=priced, referral_bonus_cents=bonus)]), policies
        ).agrees
    report = reconcile(consistent(rewards=[replace(REWARD, priced_from=priced, referral_bonus_cents=51)]), policies)
    detail = "referral bonus of 0.51, policy v2 gives 0.50 on a cash value of 5.00"
    assert [(d.kind, d.detail) for d in report.discrepancies] == [
        (DiscrepancyKind.REFERRAL_BONUS_NOT_AS_PRICED, detail)
    ]


def test_a_reward_credited_to_the_shoppers_account_of_the_other_payment_method_is_a_difference() -> None:
    """Cash credited as store credit (or the other way round) is on the right shopper, in the right amount, yet
    not the money earned: the report says where it went."""
    misrouted = replace(REWARD, credited_cents=0, credited_other_account_cents=500)
    assert [(d.kind, d.detail) for d in reconcile(consistent(rewards=[misrouted])).discrepancies] == [
        (
            DiscrepancyKind.REWARD_NOT_IN_LEDGER,
            "reward of 5.00, ledger credited 0.00, and 5.00 to the shopper's account of the other payment method",
        )
    ]
