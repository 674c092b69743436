"""Reconciliation: the ledger, the payouts and the deliveries must tell the same story, to the cent.

A pure comparison of plain snapshots that the repository reads in one consistent transaction. Every
difference becomes a `Discrepancy`; an empty report means the books agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from crowdship.units import Cents


class DiscrepancyKind(StrEnum):
    UNBALANCED_TRANSACTION = "unbalanced_transaction"
    BALANCE_NOT_SUM_OF_ENTRIES = "balance_not_sum_of_entries"
    NEGATIVE_SHOPPER_BALANCE = "negative_shopper_balance"
    DELIVERED_WITHOUT_REWARD = "delivered_without_reward"
    REWARD_WITHOUT_DELIVERY = "reward_without_delivery"
    REWARD_NOT_IN_LEDGER = "reward_not_in_ledger"
    PAID_LINE_NOT_IN_LEDGER = "paid_line_not_in_ledger"
    PAYOUT_WITHOUT_PAID_LINE = "payout_without_paid_line"


@dataclass(frozen=True)
class Discrepancy:
    kind: DiscrepancyKind
    subject_id: UUID
    detail: str


@dataclass(frozen=True)
class AccountSnapshot:
    id: UUID
    is_shopper_account: bool
    balance_cents: int
    entries_sum_cents: int


@dataclass(frozen=True)
class RewardSnapshot:
    order_id: UUID
    amount_cents: int
    transaction_id: UUID | None
    reversed: bool


@dataclass(frozen=True)
class PaidLineSnapshot:
    line_id: UUID
    amount_cents: int


@dataclass(frozen=True)
class ReconciliationData:
    accounts: Sequence[AccountSnapshot]
    transaction_sums: Mapping[UUID, int]
    """Sum of entries per ledger transaction."""
    delivered_order_ids: frozenset[UUID]
    rewards: Sequence[RewardSnapshot]
    reward_credits: Mapping[UUID, int]
    """Per delivery-reward transaction: what it put on shopper accounts."""
    paid_lines: Sequence[PaidLineSnapshot]
    payout_debits: Mapping[UUID, int]
    """Per payout line with a ledger transaction: what it took from shopper accounts (positive)."""


@dataclass(frozen=True)
class ReconciliationReport:
    discrepancies: tuple[Discrepancy, ...] = field(default=())
    accounts_checked: int = 0
    transactions_checked: int = 0
    rewards_checked: int = 0
    paid_lines_checked: int = 0

    @property
    def agrees(self) -> bool:
        return not self.discrepancies


def reconcile(data: ReconciliationData) -> ReconciliationReport:
    found: list[Discrepancy] = []

    for transaction_id, total in data.transaction_sums.items():
        if total != 0:
            found.append(Discrepancy(DiscrepancyKind.UNBALANCED_TRANSACTION, transaction_id, f"entries sum to {total}"))
    for account in data.accounts:
        if account.balance_cents != account.entries_sum_cents:
            found.append(
                Discrepancy(
                    DiscrepancyKind.BALANCE_NOT_SUM_OF_ENTRIES,
                    account.id,
                    f"balance {account.balance_cents}, entries sum to {account.entries_sum_cents}",
                )
            )
        if account.is_shopper_account and account.entries_sum_cents < 0:
            found.append(
                Discrepancy(
                    DiscrepancyKind.NEGATIVE_SHOPPER_BALANCE, account.id, f"entries sum to {account.entries_sum_cents}"
                )
            )

    # A reward reversed after a dispute still accounts for its delivery: the correction is on the books.
    rewarded = {reward.order_id for reward in data.rewards}
    for order_id in sorted(data.delivered_order_ids - rewarded, key=str):
        found.append(Discrepancy(DiscrepancyKind.DELIVERED_WITHOUT_REWARD, order_id, "delivered, never rewarded"))
    for reward in data.rewards:
        if not reward.reversed and reward.order_id not in data.delivered_order_ids:
            found.append(
                Discrepancy(DiscrepancyKind.REWARD_WITHOUT_DELIVERY, reward.order_id, "rewarded, not delivered")
            )
        credited = 0 if reward.transaction_id is None else data.reward_credits.get(reward.transaction_id, 0)
        if credited != reward.amount_cents:
            found.append(
                Discrepancy(
                    DiscrepancyKind.REWARD_NOT_IN_LEDGER,
                    reward.order_id,
                    f"reward of {reward.amount_cents}, ledger credited {credited}",
                )
            )

    paid_line_ids = set()
    for line in data.paid_lines:
        paid_line_ids.add(line.line_id)
        debited = data.payout_debits.get(line.line_id, 0)
        if debited != line.amount_cents:
            found.append(
                Discrepancy(
                    DiscrepancyKind.PAID_LINE_NOT_IN_LEDGER,
                    line.line_id,
                    f"line pays {line.amount_cents}, ledger moved {debited}",
                )
            )
    for line_id in sorted(set(data.payout_debits) - paid_line_ids, key=str):
        found.append(
            Discrepancy(
                DiscrepancyKind.PAYOUT_WITHOUT_PAID_LINE,
                line_id,
                f"ledger paid {Cents(data.payout_debits[line_id])} for a line not marked paid",
            )
        )

    return ReconciliationReport(
        discrepancies=tuple(found),
        accounts_checked=len(data.accounts),
        transactions_checked=len(data.transaction_sums),
        rewards_checked=len(data.rewards),
        paid_lines_checked=len(data.paid_lines),
    )
