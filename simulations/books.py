"""The money side of a simulated day, through the live rewards use cases on the in-memory books.

Three simulated people keep the four-eyes rules live applies: ops proposes the scenario's policy and finance
approves it; finance prepares and pays the day's payout, and a second finance person approves it (live, only
finance approves a payout batch, and never the one who prepared it).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from composition import InMemory
from rewards.policy_versions import PolicyStatus
from rewards.records import NothingToPay
from rewards.services import (
    approve_payout_batch,
    create_reward_policy,
    decide_reward_policy,
    pay_payout_batch,
    prepare_payout_batch,
    reconciliation_report,
)
from simulations.configuration import policy_parameters
from simulations.day_records import PayoutRecord
from simulations.scenario import Scenario

SIMULATION_OPS = UUID(int=1)
SIMULATION_FINANCE = UUID(int=2)
SIMULATION_FINANCE_APPROVER = UUID(int=3)
PAYOUT_KEY = "simulated-day"


def publish_scenario_policy(memory: InMemory, scenario: Scenario, now: datetime) -> None:
    """The scenario's policy, proposed and approved at the start of the day."""
    with memory.rewards() as uow:
        policy = create_reward_policy(uow, parameters=policy_parameters(scenario), actor_id=SIMULATION_OPS, now=now)
    with memory.rewards() as uow:
        decide_reward_policy(
            uow, version=policy.version, status=PolicyStatus.APPROVED, actor_id=SIMULATION_FINANCE, now=now
        )


def pay_out_day(memory: InMemory, start: datetime, now: datetime) -> PayoutRecord:
    """The cash earned since `start`: prepared, approved by a second person, paid, and the books reconciled."""
    try:
        with memory.rewards() as uow:
            prepared = prepare_payout_batch(
                uow,
                period_start=start,
                period_end=now,
                actor_id=SIMULATION_FINANCE,
                now=now,
                idempotency_key=PAYOUT_KEY,
            ).batch
    except NothingToPay:
        return PayoutRecord()
    with memory.rewards() as uow:
        approve_payout_batch(uow, batch_id=prepared.id, actor_id=SIMULATION_FINANCE_APPROVER, now=now)
    with memory.rewards() as uow:
        paid = pay_payout_batch(
            uow, batch_id=prepared.id, actor_id=SIMULATION_FINANCE, now=now, idempotency_key=PAYOUT_KEY
        )
    with memory.rewards() as uow:
        report = reconciliation_report(uow)
    return PayoutRecord(
        lines=len(prepared.lines),
        flagged_lines=sum(1 for line in prepared.lines if line.flags),
        paid_cents=paid.paid_cents,
        books_agree=report.agrees,
    )
