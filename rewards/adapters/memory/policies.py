"""Reward policy versions in memory, as `rewards.adapters.postgres.policies` keeps them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.pages import Page
from rewards.adapters.memory.store import MemoryRepository
from rewards.policy_versions import RewardPolicy


class MemoryPolicyRepository(MemoryRepository):
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
