"""The double-entry ledger in the business's words: accounts, balanced transactions, reversals.

Sign convention: every balance is what the company owes on that account. Crediting a shopper is a positive
entry on their account and an equal negative entry on an expense account; paying them out moves the
amount from their cash payable to payouts clearing. Company accounts may go negative; shopper accounts may
not. The database enforces the same rules again (see migration 0002_rewards).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from crowdship.errors import DomainError, InvalidInput
from crowdship.units import Cents, format_cents


class AccountKind(StrEnum):
    STORE_CREDIT = "store_credit"
    CASH_PAYABLE = "cash_payable"
    REWARD_EXPENSE = "reward_expense"
    REFERRAL_EXPENSE = "referral_expense"
    PAYOUTS_CLEARING = "payouts_clearing"
    STORE_CREDIT_REDEEMED = "store_credit_redeemed"

    @property
    def belongs_to_shopper(self) -> bool:
        return self in SHOPPER_ACCOUNT_KINDS


SHOPPER_ACCOUNT_KINDS = frozenset({AccountKind.STORE_CREDIT, AccountKind.CASH_PAYABLE})


class TransactionKind(StrEnum):
    DELIVERY_REWARD = "delivery_reward"
    REFERRAL_BONUS = "referral_bonus"
    PAYOUT = "payout"
    STORE_CREDIT_REDEMPTION = "store_credit_redemption"
    REVERSAL = "reversal"


@dataclass(frozen=True)
class Account:
    id: UUID
    kind: AccountKind
    shopper_id: UUID | None
    balance_cents: Cents | None
    """None for a company account: it may go negative, so nothing checks its balance, and keeping one would
    make every credit wait on one row (reports sum its entries)."""

    @property
    def allow_negative(self) -> bool:
        return self.shopper_id is None

    @property
    def held_cents(self) -> Cents:
        """What a shopper account holds."""
        if self.balance_cents is None:
            raise ValueError(f"the {self.kind.value} account keeps no running balance; sum its entries")
        return self.balance_cents


@dataclass(frozen=True)
class Entry:
    account_id: UUID
    amount_cents: Cents

    def __post_init__(self) -> None:
        if type(self.amount_cents) is not int:
            raise InvalidInput("amount_cents", "must be whole cents")
        if self.amount_cents == 0:
            raise InvalidInput("amount_cents", "an entry moves money; zero is not an entry")


@dataclass(frozen=True)
class LedgerTransaction:
    """Entries that move money together and sum to zero; immutable once posted."""

    kind: TransactionKind
    description: str
    created_at: datetime
    entries: tuple[Entry, ...]
    actor_id: UUID | None = None
    order_id: UUID | None = None
    payout_line_id: UUID | None = None
    reverses_id: UUID | None = None
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if len(self.entries) < 2:
            raise UnbalancedTransaction("a transaction has at least two entries")
        total = sum(entry.amount_cents for entry in self.entries)
        if total != 0:
            raise UnbalancedTransaction(f"entries sum to {format_cents(Cents(total))}, not zero")
        if (self.kind is TransactionKind.REVERSAL) != (self.reverses_id is not None):
            raise InvalidInput("reverses_id", "a reversal, and only a reversal, names what it reverses")

    def reversal(self, *, created_at: datetime, actor_id: UUID | None, reason: str) -> LedgerTransaction:
        """The correcting transaction: the same entries with the opposite sign, linked to this one."""
        if self.kind is TransactionKind.REVERSAL:
            raise CannotReverse(f"transaction {self.id} is itself a reversal; post a new transaction instead")
        if not reason.strip():
            raise InvalidInput("reason", "say why the transaction is reversed")
        return LedgerTransaction(
            kind=TransactionKind.REVERSAL,
            description=f"reversal of {self.id}: {reason}",
            created_at=created_at,
            entries=tuple(Entry(e.account_id, Cents(-e.amount_cents)) for e in self.entries),
            actor_id=actor_id,
            order_id=self.order_id,
            reverses_id=self.id,
        )


def transfer(
    *,
    kind: TransactionKind,
    description: str,
    created_at: datetime,
    from_account: UUID,
    to_account: UUID,
    amount: Cents,
    actor_id: UUID | None = None,
    order_id: UUID | None = None,
    payout_line_id: UUID | None = None,
) -> LedgerTransaction:
    """A two-entry transaction: `to_account` gains `amount`, `from_account` gives it."""
    if amount <= 0:
        raise InvalidInput("amount_cents", "must be positive")
    return LedgerTransaction(
        kind=kind,
        description=description,
        created_at=created_at,
        entries=(Entry(to_account, amount), Entry(from_account, Cents(-amount))),
        actor_id=actor_id,
        order_id=order_id,
        payout_line_id=payout_line_id,
    )


@dataclass(frozen=True)
class PromisedPayout:
    """Money on a cash-payable account that an approved, unpaid payout batch is to pay: its bank upload may
    already be on its way, so nothing but that payout may take it."""

    batch_id: UUID
    amount_cents: Cents


def debited(entries: Sequence[Entry]) -> set[UUID]:
    """The accounts a posting takes money from, on balance."""
    return {account_id for account_id, delta in _moved(entries).items() if delta < 0}


def _moved(entries: Sequence[Entry]) -> dict[UUID, int]:
    moved: dict[UUID, int] = {}
    for entry in entries:
        moved[entry.account_id] = moved.get(entry.account_id, 0) + entry.amount_cents
    return moved


def check_balances_after(
    accounts: Mapping[UUID, Account], entries: Sequence[Entry], promised: Mapping[UUID, PromisedPayout] | None = None
) -> None:
    """Refuses a posting that would take an account that may not go negative below zero, or below what an
    approved payout batch promised from it (`promised`, by account)."""
    promised = promised or {}
    for account_id, delta in _moved(entries).items():
        account = accounts[account_id]
        if account.allow_negative:
            continue
        if account.held_cents + delta < 0:
            raise InsufficientBalance(account, Cents(-delta))
        promise = promised.get(account_id)
        if delta < 0 and promise is not None and account.held_cents + delta < promise.amount_cents:
            raise PromisedToPayout(account, Cents(-delta), promise)


# --------------------------------------------------------------------------------------------------
# Errors


class UnbalancedTransaction(DomainError):
    kind = "invalid"


class InsufficientBalance(DomainError):
    kind = "conflict"

    def __init__(self, account: Account, requested: Cents) -> None:
        super().__init__(
            f"{account.kind.value} account {account.id} holds {format_cents(account.held_cents)}, "
            f"cannot give {format_cents(requested)}"
        )
        self.account = account
        self.account_id = account.id
        self.requested_cents = requested


class PromisedToPayout(InsufficientBalance):
    """The money is on the account, but an approved payout batch is to pay it: reject that batch first (then
    prepare another), so that the bank is not told to pay what the ledger no longer owes."""

    def __init__(self, account: Account, requested: Cents, promise: PromisedPayout) -> None:
        DomainError.__init__(
            self,
            f"{account.kind.value} account {account.id} holds {format_cents(account.held_cents)}, of which "
            f"{format_cents(promise.amount_cents)} is to be paid by approved payout batch {promise.batch_id}: cannot "
            f"give {format_cents(requested)} (reject that batch first)",
        )
        self.account = account
        self.account_id = account.id
        self.requested_cents = requested
        self.promise = promise


class CannotReverse(DomainError):
    kind = "conflict"


class AlreadyReversed(CannotReverse):
    def __init__(self, transaction_id: UUID) -> None:
        super().__init__(f"transaction {transaction_id} was already reversed")
        self.transaction_id = transaction_id
