"""The rewards repositories in memory: the same promises as `rewards.adapters.postgres`, on
`MemoryRewardsDatabase` (and dispatch's rows beside it, for orders, proofs and positions)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.model import LocationSample, OrderStatus, TrustTier
from rewards.adapters.memory.store import MemoryRewardsDatabase
from rewards.anomalies import TRACK_REACH_M, DeliveryFact
from rewards.ledger import Account, AccountKind, LedgerTransaction, PromisedPayout, TransactionKind
from rewards.payouts import BatchStatus, PayoutBatch
from rewards.policy import EarningsSoFar
from rewards.policy_versions import RewardPolicy
from rewards.records import (
    AlreadyReferred,
    AlreadyRewarded,
    LedgerLine,
    OrderForReward,
    PayableBalance,
    RewardRecord,
    ShopperAlreadyInOpenBatch,
    StandingHold,
)
from rewards.referrals import Referral
from routing.distance import geodesic_m


class _Repository:
    def __init__(self, db: MemoryRewardsDatabase) -> None:
        self._db = db


class MemoryActingAccounts(_Repository):
    def active_locked(self, user_id: UUID) -> bool | None:
        account = self._db.dispatch.users.get(user_id)
        return None if account is None else account.active


class MemoryPolicyRepository(_Repository):
    def next_version(self) -> int:
        return max(self._db.policies, default=0) + 1

    def add(self, policy: RewardPolicy) -> None:
        self._db.add_policy(policy)

    def decide(self, policy: RewardPolicy) -> None:
        self._db.decide_policy(policy)

    def get_version(self, version: int, *, for_update: bool = False) -> RewardPolicy:  # noqa: ARG002 - one writer
        try:
            return self._db.policies[version]
        except KeyError:
            raise NotFound(f"reward policy version {version} not found") from None

    def get(self, policy_id: UUID) -> RewardPolicy:
        for policy in self._db.policies.values():
            if policy.id == policy_id:
                return policy
        raise NotFound(f"reward policy {policy_id} not found")

    def latest(self) -> RewardPolicy:
        if not self._db.policies:
            raise NotFound("no reward policy has been created yet")
        return self._db.policies[max(self._db.policies)]

    def in_force_at(self, instant: datetime) -> RewardPolicy:
        return self._db.policy_in_force_at(instant)

    def newest_approved(self, *, for_update: bool = False) -> RewardPolicy | None:  # noqa: ARG002 - one writer
        approved = [policy for policy in self._db.policies.values() if policy.in_force_from is not None]
        return max(approved, key=lambda policy: policy.version, default=None)

    def every_version(self) -> list[RewardPolicy]:
        return [self._db.policies[version] for version in sorted(self._db.policies)]

    def page(self, *, newest_first: bool, limit: int, offset: int) -> Page[RewardPolicy]:
        ordered = sorted(self._db.policies, reverse=newest_first)
        return Page([self._db.policies[version] for version in ordered[offset : offset + limit]], len(ordered))

    def proposed(self, *, limit: int) -> list[RewardPolicy]:
        waiting = [self._db.policies[v] for v in sorted(self._db.policies) if self._db.policies[v].decision is None]
        return waiting[:limit]

    def versions(self) -> list[int]:
        return sorted(self._db.policies, reverse=True)


class MemoryLedgerRepository(_Repository):
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


class MemoryRewardRepository(_Repository):
    def order_for_reward(self, order_id: UUID) -> OrderForReward:
        order = self._db.dispatch.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} not found")
        return OrderForReward(order.id, order.store_id, order.status.value)

    def add(self, reward: RewardRecord) -> None:
        db = self._db
        if reward.order_id in db.reward_of_order:
            raise AlreadyRewarded(reward.order_id)
        db.put(db.rewards, reward.id, reward)
        db.put(db.reward_of_order, reward.order_id, reward.id)

    def for_order(self, order_id: UUID) -> RewardRecord | None:
        reward_id = self._db.reward_of_order.get(order_id)
        return None if reward_id is None else self._db.rewards[reward_id]

    def get(self, reward_id: UUID) -> RewardRecord:
        try:
            return self._db.rewards[reward_id]
        except KeyError:
            raise NotFound(f"reward {reward_id} not found") from None

    def earnings(
        self, shopper_ids: Collection[UUID], day: tuple[datetime, datetime], week: tuple[datetime, datetime]
    ) -> dict[UUID, EarningsSoFar]:
        earned = {shopper_id: [0, 0] for shopper_id in shopper_ids}
        for reward in self._db.rewards.values():
            sums = earned.get(reward.shopper_id)
            if sums is None or not week[0] <= reward.earned_at < week[1] or self._db.reversed(reward.transaction_id):
                continue
            sums[1] += reward.cash_value_cents
            if day[0] <= reward.earned_at < day[1]:
                sums[0] += reward.cash_value_cents
        for elsewhere in self._db.earned_elsewhere:
            sums = earned.get(elsewhere.shopper_id)
            if sums is not None and week[0] <= elsewhere.earned_at < week[1]:
                sums[1] += elsewhere.cash_value_cents
                sums[0] += elsewhere.cash_value_cents if day[0] <= elsewhere.earned_at < day[1] else 0
        return {shopper_id: EarningsSoFar(today, week_total) for shopper_id, (today, week_total) in earned.items()}

    def delivery_count(self, shopper_id: UUID) -> int:
        return sum(1 for reward in self._db.rewards.values() if reward.shopper_id == shopper_id)

    def has_delivered(self, shopper_id: UUID) -> bool:
        dispatch = self._db.dispatch
        return self.delivery_count(shopper_id) > 0 or any(
            proof.accepted
            and dispatch.orders[proof.order_id].status is OrderStatus.DELIVERED
            and dispatch.trips[proof.trip_id].shopper_id == shopper_id
            for proofs in dispatch.proofs.values()
            for proof in proofs
        )

    def keep_delivery_tier(self, order_id: UUID, shopper_id: UUID, tier: TrustTier, delivered_at: datetime) -> None:
        _ = shopper_id, delivered_at  # kept by the PostgreSQL table; the simulator reads only the tier
        if order_id not in self._db.delivery_tiers:
            self._db.put(self._db.delivery_tiers, order_id, tier)

    def delivery_tier(self, order_id: UUID) -> TrustTier | None:
        return self._db.delivery_tiers.get(order_id)

    def add_referral(self, referral: Referral) -> None:
        db = self._db
        if referral.referred_shopper_id in db.referrals:
            raise AlreadyReferred(referral.referred_shopper_id)
        if not {referral.referred_shopper_id, referral.referrer_shopper_id} <= set(db.dispatch.shoppers):
            raise NotFound("both shoppers of a referral must exist")
        db.put(db.referrals, referral.referred_shopper_id, referral)

    def referral_of(self, referred_shopper_id: UUID) -> Referral | None:
        return self._db.referrals.get(referred_shopper_id)

    def every(self, limit: int, offset: int) -> tuple[list[tuple[RewardRecord, bool]], int]:
        return self._newest_first(list(self._db.rewards.values()), limit, offset)

    def for_shopper(self, shopper_id: UUID, limit: int, offset: int) -> tuple[list[tuple[RewardRecord, bool]], int]:
        mine = [reward for reward in self._db.rewards.values() if reward.shopper_id == shopper_id]
        return self._newest_first(mine, limit, offset)

    def _newest_first(
        self, mine: list[RewardRecord], limit: int, offset: int
    ) -> tuple[list[tuple[RewardRecord, bool]], int]:
        mine.sort(key=lambda reward: reward.id)
        mine.sort(key=lambda reward: reward.earned_at, reverse=True)
        page = mine[offset : offset + limit]
        return [(reward, self._db.reversed(reward.transaction_id)) for reward in page], len(mine)


class MemoryPayoutRepository(_Repository):
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
