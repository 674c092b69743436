"""Corrections by reversal: a new transaction with opposite entries, linked to the original, once per
transaction; a disputed delivery's reward and the referral bonus it paid reversed together. Each runs once per
idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.errors import InvalidInput, NotFound
from rewards.ledger import AlreadyReversed, InsufficientBalance
from rewards.records import RewardAlreadyReversed, RewardNoLongerHeld
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services.common import audit, callers_once, finish, post, require_active_actor


@dataclass(frozen=True)
class Reversals:
    reversal_ids: tuple[UUID, ...]
    reversed_ids: tuple[UUID, ...]
    replayed: bool = field(default=False, compare=False)
    """True when the key was used before for the same request: these are the first request's reversals."""

    def to_json(self) -> dict[str, Any]:
        return {
            "reversal_ids": [str(i) for i in self.reversal_ids],
            "reversed_ids": [str(i) for i in self.reversed_ids],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reversals:
        return cls(tuple(UUID(i) for i in data["reversal_ids"]), tuple(UUID(i) for i in data["reversed_ids"]))


def _reverse_all(
    repos: RewardsRepositories, transaction_ids: list[UUID], *, actor_id: UUID, reason: str, now: datetime
) -> Reversals:
    originals = [repos.ledger.get_transaction(transaction_id) for transaction_id in transaction_ids]
    repos.ledger.lock(entry.account_id for original in originals for entry in original.entries)
    reversals = []
    for original in originals:
        if repos.ledger.reversal_of(original.id) is not None:
            raise AlreadyReversed(original.id)
        reversal = original.reversal(created_at=now, actor_id=actor_id, reason=reason)
        post(repos, reversal)
        reversals.append(reversal)
        audit(
            repos,
            actor_id=actor_id,
            action="transaction.reversed",
            subject_kind="ledger_transaction",
            subject_id=original.id,
            at=now,
            reversal_id=reversal.id,
            reason=reason,
            reversed_kind=original.kind.value,
            order_id=original.order_id,
        )
    return Reversals(tuple(r.id for r in reversals), tuple(o.id for o in originals))


def reverse_delivery_reward(
    uow: RewardsUnitOfWork,
    *,
    order_id: UUID,
    actor_id: UUID,
    reason: str,
    now: datetime,
    idempotency_key: str,
) -> Reversals:
    """A disputed delivery: its reward and any referral bonus it paid are reversed together, once.

    `NotFound` when the order has no reward; `RewardAlreadyReversed` the second time; `RewardNoLongerHeld`
    (an `InsufficientBalance`) if the shopper, or the referrer, no longer holds the money (paid out, or spent
    at the till). A retry with the same key gets the first reversals back, `replayed`.
    """
    repos = uow.repos
    require_active_actor(repos, actor_id)

    def run() -> Reversals:
        reward = repos.rewards.for_order(order_id)
        if reward is None:
            raise NotFound(f"order {order_id} has no reward")
        to_reverse = [t for t in (reward.transaction_id, reward.referral_transaction_id) if t is not None]
        if not to_reverse:
            raise InvalidInput("order_id", "the reward was capped to zero: nothing to reverse")
        try:
            return _reverse_all(repos, to_reverse, actor_id=actor_id, reason=reason, now=now)
        except AlreadyReversed as error:
            raise RewardAlreadyReversed(order_id, error.transaction_id) from error
        except InsufficientBalance as error:
            from_referrer = error.account.shopper_id != reward.shopper_id
            raise RewardNoLongerHeld(order_id, error, from_referrer=from_referrer) from error

    outcome = callers_once(
        repos,
        caller=actor_id,
        operation="reverse_delivery_reward",
        key=idempotency_key,
        request={"order_id": str(order_id), "reason": reason},
        run=run,
        dump=Reversals.to_json,
        load=Reversals.from_json,
    )
    finish(uow, outcome.replayed)
    return replace(outcome.value, replayed=outcome.replayed)
