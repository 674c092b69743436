"""Reconciliation: the ledger, the payouts and the deliveries must tell the same story, to the cent.

A pure comparison of per-subject snapshots that the repository reads in one consistent transaction and hands
over as streams: one pass over each, so a ledger of millions of transactions is checked in bounded memory.
Every difference becomes a `Discrepancy`; an empty report means the books agree. Every credit to a shopper must
have a record behind it (a reward, a referral bonus of a reward, or the transaction it reverses), and every
reward must be what its recorded policy version gives for its recorded inputs and the earnings before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from crowdship.units import Cents, format_cents
from rewards.policy import EarningsSoFar, RewardInputs
from rewards.policy_versions import RewardPolicy
from rewards.pricing import compute_reward
from rewards.referrals import referral_commission

MAX_DISCREPANCIES_KEPT = 500
"""Listed in a report; the rest are counted. A thousand of one kind is one bug, not a thousand to read."""


class DiscrepancyKind(StrEnum):
    UNBALANCED_TRANSACTION = "unbalanced_transaction"
    BALANCE_NOT_SUM_OF_ENTRIES = "balance_not_sum_of_entries"
    NEGATIVE_SHOPPER_BALANCE = "negative_shopper_balance"
    UNEXPLAINED_CREDIT = "unexplained_credit"
    REVERSAL_NOT_MIRRORED = "reversal_not_mirrored"
    DELIVERED_WITHOUT_REWARD = "delivered_without_reward"
    REWARD_WITHOUT_DELIVERY = "reward_without_delivery"
    REWARD_NOT_IN_LEDGER = "reward_not_in_ledger"
    REWARD_NOT_AS_PRICED = "reward_not_as_priced"
    REFERRAL_BONUS_NOT_AS_PRICED = "referral_bonus_not_as_priced"
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
    balance_cents: int | None
    """The running balance kept on the account; None for company accounts, which keep none."""
    entries_sum_cents: int


@dataclass(frozen=True)
class TransactionSnapshot:
    id: UUID
    entries_sum_cents: int
    credits_shoppers: bool
    """Some shopper ends up with more on their accounts."""
    has_source: bool
    """A reward names it (as its credit or its referral bonus), or it reverses another transaction."""
    mirrors_reversed: bool | None = None
    """For a reversal: its entries undo the reversed transaction's, account by account."""


@dataclass(frozen=True)
class PricedFrom:
    """What a reward was priced from, as recorded with it: pricing it again must give its amount."""

    policy_id: UUID
    inputs: RewardInputs
    earned_before: EarningsSoFar


@dataclass(frozen=True)
class RewardSnapshot:
    """A delivered order, a reward, or both (joined on the order)."""

    order_id: UUID
    delivered: bool
    amount_cents: int | None
    """None: no reward was recorded for the order."""
    credited_cents: int = 0
    """What the reward's transaction put on the rewarded shopper's account its payment method names (cash
    payable for cash, store credit for store credit)."""
    credited_elsewhere_cents: int = 0
    """What its transaction put on anyone else's, and its referral bonus on anyone but the referrer."""
    reversed: bool = False
    priced_from: PricedFrom | None = None
    """None: no reward, or none to price again (a snapshot made without it)."""
    referral_bonus_cents: int = 0
    """What its referral bonus put on the referrer (0: it paid none)."""
    credited_other_account_cents: int = 0
    """What the reward's transaction put on the rewarded shopper's other account: cash credited as store credit,
    or the other way round."""


@dataclass(frozen=True)
class PayoutLineSnapshot:
    """A payout line marked paid, or one that payout transactions name, or both."""

    line_id: UUID
    paid_cents: int | None
    """None: the line is not marked paid (held, or in a batch that was not paid)."""
    debited_cents: int
    """What payout transactions took from shopper accounts for it."""


@dataclass(frozen=True)
class ReconciliationData:
    accounts: Iterable[AccountSnapshot]
    transactions: Iterable[TransactionSnapshot]
    rewards: Iterable[RewardSnapshot]
    payout_lines: Iterable[PayoutLineSnapshot]


@dataclass(frozen=True)
class ReconciliationReport:
    discrepancies: tuple[Discrepancy, ...] = field(default=())
    """The first `MAX_DISCREPANCIES_KEPT` found."""
    discrepancy_count: int = 0
    accounts_checked: int = 0
    transactions_checked: int = 0
    rewards_checked: int = 0
    paid_lines_checked: int = 0

    @property
    def agrees(self) -> bool:
        return self.discrepancy_count == 0


