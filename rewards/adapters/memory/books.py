"""The audit log, reports, acting accounts and payment choices in memory, as `rewards.adapters.postgres.books`
keeps them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from rewards.adapters.memory.store import MemoryRepository
from rewards.ledger import AccountKind, LedgerTransaction, TransactionKind
from rewards.payouts import BatchStatus
from rewards.policy import PaymentMethod
from rewards.reconciliation import (
    AccountSnapshot,
    PayoutLineSnapshot,
    PricedFrom,
    ReconciliationData,
    RewardSnapshot,
    TransactionSnapshot,
)
from rewards.records import AuditEntry, PaymentMethodChoice, RewardRecord
from rewards.tiers import ShopperRecord


class MemoryActingAccounts(MemoryRepository):
    def active_locked(self, user_id: UUID) -> bool | None:
        account = self._db.dispatch.users.get(user_id)
        return None if account is None else account.active


class MemoryAuditLog(MemoryRepository):
    def append(self, entry: AuditEntry) -> None:
        self._db.append(self._db.audit, entry)

    def for_subject(self, subject_kind: str, subject_id: UUID) -> list[AuditEntry]:
        return [e for e in self._db.audit if e.subject_kind == subject_kind and e.subject_id == subject_id]

    def page(
        self, *, subject_kind: str | None, subject_id: UUID | None, limit: int, offset: int
    ) -> tuple[list[tuple[int, AuditEntry]], int]:
        matching = [
            (sequence, entry)
            for sequence, entry in enumerate(self._db.audit, start=1)
            if (subject_kind is None or entry.subject_kind == subject_kind)
            and (subject_id is None or entry.subject_id == subject_id)
        ]
        matching.reverse()
        return matching[offset : offset + limit], len(matching)


class MemoryPaymentChoiceRepository(MemoryRepository):
    def add(self, choice: PaymentMethodChoice) -> None:
        self._db.append(self._db.choices, choice)

    def _newest(self, shopper_id: UUID, until: datetime | None) -> PaymentMethodChoice | None:
        found = None
        for choice in self._db.choices:  # in the order made: the last of equal instants wins, as by id
            in_time = until is None or choice.chosen_at <= until
            if choice.shopper_id == shopper_id and in_time and (found is None or choice.chosen_at >= found.chosen_at):
                found = choice
        return found

    def latest(self, shopper_id: UUID) -> PaymentMethodChoice | None:
        return self._newest(shopper_id, None)

    def in_force_at(self, shopper_ids: Collection[UUID], instant: datetime) -> dict[UUID, PaymentMethodChoice]:
        chosen = {shopper_id: self._newest(shopper_id, instant) for shopper_id in shopper_ids}
        return {shopper_id: choice for shopper_id, choice in chosen.items() if choice is not None}


class MemoryRewardsReports(MemoryRepository):
    def reconciliation_data(self) -> ReconciliationData:
        db = self._db
        totals: dict[UUID, int] = {}
        per_transaction: dict[UUID, int] = {transaction_id: 0 for transaction_id in db.transactions}
        per_account_in: dict[UUID, dict[UUID, int]] = {}
        moves: dict[UUID, dict[UUID, int]] = {}  # transaction → shopper → net
        for entry in db.entries:
            totals[entry.account_id] = totals.get(entry.account_id, 0) + entry.amount_cents
            per_transaction[entry.transaction_id] += entry.amount_cents
            in_transaction = per_account_in.setdefault(entry.transaction_id, {})
            in_transaction[entry.account_id] = in_transaction.get(entry.account_id, 0) + entry.amount_cents
            shopper_id = db.accounts[entry.account_id][1]
            if shopper_id is not None:
                on = moves.setdefault(entry.transaction_id, {})
                on[shopper_id] = on.get(shopper_id, 0) + entry.amount_cents
        named = {r.transaction_id for r in db.rewards.values()} | {
            r.referral_transaction_id for r in db.rewards.values()
        }

        def mirrors(transaction: LedgerTransaction) -> bool | None:
            if transaction.reverses_id is None:
                return None
            undone = per_account_in.get(transaction.reverses_id, {})
            done = per_account_in.get(transaction.id, {})
            return all(done.get(account, 0) + undone.get(account, 0) == 0 for account in done.keys() | undone.keys())

        def elsewhere(record: RewardRecord) -> int:
            referral = db.referrals.get(record.shopper_id)
            referrer = None if referral is None else referral.referrer_shopper_id
            own = moves.get(record.transaction_id, {}) if record.transaction_id else {}
            bonus = moves.get(record.referral_transaction_id, {}) if record.referral_transaction_id else {}
            return sum(net for shopper, net in own.items() if shopper != record.shopper_id) + sum(
                net for shopper, net in bonus.items() if shopper != referrer
            )

        def on_own_accounts(record: RewardRecord) -> tuple[int, int]:
            """(on the account the reward's method names, on the shopper's other account)."""
            named = AccountKind.CASH_PAYABLE if record.inputs.method is PaymentMethod.CASH else AccountKind.STORE_CREDIT
            own = per_account_in.get(record.transaction_id, {}) if record.transaction_id else {}
            mine = [(db.accounts[account][0], cents) for account, cents in own.items()
                    if db.accounts[account][1] == record.shopper_id]  # fmt: skip
            return sum(c for kind, c in mine if kind is named), sum(c for kind, c in mine if kind is not named)

        def referral_bonus(record: RewardRecord) -> int:
            referral = db.referrals.get(record.shopper_id)
            if referral is None or record.referral_transaction_id is None:
                return 0
            return moves.get(record.referral_transaction_id, {}).get(referral.referrer_shopper_id, 0)

        delivered = {order.id for order in db.dispatch.orders.values() if order.status.value == "delivered"}
        rewards = {record.order_id: record for record in db.rewards.values()}
        paid = {
            line.id: line.amount_cents
            for batch in db.batches.values()
            if batch.status is BatchStatus.PAID
            for line in batch.lines
            if not line.held
        }
        debited = {
            t.payout_line_id: -sum(moves.get(t.id, {}).values())
            for t in db.transactions.values()
            if t.kind is TransactionKind.PAYOUT and t.payout_line_id is not None
        }
        return ReconciliationData(
            accounts=[
                AccountSnapshot(
                    account_id, shopper_id is not None, db.account(account_id).balance_cents, totals.get(account_id, 0)
                )
                for account_id, (_, shopper_id) in db.accounts.items()
            ],
            transactions=[
                TransactionSnapshot(
                    t.id,
                    per_transaction[t.id],
                    any(net > 0 for net in moves.get(t.id, {}).values()),
                    t.reverses_id is not None or t.id in named,
                    mirrors(t),
                )
                for t in db.transactions.values()
            ],
            rewards=[
                RewardSnapshot(order_id, True, None)
                if (record := rewards.get(order_id)) is None
                else RewardSnapshot(
                    order_id,
                    order_id in delivered,
                    record.amount_cents,
                    on_own_accounts(record)[0],
                    elsewhere(record),
                    db.reversed(record.transaction_id),
                    PricedFrom(record.policy_id, record.inputs, record.earned_before),
                    referral_bonus(record),
                    on_own_accounts(record)[1],
                )
                for order_id in sorted(delivered | rewards.keys())
            ],
            payout_lines=[
                PayoutLineSnapshot(line_id, paid.get(line_id), debited.get(line_id, 0))
                for line_id in sorted(paid.keys() | debited.keys())
            ],
        )

    def shopper_record(self, shopper_id: UUID, start: datetime, end: datetime) -> ShopperRecord:
        dispatch = self._db.dispatch
        deliveries = on_time = 0
        for order_id, proofs in dispatch.proofs.items():
            for proof in proofs:
                trip = dispatch.trips.get(proof.trip_id)
                mine = proof.accepted and trip is not None and trip.shopper_id == shopper_id
                if mine and start <= proof.recorded_at <= end:
                    deliveries += 1
                    on_time += proof.recorded_at <= dispatch.orders[order_id].window_latest
        incidents = sum(
            1
            for listed in dispatch.incidents.values()
            for incident in listed
            if incident.shopper_id == shopper_id and start <= incident.reported_at <= end
        )
        return ShopperRecord(deliveries=deliveries, on_time_deliveries=on_time, incidents=incidents)
