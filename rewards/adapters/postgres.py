"""Rewards repositories on PostgreSQL, all on one connection so that they share the caller's transaction.

`RewardsRepositories(connection)` attaches to any open connection (e.g. a dispatch unit of work's, to credit
a reward in the same transaction as the delivery); `PostgresRewardsUnitOfWork` opens a transaction of its
own. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from crowdship.db import Repository, Row, UnitOfWork
from crowdship.errors import DomainError, NotFound
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresShopperRepository
from rewards.ledger import (
    Account,
    AccountKind,
    AlreadyReversed,
    Entry,
    LedgerTransaction,
    TransactionKind,
)
from rewards.payouts import (
    AnomalyFlag,
    BatchStatus,
    DeliveryFact,
    LocationSample,
    PayoutBatch,
    PayoutLine,
)
from rewards.policy import (
    EarningsSoFar,
    PaymentMethod,
    PolicyAlreadyDecided,
    PolicyDecision,
    PolicyParameters,
    PolicyStatus,
    RewardInputs,
    RewardPolicy,
)
from rewards.reconciliation import (
    AccountSnapshot,
    PaidLineSnapshot,
    ReconciliationData,
    RewardSnapshot,
)
from rewards.referrals import Referral
from rewards.tiers import ShopperRecord
from routing.geo import GeoPoint

# --------------------------------------------------------------------------------------------------


class PolicyVersionTaken(DomainError):
    kind = "conflict"


class NoPolicyInForce(DomainError):
    """Nothing can be priced or credited before ops publish a reward policy."""

    kind = "conflict"


class PostgresPolicyRepository(Repository):
    _SELECT = """
        SELECT p.id, p.version, p.parameters, p.created_by, p.created_at, p.note,
               d.decision, d.decided_by, d.decided_at, d.reason
        FROM reward_policies p LEFT JOIN reward_policy_decisions d ON d.policy_id = p.id"""

    def next_version(self) -> int:
        row = self._one_or_none("SELECT coalesce(max(version), 0) + 1 AS next FROM reward_policies", ())
        assert row is not None
        return int(row["next"])

    def add(self, policy: RewardPolicy) -> None:
        with self._refusing_duplicates(lambda: PolicyVersionTaken(f"policy version {policy.version} exists; retry")):
            self._execute(
                """INSERT INTO reward_policies (id, version, parameters, created_by, created_at, note)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    policy.id,
                    policy.version,
                    Jsonb(policy.parameters.to_json()),
                    policy.created_by,
                    policy.created_at,
                    policy.note,
                ),
            )

    def decide(self, policy: RewardPolicy) -> None:
        """Records the decision of `policy` (the database refuses one by its author, or a second one)."""
        decision = policy.decision
        assert decision is not None
        with self._refusing_duplicates(lambda: PolicyAlreadyDecided(policy.version, decision.status)):
            self._execute(
                """INSERT INTO reward_policy_decisions (policy_id, decision, decided_by, decided_at, reason)
                   VALUES (%s, %s, %s, %s, %s)""",
                (policy.id, decision.status.value, decision.decided_by, decision.decided_at, decision.reason),
            )

    def get_version(self, version: int, *, for_update: bool = False) -> RewardPolicy:
        lock = " FOR UPDATE OF p" if for_update else ""
        row = self._one_or_none(f"{self._SELECT} WHERE p.version = %s{lock}", (version,))
        if row is None:
            raise NotFound(f"reward policy version {version} not found")
        return self._policy(row)

    def get(self, policy_id: UUID) -> RewardPolicy:
        row = self._one_or_none(f"{self._SELECT} WHERE p.id = %s", (policy_id,))
        if row is None:
            raise NotFound(f"reward policy {policy_id} not found")
        return self._policy(row)

    def latest(self) -> RewardPolicy:
        row = self._one_or_none(f"{self._SELECT} ORDER BY p.version DESC LIMIT 1", ())
        if row is None:
            raise NotFound("no reward policy has been created yet")
        return self._policy(row)

    def in_force_at(self, instant: datetime) -> RewardPolicy:
        """The version approved last at or before `instant`: what an offer made then was priced with."""
        row = self._one_or_none(
            f"""{self._SELECT} WHERE d.decision = 'approved' AND d.decided_at <= %s
                ORDER BY d.decided_at DESC, p.version DESC LIMIT 1""",
            (instant,),
        )
        if row is None:
            raise NoPolicyInForce(
                f"no reward policy was in force at {instant.isoformat()}; one must be proposed and approved"
            )
        return self._policy(row)

    def list(self) -> list[RewardPolicy]:
        return [self._policy(row) for row in self._all(f"{self._SELECT} ORDER BY p.version", ())]

    @staticmethod
    def _policy(row: Row) -> RewardPolicy:
        return RewardPolicy(
            id=row["id"],
            version=row["version"],
            parameters=PolicyParameters.from_json(row["parameters"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            note=row["note"],
            decision=None
            if row["decision"] is None
            else PolicyDecision(PolicyStatus(row["decision"]), row["decided_by"], row["decided_at"], row["reason"]),
        )


# --------------------------------------------------------------------------------------------------


class PostgresLedgerRepository(Repository):
    # Company accounts keep no running balance: theirs is summed from their entries when read.
    _ACCOUNT = """
        SELECT a.id, a.kind, a.shopper_id,
               coalesce(a.balance_cents,
                        (SELECT coalesce(sum(e.amount_cents), 0) FROM ledger_entries e WHERE e.account_id = a.id))
                   AS balance_cents
        FROM ledger_accounts a"""

    def shopper_accounts(self, shopper_id: UUID) -> dict[AccountKind, Account]:
        """The shopper's accounts, opened on first use."""
        with self._connection.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO ledger_accounts (id, shopper_id, kind, allow_negative, balance_cents)
                   VALUES (%s, %s, %s, false, 0)
                   ON CONFLICT (shopper_id, kind) WHERE shopper_id IS NOT NULL DO NOTHING""",
                [(uuid4(), shopper_id, kind.value) for kind in (AccountKind.STORE_CREDIT, AccountKind.CASH_PAYABLE)],
            )
        rows = self._all(f"{self._ACCOUNT} WHERE a.shopper_id = %s", (shopper_id,))
        return {AccountKind(row["kind"]): self._account(row) for row in rows}

    def company_account(self, kind: AccountKind) -> Account:
        if kind.belongs_to_shopper:
            raise ValueError(f"{kind} is a shopper account")
        self._execute(
            """INSERT INTO ledger_accounts (id, shopper_id, kind, allow_negative) VALUES (%s, NULL, %s, true)
               ON CONFLICT (kind) WHERE shopper_id IS NULL DO NOTHING""",
            (uuid4(), kind.value),
        )
        row = self._one_or_none(f"{self._ACCOUNT} WHERE a.shopper_id IS NULL AND a.kind = %s", (kind.value,))
        assert row is not None
        return self._account(row)

    def get_account(self, account_id: UUID) -> Account:
        row = self._one_or_none(f"{self._ACCOUNT} WHERE a.id = %s", (account_id,))
        if row is None:
            raise NotFound(f"account {account_id} not found")
        return self._account(row)

    def lock(self, account_ids: Iterable[UUID]) -> dict[UUID, Account]:
        """Locks the shopper accounts among these in id order (one order for everyone, so no deadlocks) and
        reads every balance. Company accounts are not locked: they may go negative, so nothing is checked.
        """
        ids = sorted(set(account_ids))
        self._execute(
            "SELECT id FROM ledger_accounts WHERE id = ANY(%s) AND NOT allow_negative ORDER BY id FOR UPDATE", (ids,)
        )
        rows = self._all(f"{self._ACCOUNT} WHERE a.id = ANY(%s)", (ids,))
        if len(rows) != len(ids):
            raise NotFound("an account of the transaction does not exist")
        return {row["id"]: self._account(row) for row in rows}

    def post(self, transaction: LedgerTransaction) -> None:
        """Writes a transaction and its entries; the caller has locked and checked the accounts."""
        try:
            with self._connection.transaction():
                self._execute(
                    """INSERT INTO ledger_transactions (id, kind, description, created_at, actor_id, order_id,
                           payout_line_id, reverses_id)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    (
                        transaction.id,
                        transaction.kind.value,
                        transaction.description,
                        transaction.created_at,
                        transaction.actor_id,
                        transaction.order_id,
                        transaction.payout_line_id,
                        transaction.reverses_id,
                    ),
                )
                with self._connection.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO ledger_entries (transaction_id, account_id, amount_cents) VALUES (%s, %s, %s)",
                        [(transaction.id, entry.account_id, entry.amount_cents) for entry in transaction.entries],
                    )
        except psycopg.errors.UniqueViolation as error:
            constraint = error.diag.constraint_name or ""
            if "reverses_id" in constraint and transaction.reverses_id is not None:
                raise AlreadyReversed(transaction.reverses_id) from error
            raise

    def get_transaction(self, transaction_id: UUID) -> LedgerTransaction:
        row = self._one_or_none(
            """SELECT t.*, array(SELECT ARRAY[e.account_id::text, e.amount_cents::text] FROM ledger_entries e
                                 WHERE e.transaction_id = t.id ORDER BY e.id) AS entry_pairs
               FROM ledger_transactions t WHERE t.id = %s""",
            (transaction_id,),
        )
        if row is None:
            raise NotFound(f"ledger transaction {transaction_id} not found")
        return LedgerTransaction(
            id=row["id"],
            kind=TransactionKind(row["kind"]),
            description=row["description"],
            created_at=row["created_at"],
            entries=tuple(Entry(UUID(account), Cents(int(amount))) for account, amount in row["entry_pairs"]),
            actor_id=row["actor_id"],
            order_id=row["order_id"],
            payout_line_id=row["payout_line_id"],
            reverses_id=row["reverses_id"],
        )

    def reversal_of(self, transaction_id: UUID) -> UUID | None:
        row = self._one_or_none("SELECT id FROM ledger_transactions WHERE reverses_id = %s", (transaction_id,))
        return None if row is None else row["id"]

    def entries_sum(self, account_id: UUID) -> Cents:
        row = self._one_or_none(
            "SELECT coalesce(sum(amount_cents), 0) AS total FROM ledger_entries WHERE account_id = %s",
            (account_id,),
        )
        assert row is not None
        return Cents(int(row["total"]))

    def statement(self, account_id: UUID, limit: int = 100) -> list[Row]:
        """The newest entries of an account with their transaction, for a shopper's or finance's view."""
        return self._all(
            """SELECT e.id AS entry_id, e.amount_cents, t.id AS transaction_id, t.kind, t.description,
                      t.created_at, t.order_id, t.reverses_id
               FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
               WHERE e.account_id = %s ORDER BY e.id DESC LIMIT %s""",
            (account_id, limit),
        )

    def shopper_entries(
        self, shopper_id: UUID, kind: AccountKind | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        """A page of the shopper's entries, newest first, each with its account's balance right after it."""
        kinds = [k.value for k in (AccountKind.STORE_CREDIT, AccountKind.CASH_PAYABLE) if kind in (None, k)]
        rows = self._all(
            """SELECT * FROM (
                   SELECT e.id AS entry_id, a.kind AS account_kind, e.amount_cents,
                          sum(e.amount_cents) OVER (PARTITION BY e.account_id ORDER BY e.id) AS balance_after_cents,
                          t.id AS transaction_id, t.kind, t.description, t.created_at, t.order_id, t.reverses_id,
                          t.payout_line_id, count(*) OVER () AS total
                   FROM ledger_entries e
                   JOIN ledger_accounts a ON a.id = e.account_id
                   JOIN ledger_transactions t ON t.id = e.transaction_id
                   WHERE a.shopper_id = %s AND a.kind = ANY(%s)) AS entries
               ORDER BY entry_id DESC LIMIT %s OFFSET %s""",
            (shopper_id, kinds, limit, offset),
        )
        if rows or offset == 0:
            return rows, int(rows[0]["total"]) if rows else 0
        counted = self._one_or_none(
            """SELECT count(*) AS n FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
               WHERE a.shopper_id = %s AND a.kind = ANY(%s)""",
            (shopper_id, kinds),
        )
        assert counted is not None
        return rows, int(counted["n"])

    @staticmethod
    def _account(row: Row) -> Account:
        return Account(
            id=row["id"],
            kind=AccountKind(row["kind"]),
            shopper_id=row["shopper_id"],
            balance_cents=Cents(int(row["balance_cents"])),
        )


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    operation: str
    request_hash: str
    result: dict[str, Any] | None


class PostgresIdempotencyRepository(Repository):
    def claim(self, key: str, operation: str, request_hash: str) -> IdempotencyRecord | None:
        """Claims the key for this request, or returns who had it first.

        A concurrent first use of the same key makes this wait until that transaction ends: then the key is
        either ours (it rolled back) or theirs, with their result (it committed).
        """
        with self._connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO ledger_idempotency (key, operation, request_hash) VALUES (%s, %s, %s)
                   ON CONFLICT (key) DO NOTHING""",
                (key, operation, request_hash),
            )
            if cursor.rowcount == 1:
                return None
        row = self._one_or_none(
            "SELECT key, operation, request_hash, result FROM ledger_idempotency WHERE key = %s", (key,)
        )
        assert row is not None
        return IdempotencyRecord(row["key"], row["operation"], row["request_hash"], row["result"])

    def record_result(self, key: str, result: Mapping[str, Any]) -> None:
        self._execute("UPDATE ledger_idempotency SET result = %s WHERE key = %s", (Jsonb(dict(result)), key))


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardRecord:
    """A credited delivery reward as stored: what it was computed from and where the money went."""

    id: UUID
    order_id: UUID
    shopper_id: UUID
    store_id: UUID
    policy_id: UUID
    policy_version: int
    inputs: RewardInputs
    earned_before: EarningsSoFar
    breakdown: dict[str, Any]
    cash_value_cents: Cents
    amount_cents: Cents
    earned_at: datetime
    transaction_id: UUID | None
    referral_transaction_id: UUID | None


@dataclass(frozen=True)
class OrderForReward:
    order_id: UUID
    store_id: UUID
    status: str


class PostgresRewardRepository(Repository):
    def order_for_reward(self, order_id: UUID) -> OrderForReward:
        row = self._one_or_none("SELECT id, store_id, status FROM orders WHERE id = %s", (order_id,))
        if row is None:
            raise NotFound(f"order {order_id} not found")
        return OrderForReward(row["id"], row["store_id"], row["status"])

    def add(self, reward: RewardRecord) -> None:
        self._execute(
            """INSERT INTO delivery_rewards (id, order_id, shopper_id, store_id, policy_id, policy_version,
                   inputs, breakdown, method, cash_value_cents, amount_cents, earned_at, transaction_id,
                   referral_transaction_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                reward.id,
                reward.order_id,
                reward.shopper_id,
                reward.store_id,
                reward.policy_id,
                reward.policy_version,
                Jsonb(
                    {
                        "offer": reward.inputs.to_json(),
                        "earned_today_cents": reward.earned_before.today_cents,
                        "earned_this_week_cents": reward.earned_before.this_week_cents,
                    }
                ),
                Jsonb(reward.breakdown),
                reward.inputs.method.value,
                reward.cash_value_cents,
                reward.amount_cents,
                reward.earned_at,
                reward.transaction_id,
                reward.referral_transaction_id,
            ),
        )

    def for_order(self, order_id: UUID) -> RewardRecord | None:
        row = self._one_or_none("SELECT * FROM delivery_rewards WHERE order_id = %s", (order_id,))
        return None if row is None else self._reward(row)

    def get(self, reward_id: UUID) -> RewardRecord:
        row = self._one_or_none("SELECT * FROM delivery_rewards WHERE id = %s", (reward_id,))
        if row is None:
            raise NotFound(f"reward {reward_id} not found")
        return self._reward(row)

    def earnings(
        self, shopper_id: UUID, day: tuple[datetime, datetime], week: tuple[datetime, datetime]
    ) -> EarningsSoFar:
        """Capped cash value of the shopper's standing (not reversed) rewards in the day and the week."""
        row = self._one_or_none(
            """SELECT coalesce(sum(r.cash_value_cents)
                          FILTER (WHERE r.earned_at >= %(day_start)s AND r.earned_at < %(day_end)s), 0) AS today,
                      coalesce(sum(r.cash_value_cents), 0) AS week
               FROM delivery_rewards r
               WHERE r.shopper_id = %(shopper)s AND r.earned_at >= %(week_start)s AND r.earned_at < %(week_end)s
                 AND NOT EXISTS (SELECT 1 FROM ledger_transactions v
                                 WHERE v.reverses_id = r.transaction_id)""",
            {
                "shopper": shopper_id,
                "day_start": day[0],
                "day_end": day[1],
                "week_start": week[0],
                "week_end": week[1],
            },
        )
        assert row is not None
        return EarningsSoFar(today_cents=int(row["today"]), this_week_cents=int(row["week"]))

    def delivery_count(self, shopper_id: UUID) -> int:
        row = self._one_or_none("SELECT count(*) AS n FROM delivery_rewards WHERE shopper_id = %s", (shopper_id,))
        assert row is not None
        return int(row["n"])

    def add_referral(self, referral: Referral) -> None:
        try:
            with self._connection.transaction():
                self._execute(
                    """INSERT INTO referrals (referred_shopper_id, referrer_shopper_id, created_at, created_by)
                       VALUES (%s, %s, %s, %s)""",
                    (
                        referral.referred_shopper_id,
                        referral.referrer_shopper_id,
                        referral.created_at,
                        referral.created_by,
                    ),
                )
        except psycopg.errors.UniqueViolation as error:
            raise AlreadyReferred(referral.referred_shopper_id) from error
        except psycopg.errors.ForeignKeyViolation as error:
            raise NotFound("both shoppers of a referral must exist") from error

    def referral_of(self, referred_shopper_id: UUID) -> Referral | None:
        row = self._one_or_none("SELECT * FROM referrals WHERE referred_shopper_id = %s", (referred_shopper_id,))
        if row is None:
            return None
        return Referral(
            referrer_shopper_id=row["referrer_shopper_id"],
            referred_shopper_id=row["referred_shopper_id"],
            created_at=row["created_at"],
            created_by=row["created_by"],
        )

    def for_shopper(self, shopper_id: UUID, limit: int, offset: int) -> tuple[list[tuple[RewardRecord, bool]], int]:
        """A page of the shopper's rewards, newest first, each with whether it was reversed since."""
        rows = self._all(
            """SELECT r.*, EXISTS (SELECT 1 FROM ledger_transactions v WHERE v.reverses_id = r.transaction_id)
                          AS reversed
               FROM delivery_rewards r WHERE r.shopper_id = %s
               ORDER BY r.earned_at DESC, r.id LIMIT %s OFFSET %s""",
            (shopper_id, limit, offset),
        )
        counted = self._one_or_none("SELECT count(*) AS n FROM delivery_rewards WHERE shopper_id = %s", (shopper_id,))
        assert counted is not None
        return [(self._reward(row), bool(row["reversed"])) for row in rows], int(counted["n"])

    @staticmethod
    def _reward(row: Row) -> RewardRecord:
        inputs = row["inputs"]
        return RewardRecord(
            id=row["id"],
            order_id=row["order_id"],
            shopper_id=row["shopper_id"],
            store_id=row["store_id"],
            policy_id=row["policy_id"],
            policy_version=row["policy_version"],
            inputs=RewardInputs.from_json(inputs["offer"]),
            earned_before=EarningsSoFar(inputs["earned_today_cents"], inputs["earned_this_week_cents"]),
            breakdown=row["breakdown"],
            cash_value_cents=Cents(int(row["cash_value_cents"])),
            amount_cents=Cents(int(row["amount_cents"])),
            earned_at=row["earned_at"],
            transaction_id=row["transaction_id"],
            referral_transaction_id=row["referral_transaction_id"],
        )