class _Findings:
    def __init__(self) -> None:
        self.kept: list[Discrepancy] = []
        self.count = 0

    def add(self, kind: DiscrepancyKind, subject_id: UUID, detail: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_DISCREPANCIES_KEPT:
            self.kept.append(Discrepancy(kind, subject_id, detail))


def _cents(amount: int) -> str:
    return format_cents(Cents(amount))


def reconcile(data: ReconciliationData, policies: Mapping[UUID, RewardPolicy] | None = None) -> ReconciliationReport:
    """`policies` by id, every version a reward may name: each reward is priced again with its own (a reward
    naming one not given is not priced)."""
    found = _Findings()
    by_id = policies or {}
    accounts = transactions = rewards = paid_lines = 0
    for account in data.accounts:
        accounts += 1
        _check_account(account, found)
    for transaction in data.transactions:
        transactions += 1
        _check_transaction(transaction, found)
    for reward in data.rewards:
        rewards += _check_reward(reward, found)
        _check_price(reward, by_id, found)
    for line in data.payout_lines:
        paid_lines += _check_payout_line(line, found)
    return ReconciliationReport(
        discrepancies=tuple(found.kept),
        discrepancy_count=found.count,
        accounts_checked=accounts,
        transactions_checked=transactions,
        rewards_checked=rewards,
        paid_lines_checked=paid_lines,
    )


def _check_account(account: AccountSnapshot, found: _Findings) -> None:
    total = account.entries_sum_cents
    if account.balance_cents is not None and account.balance_cents != total:
        found.add(
            DiscrepancyKind.BALANCE_NOT_SUM_OF_ENTRIES,
            account.id,
            f"balance {_cents(account.balance_cents)}, entries sum to {_cents(total)}",
        )
    if account.is_shopper_account and total < 0:
        found.add(DiscrepancyKind.NEGATIVE_SHOPPER_BALANCE, account.id, f"entries sum to {_cents(total)}")


def _check_transaction(transaction: TransactionSnapshot, found: _Findings) -> None:
    if transaction.entries_sum_cents != 0:
        found.add(
            DiscrepancyKind.UNBALANCED_TRANSACTION,
            transaction.id,
            f"entries sum to {_cents(transaction.entries_sum_cents)}",
        )
    if transaction.credits_shoppers and not transaction.has_source:
        found.add(
            DiscrepancyKind.UNEXPLAINED_CREDIT,
            transaction.id,
            "credits a shopper with no reward, referral or reversed transaction behind it",
        )
    if transaction.mirrors_reversed is False:
        found.add(
            DiscrepancyKind.REVERSAL_NOT_MIRRORED,
            transaction.id,
            "does not undo the transaction it reverses, account by account",
        )


def _check_reward(reward: RewardSnapshot, found: _Findings) -> bool:
    """Checks the order and its reward; true when there was a reward to check."""
    if reward.amount_cents is None:
        found.add(DiscrepancyKind.DELIVERED_WITHOUT_REWARD, reward.order_id, "delivered, never rewarded")
        return False
    # A reward reversed after a dispute still accounts for its delivery: the correction is on the books.
    if not reward.delivered and not reward.reversed:
        found.add(DiscrepancyKind.REWARD_WITHOUT_DELIVERY, reward.order_id, "rewarded, not delivered")
    if (
        reward.credited_cents != reward.amount_cents
        or reward.credited_elsewhere_cents
        or reward.credited_other_account_cents
    ):
        elsewhere = (
            f", and {_cents(reward.credited_other_account_cents)} to the shopper's account of the other payment method"
            if reward.credited_other_account_cents
            else ""
        ) + (
            f", and {_cents(reward.credited_elsewhere_cents)} to other shoppers"
            if reward.credited_elsewhere_cents
            else ""
        )
        found.add(
            DiscrepancyKind.REWARD_NOT_IN_LEDGER,
            reward.order_id,
            f"reward of {_cents(reward.amount_cents)}, ledger credited {_cents(reward.credited_cents)}{elsewhere}",
        )
    return True


def _check_price(reward: RewardSnapshot, policies: Mapping[UUID, RewardPolicy], found: _Findings) -> None:
    """The amount is what the reward's recorded policy version gives for its recorded inputs and earnings before
    it (caps and ceiling included): the ledger may agree with a reward that was credited more, or less, than its
    policy allows, and only pricing it again shows it."""
    priced = reward.priced_from
    if reward.amount_cents is None or priced is None or (policy := policies.get(priced.policy_id)) is None:
        return
    quote = compute_reward(policy, priced.inputs, priced.earned_before, explained=False)
    if reward.amount_cents != quote.amount_cents:
        found.add(
            DiscrepancyKind.REWARD_NOT_AS_PRICED,
            reward.order_id,
            f"reward of {_cents(reward.amount_cents)}, policy v{policy.version} gives {_cents(quote.amount_cents)} "
            "for its recorded inputs",
        )
    # A bonus is paid only on the referred shopper's first deliveries, and then it is the policy's share of the
    # cash value: one paid is that share, whichever delivery it was.
    share = referral_commission(policy.parameters, quote.cash_value_cents, 1)
    if reward.referral_bonus_cents and reward.referral_bonus_cents != share:
        found.add(
            DiscrepancyKind.REFERRAL_BONUS_NOT_AS_PRICED,
            reward.order_id,
            f"referral bonus of {_cents(reward.referral_bonus_cents)}, policy v{policy.version} gives "
            f"{_cents(share)} on a cash value of {_cents(quote.cash_value_cents)}",
        )


def _check_payout_line(line: PayoutLineSnapshot, found: _Findings) -> bool:
    """Checks a line against the ledger; true when the line is marked paid."""
    if line.paid_cents is None:
        found.add(
            DiscrepancyKind.PAYOUT_WITHOUT_PAID_LINE,
            line.line_id,
            f"ledger paid {_cents(line.debited_cents)} for a line not marked paid",
        )
        return False
    if line.debited_cents != line.paid_cents:
        found.add(
            DiscrepancyKind.PAID_LINE_NOT_IN_LEDGER,
            line.line_id,
            f"line pays {_cents(line.paid_cents)}, ledger moved {_cents(line.debited_cents)}",
        )
    return True
