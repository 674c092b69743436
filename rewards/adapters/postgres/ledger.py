"""The double-entry ledger on PostgreSQL: accounts (shopper ones keep a running balance, checked by the
database), balanced transactions and their entries, append-only."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID, uuid4

import psycopg

from crowdship.db import Repository, Row
from crowdship.errors import NotFound
from crowdship.units import Cents
from rewards.ledger import Account, AccountKind, AlreadyReversed, Entry, LedgerTransaction, TransactionKind
from rewards.records import LedgerLine


class PostgresLedgerRepository(Repository):
    # Company accounts keep no running balance (NULL): summing theirs here would make every credit read the
    # whole history of the expense account; the reports sum it (`entries_sum`).
    _ACCOUNT = "SELECT a.id, a.kind, a.shopper_id, a.balance_cents FROM ledger_accounts a"

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
            with self._savepoint():
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

    def entries_sum(self, account_id: UUID) -> int:
        row = self._one_or_none(
            "SELECT coalesce(sum(amount_cents), 0) AS total FROM ledger_entries WHERE account_id = %s",
            (account_id,),
        )
        assert row is not None
        return Cents(int(row["total"]))

    def shopper_entries(
        self, shopper_id: UUID, kind: AccountKind | None, limit: int, offset: int
    ) -> tuple[list[LedgerLine], int]:
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
        lines = [self._line(row) for row in rows]
        if rows or offset == 0:
            return lines, int(rows[0]["total"]) if rows else 0
        counted = self._one_or_none(
            """SELECT count(*) AS n FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
               WHERE a.shopper_id = %s AND a.kind = ANY(%s)""",
            (shopper_id, kinds),
        )
        assert counted is not None
        return lines, int(counted["n"])

    @staticmethod
    def _line(row: Row) -> LedgerLine:
        return LedgerLine(
            entry_id=int(row["entry_id"]),
            account=AccountKind(row["account_kind"]),
            transaction_id=row["transaction_id"],
            kind=TransactionKind(row["kind"]),
            description=row["description"],
            at=row["created_at"],
            amount_cents=Cents(int(row["amount_cents"])),
            balance_after_cents=Cents(int(row["balance_after_cents"])),
            order_id=row["order_id"],
            reverses_id=row["reverses_id"],
            payout_line_id=row["payout_line_id"],
        )

    @staticmethod
    def _account(row: Row) -> Account:
        return Account(
            id=row["id"],
            kind=AccountKind(row["kind"]),
            shopper_id=row["shopper_id"],
            balance_cents=None if row["balance_cents"] is None else Cents(int(row["balance_cents"])),
        )