class AlreadyReferred(DomainError):
    kind = "conflict"

    def __init__(self, referred_shopper_id: UUID) -> None:
        super().__init__(f"shopper {referred_shopper_id} already has a referrer")


# --------------------------------------------------------------------------------------------------


class ShopperAlreadyInOpenBatch(DomainError):
    kind = "conflict"


@dataclass(frozen=True)
class StandingHold:
    """A hold finance put on a shopper's line that no one released before its batch closed."""

    batch_id: UUID
    reason: str
    held_by: UUID | None


@dataclass(frozen=True)
class PayableBalance:
    shopper_id: UUID
    account_id: UUID
    balance_cents: Cents


class PostgresPayoutRepository(Repository):
    def payable_balances(self) -> list[PayableBalance]:
        """Positive cash-payable balances of shoppers who are not already in an open batch."""
        rows = self._all(
            """SELECT a.shopper_id, a.id AS account_id, a.balance_cents FROM ledger_accounts a
               WHERE a.kind = 'cash_payable' AND a.balance_cents > 0
                 AND NOT EXISTS (SELECT 1 FROM payout_lines l WHERE l.shopper_id = a.shopper_id AND l.open)
               ORDER BY a.shopper_id""",
            (),
        )
        return [PayableBalance(row["shopper_id"], row["account_id"], Cents(int(row["balance_cents"]))) for row in rows]

    def standing_holds(self, shopper_ids: Sequence[UUID]) -> dict[UUID, StandingHold]:
        """Per shopper, the hold on their latest closed line, if that line was held when its batch closed."""
        rows = self._all(
            """SELECT * FROM (
                   SELECT DISTINCT ON (l.shopper_id) l.shopper_id, l.held, l.hold_reason, l.held_by, l.batch_id
                   FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id
                   WHERE l.shopper_id = ANY(%s) AND NOT l.open
                   ORDER BY l.shopper_id, b.prepared_at DESC, b.id DESC
               ) latest WHERE latest.held""",
            (list(shopper_ids),),
        )
        return {
            row["shopper_id"]: StandingHold(row["batch_id"], str(row["hold_reason"]), row["held_by"]) for row in rows
        }

    def add(self, batch: PayoutBatch) -> None:
        with self._refusing_duplicates(
            lambda: ShopperAlreadyInOpenBatch(
                "a shopper of this batch was put in another open batch meanwhile; prepare again"
            )
        ):
            self._execute(
                """INSERT INTO payout_batches (id, period_start, period_end, status, prepared_by, prepared_at)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    batch.id,
                    batch.period_start,
                    batch.period_end,
                    batch.status.value,
                    batch.prepared_by,
                    batch.prepared_at,
                ),
            )
            with self._connection.cursor() as cursor:
                cursor.executemany(
                    """INSERT INTO payout_lines (id, batch_id, shopper_id, account_id, amount_cents, flags,
                           held, hold_reason, held_by, open)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    [
                        (
                            line.id,
                            batch.id,
                            line.shopper_id,
                            line.account_id,
                            line.amount_cents,
                            Jsonb([flag.to_json() for flag in line.flags]),
                            line.held,
                            line.hold_reason,
                            line.held_by,
                            line.open,
                        )
                        for line in batch.lines
                    ],
                )

    def get(self, batch_id: UUID, *, for_update: bool = False) -> PayoutBatch:
        lock = " FOR UPDATE" if for_update else ""
        row = self._one_or_none(f"SELECT * FROM payout_batches WHERE id = %s{lock}", (batch_id,))
        if row is None:
            raise NotFound(f"payout batch {batch_id} not found")
        lines = self._all("SELECT * FROM payout_lines WHERE batch_id = %s ORDER BY shopper_id, id" + lock, (batch_id,))
        return PayoutBatch(
            id=row["id"],
            period_start=row["period_start"],
            period_end=row["period_end"],
            prepared_by=row["prepared_by"],
            prepared_at=row["prepared_at"],
            status=BatchStatus(row["status"]),
            approved_by=row["approved_by"],
            approved_at=row["approved_at"],
            paid_by=row["paid_by"],
            paid_at=row["paid_at"],
            rejected_by=row["rejected_by"],
            rejected_at=row["rejected_at"],
            rejection_reason=row["rejection_reason"],
            lines=[
                PayoutLine(
                    id=line["id"],
                    batch_id=line["batch_id"],
                    shopper_id=line["shopper_id"],
                    account_id=line["account_id"],
                    amount_cents=Cents(int(line["amount_cents"])),
                    flags=tuple(AnomalyFlag.from_json(flag) for flag in line["flags"]),
                    held=line["held"],
                    hold_reason=line["hold_reason"],
                    held_by=line["held_by"],
                    open=line["open"],
                )
                for line in lines
            ],
        )

    def save(self, batch: PayoutBatch) -> None:
        self._execute(
            """UPDATE payout_batches SET status = %s, approved_by = %s, approved_at = %s, paid_by = %s,
                   paid_at = %s, rejected_by = %s, rejected_at = %s, rejection_reason = %s
               WHERE id = %s""",
            (
                batch.status.value,
                batch.approved_by,
                batch.approved_at,
                batch.paid_by,
                batch.paid_at,
                batch.rejected_by,
                batch.rejected_at,
                batch.rejection_reason,
                batch.id,
            ),
        )
        with self._connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE payout_lines SET held = %s, hold_reason = %s, held_by = %s, open = %s WHERE id = %s",
                [(line.held, line.hold_reason, line.held_by, line.open, line.id) for line in batch.lines],
            )

    def batch_ids(self, statuses: Sequence[BatchStatus] | None = None) -> list[UUID]:
        where, params = ("", []) if statuses is None else (" WHERE status = ANY(%s)", [[s.value for s in statuses]])
        return [row["id"] for row in self._all(f"SELECT id FROM payout_batches{where} ORDER BY prepared_at", params)]

    def delivery_facts(
        self, start: datetime, end: datetime, policies: Mapping[UUID, RewardPolicy]
    ) -> list[DeliveryFact]:
        """Every reward earned in [start, end), with its order's recipient and whether a position proof exists."""
        rows = self._all(
            """SELECT r.*, lower(btrim(o.recipient_name)) || ' | ' || lower(btrim(o.dropoff_address)) AS recipient,
                      EXISTS (SELECT 1 FROM delivery_proofs p WHERE p.order_id = r.order_id AND p.accepted)
                          AS has_proof
               FROM delivery_rewards r JOIN orders o ON o.id = r.order_id
               WHERE r.earned_at >= %s AND r.earned_at < %s ORDER BY r.earned_at, r.id""",
            (start, end),
        )
        facts = []
        for row in rows:
            reward = PostgresRewardRepository._reward(row)
            facts.append(
                DeliveryFact(
                    order_id=reward.order_id,
                    shopper_id=reward.shopper_id,
                    store_id=reward.store_id,
                    recipient_key=row["recipient"],
                    has_position_proof=row["has_proof"],
                    cash_value_cents=reward.cash_value_cents,
                    amount_cents=reward.amount_cents,
                    policy=policies[reward.policy_id],
                    inputs=reward.inputs,
                    earned_before=reward.earned_before,
                )
            )
        return facts

    def location_samples(self, shopper_ids: Sequence[UUID], start: datetime, end: datetime) -> list[LocationSample]:
        """Position samples of these shoppers in [start, end), from the API's `location_samples` table.

        Returns nothing while that table does not exist (its migration belongs to the API).
        """
        if not self._table_exists("location_samples"):
            return []
        rows = self._all(
            """SELECT shopper_id, ST_Y(position::geometry) AS lat, ST_X(position::geometry) AS lon, recorded_at
               FROM location_samples
               WHERE shopper_id = ANY(%s) AND recorded_at >= %s AND recorded_at < %s
               ORDER BY shopper_id, recorded_at""",
            (list(shopper_ids), start, end),
        )
        return [LocationSample(row["shopper_id"], GeoPoint(row["lat"], row["lon"]), row["recorded_at"]) for row in rows]


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    actor_id: UUID | None
    action: str
    subject_kind: str
    subject_id: UUID | None
    details: dict[str, Any]
    at: datetime


