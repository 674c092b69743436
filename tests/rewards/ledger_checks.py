"""The ledger's rules read straight from PostgreSQL's tables, for the ledger's property and race tests."""

from __future__ import annotations

from uuid import UUID

from psycopg_pool import ConnectionPool

from rewards.ledger import AccountKind


def check_ledger_invariants(pool: ConnectionPool) -> None:
    """The rules that must hold after anything, read straight from the tables."""
    with pool.connection() as connection:
        unbalanced = connection.execute(
            """SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
               GROUP BY t.id HAVING coalesce(sum(e.amount_cents), 0) <> 0 OR count(e.id) < 2"""
        ).fetchall()
        drifted = connection.execute(
            """SELECT a.id FROM ledger_accounts a
               WHERE a.balance_cents <> coalesce((SELECT sum(amount_cents) FROM ledger_entries e
                                                   WHERE e.account_id = a.id), 0)"""
        ).fetchall()
        negative = connection.execute(
            "SELECT id FROM ledger_accounts WHERE NOT allow_negative AND balance_cents < 0"
        ).fetchall()
        paid_twice = connection.execute(
            """SELECT payout_line_id FROM ledger_transactions WHERE kind = 'payout'
               GROUP BY payout_line_id HAVING count(*) > 1
               UNION ALL
               SELECT order_id FROM ledger_transactions WHERE kind = 'delivery_reward'
               GROUP BY order_id HAVING count(*) > 1
               UNION ALL
               SELECT reverses_id FROM ledger_transactions WHERE reverses_id IS NOT NULL
               GROUP BY reverses_id HAVING count(*) > 1"""
        ).fetchall()
    assert unbalanced == []
    assert drifted == []
    assert negative == []
    assert paid_twice == []


def shopper_balances(pool: ConnectionPool, shopper_ids: list[UUID]) -> dict[tuple[UUID, AccountKind], int]:
    with pool.connection() as connection:
        rows = connection.execute(
            "SELECT shopper_id, kind, balance_cents FROM ledger_accounts WHERE shopper_id = ANY(%s)", (shopper_ids,)
        ).fetchall()
    found = {(row[0], AccountKind(row[1])): int(row[2]) for row in rows}
    return {
        (shopper_id, kind): found.get((shopper_id, kind), 0)
        for shopper_id in shopper_ids
        for kind in (AccountKind.STORE_CREDIT, AccountKind.CASH_PAYABLE)
    }
