"""Reconciliation finds every kind of difference between ledger, payouts and deliveries, and no false ones."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from rewards.reconciliation import (
    AccountSnapshot,
    DiscrepancyKind,
    PaidLineSnapshot,
    ReconciliationData,
    RewardSnapshot,
    reconcile,
)

ORDER = uuid4()
REWARD_TX = uuid4()
LINE = uuid4()
SHOPPER_ACCOUNT = uuid4()


def consistent(**changes: Any) -> ReconciliationData:
    values: dict[str, Any] = {
        "accounts": [AccountSnapshot(SHOPPER_ACCOUNT, True, 0, 0), AccountSnapshot(uuid4(), False, -500, -500)],
        "transaction_sums": {REWARD_TX: 0, uuid4(): 0},
        "delivered_order_ids": frozenset({ORDER}),
        "rewards": [RewardSnapshot(ORDER, 500, REWARD_TX, reversed=False)],
        "reward_credits": {REWARD_TX: 500},
        "paid_lines": [PaidLineSnapshot(LINE, 500)],
        "payout_debits": {LINE: 500},
    }
    values.update(changes)
    return ReconciliationData(**values)


def kinds(data: ReconciliationData) -> list[DiscrepancyKind]:
    return [d.kind for d in reconcile(data).discrepancies]


def test_consistent_books_agree() -> None:
    """No difference, no discrepancy."""
    report = reconcile(consistent())
    assert report.agrees
    assert report.rewards_checked == 1


def test_each_planted_difference_is_found() -> None:
    """Every kind of mismatch shows up as its own discrepancy."""
    assert kinds(consistent(transaction_sums={REWARD_TX: 1})) == [DiscrepancyKind.UNBALANCED_TRANSACTION]
    assert kinds(consistent(accounts=[AccountSnapshot(SHOPPER_ACCOUNT, True, 7, 0)])) == [
        DiscrepancyKind.BALANCE_NOT_SUM_OF_ENTRIES
    ]
    assert kinds(consistent(accounts=[AccountSnapshot(SHOPPER_ACCOUNT, True, -1, -1)])) == [
        DiscrepancyKind.NEGATIVE_SHOPPER_BALANCE
    ]
    assert kinds(consistent(delivered_order_ids=frozenset({ORDER, uuid4()}))) == [
        DiscrepancyKind.DELIVERED_WITHOUT_REWARD
    ]
    assert kinds(consistent(delivered_order_ids=frozenset())) == [DiscrepancyKind.REWARD_WITHOUT_DELIVERY]
    assert kinds(consistent(reward_credits={REWARD_TX: 499})) == [DiscrepancyKind.REWARD_NOT_IN_LEDGER]
    assert kinds(consistent(payout_debits={})) == [DiscrepancyKind.PAID_LINE_NOT_IN_LEDGER]
    assert kinds(consistent(payout_debits={LINE: 500, uuid4(): 20})) == [DiscrepancyKind.PAYOUT_WITHOUT_PAID_LINE]


def test_a_reversed_reward_of_an_undelivered_order_is_not_a_difference() -> None:
    """A disputed delivery whose reward was reversed is consistent; without the reversal it would not be."""
    reversed_reward = RewardSnapshot(ORDER, 500, REWARD_TX, reversed=True)
    assert reconcile(consistent(delivered_order_ids=frozenset(), rewards=[reversed_reward])).agrees


def test_a_delivered_order_whose_reward_was_reversed_is_accounted_for() -> None:
    """A disputed delivery that stays delivered, with its reward reversed, is a correction, not a gap."""
    reversed_reward = RewardSnapshot(ORDER, 500, REWARD_TX, reversed=True)
    assert reconcile(consistent(rewards=[reversed_reward])).agrees
