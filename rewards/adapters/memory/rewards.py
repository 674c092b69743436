"""Delivery rewards and referrals in memory, as `rewards.adapters.postgres.rewards` keeps them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from crowdship.errors import NotFound
from dispatch.model import OrderStatus, TrustTier
from rewards.adapters.memory.store import MemoryRepository
from rewards.policy import EarningsSoFar
from rewards.records import (
    AlreadyReferred,
    AlreadyRewarded,
    OrderForReward,
    RewardRecord,
)
from rewards.referrals import Referral


class MemoryRewardRepository(MemoryRepository):
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
