"""The rest of rewards' storage on PostgreSQL: the audit log, the reports read from the books (reconciliation,
a shopper's record) and shoppers' payment choices."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from psycopg.types.json import Jsonb

from crowdship.db import Repository, Row
from rewards.policy import PaymentMethod
from rewards.reconciliation import AccountSnapshot, PaidLineSnapshot, ReconciliationData, RewardSnapshot
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
