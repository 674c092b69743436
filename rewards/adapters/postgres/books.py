"""The rest of rewards' storage on PostgreSQL: the audit log, the reports read from the books (reconciliation,
a shopper's record) and shoppers' payment choices."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from psycopg.types.json import Jsonb

from crowdship.db import Repository, Row
from rewards.policy import EarningsSoFar, PaymentMethod, RewardInputs
from rewards.reconciliation import (
    AccountSnapshot,
    PayoutLineSnapshot,
    PricedFrom,
    ReconciliationData,
    RewardSnapshot,
    TransactionSnapshot,
)
from rewards.records import AuditEntry, PaymentMethodChoice
from rewards.tiers import ShopperRecord


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


class PostgresRewardsReports(Repository):
    def reconciliation_data(self) -> ReconciliationData:
        """Streams of per-subject facts, each read by one query as it is consumed; run it in a REPEATABLE READ
        transaction that stays open until the streams are read."""
        return ReconciliationData(
            accounts=(
                AccountSnapshot(
                    row["id"],
                    row["is_shopper"],
                    None if row["balance_cents"] is None else int(row["balance_cents"]),
                    int(row["total"]),
                )
                for row in self._stream(_ACCOUNTS, ())
            ),
            transactions=(
                TransactionSnapshot(
                    row["id"], int(row["total"]), row["credits_shoppers"], row["has_source"], row["mirrors"]
                )
                for row in self._stream(_TRANSACTIONS, ())
            ),
            rewards=(
                RewardSnapshot(
                    row["order_id"],
                    row["delivered"],
                    None if row["amount_cents"] is None else int(row["amount_cents"]),
                    int(row["credited"]),
                    int(row["elsewhere"]),
                    row["reversed"],
                    _priced_from(row),
                    int(row["referral_bonus"]),
                    int(row["other_account"]),
                )
                for row in self._stream(_REWARDS, ())
            ),
            payout_lines=(
                PayoutLineSnapshot(
                    row["line_id"],
                    None if row["paid_cents"] is None else int(row["paid_cents"]),
                    int(row["debited"]),
                )
                for row in self._stream(_PAYOUT_LINES, ())
            ),
        )

    def shopper_record(self, shopper_id: UUID, start: datetime, end: datetime) -> ShopperRecord:
        """Deliveries (accepted proofs), on-time ones (by the window's end) and incidents in [start, end]."""
        row = self._one_or_none(
            """SELECT count(*) AS deliveries, count(*) FILTER (WHERE p.recorded_at <= o.window_latest) AS on_time
               FROM delivery_proofs p JOIN trips t ON t.id = p.trip_id JOIN orders o ON o.id = p.order_id
               WHERE p.accepted AND t.shopper_id = %s AND p.recorded_at >= %s AND p.recorded_at <= %s""",
            (shopper_id, start, end),
        )
        assert row is not None
        counted = self._one_or_none(
            """SELECT count(*) AS n FROM incidents WHERE shopper_id = %s AND reported_at >= %s AND reported_at <= %s""",
            (shopper_id, start, end),
        )
        assert counted is not None
        return ShopperRecord(
            deliveries=int(row["deliveries"]), on_time_deliveries=int(row["on_time"]), incidents=int(counted["n"])
        )


class PostgresActingAccounts(Repository):
    def active_locked(self, user_id: UUID) -> bool | None:
        rows = self._all("SELECT active FROM users WHERE id = %s FOR SHARE", (user_id,))
        return bool(rows[0]["active"]) if rows else None


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

    def in_force_at(self, shopper_ids: Collection[UUID], instant: datetime) -> dict[UUID, PaymentMethodChoice]:
        rows = self._all(
            """SELECT DISTINCT ON (shopper_id) shopper_id, method, chosen_at, chosen_by FROM shopper_payment_choices
               WHERE shopper_id = ANY(%s) AND chosen_at <= %s ORDER BY shopper_id, chosen_at DESC, id DESC""",
            (list(shopper_ids), instant),
        )
        return {row["shopper_id"]: self._choice(row) for row in rows}

    @staticmethod
    def _choice(row: Row) -> PaymentMethodChoice:
        return PaymentMethodChoice(row["shopper_id"], PaymentMethod(row["method"]), row["chosen_at"], row["chosen_by"])


def _priced_from(row: Row) -> PricedFrom | None:
    if row["policy_id"] is None:
        return None
    inputs = row["inputs"]
    return PricedFrom(
        row["policy_id"],
        RewardInputs.from_json(inputs["offer"]),
        EarningsSoFar(inputs["earned_today_cents"], inputs["earned_this_week_cents"]),
    )


# Reconciliation's reads: each a hash aggregate over the ledger, streamed row by row.
_ACCOUNTS = """
    SELECT a.id, a.shopper_id IS NOT NULL AS is_shopper, a.balance_cents, coalesce(s.total, 0) AS total
    FROM ledger_accounts a
    LEFT JOIN (SELECT account_id, sum(amount_cents) AS total FROM ledger_entries GROUP BY account_id) s
        ON s.account_id = a.id"""

# What each transaction moved onto each shopper (credit positive).
_SHOPPER_MOVES = """
    SELECT e.transaction_id, a.shopper_id, sum(e.amount_cents) AS net
    FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id AND a.shopper_id IS NOT NULL
    GROUP BY e.transaction_id, a.shopper_id"""

_TRANSACTIONS = f"""
    SELECT t.id, coalesce(s.total, 0) AS total, coalesce(c.credits, false) AS credits_shoppers,
           (t.reverses_id IS NOT NULL
            OR EXISTS (SELECT 1 FROM delivery_rewards r WHERE r.transaction_id = t.id)
            OR EXISTS (SELECT 1 FROM delivery_rewards r WHERE r.referral_transaction_id = t.id)) AS has_source,
           CASE WHEN t.reverses_id IS NOT NULL THEN NOT EXISTS (
               SELECT 1 FROM ledger_entries e WHERE e.transaction_id IN (t.id, t.reverses_id)
               GROUP BY e.account_id HAVING sum(e.amount_cents) <> 0) END AS mirrors
    FROM ledger_transactions t
    LEFT JOIN (SELECT transaction_id, sum(amount_cents) AS total FROM ledger_entries GROUP BY transaction_id) s
        ON s.transaction_id = t.id
    LEFT JOIN (SELECT transaction_id, bool_or(net > 0) AS credits FROM ({_SHOPPER_MOVES}) m GROUP BY transaction_id) c
        ON c.transaction_id = t.id"""

_REWARDS = f"""
    WITH moves AS ({_SHOPPER_MOVES}),
    own AS (
        SELECT r.order_id,
               coalesce(sum(e.amount_cents) FILTER (WHERE a.shopper_id = r.shopper_id AND a.kind = k.kind), 0)
                   AS credited,
               coalesce(sum(e.amount_cents) FILTER (WHERE a.shopper_id = r.shopper_id AND a.kind <> k.kind), 0)
                   AS other_account,
               coalesce(sum(e.amount_cents) FILTER (WHERE a.shopper_id <> r.shopper_id), 0) AS elsewhere
        FROM delivery_rewards r
        CROSS JOIN LATERAL (SELECT CASE r.method WHEN 'cash' THEN 'cash_payable' ELSE 'store_credit' END AS kind) k
        JOIN ledger_entries e ON e.transaction_id = r.transaction_id
        JOIN ledger_accounts a ON a.id = e.account_id AND a.shopper_id IS NOT NULL
        GROUP BY r.order_id),
    referral AS (
        SELECT r.order_id,
               coalesce(sum(m.net) FILTER (WHERE m.shopper_id IS DISTINCT FROM f.referrer_shopper_id), 0) AS elsewhere,
               coalesce(sum(m.net) FILTER (WHERE m.shopper_id = f.referrer_shopper_id), 0) AS to_referrer
        FROM delivery_rewards r
        JOIN moves m ON m.transaction_id = r.referral_transaction_id
        LEFT JOIN referrals f ON f.referred_shopper_id = r.shopper_id
        GROUP BY r.order_id)
    SELECT coalesce(o.id, r.order_id) AS order_id, o.id IS NOT NULL AS delivered, r.amount_cents,
           r.policy_id, r.inputs,
           coalesce(own.credited, 0) AS credited,
           coalesce(own.elsewhere, 0) + coalesce(referral.elsewhere, 0) AS elsewhere,
           coalesce(referral.to_referrer, 0) AS referral_bonus,
           coalesce(own.other_account, 0) AS other_account,
           r.transaction_id IS NOT NULL
               AND EXISTS (SELECT 1 FROM ledger_transactions v WHERE v.reverses_id = r.transaction_id) AS reversed
    FROM (SELECT id FROM orders WHERE status = 'delivered') o
    FULL JOIN delivery_rewards r ON r.order_id = o.id
    LEFT JOIN own ON own.order_id = r.order_id
    LEFT JOIN referral ON referral.order_id = r.order_id
    ORDER BY 1"""

_PAYOUT_LINES = """
    WITH paid AS (
        SELECT l.id, l.amount_cents FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id
        WHERE b.status = 'paid' AND NOT l.held),
    debits AS (
        SELECT t.payout_line_id, -sum(e.amount_cents) AS debited
        FROM ledger_transactions t
        JOIN ledger_entries e ON e.transaction_id = t.id
        JOIN ledger_accounts a ON a.id = e.account_id AND a.shopper_id IS NOT NULL
        WHERE t.kind = 'payout' AND t.payout_line_id IS NOT NULL GROUP BY t.payout_line_id)
    SELECT coalesce(p.id, d.payout_line_id) AS line_id, p.amount_cents AS paid_cents,
           coalesce(d.debited, 0) AS debited
    FROM paid p FULL JOIN debits d ON d.payout_line_id = p.id
    ORDER BY 1"""
