"""Ledger rules in plain Python: balanced transactions, reversals, balance checks, request fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from rewards.ledger import (
    Account,
    AccountKind,
    CannotReverse,
    Entry,
    InsufficientBalance,
    LedgerTransaction,
    PromisedPayout,
    PromisedToPayout,
    TransactionKind,
    UnbalancedTransaction,
    check_balances_after,
    transfer,
)

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)


def test_entries_that_do_not_sum_to_zero_are_refused() -> None:
    """+500 and -499 leave a cent unaccounted for."""
    with pytest.raises(UnbalancedTransaction):
        LedgerTransaction(
            kind=TransactionKind.DELIVERY_REWARD,
            description="x",
            created_at=NOW,
            entries=(Entry(uuid4(), Cents(500)), Entry(uuid4(), Cents(-499))),
        )


def test_a_single_entry_is_not_a_transaction() -> None:
    """Double entry means at least two."""
    with pytest.raises(UnbalancedTransaction):
        LedgerTransaction(kind=TransactionKind.PAYOUT, description="x", created_at=NOW, entries=())


def test_zero_and_fractional_amounts_are_refused() -> None:
    """An entry moves whole cents, and some."""
    with pytest.raises(InvalidInput):
        Entry(uuid4(), Cents(0))
    with pytest.raises(InvalidInput):
        Entry(uuid4(), 1.5)  # type: ignore[arg-type]


def test_reversal_negates_every_entry_and_names_the_original() -> None:
    """A correction is a new transaction with the opposite entries, linked to what it corrects."""
    original = transfer(
        kind=TransactionKind.DELIVERY_REWARD,
        description="reward",
        created_at=NOW,
        from_account=uuid4(),
        to_account=uuid4(),
        amount=Cents(321),
    )
    reversal = original.reversal(created_at=NOW, actor_id=uuid4(), reason="disputed")
    assert reversal.reverses_id == original.id
    assert reversal.kind is TransactionKind.REVERSAL
    assert sorted((e.account_id, e.amount_cents) for e in reversal.entries) == sorted(
        (e.account_id, -e.amount_cents) for e in original.entries
    )
    with pytest.raises(CannotReverse):
        reversal.reversal(created_at=NOW, actor_id=None, reason="again")


def test_a_shopper_account_cannot_go_below_zero_but_a_company_account_can() -> None:
    """Taking 101 ¢ from 100 ¢ is refused for a shopper; the expense account goes negative by design."""
    shopper = Account(uuid4(), AccountKind.CASH_PAYABLE, uuid4(), Cents(100))
    company = Account(uuid4(), AccountKind.REWARD_EXPENSE, None, Cents(0))
    accounts = {shopper.id: shopper, company.id: company}
    check_balances_after(accounts, [Entry(shopper.id, Cents(-100)), Entry(company.id, Cents(100))])
    with pytest.raises(InsufficientBalance):
        check_balances_after(accounts, [Entry(shopper.id, Cents(-101)), Entry(company.id, Cents(101))])
    check_balances_after(accounts, [Entry(company.id, Cents(-10_000)), Entry(shopper.id, Cents(10_000))])


def test_money_an_approved_batch_is_to_pay_stays_but_what_is_above_it_can_be_taken() -> None:
    """300 ¢ of 500 ¢ promised to a batch: 200 ¢ may go, 201 ¢ may not, and money coming in is never refused."""
    shopper = Account(uuid4(), AccountKind.CASH_PAYABLE, uuid4(), Cents(500))
    company = Account(uuid4(), AccountKind.REWARD_EXPENSE, None, Cents(0))
    accounts = {shopper.id: shopper, company.id: company}
    promised = {shopper.id: PromisedPayout(uuid4(), Cents(300))}
    check_balances_after(accounts, [Entry(shopper.id, Cents(-200)), Entry(company.id, Cents(200))], promised)
    with pytest.raises(PromisedToPayout) as refused:
        check_balances_after(accounts, [Entry(shopper.id, Cents(-201)), Entry(company.id, Cents(201))], promised)
    assert refused.value.promise == promised[shopper.id]
    check_balances_after(accounts, [Entry(company.id, Cents(-50)), Entry(shopper.id, Cents(50))], promised)
