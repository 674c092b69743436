"""Reconciliation on PostgreSQL finds each kind of difference planted straight in the tables, as a faulty
release or a hand-made fix would leave it: the append-only triggers are switched off for the planting only
(`session_replication_role = replica`), the way nothing in the service can."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID, uuid4

import psycopg
import pytest

from dispatch.model import Shopper
from rewards.reconciliation import DiscrepancyKind
from rewards.services import (
    reconciliation_report,
    register_referral,
)
from tests.rewards.conftest import NOW, OPS, World, credit, pay_everyone

pytestmark = pytest.mark.usefixtures("pg_policy")


@contextmanager
def planting(world: World) -> Iterator[psycopg.Connection]:
    """One transaction with every trigger off (append-only, balancing, foreign keys), committed at the end."""
    with world.database.connection() as connection, connection.transaction():
        connection.execute("SET LOCAL session_replication_role = replica")
        yield connection


def kinds(world: World) -> dict[DiscrepancyKind, list[UUID]]:
    with world.rewards() as uow:
        report = reconciliation_report(uow)
    found: dict[DiscrepancyKind, list[UUID]] = {}
    for discrepancy in report.discrepancies:
        found.setdefault(discrepancy.kind, []).append(discrepancy.subject_id)
    return found


def _credited(world: World, shopper: Shopper) -> UUID:
    order = world.order(proof_by=shopper)
    credit(world, order.id, shopper.id)
    return order.id


def test_the_untouched_books_agree(pg_world: World) -> None:
    shopper = pg_world.add_shopper()
    _credited(pg_world, shopper)
    pay_everyone(pg_world)
    assert kinds(pg_world) == {}


def test_a_ledger_credit_without_its_reward_is_reported(pg_world: World) -> None:
    """A balanced delivery-reward transaction that no reward names: money on a shopper with nothing behind it."""
    shopper = pg_world.add_shopper()
    _credited(pg_world, shopper)
    planted = uuid4()
    with planting(pg_world) as connection:
        connection.execute(
            """INSERT INTO ledger_transactions (id, kind, description, created_at)
               VALUES (%s, 'delivery_reward', 'planted', %s)""",
            (planted, NOW),
        )
        connection.execute(
            """INSERT INTO ledger_entries (transaction_id, account_id, amount_cents)
               SELECT %s, id, CASE WHEN shopper_id IS NULL THEN -700 ELSE 700 END FROM ledger_accounts
               WHERE (shopper_id = %s AND kind = 'cash_payable') OR (shopper_id IS NULL AND kind = 'reward_expense')""",
            (planted, shopper.id),
        )
        connection.execute(
            """UPDATE ledger_accounts SET balance_cents = balance_cents + 700
               WHERE shopper_id = %s AND kind = 'cash_payable'""",
            (shopper.id,),
        )
    assert kinds(pg_world) == {DiscrepancyKind.UNEXPLAINED_CREDIT: [planted]}


def test_a_paid_line_without_its_ledger_movement_is_reported(pg_world: World) -> None:
    """The payout's transaction taken out of the ledger (and the balance put back) leaves a line marked paid
    that moved nothing; a line whose amount was changed after paying moved another amount."""
    first, second = pg_world.add_shopper(), pg_world.add_shopper()
    _credited(pg_world, first)
    _credited(pg_world, second)
    batch = pay_everyone(pg_world)
    line_of = {line.shopper_id: line for line in batch.lines}
    with planting(pg_world) as connection:
        connection.execute(
            """DELETE FROM ledger_entries WHERE transaction_id IN
               (SELECT id FROM ledger_transactions WHERE payout_line_id = %s)""",
            (line_of[first.id].id,),
        )
        connection.execute("DELETE FROM ledger_transactions WHERE payout_line_id = %s", (line_of[first.id].id,))
        connection.execute(
            """UPDATE ledger_accounts SET balance_cents = balance_cents + %s
               WHERE shopper_id = %s AND kind = 'cash_payable'""",
            (line_of[first.id].amount_cents, first.id),
        )
        connection.execute(
            "UPDATE payout_lines SET amount_cents = amount_cents + 1 WHERE id = %s", (line_of[second.id].id,)
        )
    found = kinds(pg_world)
    assert found[DiscrepancyKind.PAID_LINE_NOT_IN_LEDGER] == sorted([line_of[first.id].id, line_of[second.id].id])
    assert DiscrepancyKind.UNBALANCED_TRANSACTION not in found  # what was left of the ledger still balances


def test_a_reward_credited_above_what_its_policy_gives_is_reported(pg_world: World) -> None:
    """A reward and its ledger credit raised together by 10.00 (both agree, every transaction balances): only
    pricing the reward again from its recorded policy version, inputs and earnings before it shows the
    difference. The batch screening would flag it too, but only for a shopper a batch is prepared for."""
    shopper = pg_world.add_shopper()
    order_id = _credited(pg_world, shopper)
    with planting(pg_world) as connection:
        connection.execute(
            """UPDATE delivery_rewards
               SET amount_cents = amount_cents + 1000, cash_value_cents = cash_value_cents + 1000
               WHERE order_id = %s""",
            (order_id,),
        )
        connection.execute(
            """UPDATE ledger_entries e SET amount_cents = e.amount_cents + sign(e.amount_cents) * 1000
               FROM delivery_rewards r WHERE r.order_id = %s AND e.transaction_id = r.transaction_id""",
            (order_id,),
        )
        connection.execute(
            """UPDATE ledger_accounts SET balance_cents = balance_cents + 1000
               WHERE shopper_id = %s AND kind = 'cash_payable'""",
            (shopper.id,),
        )
    assert kinds(pg_world) == {DiscrepancyKind.REWARD_NOT_AS_PRICED: [order_id]}


def test_a_referral_bonus_above_the_policys_share_is_reported(pg_world: World) -> None:
    """The bonus on the referrer raised by 10.00, balanced: it still lands on the referrer, so only the policy's
    share of the reward's cash value shows it."""
    referrer, newcomer = pg_world.add_shopper(), pg_world.add_shopper()
    with pg_world.rewards() as uow:
        register_referral(uow, referrer_shopper_id=referrer.id, referred_shopper_id=newcomer.id, actor_id=OPS, now=NOW)
    order_id = _credited(pg_world, newcomer)
    assert kinds(pg_world) == {}
    with planting(pg_world) as connection:
        connection.execute(
            """UPDATE ledger_entries e SET amount_cents = e.amount_cents + sign(e.amount_cents) * 1000
               FROM delivery_rewards r WHERE r.order_id = %s AND e.transaction_id = r.referral_transaction_id""",
            (order_id,),
        )
        connection.execute(
            """UPDATE ledger_accounts SET balance_cents = balance_cents + 1000
               WHERE shopper_id = %s AND kind = 'cash_payable'""",
            (referrer.id,),
        )
    assert kinds(pg_world) == {DiscrepancyKind.REFERRAL_BONUS_NOT_AS_PRICED: [order_id]}


