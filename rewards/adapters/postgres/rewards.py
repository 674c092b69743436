"""Credited delivery rewards and referrals on PostgreSQL, and the delivered order a credit reads."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from crowdship.db import Repository, Row
from crowdship.errors import NotFound
from crowdship.units import Cents
from dispatch.model import TrustTier
from rewards.breakdown import components_from_json
from rewards.policy import EarningsSoFar, RewardInputs
from rewards.records import AlreadyReferred, AlreadyRewarded, OrderForReward, RewardRecord
from rewards.referrals import Referral


class PostgresRewardRepository(Repository):
    def order_for_reward(self, order_id: UUID) -> OrderForReward:
        row = self._one_or_none("SELECT id, store_id, status FROM orders WHERE id = %s", (order_id,))
        if row is None:
            raise NotFound(f"order {order_id} not found")
        return OrderForReward(row["id"], row["store_id"], row["status"])

    def add(self, reward: RewardRecord) -> None:
        with self._refusing_duplicates(lambda: AlreadyRewarded(reward.order_id)):
            self._insert(reward)

    def _insert(self, reward: RewardRecord) -> None:
        self._execute(
            """INSERT INTO delivery_rewards (id, order_id, shopper_id, store_id, policy_id, policy_version,
                   inputs, breakdown, method, cash_value_cents, amount_cents, earned_at, transaction_id,
                   referral_transaction_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                reward.id,
                reward.order_id,
                reward.shopper_id,
                reward.store_id,
                reward.policy_id,
                reward.policy_version,
                Jsonb(
                    {
                        "offer": reward.inputs.to_json(),
                        "earned_today_cents": reward.earned_before.today_cents,
                        "earned_this_week_cents": reward.earned_before.this_week_cents,
                    }
                ),
                Jsonb([component.to_json() for component in reward.breakdown]),
                reward.inputs.method.value,
                reward.cash_value_cents,
                reward.amount_cents,
                reward.earned_at,
                reward.transaction_id,
                reward.referral_transaction_id,
            ),
        )

    def for_order(self, order_id: UUID) -> RewardRecord | None:
        row = self._one_or_none("SELECT * FROM delivery_rewards WHERE order_id = %s", (order_id,))
        return None if row is None else self._reward(row)

    def get(self, reward_id: UUID) -> RewardRecord:
        row = self._one_or_none("SELECT * FROM delivery_rewards WHERE id = %s", (reward_id,))
        if row is None:
            raise NotFound(f"reward {reward_id} not found")
        return self._reward(row)

    def earnings(
        self, shopper_ids: Collection[UUID], day: tuple[datetime, datetime], week: tuple[datetime, datetime]
    ) -> dict[UUID, EarningsSoFar]:
        rows = self._all(
            """SELECT r.shopper_id,
                      coalesce(sum(r.cash_value_cents)
                          FILTER (WHERE r.earned_at >= %(day_start)s AND r.earned_at < %(day_end)s), 0) AS today,
                      coalesce(sum(r.cash_value_cents), 0) AS week
               FROM delivery_rewards r
               WHERE r.shopper_id = ANY(%(shoppers)s) AND r.earned_at >= %(week_start)s AND r.earned_at < %(week_end)s
                 AND NOT EXISTS (SELECT 1 FROM ledger_transactions v
                                 WHERE v.reverses_id = r.transaction_id)
               GROUP BY r.shopper_id""",
            {
                "shoppers": list(shopper_ids),
                "day_start": day[0],
                "day_end": day[1],
                "week_start": week[0],
                "week_end": week[1],
            },
        )
        earned = {row["shopper_id"]: EarningsSoFar(int(row["today"]), int(row["week"])) for row in rows}
        return {shopper_id: earned.get(shopper_id, EarningsSoFar(0, 0)) for shopper_id in shopper_ids}

    def delivery_count(self, shopper_id: UUID) -> int:
        row = self._one_or_none("SELECT count(*) AS n FROM delivery_rewards WHERE shopper_id = %s", (shopper_id,))
        assert row is not None
        return int(row["n"])

    def has_delivered(self, shopper_id: UUID) -> bool:
        row = self._one_or_none(
            """SELECT EXISTS (SELECT 1 FROM delivery_rewards WHERE shopper_id = %(shopper)s)
                   OR EXISTS (SELECT 1 FROM delivery_proofs p
                              JOIN trips t ON t.id = p.trip_id
                              JOIN orders o ON o.id = p.order_id
                              WHERE t.shopper_id = %(shopper)s AND p.accepted AND o.status = 'delivered')
                   AS delivered""",
            {"shopper": shopper_id},
        )
        assert row is not None
        return bool(row["delivered"])

    def keep_delivery_tier(self, order_id: UUID, shopper_id: UUID, tier: TrustTier, delivered_at: datetime) -> None:
        self._execute(
            """INSERT INTO delivery_tiers (order_id, shopper_id, trust_tier, delivered_at) VALUES (%s, %s, %s, %s)
               ON CONFLICT (order_id) DO NOTHING""",
            (order_id, shopper_id, int(tier), delivered_at),
        )

    def delivery_tier(self, order_id: UUID) -> TrustTier | None:
        row = self._one_or_none("SELECT trust_tier FROM delivery_tiers WHERE order_id = %s", (order_id,))
        return None if row is None else TrustTier(row["trust_tier"])

    def add_referral(self, referral: Referral) -> None:
        try:
            with self._savepoint():
                self._execute(
                    """INSERT INTO referrals (referred_shopper_id, referrer_shopper_id, created_at, created_by)
                       VALUES (%s, %s, %s, %s)""",
                    (
                        referral.referred_shopper_id,
                        referral.referrer_shopper_id,
                        referral.created_at,
                        referral.created_by,
                    ),
                )
        except psycopg.errors.UniqueViolation as error:
            raise AlreadyReferred(referral.referred_shopper_id) from error
        except psycopg.errors.ForeignKeyViolation as error:
            raise NotFound("both shoppers of a referral must exist") from error

    def referral_of(self, referred_shopper_id: UUID) -> Referral | None:
        row = self._one_or_none("SELECT * FROM referrals WHERE referred_shopper_id = %s", (referred_shopper_id,))
        if row is None:
            return None
        return Referral(
            referrer_shopper_id=row["referrer_shopper_id"],
            referred_shopper_id=row["referred_shopper_id"],
            created_at=row["created_at"],
            created_by=row["created_by"],
        )

    def every(self, limit: int, offset: int) -> tuple[list[tuple[RewardRecord, bool]], int]:
        """A page of every shopper's rewards, newest first, each with whether it was reversed since."""
        rows = self._all(
            """SELECT r.*, EXISTS (SELECT 1 FROM ledger_transactions v WHERE v.reverses_id = r.transaction_id)
                          AS reversed
               FROM delivery_rewards r
               ORDER BY r.earned_at DESC, r.id LIMIT %s OFFSET %s""",
            (limit, offset),
        )
        counted = self._one_or_none("SELECT count(*) AS n FROM delivery_rewards", ())
        assert counted is not None
        return [(self._reward(row), bool(row["reversed"])) for row in rows], int(counted["n"])

    def for_shopper(self, shopper_id: UUID, limit: int, offset: int) -> tuple[list[tuple[RewardRecord, bool]], int]:
        """A page of the shopper's rewards, newest first, each with whether it was reversed since."""
        rows = self._all(
            """SELECT r.*, EXISTS (SELECT 1 FROM ledger_transactions v WHERE v.reverses_id = r.transaction_id)
                          AS reversed
               FROM delivery_rewards r WHERE r.shopper_id = %s
               ORDER BY r.earned_at DESC, r.id LIMIT %s OFFSET %s""",
            (shopper_id, limit, offset),
        )
        counted = self._one_or_none("SELECT count(*) AS n FROM delivery_rewards WHERE shopper_id = %s", (shopper_id,))
        assert counted is not None
        return [(self._reward(row), bool(row["reversed"])) for row in rows], int(counted["n"])

    @staticmethod
    def _reward(row: Row) -> RewardRecord:
        inputs = row["inputs"]
        return RewardRecord(
            id=row["id"],
            order_id=row["order_id"],
            shopper_id=row["shopper_id"],
            store_id=row["store_id"],
            policy_id=row["policy_id"],
            policy_version=row["policy_version"],
            inputs=RewardInputs.from_json(inputs["offer"]),
            earned_before=EarningsSoFar(inputs["earned_today_cents"], inputs["earned_this_week_cents"]),
            breakdown=components_from_json(row["breakdown"]),
            cash_value_cents=Cents(int(row["cash_value_cents"])),
            amount_cents=Cents(int(row["amount_cents"])),
            earned_at=row["earned_at"],
            transaction_id=row["transaction_id"],
            referral_transaction_id=row["referral_transaction_id"],
        )
