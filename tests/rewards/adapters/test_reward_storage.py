"""The database itself guards the ledger: append-only rows, balanced transactions, no negative shopper balance."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from crowdship.units import Cents
from rewards.adapters.postgres import PostgresRewardsUnitOfWork
from rewards.ledger import AccountKind, AlreadyReversed, TransactionKind, transfer
from rewards.policy_versions import PolicyStatus, RewardPolicy
from rewards.records import AuditEntry
from rewards.services import create_reward_policy, decide_reward_policy
from routing.geo import GeoPoint
from tests.rewards.conftest import APPROVER, NOW, OPS, PLAIN_PARAMETERS, World


@pytest.fixture
def world(pg_world: World) -> World:
    """These tests are about PostgreSQL itself: its constraints and triggers, its SQL."""
    return pg_world


def _funded_shopper(world: World, amount: int = 1_000) -> tuple[UUID, UUID, UUID]:
    """A shopper whose cash payable holds `amount`; returns (transaction, shopper account, expense account)."""
    shopper = world.add_shopper()
    with world.rewards() as uow:
        accounts = uow.repos.ledger.shopper_accounts(shopper.id)
        expense = uow.repos.ledger.company_account(AccountKind.REWARD_EXPENSE)
        transaction = transfer(
            kind=TransactionKind.DELIVERY_REWARD,
            description="seed",
            created_at=NOW,
            from_account=expense.id,
            to_account=accounts[AccountKind.CASH_PAYABLE].id,
            amount=Cents(amount),
        )
        uow.repos.ledger.post(transaction)
        uow.commit()
    return transaction.id, accounts[AccountKind.CASH_PAYABLE].id, expense.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount_cents = amount_cents + 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET description = 'changed'",
        "DELETE FROM ledger_transactions",
    ],
)
def test_entries_and_transactions_cannot_be_updated_or_deleted(world: World, statement: str) -> None:
    """The database refuses the change itself, whoever sends the SQL."""
    _funded_shopper(world)
    with world.database.connection() as connection, pytest.raises(psycopg.errors.InsufficientPrivilege):
        connection.execute(statement)


def test_policies_rewards_and_audit_log_are_append_only(world: World, policy: RewardPolicy) -> None:
    """Published policies and the audit trail cannot be rewritten."""
    for statement in (
        "UPDATE reward_policies SET parameters = '{}'",
        "DELETE FROM reward_policies",
        "UPDATE rewards_audit_log SET action = 'nothing'",
        "DELETE FROM rewards_audit_log",
    ):
        with world.database.connection() as connection, pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(statement)
    with world.rewards() as uow:
        assert uow.repos.policies.get_version(1) == policy


def test_an_unbalanced_transaction_fails_at_commit(world: World) -> None:
    """Entries may be written one by one, but the transaction must sum to zero when it commits."""
    _, shopper_account, expense = _funded_shopper(world)
    transaction_id = uuid4()
    with world.database.connection() as connection:
        connection.execute(
            """INSERT INTO ledger_transactions (id, kind, description, created_at)
               VALUES (%s, 'delivery_reward', 'bad', now())""",
            (transaction_id,),
        )
        connection.execute(
            """INSERT INTO ledger_entries (transaction_id, account_id, amount_cents)
               VALUES (%s, %s, 500), (%s, %s, -499)""",
            (transaction_id, shopper_account, transaction_id, expense),
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="does not balance"):
            connection.commit()
    with world.database.connection() as connection:
        found = connection.execute("SELECT count(*) FROM ledger_transactions WHERE id = %s", (transaction_id,))
        assert found.fetchone() == (0,)


def test_a_transaction_without_entries_fails_at_commit(world: World) -> None:
    """An empty transaction is not a transaction."""
    with world.database.connection() as connection:
        connection.execute(
            """INSERT INTO ledger_transactions (id, kind, description, created_at)
               VALUES (%s, 'payout', 'empty', now())""",
            (uuid4(),),
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            connection.commit()


def test_a_shopper_balance_cannot_go_negative_even_by_raw_sql(world: World) -> None:
    """The running balance carries a CHECK: taking 1 001 ¢ from 1 000 ¢ fails in the database."""
    _, shopper_account, expense = _funded_shopper(world, 1_000)
    transaction_id = uuid4()
    with world.database.connection() as connection:
        connection.execute(
            """INSERT INTO ledger_transactions (id, kind, description, created_at)
               VALUES (%s, 'store_credit_redemption', 'overdraw', now())""",
            (transaction_id,),
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="ledger_accounts_not_negative"):
            connection.execute(
                """INSERT INTO ledger_entries (transaction_id, account_id, amount_cents)
                   VALUES (%s, %s, -1001), (%s, %s, 1001)""",
                (transaction_id, shopper_account, transaction_id, expense),
            )


def test_a_transaction_is_reversed_at_most_once(world: World) -> None:
    """The second reversal of the same transaction is refused by the unique link, as AlreadyReversed."""
    original_id, _, _ = _funded_shopper(world)
    with world.rewards() as uow:
        original = uow.repos.ledger.get_transaction(original_id)
        uow.repos.ledger.post(original.reversal(created_at=NOW, actor_id=OPS, reason="first"))
        with pytest.raises(AlreadyReversed):
            uow.repos.ledger.post(original.reversal(created_at=NOW, actor_id=OPS, reason="second"))
        uow.commit()  # the savepoint kept the first reversal usable
    with world.rewards() as uow:
        assert uow.repos.ledger.reversal_of(original_id) is not None


def test_balances_follow_the_entries(world: World) -> None:
    """After a credit and a partial reversal-free transfer, each balance equals the sum of its entries."""
    _, shopper_account, expense = _funded_shopper(world, 1_234)
    with world.rewards() as uow:
        assert uow.repos.ledger.get_account(shopper_account).held_cents == uow.repos.ledger.entries_sum(shopper_account)
        assert uow.repos.ledger.get_account(shopper_account).held_cents == 1_234
        assert uow.repos.ledger.get_account(expense).balance_cents is None
        assert uow.repos.ledger.entries_sum(expense) == -1_234


def test_location_samples_are_read_for_the_period(world: World, pool: ConnectionPool) -> None:
    """The speed rule's samples come from the location_samples table, for the shoppers and period asked,
    streamed while the unit of work is open."""
    shopper = world.add_shopper()
    other = world.add_shopper()
    with pool.connection() as connection:
        for who, minutes, lat in ((shopper, 0, 52.37), (shopper, 1, 52.47), (other, 0, 52.0), (shopper, 600, 52.5)):
            connection.execute(
                """INSERT INTO location_samples (shopper_id, position, recorded_at)
                   VALUES (%s, ST_SetSRID(ST_MakePoint(4.89, %s), 4326)::geography, %s)""",
                (who.id, lat, NOW + timedelta(minutes=minutes)),
            )
    with PostgresRewardsUnitOfWork(pool) as uow:
        samples = list(uow.repos.payouts.location_samples([shopper.id], NOW, NOW + timedelta(hours=1)))
    assert [(s.shopper_id, s.position, s.recorded_at) for s in samples] == [
        (shopper.id, GeoPoint(52.37, 4.89), NOW),
        (shopper.id, GeoPoint(52.47, 4.89), NOW + timedelta(minutes=1)),
    ]


def test_audit_entries_read_back_in_order(world: World) -> None:
    """Who did what, to what, when: appended and read back as written."""
    subject = uuid4()
    with world.rewards() as uow:
        uow.repos.audit.append(AuditEntry(OPS, "a", "thing", subject, {"n": 1}, NOW))
        uow.repos.audit.append(AuditEntry(None, "b", "thing", subject, {}, NOW + timedelta(seconds=1)))
        uow.commit()
    with world.rewards() as uow:
        assert [e.action for e in uow.repos.audit.for_subject("thing", subject)] == ["a", "b"]


def test_the_database_refuses_an_approval_by_the_preparer(world: World) -> None:
    """Four eyes hold even for SQL that skips the use case: approved_by = prepared_by violates a CHECK."""
    batch_id = uuid4()
    with world.database.connection() as connection:
        connection.execute(
            """INSERT INTO payout_batches (id, period_start, period_end, prepared_by, prepared_at)
               VALUES (%s, %s, %s, %s, %s)""",
            (batch_id, NOW - timedelta(days=7), NOW, OPS, NOW),
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="payout_batches_four_eyes"):
            connection.execute(
                "UPDATE payout_batches SET status = 'approved', approved_by = prepared_by, approved_at = now()"
                " WHERE id = %s",
                (batch_id,),
            )


def test_the_database_refuses_approving_a_version_older_than_the_newest_approved(world: World) -> None:
    """Versions only go forward even for SQL that skips the use case: with v2 approved, recording an approval
    of the older proposal v1 is refused by a trigger; a rejection of it is not."""
    with world.rewards() as uow:
        older = create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=OPS, now=NOW)
    with world.rewards() as uow:
        newer = create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=OPS, now=NOW)
    with world.rewards() as uow:
        decide_reward_policy(uow, version=newer.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=NOW)
    approve_older = """INSERT INTO reward_policy_decisions (policy_id, decision, decided_by, decided_at)
                       VALUES (%s, %s, %s, now())"""
    with (
        world.database.connection() as connection,
        pytest.raises(psycopg.errors.RaiseException, match="only go forward"),
    ):
        connection.execute(approve_older, (older.id, "approved", APPROVER))
    with world.database.connection() as connection:
        connection.execute(approve_older, (older.id, "rejected", APPROVER))
    with world.rewards() as uow:
        assert uow.repos.policies.get_version(older.version).status is PolicyStatus.REJECTED


def test_the_database_refuses_rejecting_an_exported_batch_without_the_bank_file_withdrawn(world: World) -> None:
    """An exported batch rejected by SQL that skips the use case is refused unless `bank_file_withdrawn` says
    the bank file was taken back."""
    batch_id = uuid4()
    reject = """UPDATE payout_batches SET status = 'rejected', rejected_by = %s, rejected_at = now(),
                    rejection_reason = 'wrong', bank_file_withdrawn = %s WHERE id = %s"""
    with world.database.connection() as connection:
        connection.execute(
            """INSERT INTO payout_batches (id, period_start, period_end, prepared_by, prepared_at, status,
                   approved_by, approved_at)
               VALUES (%s, %s, %s, %s, %s, 'approved', %s, %s)""",
            (batch_id, NOW - timedelta(days=7), NOW, OPS, NOW, APPROVER, NOW),
        )
        connection.execute(
            """INSERT INTO payout_batch_exports (id, batch_id, exported_by, exported_at)
               VALUES (%s, %s, %s, %s)""",
            (uuid4(), batch_id, APPROVER, NOW),
        )
    with (
        world.database.connection() as connection,
        pytest.raises(psycopg.errors.CheckViolation, match="only once its file is withdrawn"),
    ):
        connection.execute(reject, (APPROVER, False, batch_id))
    with world.database.connection() as connection:
        connection.execute(reject, (APPROVER, True, batch_id))
        status = connection.execute("SELECT status FROM payout_batches WHERE id = %s", (batch_id,)).fetchone()
    assert status == ("rejected",)


def test_company_accounts_keep_no_running_balance_and_sum_to_their_entries(world: World) -> None:
    """The expense account keeps no running balance (no queue on one row, no sum of its history per credit);
    its entries still say what it holds."""
    _funded_shopper(world, 700)
    _funded_shopper(world, 300)
    with PostgresRewardsUnitOfWork(world.database) as uow:
        expense = uow.repos.ledger.company_account(AccountKind.REWARD_EXPENSE)
        stored = uow.connection.execute(
            "SELECT balance_cents FROM ledger_accounts WHERE id = %s", (expense.id,)
        ).fetchone()
        summed = uow.repos.ledger.entries_sum(expense.id)
    assert stored == (None,)
    assert expense.balance_cents is None
    assert summed == -1_000