def test_a_cash_reward_credited_as_store_credit_is_reported(pg_world: World) -> None:
    """The credit moved from the shopper's cash account to their store credit: the right shopper holds the right
    amount, but as money the bank will never pay (and the till will take), so the reward is not in the ledger
    as it was earned."""
    shopper = pg_world.add_shopper()
    order_id = _credited(pg_world, shopper)
    with planting(pg_world) as connection:
        moved = connection.execute(
            """UPDATE ledger_entries e SET account_id = s.id
               FROM delivery_rewards r, ledger_accounts c, ledger_accounts s
               WHERE r.order_id = %(order)s AND e.transaction_id = r.transaction_id AND e.account_id = c.id
                 AND c.shopper_id = %(shopper)s AND c.kind = 'cash_payable'
                 AND s.shopper_id = %(shopper)s AND s.kind = 'store_credit'
               RETURNING e.amount_cents""",
            {"order": order_id, "shopper": shopper.id},
        ).fetchone()
        assert moved is not None
        connection.execute(
            """UPDATE ledger_accounts SET balance_cents = balance_cents + CASE kind WHEN 'store_credit' THEN %(c)s
               ELSE -%(c)s END WHERE shopper_id = %(shopper)s""",
            {"c": moved[0], "shopper": shopper.id},
        )
    found = kinds(pg_world)
    assert found == {DiscrepancyKind.REWARD_NOT_IN_LEDGER: [order_id]}
