"""Payout batches and what screens them in memory, as `rewards.adapters.postgres.payouts` keeps them (with
dispatch's rows beside them, for orders, proofs and positions)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.evidence import LocationSample
from rewards.adapters.memory.store import MemoryRepository
from rewards.anomalies import TRACK_REACH_M, DeliveryFact
from rewards.ledger import AccountKind, PromisedPayout, TransactionKind
from rewards.payouts import BatchStatus, PayoutBatch
from rewards.policy_versions import RewardPolicy
from rewards.records import (
    PayableBalance,
    RewardRecord,
    ShopperAlreadyInOpenBatch,
    StandingHold,
)
from routing.distance import geodesic_m


class MemoryPayoutRepository(MemoryRepository):
    def _open_shoppers(self) -> set[UUID]:
        return {line.shopper_id for batch in self._db.batches.values() for line in batch.lines if line.open}

    def payable_balances(self) -> list[PayableBalance]:
        db, in_batches = self._db, self._open_shoppers()
        return sorted(
            (
                PayableBalance(shopper_id, account_id, Cents(db.balances[account_id]))
                for (shopper_id, kind), account_id in db.shopper_account_ids.items()
                if kind is AccountKind.CASH_PAYABLE and db.balances[account_id] > 0 and shopper_id not in in_batches
            ),
            key=lambda balance: balance.shopper_id,
        )

    def standing_holds(self, shopper_ids: Sequence[UUID]) -> dict[UUID, StandingHold]:
        latest: dict[UUID, tuple[datetime, UUID, StandingHold | None]] = {}
        for batch in self._db.batches.values():
            for line in batch.lines:
                if line.shopper_id not in shopper_ids or line.open:
                    continue
                seen = latest.get(line.shopper_id)
                if seen is None or (batch.prepared_at, batch.id) > seen[:2]:
                    hold = StandingHold(batch.id, str(line.hold_reason), line.held_by) if line.held else None
                    latest[line.shopper_id] = (batch.prepared_at, batch.id, hold)
        return {shopper_id: hold for shopper_id, (_, _, hold) in latest.items() if hold is not None}

    def promised(self, shopper_ids: Sequence[UUID]) -> dict[UUID, PromisedPayout]:
        return {
            line.account_id: PromisedPayout(batch.id, line.amount_cents)
            for batch in self._db.batches.values()
            if batch.status is BatchStatus.APPROVED
            for line in batch.lines
            if line.shopper_id in shopper_ids and line.open and not line.held
        }

    def add(self, batch: PayoutBatch) -> None:
        if {line.shopper_id for line in batch.lines if line.open} & self._open_shoppers():
            raise ShopperAlreadyInOpenBatch(
                "a shopper of this batch was put in another open batch meanwhile; prepare again"
            )
        self._db.put(self._db.batches, batch.id, copy.deepcopy(batch))

    def get(self, batch_id: UUID, *, for_update: bool = False) -> PayoutBatch:  # noqa: ARG002 - one writer
        batch = self._db.batch(batch_id)
        batch.lines.sort(key=lambda line: (line.shopper_id, line.id))
        return batch

    def save(self, batch: PayoutBatch) -> None:
        self._db.batch(batch.id)
        self._db.put(self._db.batches, batch.id, copy.deepcopy(batch))

    def periods(self, batch_ids: Collection[UUID]) -> dict[UUID, tuple[datetime, datetime]]:
        batches = self._db.batches
        return {
            batch_id: (batches[batch_id].period_start, batches[batch_id].period_end)
            for batch_id in batch_ids
            if batch_id in batches
        }

    def export_numbers(self, export_ids: Collection[UUID]) -> dict[UUID, int]:
        wanted = set(export_ids)
        numbers: dict[UUID, int] = {}
        for batch in self._db.batches.values():
            ordered = sorted(batch.exports, key=lambda export: (export.exported_at, export.id))
            numbers |= {export.id: n for n, export in enumerate(ordered, 1) if export.id in wanted}
        return numbers

    def line_payees(self, line_ids: Collection[UUID]) -> dict[UUID, UUID]:
        wanted = set(line_ids)
        return {
            line.id: line.shopper_id for batch in self._db.batches.values() for line in batch.lines if line.id in wanted
        }

    def batch_ids(
        self, statuses: Sequence[BatchStatus] | None, *, newest_first: bool, limit: int, offset: int
    ) -> Page[UUID]:
        batches = [b for b in self._db.batches.values() if statuses is None or b.status in statuses]
        batches.sort(key=lambda batch: (batch.prepared_at, batch.id), reverse=newest_first)
        return Page([batch.id for batch in batches[offset : offset + limit]], len(batches))

    def delivery_facts(
        self,
        start: datetime,
        end: datetime,
        policies: Mapping[UUID, RewardPolicy],
        *,
        unpaid_of: Collection[UUID] = (),
    ) -> list[DeliveryFact]:
        unpaid = self._unpaid(unpaid_of)
        chosen = [r for r in self._db.rewards.values() if start <= r.earned_at < end or r.id in unpaid]
        return self._facts(chosen, policies, start, end)

    def _unpaid(self, shopper_ids: Collection[UUID]) -> set[UUID]:
        """Rewards credited to these shoppers' cash accounts after each one's last payout."""
        db = self._db
        wanted = set(shopper_ids)
        cash = {db.shopper_account_ids.get((shopper_id, AccountKind.CASH_PAYABLE)) for shopper_id in wanted}
        last_paid: dict[UUID, int] = {}
        credited_at: dict[UUID, int] = {}  # reward transaction → its entry on a cash account
        for entry in db.entries:
            if entry.account_id not in cash:
                continue
            if db.transactions[entry.transaction_id].kind is TransactionKind.PAYOUT:
                last_paid[entry.account_id] = max(last_paid.get(entry.account_id, 0), entry.id)
            else:
                credited_at[entry.transaction_id] = entry.id
        unpaid = set()
        for reward in db.rewards.values():
            if reward.shopper_id not in wanted or reward.transaction_id not in credited_at:
                continue
            account = db.shopper_account_ids[(reward.shopper_id, AccountKind.CASH_PAYABLE)]
            if credited_at[reward.transaction_id] > last_paid.get(account, 0):
                unpaid.add(reward.id)
        return unpaid

    def _facts(
        self, rewards: Iterable[RewardRecord], policies: Mapping[UUID, RewardPolicy], start: datetime, end: datetime
    ) -> list[DeliveryFact]:
        dispatch = self._db.dispatch
        facts = []
        for reward in sorted(rewards, key=lambda reward: (reward.earned_at, reward.id)):
            order = dispatch.orders[reward.order_id]
            accepted = [proof for proof in dispatch.proofs.get(order.id, []) if proof.accepted]
            proof = max(accepted, key=lambda proof: proof.recorded_at) if accepted else None
            track = [] if proof is None else [s for s in dispatch.locations if s.trip_id == proof.trip_id]
            facts.append(
                DeliveryFact(
                    order_id=reward.order_id,
                    shopper_id=reward.shopper_id,
                    store_id=reward.store_id,
                    recipient_key=f"{order.recipient_name.strip().lower()} | {order.dropoff_address.strip().lower()}",
                    has_position_proof=proof is not None,
                    track_near_dropoff=(
                        any(geodesic_m(s.position, order.dropoff) <= TRACK_REACH_M for s in track) if track else None
                    ),
                    cash_value_cents=reward.cash_value_cents,
                    amount_cents=reward.amount_cents,
                    policy=policies[reward.policy_id],
                    inputs=reward.inputs,
                    earned_before=reward.earned_before,
                    in_period=start <= reward.earned_at < end,
                )
            )
        return facts

    def location_samples(self, shopper_ids: Sequence[UUID], start: datetime, end: datetime) -> Iterator[LocationSample]:
        wanted = set(shopper_ids)
        samples = [
            sample
            for sample in self._db.dispatch.locations
            if sample.shopper_id in wanted and start <= sample.recorded_at < end
        ]
        return iter(sorted(samples, key=lambda sample: (sample.shopper_id, sample.recorded_at)))
