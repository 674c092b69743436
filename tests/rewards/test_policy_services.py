"""Reward policy versions, on PostgreSQL and in memory alike: a new version leaves the old one usable, versions
only go forward, concurrent approvals queue, bad parameters are refused."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from crowdship.errors import InvalidInput
from dispatch.model import TrustTier
from rewards.policy import MAX_PARAMETER_CENTS, MAX_REWARD_CENTS, PaymentMethod, PolicyParameters, RewardInputs
from rewards.policy_versions import PolicyOutsideBounds, PolicyStatus, PolicySuperseded, RewardPolicy
from rewards.services import (
    create_reward_policy,
    decide_reward_policy,
    quote_delivery_reward,
    reward_policies,
    reward_policy_in_force,
)
from tests.rewards.conftest import (
    APPROVER,
    NOW,
    OPS,
    PLAIN_PARAMETERS,
    World,
    credit,
    publish_policy,
)


def test_a_new_policy_version_leaves_the_old_one_usable(world: World, policy: RewardPolicy) -> None:
    """Ops publish v2; a reward quoted under v1 is still credited under v1, a new one under v2."""
    v2 = publish_policy(world.rewards(), PLAIN_PARAMETERS | {"base_cents": 1_000}, now=NOW - timedelta(days=1))
    assert v2.version == 2
    shopper = world.add_shopper()
    under_v1 = credit(world, world.order().id, shopper.id, policy_version=1)
    under_v2 = credit(world, world.order().id, shopper.id)
    assert (under_v1.policy_version, under_v1.amount_cents) == (1, 500)
    assert (under_v2.policy_version, under_v2.amount_cents) == (2, 1_200)
    with world.rewards() as uow:
        assert [p.version for p in uow.repos.policies.every_version()] == [1, 2]
        assert uow.repos.policies.get_version(1) == policy
        audit = uow.repos.audit.for_subject("reward_policy", v2.id)
    assert [(entry.actor_id, entry.action) for entry in audit] == [
        (OPS, "policy.proposed"),
        (APPROVER, "policy.approved"),
    ]


def test_an_older_proposal_is_not_approved_after_a_newer_version(world: World, policy: RewardPolicy) -> None:
    """v2 and v3 are proposed, v3 approved: approving v2 is refused naming v3 as in force, v2 stays proposed and
    v3 stays in force; v2 can still be rejected."""
    with world.rewards() as uow:
        v2 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 400}, actor_id=OPS, now=NOW)
    with world.rewards() as uow:
        v3 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 500}, actor_id=OPS, now=NOW)
    later = NOW + timedelta(minutes=1)
    with world.rewards() as uow:
        decide_reward_policy(uow, version=v3.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=later)
    with world.rewards() as uow, pytest.raises(PolicySuperseded) as raised:
        decide_reward_policy(
            uow, version=v2.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=later + timedelta(minutes=1)
        )
    assert "version 3 was approved after it was proposed and is in force" in raised.value.message
    with world.rewards() as uow:
        assert uow.repos.policies.get_version(v2.version).status is PolicyStatus.PROPOSED
        in_force = reward_policy_in_force(uow, at=later + timedelta(hours=1))
        assert in_force is not None
        assert in_force.version == v3.version
        assert reward_policy_in_force(uow, at=policy.created_at - timedelta(seconds=1)) is None
    with world.rewards() as uow:
        rejected = decide_reward_policy(
            uow, version=v2.version, status=PolicyStatus.REJECTED, actor_id=APPROVER, now=later, reason="superseded"
        )
    assert rejected.status is PolicyStatus.REJECTED


def test_of_two_versions_approved_at_one_instant_the_higher_is_in_force(world: World) -> None:
    """Both storages break the tie of `in_force_at` the same way; the newest approved is the higher too."""
    publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW)
    publish_policy(world.rewards(), PLAIN_PARAMETERS | {"base_cents": 400}, now=NOW)
    with world.rewards() as uow:
        newest = uow.repos.policies.newest_approved()
        assert (uow.repos.policies.in_force_at(NOW).version, newest.version if newest else None) == (2, 2)


@pytest.mark.usefixtures("pg_policy")
def test_an_approval_waits_for_another_decision_in_progress_and_then_sees_it(pg_world: World) -> None:
    """On PostgreSQL two approvals cannot both see no newer version: while v3's approval holds its lock, v2's
    waits; once v3 is approved, v2 is refused."""
    world = pg_world
    with world.rewards() as uow:
        v2 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 400}, actor_id=OPS, now=NOW)
    with world.rewards() as uow:
        v3 = create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": 500}, actor_id=OPS, now=NOW)
    outcome: list[BaseException] = []

    def approve_v2() -> None:
        try:
            with world.rewards() as uow:
                decide_reward_policy(uow, version=v2.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=NOW)
        except BaseException as error:  # told to the test below
            outcome.append(error)

    with world.rewards() as holder:
        holder.repos.policies.newest_approved(for_update=True)
        waiting = threading.Thread(target=approve_v2)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()  # waits for the decision in progress
        decide_reward_policy(holder, version=v3.version, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=NOW)
    waiting.join(timeout=10)
    assert [type(error) for error in outcome] == [PolicySuperseded]
    with world.rewards() as uow:
        assert uow.repos.policies.get_version(v2.version).status is PolicyStatus.PROPOSED


OUT_OF_TODAYS_BOUNDS: dict[str, Any] = {
    **PLAIN_PARAMETERS,
    "base_cents": 9_000,  # above MAX_REWARD_CENTS
    "minimum_cents": 6_000,  # above the ceiling too
    "per_extra_km_cents": MAX_PARAMETER_CENTS + 1,
    "daily_cap_cents": MAX_PARAMETER_CENTS * 3,  # above the bound, and above the weekly cap
    "weekly_cap_cents": MAX_PARAMETER_CENTS * 2,
    "tier_multiplier_bps": [10_000, 10_000, 10_000, 6 * 10_000],  # above x5
    "store_credit_bonus_bps": 30_000,  # above x2
    "referral_commission_bps": 12_000,  # above the whole reward
}
"""A version as it may have been stored before the parameter bounds were added."""


def test_a_version_stored_before_the_bounds_still_lists_and_prices_under_the_ceiling(
    pg_world: World, db: ConnectionPool
) -> None:
    """Bounds apply to proposing a version: one stored out of today's bounds reads as stored, lists, is in force
    and prices, and no delivery is credited more than the per-delivery ceiling."""
    policy_id = uuid4()
    with db.connection() as connection:
        connection.execute(
            """INSERT INTO reward_policies (id, version, parameters, created_by, created_at, note)
               VALUES (%s, 1, %s, %s, %s, 'before the bounds')""",
            (policy_id, Jsonb(OUT_OF_TODAYS_BOUNDS), OPS, NOW - timedelta(days=30)),
        )
        connection.execute(
            """INSERT INTO reward_policy_decisions (policy_id, decision, decided_by, decided_at)
               VALUES (%s, 'approved', %s, %s)""",
            (policy_id, APPROVER, NOW - timedelta(days=30)),
        )
    with pg_world.rewards() as uow:
        listed = reward_policies(uow).items
        in_force = reward_policy_in_force(uow, at=NOW)
    assert [(p.version, p.parameters.to_json()) for p in listed] == [
        (1, PolicyParameters.stored(OUT_OF_TODAYS_BOUNDS).to_json())
    ]
    assert listed[0].parameters.per_extra_km_cents == MAX_PARAMETER_CENTS + 1
    assert in_force is not None
    assert in_force.version == 1
    shopper = pg_world.add_shopper(tier=TrustTier.GOLD)
    credited = credit(pg_world, pg_world.order(proof_by=shopper).id, shopper.id)
    assert credited.amount_cents == MAX_REWARD_CENTS
    with pg_world.rewards() as uow, pytest.raises(InvalidInput):  # proposing the same numbers today is refused
        create_reward_policy(uow, parameters=OUT_OF_TODAYS_BOUNDS, actor_id=OPS, now=NOW)


def test_a_version_proposed_before_the_bounds_is_not_approved_but_reads_prices_and_rejects(
    pg_world: World, db: ConnectionPool
) -> None:
    """A version proposed (not yet decided) before today's bounds still reads and quotes as stored, but approving
    it is refused naming the first parameter out of bounds and saying to propose new numbers; it stays proposed,
    nothing goes into force, and it can be rejected."""
    with db.connection() as connection:
        connection.execute(
            """INSERT INTO reward_policies (id, version, parameters, created_by, created_at, note)
               VALUES (%s, 1, %s, %s, %s, 'before the bounds')""",
            (uuid4(), Jsonb(OUT_OF_TODAYS_BOUNDS), OPS, NOW - timedelta(days=30)),
        )
    with pg_world.rewards() as uow:
        [listed] = reward_policies(uow).items
    assert (listed.status, listed.parameters.base_cents) == (PolicyStatus.PROPOSED, 9_000)
    shopper = pg_world.add_shopper(tier=TrustTier.GOLD)
    inputs = RewardInputs(1_000, 300, 1, 12, TrustTier.GOLD, PaymentMethod.CASH)
    with pg_world.rewards() as uow:
        quote = quote_delivery_reward(uow.repos, shopper_id=shopper.id, inputs=inputs, at=NOW, policy_version=1)
    assert quote.amount_cents == MAX_REWARD_CENTS
    with pg_world.rewards() as uow, pytest.raises(PolicyOutsideBounds) as raised:
        decide_reward_policy(uow, version=1, status=PolicyStatus.APPROVED, actor_id=APPROVER, now=NOW)
    assert raised.value.kind == "conflict"
    assert raised.value.field == "per_extra_km_cents"
    assert f"per_extra_km_cents: must be at most {MAX_PARAMETER_CENTS}" in raised.value.message
    assert "propose new numbers" in raised.value.message
    with pg_world.rewards() as uow:
        assert uow.repos.policies.get_version(1).status is PolicyStatus.PROPOSED
        assert reward_policy_in_force(uow, at=NOW + timedelta(days=1)) is None
    with pg_world.rewards() as uow:
        rejected = decide_reward_policy(
            uow, version=1, status=PolicyStatus.REJECTED, actor_id=APPROVER, now=NOW, reason="out of bounds"
        )
    assert rejected.status is PolicyStatus.REJECTED


def test_bad_policy_parameters_are_refused(world: World) -> None:
    """Ops' typo is an InvalidInput naming the parameter, and no version is created."""
    with world.rewards() as uow, pytest.raises(InvalidInput) as raised:
        create_reward_policy(uow, parameters=PLAIN_PARAMETERS | {"base_cents": "a lot"}, actor_id=OPS, now=NOW)
    assert raised.value.field == "base_cents"
    with world.rewards() as uow, pytest.raises(InvalidInput) as raised:
        create_reward_policy(uow, parameters={"base_cents": 100}, actor_id=OPS, now=NOW)
    assert raised.value.field == "per_extra_km_cents"
    with world.rewards() as uow:
        assert uow.repos.policies.every_version() == []


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        ("evil\x1b[2J\x1b[31mred", ""),
        ("x" * 2_001, ""),
        ("ok", "no\x1b]8;;https://example.com\x07click"),
        ("ok", "\u202egnp.exe"),
    ],
)
def test_a_note_or_reason_a_terminal_would_run_or_too_long_to_read_is_refused(
    world: World, note: str, reason: str
) -> None:
    """The CLI proposes and rejects without the API's checks: a note or reason is at most 2 000 characters with
    no control or text-direction characters (`crowdship rewards policies` prints them on a terminal)."""
    if reason == "":
        with world.rewards() as uow, pytest.raises(InvalidInput, match="note"):
            create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=OPS, now=NOW, note=note)
        return
    with world.rewards() as uow:
        proposed = create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=OPS, now=NOW, note=note)
    with world.rewards() as uow, pytest.raises(InvalidInput, match="reason"):
        decide_reward_policy(
            uow, version=proposed.version, status=PolicyStatus.REJECTED, actor_id=APPROVER, now=NOW, reason=reason
        )


def test_a_note_keeps_its_line_breaks_and_tabs(world: World) -> None:
    with world.rewards() as uow:
        proposed = create_reward_policy(
            uow, parameters=PLAIN_PARAMETERS, actor_id=OPS, now=NOW, note="peak\tx1.2\nfrom 17:00 🚀"
        )
    assert proposed.note == "peak\tx1.2\nfrom 17:00 🚀"
