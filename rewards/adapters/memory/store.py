"""The rows of rewards in memory, beside dispatch's (`MemoryDispatchDatabase`): one journal of undos for both,
so that a delivery and its reward are kept together or not at all, as in one PostgreSQL transaction.

Reads return copies; results come back in the PostgreSQL adapter's order. The database's own rules (a
reward per order, one open payout line per shopper, a reversal per transaction, a decision per policy version
by someone other than its author) are kept here too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from crowdship.errors import NotFound
from crowdship.idempotency import StoredResult
from crowdship.units import Cents
from dispatch.adapters.memory import MemoryDispatchDatabase
from dispatch.model import TrustTier
from rewards.ledger import Account, AccountKind, AlreadyReversed, LedgerTransaction
from rewards.payouts import PayoutBatch
from rewards.policy_versions import PolicyAlreadyDecided, PolicyAuthorCannotDecide, RewardPolicy
from rewards.records import (
    AuditEntry,
    EarnedElsewhere,
    NoPolicyInForce,
    PaymentMethodChoice,
    PolicyVersionTaken,
    RewardRecord,
)
from rewards.referrals import Referral


@dataclass(frozen=True)
class StoredEntry:
    id: int
    transaction_id: UUID
    account_id: UUID
    amount_cents: int


@dataclass
class MemoryRewardsDatabase:
    dispatch: MemoryDispatchDatabase
    policies: dict[int, RewardPolicy] = field(default_factory=dict)
    accounts: dict[UUID, tuple[AccountKind, UUID | None]] = field(default_factory=dict)
    shopper_account_ids: dict[tuple[UUID, AccountKind], UUID] = field(default_factory=dict)
    company_account_ids: dict[AccountKind, UUID] = field(default_factory=dict)
    balances: dict[UUID, int] = field(default_factory=dict)
    transactions: dict[UUID, LedgerTransaction] = field(default_factory=dict)
    entries: list[StoredEntry] = field(default_factory=list)
    reversal_of: dict[UUID, UUID] = field(default_factory=dict)
    rewards: dict[UUID, RewardRecord] = field(default_factory=dict)
    reward_of_order: dict[UUID, UUID] = field(default_factory=dict)
    referrals: dict[UUID, Referral] = field(default_factory=dict)
    delivery_tiers: dict[UUID, TrustTier] = field(default_factory=dict)
    batches: dict[UUID, PayoutBatch] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    choices: list[PaymentMethodChoice] = field(default_factory=list)
    idempotency: dict[tuple[str, str], StoredResult] = field(default_factory=dict)
    earned_elsewhere: list[EarnedElsewhere] = field(default_factory=list)
    """Rewards earned outside this ledger that the caps count (a replayed day's shoppers' at other stores)."""

    def record(self, undo: Callable[[], None]) -> None:
        self.dispatch.record(undo)

    # -- helpers shared by the repositories ---------------------------------------------------------------

    def put(self, rows: dict[Any, Any], key: Any, value: Any) -> None:
        """Sets a row, leaving the undo that puts back what was there (or removes it)."""
        missing = object()
        before = rows.get(key, missing)
        rows[key] = value

        def undo() -> None:
            if before is missing:
                rows.pop(key, None)
            else:
                rows[key] = before

        self.record(undo)

    def append(self, rows: list[Any], value: Any) -> None:
        rows.append(value)
        self.record(rows.pop)

    def account(self, account_id: UUID) -> Account:
        try:
            kind, shopper_id = self.accounts[account_id]
        except KeyError:
            raise NotFound(f"account {account_id} not found") from None
        balance = None if shopper_id is None else Cents(self.balances.get(account_id, 0))
        return Account(account_id, kind, shopper_id, balance)

    def open_account(self, kind: AccountKind, shopper_id: UUID | None) -> UUID:
        account_id = uuid4()
        self.put(self.accounts, account_id, (kind, shopper_id))
        self.put(self.balances, account_id, 0)
        if shopper_id is None:
            self.put(self.company_account_ids, kind, account_id)
        else:
            self.put(self.shopper_account_ids, (shopper_id, kind), account_id)
        return account_id

    def post(self, transaction: LedgerTransaction) -> None:
        if transaction.reverses_id is not None:
            if transaction.reverses_id in self.reversal_of:
                raise AlreadyReversed(transaction.reverses_id)
            self.put(self.reversal_of, transaction.reverses_id, transaction.id)
        self.put(self.transactions, transaction.id, transaction)
        for entry in transaction.entries:
            if entry.account_id not in self.accounts:
                raise NotFound(f"account {entry.account_id} not found")
            self.append(
                self.entries, StoredEntry(len(self.entries) + 1, transaction.id, entry.account_id, entry.amount_cents)
            )
            self.put(self.balances, entry.account_id, self.balances.get(entry.account_id, 0) + entry.amount_cents)

    def reversed(self, transaction_id: UUID | None) -> bool:
        return transaction_id is not None and transaction_id in self.reversal_of

    def add_policy(self, policy: RewardPolicy) -> None:
        if policy.version in self.policies:
            raise PolicyVersionTaken(f"policy version {policy.version} exists; retry")
        self.put(self.policies, policy.version, policy)

    def decide_policy(self, policy: RewardPolicy) -> None:
        stored = self.policies.get(policy.version)
        if stored is None:
            raise NotFound(f"reward policy version {policy.version} not found")
        if stored.decision is not None:
            raise PolicyAlreadyDecided(policy.version, stored.decision.status)
        if policy.decision is None or policy.decision.decided_by == stored.created_by:
            raise PolicyAuthorCannotDecide(policy.version)
        self.put(self.policies, policy.version, replace(stored, decision=policy.decision))

    def policy_in_force_at(self, instant: datetime) -> RewardPolicy:
        approved = [
            policy
            for policy in self.policies.values()
            if (start := policy.in_force_from) is not None and start <= instant
        ]
        if not approved:
            raise NoPolicyInForce(
                f"no reward policy was in force at {instant.isoformat()}; one must be proposed and approved"
            )
        return max(approved, key=lambda policy: (policy.in_force_from, policy.version))

    def batch(self, batch_id: UUID) -> PayoutBatch:
        try:
            return copy.deepcopy(self.batches[batch_id])
        except KeyError:
            raise NotFound(f"payout batch {batch_id} not found") from None


class MemoryRepository:
    """What every in-memory rewards repository stands on: the rows."""

    def __init__(self, db: MemoryRewardsDatabase) -> None:
        self._db = db
