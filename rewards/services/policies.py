"""Reward policies: ops propose versions, a second person approves or rejects them; and what a delivery would
earn under the version in force (an offer's quote)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.pages import Page, check_page
from rewards.policy import EarningsSoFar, PolicyParameters, RewardInputs
from rewards.policy_versions import PolicyStatus, RewardPolicy, readable_text
from rewards.pricing import RewardQuote, compute_reward, day_and_week_bounds
from rewards.records import NoPolicyInForce
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services.common import audit, callers_once, finish, require_active_actor


def create_reward_policy(
    uow: RewardsUnitOfWork,
    *,
    parameters: Mapping[str, Any],
    actor_id: UUID,
    now: datetime,
    note: str = "",
) -> RewardPolicy:
    """Ops propose a new policy version; it prices nothing until someone else approves it
    (`decide_reward_policy`). Earlier versions stay as they were."""
    parsed = PolicyParameters.from_json(parameters)
    readable_text(note, "note")
    repos = uow.repos
    require_active_actor(repos, actor_id)
    policy = _propose(repos, parsed, actor_id=actor_id, now=now, note=note)
    uow.commit()
    return policy


@dataclass(frozen=True)
class ProposedPolicy:
    policy: RewardPolicy
    replayed: bool
    """True when the key was used before for the same proposal: `policy` is the version it proposed, as it is."""


def propose_reward_policy_once(
    uow: RewardsUnitOfWork,
    *,
    parameters: Mapping[str, Any],
    actor_id: UUID,
    now: datetime,
    idempotency_key: str,
    note: str = "",
) -> ProposedPolicy:
    """`create_reward_policy` once per key of the proposer's: proposing creates a version, so a retry without a
    key would propose a second one. The same key with other numbers or note is `IdempotencyKeyReused`."""
    parsed = PolicyParameters.from_json(parameters)
    readable_text(note, "note")
    repos = uow.repos
    require_active_actor(repos, actor_id)
    outcome = callers_once(
        repos,
        caller=actor_id,
        operation="create_reward_policy",
        key=idempotency_key,
        request={"parameters": parsed.to_json(), "note": note},
        run=lambda: _propose(repos, parsed, actor_id=actor_id, now=now, note=note).version,
        dump=lambda version: {"version": version},
        load=lambda stored: int(stored["version"]),
    )
    policy = repos.policies.get_version(outcome.value)
    finish(uow, outcome.replayed)
    return ProposedPolicy(policy, outcome.replayed)


def _propose(
    repos: RewardsRepositories, parsed: PolicyParameters, *, actor_id: UUID, now: datetime, note: str
) -> RewardPolicy:
    policy = RewardPolicy(
        version=repos.policies.next_version(),
        parameters=parsed,
        created_by=actor_id,
        created_at=now,
        note=note,
    )
    repos.policies.add(policy)
    audit(
        repos,
        actor_id=actor_id,
        action="policy.proposed",
        subject_kind="reward_policy",
        subject_id=policy.id,
        at=now,
        version=policy.version,
        parameters=parsed.to_json(),
    )
    return policy


def decide_reward_policy(
    uow: RewardsUnitOfWork,
    *,
    version: int,
    status: PolicyStatus,
    actor_id: UUID,
    now: datetime,
    reason: str = "",
) -> RewardPolicy:
    """A second person approves a proposed version (in force from now, until another is approved) or rejects
    it. Refused for its author (403), for a version already decided (409), and approving a version older than
    the newest approved one (409 `PolicySuperseded`: going back is a new version), and approving a version
    whose numbers lie outside today's proposing bounds (409 `PolicyOutsideBounds`, naming the parameter: one
    stored before a bound was added; reject it and propose new numbers), for the API, the CLI and the console
    alike. The same decision by the same person again (a retry after a lost answer) is answered with the
    version as it is."""
    repos = uow.repos
    require_active_actor(repos, actor_id)
    proposed = repos.policies.get_version(version, for_update=True)
    decision = proposed.decision
    same_reason = status is PolicyStatus.APPROVED or (decision is not None and decision.reason == reason)
    if decision is not None and (decision.status, decision.decided_by) == (status, actor_id) and same_reason:
        # Deciding takes no key: this is the person's retry after a lost answer (the commit kept, its answer
        # cut off), answered with the version as it is.
        uow.rollback()
        return proposed
    newest_approved: int | None = None
    in_force: int | None = None
    if status is PolicyStatus.APPROVED:
        newest = repos.policies.newest_approved(for_update=True)
        newest_approved = newest.version if newest is not None else None
        current = reward_policy_in_force(uow, at=now)
        in_force = current.version if current is not None else None
    decided = proposed.decide(
        status,
        actor_id=actor_id,
        now=now,
        reason=reason,
        newest_approved=newest_approved,
        in_force=in_force,
    )
    repos.policies.decide(decided)
    audit(
        repos,
        actor_id=actor_id,
        action=f"policy.{status.value}",
        subject_kind="reward_policy",
        subject_id=decided.id,
        at=now,
        version=version,
        reason=reason,
    )
    uow.commit()
    return decided


def reward_policies(
    uow: RewardsUnitOfWork, *, newest_first: bool = False, limit: int = 50, offset: int = 0
) -> Page[RewardPolicy]:
    """A page of versions, oldest first unless asked otherwise."""
    check_page(limit, offset)
    return uow.repos.policies.page(newest_first=newest_first, limit=limit, offset=offset)


def proposed_reward_policies(uow: RewardsUnitOfWork, *, limit: int = 20) -> list[RewardPolicy]:
    """The versions waiting for a second person's decision, oldest first, at most `limit` (they are few: each
    is proposed by hand)."""
    return list(uow.repos.policies.proposed(limit=limit))


def reward_policy_versions(uow: RewardsUnitOfWork) -> list[int]:
    """Every version number, newest first: what a reader may choose to compare."""
    return uow.repos.policies.versions()


def reward_policy(uow: RewardsUnitOfWork, *, version: int) -> RewardPolicy:
    return uow.repos.policies.get_version(version)


def reward_policy_in_force(uow: RewardsUnitOfWork, *, at: datetime) -> RewardPolicy | None:
    """The version that prices offers made at `at` (the one approved last by then), or None before any."""
    try:
        return uow.repos.policies.in_force_at(at)
    except NoPolicyInForce:
        return None


def quote_delivery_reward(
    repos: RewardsRepositories,
    *,
    shopper_id: UUID,
    inputs: RewardInputs,
    at: datetime,
    policy_version: int | None = None,
) -> RewardQuote:
    """What an offer shows: the same computation, policy and earnings lookup the credit will make.

    Without `policy_version`, the version in force at `at` prices it (as the credit does at delivery).
    """
    policy = repos.policies.in_force_at(at) if policy_version is None else repos.policies.get_version(policy_version)
    return compute_reward(policy, inputs, earnings_so_far(repos, shopper_id, at, policy))


def earnings_so_far(repos: RewardsRepositories, shopper_id: UUID, at: datetime, policy: RewardPolicy) -> EarningsSoFar:
    """What the caps count: the shopper's standing rewards in the day and week of `at` (policy time zone)."""
    return earnings_of(repos, [shopper_id], at, policy)[shopper_id]


def earnings_of(
    repos: RewardsRepositories, shopper_ids: Collection[UUID], at: datetime, policy: RewardPolicy
) -> dict[UUID, EarningsSoFar]:
    """`earnings_so_far` for many shoppers in one read (a batch's trips)."""
    day_start, day_end, week_start, week_end = day_and_week_bounds(at, policy.parameters)
    return repos.rewards.earnings(shopper_ids, (day_start, day_end), (week_start, week_end))
