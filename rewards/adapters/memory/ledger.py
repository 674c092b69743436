"""The double-entry ledger in memory, as `rewards.adapters.postgres.ledger` keeps it."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.units import Cents
from rewards.adapters.memory.store import MemoryRepository
from rewards.ledger import Account, AccountKind, LedgerTransaction
from rewards.records import (
    LedgerLine,
)


class MemoryLedgerRepository(MemoryRepository):
    def shopper_accounts(self, shopper_id: UUID) -> dict[AccountKind, Account]:
        db = self._db
        accounts = {}
        for kind in (AccountKind.STORE_CREDIT, AccountKind.CASH_PAYABLE):
            account_id = db.shopper_account_ids.get((shopper_id, kind)) or db.open_account(kind, shopper_id)
            accounts[kind] = db.account(account_id)
        return accounts

    def company_account(self, kind: AccountKind) -> Account:
        if kind.belongs_to_shopper:
            raise ValueError(f"{kind} is a shopper account")
        db = self._db
        return db.account(db.company_account_ids.get(kind) or db.open_account(kind, None))

    def get_account(self, account_id: UUID) -> Account:
        return self._db.account(account_id)

    def lock(self, account_ids: Iterable[UUID]) -> dict[UUID, Account]:
        return {account_id: self._db.account(account_id) for account_id in sorted(set(account_ids))}

    def post(self, transaction: LedgerTransaction) -> None:
        self._db.post(transaction)

    def get_transaction(self, transaction_id: UUID) -> LedgerTransaction:
        try:
            return self._db.transactions[transaction_id]
        except KeyError:
            raise NotFound(f"ledger transaction {transaction_id} not found") from None

    def reversal_of(self, transaction_id: UUID) -> UUID | None:
        return self._db.reversal_of.get(transaction_id)

    def entries_sum(self, account_id: UUID) -> int:
        return sum(entry.amount_cents for entry in self._db.entries if entry.account_id == account_id)

    def shopper_entries(
        self, shopper_id: UUID, kind: AccountKind | None, limit: int, offset: int
    ) -> tuple[list[LedgerLine], int]:
        db = self._db
        kinds = [k for k in (AccountKind.STORE_CREDIT, AccountKind.CASH_PAYABLE) if kind in (None, k)]
        wanted = {
            db.shopper_account_ids[(shopper_id, k)]: k for k in kinds if (shopper_id, k) in db.shopper_account_ids
        }
        running: dict[UUID, int] = {}
        lines = []
        for entry in db.entries:
            if entry.account_id not in wanted:
                continue
            running[entry.account_id] = running.get(entry.account_id, 0) + entry.amount_cents
            transaction = db.transactions[entry.transaction_id]
            lines.append(
                LedgerLine(
                    entry_id=entry.id,
                    account=wanted[entry.account_id],
                    transaction_id=transaction.id,
                    kind=transaction.kind,
                    description=transaction.description,
                    at=transaction.created_at,
                    amount_cents=Cents(entry.amount_cents),
                    balance_after_cents=Cents(running[entry.account_id]),
                    order_id=transaction.order_id,
                    reverses_id=transaction.reverses_id,
                    payout_line_id=transaction.payout_line_id,
                )
            )
        lines.reverse()
        return lines[offset : offset + limit], len(lines)
