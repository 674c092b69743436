"""Reward policy versions and their decisions on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg.types.json import Jsonb

from crowdship.db import Repository, Row
from crowdship.errors import NotFound
from crowdship.pages import Page
from rewards.policy import PolicyParameters
from rewards.policy_versions import PolicyAlreadyDecided, PolicyDecision, PolicyStatus, RewardPolicy
from rewards.records import NoPolicyInForce, PolicyVersionTaken


class PostgresPolicyRepository(Repository):
    _SELECT = """
        SELECT p.id, p.version, p.parameters, p.created_by, p.created_at, p.note,
               d.decision, d.decided_by, d.decided_at, d.reason
        FROM reward_policies p LEFT JOIN reward_policy_decisions d ON d.policy_id = p.id"""

    def next_version(self) -> int:
        row = self._one_or_none("SELECT coalesce(max(version), 0) + 1 AS next FROM reward_policies", ())
        assert row is not None
        return int(row["next"])

    def add(self, policy: RewardPolicy) -> None:
        with self._refusing_duplicates(lambda: PolicyVersionTaken(f"policy version {policy.version} exists; retry")):
            self._execute(
                """INSERT INTO reward_policies (id, version, parameters, created_by, created_at, note)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    policy.id,
                    policy.version,
                    Jsonb(policy.parameters.to_json()),
                    policy.created_by,
                    policy.created_at,
                    policy.note,
                ),
            )

    def decide(self, policy: RewardPolicy) -> None:
        """Records the decision of `policy` (the database refuses one by its author, or a second one)."""
        decision = policy.decision
        assert decision is not None
        with self._refusing_duplicates(lambda: PolicyAlreadyDecided(policy.version, decision.status)):
            self._execute(
                """INSERT INTO reward_policy_decisions (policy_id, decision, decided_by, decided_at, reason)
                   VALUES (%s, %s, %s, %s, %s)""",
                (policy.id, decision.status.value, decision.decided_by, decision.decided_at, decision.reason),
            )

    def get_version(self, version: int, *, for_update: bool = False) -> RewardPolicy:
        lock = " FOR UPDATE OF p" if for_update else ""
        row = self._one_or_none(f"{self._SELECT} WHERE p.version = %s{lock}", (version,))
        if row is None:
            raise NotFound(f"reward policy version {version} not found")
        return self._policy(row)

    def get(self, policy_id: UUID) -> RewardPolicy:
        row = self._one_or_none(f"{self._SELECT} WHERE p.id = %s", (policy_id,))
        if row is None:
            raise NotFound(f"reward policy {policy_id} not found")
        return self._policy(row)

    def latest(self) -> RewardPolicy:
        row = self._one_or_none(f"{self._SELECT} ORDER BY p.version DESC LIMIT 1", ())
        if row is None:
            raise NotFound("no reward policy has been created yet")
        return self._policy(row)

    def in_force_at(self, instant: datetime) -> RewardPolicy:
        """The version approved last at or before `instant`: what an offer made then was priced with."""
        row = self._one_or_none(
            f"""{self._SELECT} WHERE d.decision = 'approved' AND d.decided_at <= %s
                ORDER BY d.decided_at DESC, p.version DESC LIMIT 1""",
            (instant,),
        )
        if row is None:
            raise NoPolicyInForce(
                f"no reward policy was in force at {instant.isoformat()}; one must be proposed and approved"
            )
        return self._policy(row)

    def newest_approved(self, *, for_update: bool = False) -> RewardPolicy | None:
        if for_update:  # decisions are rare: one at a time, readers never wait
            self._execute("LOCK TABLE reward_policy_decisions IN SHARE ROW EXCLUSIVE MODE", ())
        row = self._one_or_none(f"{self._SELECT} WHERE d.decision = 'approved' ORDER BY p.version DESC LIMIT 1", ())
        return None if row is None else self._policy(row)

    def every_version(self) -> list[RewardPolicy]:
        return [self._policy(row) for row in self._all(f"{self._SELECT} ORDER BY p.version", ())]

    def page(self, *, newest_first: bool, limit: int, offset: int) -> Page[RewardPolicy]:
        total = self._all("SELECT count(*) AS n FROM reward_policies", ())[0]["n"]
        order = "DESC" if newest_first else "ASC"
        rows = self._all(f"{self._SELECT} ORDER BY p.version {order} LIMIT %s OFFSET %s", (limit, offset))
        return Page([self._policy(row) for row in rows], total)

    def proposed(self, *, limit: int) -> list[RewardPolicy]:
        rows = self._all(f"{self._SELECT} WHERE d.decision IS NULL ORDER BY p.version LIMIT %s", (limit,))
        return [self._policy(row) for row in rows]

    def versions(self) -> list[int]:
        return [row["version"] for row in self._all("SELECT version FROM reward_policies ORDER BY version DESC", ())]

    @staticmethod
    def _policy(row: Row) -> RewardPolicy:
        return RewardPolicy(
            id=row["id"],
            version=row["version"],
            parameters=PolicyParameters.stored(row["parameters"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            note=row["note"],
            decision=None
            if row["decision"] is None
            else PolicyDecision(PolicyStatus(row["decision"]), row["decided_by"], row["decided_at"], row["reason"]),
        )