class PostgresAuditLog(Repository):
    def append(self, entry: AuditEntry) -> None:
        self._execute(
            """INSERT INTO rewards_audit_log (actor_id, action, subject_kind, subject_id, details, at)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (entry.actor_id, entry.action, entry.subject_kind, entry.subject_id, Jsonb(entry.details), entry.at),
        )

    def for_subject(self, subject_kind: str, subject_id: UUID) -> list[AuditEntry]:
        rows = self._all(
            """SELECT actor_id, action, subject_kind, subject_id, details, at FROM rewards_audit_log
               WHERE subject_kind = %s AND subject_id = %s ORDER BY id""",
            (subject_kind, subject_id),
        )
        return [AuditEntry(**row) for row in rows]

    def page(
        self, *, subject_kind: str | None, subject_id: UUID | None, limit: int, offset: int
    ) -> tuple[list[tuple[int, AuditEntry]], int]:
        """Entries, newest first, with their sequence number; narrowed to a kind of subject and/or one subject."""
        where = """WHERE (%(kind)s::text IS NULL OR subject_kind = %(kind)s)
                     AND (%(id)s::uuid IS NULL OR subject_id = %(id)s)"""
        params = {"kind": subject_kind, "id": subject_id, "limit": limit, "offset": offset}
        rows = self._all(
            f"""SELECT id, actor_id, action, subject_kind, subject_id, details, at FROM rewards_audit_log {where}
                ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s""",
            params,
        )
        counted = self._one_or_none(f"SELECT count(*) AS n FROM rewards_audit_log {where}", params)
        assert counted is not None
        return [(row.pop("id"), AuditEntry(**row)) for row in rows], int(counted["n"])


# --------------------------------------------------------------------------------------------------


class PostgresRewardsReports(Repository):
    def reconciliation_data(self) -> ReconciliationData:
        """Reads ledger, rewards, payouts and deliveries; run it in a REPEATABLE READ transaction."""
        accounts = [
            AccountSnapshot(row["id"], row["shopper_id"] is not None, int(row["balance_cents"]), int(row["total"]))
            for row in self._all(
                """SELECT a.id, a.shopper_id,
                          coalesce(a.balance_cents, (SELECT sum(e.amount_cents) FROM ledger_entries e
                                                     WHERE e.account_id = a.id), 0) AS balance_cents,
                          coalesce((SELECT sum(e.amount_cents) FROM ledger_entries e WHERE e.account_id = a.id), 0)
                              AS total
                   FROM ledger_accounts a""",
                (),
            )
        ]
        transaction_sums = {
            row["id"]: int(row["total"])
            for row in self._all(
                """SELECT t.id, coalesce(sum(e.amount_cents), 0) AS total
                   FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
                   GROUP BY t.id""",
                (),
            )
        }
        delivered = frozenset(row["id"] for row in self._all("SELECT id FROM orders WHERE status = 'delivered'", ()))
        rewards = [
            RewardSnapshot(row["order_id"], int(row["amount_cents"]), row["transaction_id"], row["reversed"])
            for row in self._all(
                """SELECT r.order_id, r.amount_cents, r.transaction_id,
                          EXISTS (SELECT 1 FROM ledger_transactions v WHERE v.reverses_id = r.transaction_id)
                              AS reversed
                   FROM delivery_rewards r""",
                (),
            )
        ]
        reward_credits = {
            row["id"]: int(row["credited"])
            for row in self._all(
                """SELECT t.id, coalesce(sum(e.amount_cents), 0) AS credited
                   FROM ledger_transactions t
                   JOIN ledger_entries e ON e.transaction_id = t.id
                   JOIN ledger_accounts a ON a.id = e.account_id AND a.shopper_id IS NOT NULL
                   WHERE t.kind = 'delivery_reward' GROUP BY t.id""",
                (),
            )
        }
        paid_lines = [
            PaidLineSnapshot(row["id"], int(row["amount_cents"]))
            for row in self._all(
                """SELECT l.id, l.amount_cents FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id
                   WHERE b.status = 'paid' AND NOT l.held""",
                (),
            )
        ]
        payout_debits = {
            row["payout_line_id"]: int(row["debited"])
            for row in self._all(
                """SELECT t.payout_line_id, -coalesce(sum(e.amount_cents), 0) AS debited
                   FROM ledger_transactions t
                   JOIN ledger_entries e ON e.transaction_id = t.id
                   JOIN ledger_accounts a ON a.id = e.account_id AND a.shopper_id IS NOT NULL
                   WHERE t.kind = 'payout' GROUP BY t.payout_line_id""",
                (),
            )
        }
        return ReconciliationData(
            accounts=accounts,
            transaction_sums=transaction_sums,
            delivered_order_ids=delivered,
            rewards=rewards,
            reward_credits=reward_credits,
            paid_lines=paid_lines,
            payout_debits=payout_debits,
        )

    def shopper_record(self, shopper_id: UUID, start: datetime, end: datetime) -> ShopperRecord:
        """Deliveries (accepted proofs), on-time ones (by the window's end) and incidents in [start, end).

        Incidents come from the API's `incidents` table; while it does not exist they count as none.
        """
        row = self._one_or_none(
            """SELECT count(*) AS deliveries, count(*) FILTER (WHERE p.recorded_at <= o.window_latest) AS on_time
               FROM delivery_proofs p JOIN trips t ON t.id = p.trip_id JOIN orders o ON o.id = p.order_id
               WHERE p.accepted AND t.shopper_id = %s AND p.recorded_at >= %s AND p.recorded_at < %s""",
            (shopper_id, start, end),
        )
        assert row is not None
        incidents = 0
        if self._table_exists("incidents"):
            counted = self._one_or_none(
                """SELECT count(*) AS n FROM incidents
                   WHERE shopper_id = %s AND reported_at >= %s AND reported_at < %s""",
                (shopper_id, start, end),
            )
            assert counted is not None
            incidents = int(counted["n"])
        return ShopperRecord(
            deliveries=int(row["deliveries"]), on_time_deliveries=int(row["on_time"]), incidents=incidents
        )


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentMethodChoice:
    """One choice a shopper made; the newest at or before an instant is in force then."""

    shopper_id: UUID
    method: PaymentMethod
    chosen_at: datetime
    chosen_by: UUID | None


class PostgresPaymentChoiceRepository(Repository):
    """Append-only: a change is a new row, so an offer's choice can still be read after the shopper changes it."""

    def add(self, choice: PaymentMethodChoice) -> None:
        self._execute(
            """INSERT INTO shopper_payment_choices (shopper_id, method, chosen_at, chosen_by)
               VALUES (%s, %s, %s, %s)""",
            (choice.shopper_id, choice.method.value, choice.chosen_at, choice.chosen_by),
        )

    def latest(self, shopper_id: UUID) -> PaymentMethodChoice | None:
        row = self._one_or_none(
            """SELECT shopper_id, method, chosen_at, chosen_by FROM shopper_payment_choices
               WHERE shopper_id = %s ORDER BY chosen_at DESC, id DESC LIMIT 1""",
            (shopper_id,),
        )
        return None if row is None else self._choice(row)

    def in_force_at(self, shopper_id: UUID, instant: datetime) -> PaymentMethodChoice | None:
        row = self._one_or_none(
            """SELECT shopper_id, method, chosen_at, chosen_by FROM shopper_payment_choices
               WHERE shopper_id = %s AND chosen_at <= %s ORDER BY chosen_at DESC, id DESC LIMIT 1""",
            (shopper_id, instant),
        )
        return None if row is None else self._choice(row)

    @staticmethod
    def _choice(row: Row) -> PaymentMethodChoice:
        return PaymentMethodChoice(row["shopper_id"], PaymentMethod(row["method"]), row["chosen_at"], row["chosen_by"])


# --------------------------------------------------------------------------------------------------


class RewardsRepositories:
    """Every rewards repository on one connection, inside whatever transaction that connection is in."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection
        self.policies = PostgresPolicyRepository(connection)
        self.ledger = PostgresLedgerRepository(connection)
        self.idempotency = PostgresIdempotencyRepository(connection)
        self.rewards = PostgresRewardRepository(connection)
        self.payouts = PostgresPayoutRepository(connection)
        self.audit = PostgresAuditLog(connection)
        self.reports = PostgresRewardsReports(connection)
        self.shoppers = PostgresShopperRepository(connection)
        self.payment_choices = PostgresPaymentChoiceRepository(connection)


class PostgresRewardsUnitOfWork(UnitOfWork):
    """A rewards transaction of its own; rolls back unless `commit()` is called."""

    repos: RewardsRepositories

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__(pool)

    def _attach(self, connection: psycopg.Connection) -> None:
        self.repos = RewardsRepositories(connection)
