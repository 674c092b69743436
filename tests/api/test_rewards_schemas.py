"""Finance, policy and wallet bodies read straight from the rewards objects: decisions, flag counts, the
audit entry behind its sequence number and a reward's inputs come out as the API has always shown them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from api.money_schemas import RewardCreditIn
from api.rewards_schemas import ApprovalIn, AuditEntryOut, PayoutBatchOut, PolicyIn, PolicyOut, RewardOut
from crowdship.units import Cents
from dispatch.model import TrustTier
from rewards.anomalies import AnomalyFlag, FlagCode
from rewards.breakdown import ComponentKind, RewardComponent
from rewards.payouts import PayoutBatch, PayoutLine
from rewards.policy import EarningsSoFar, PaymentMethod, PolicyParameters, RewardInputs
from rewards.policy_versions import PolicyStatus, RewardPolicy
from rewards.records import AuditEntry, RewardRecord
from rewards.services import AuditRecord, ShopperReward

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)


def a_policy() -> RewardPolicy:
    parameters = PolicyParameters(
        base_cents=250, per_extra_km_cents=40, per_extra_minute_cents=5, per_bag_cents=25, minimum_cents=300
    )
    return RewardPolicy(version=3, parameters=parameters, created_by=uuid4(), created_at=NOW, note="autumn")


def test_a_proposed_policy_has_null_decision_fields() -> None:
    body = PolicyOut.model_validate(a_policy()).model_dump(mode="json")
    assert body["status"] == "proposed"
    assert (body["decided_by"], body["decided_at"], body["decision_reason"]) == (None, None, None)
    assert body["parameters"]["peak_multiplier_bps"] == [10_000] * 24


def test_a_decided_policy_shows_who_decided_when_and_why() -> None:
    approver = uuid4()
    decided = a_policy().decide(PolicyStatus.REJECTED, actor_id=approver, now=NOW, reason="too generous")
    body = PolicyOut.model_validate(decided)
    assert (body.status, body.decided_by, body.decided_at) == (PolicyStatus.REJECTED, approver, NOW)
    assert body.decision_reason == "too generous"


def test_a_batch_counts_its_flagged_lines_and_sums_what_it_pays() -> None:
    batch = PayoutBatch(period_start=NOW - timedelta(days=7), period_end=NOW, prepared_by=uuid4(), prepared_at=NOW)
    flag = AnomalyFlag(FlagCode.NO_POSITION_PROOF, "order rewarded without position proof")
    batch.lines = [
        PayoutLine(batch.id, uuid4(), uuid4(), Cents(1_840), flags=(flag,)),
        PayoutLine(batch.id, uuid4(), uuid4(), Cents(700), held=True, hold_reason="check"),
        PayoutLine(batch.id, uuid4(), uuid4(), Cents(60)),
    ]
    body = PayoutBatchOut.model_validate(batch)
    assert (body.flagged_lines, body.total_cents, body.payable_cents) == (1, 2_600, 1_900)
    assert [line.id for line in body.lines] == [line.id for line in batch.lines]
    assert body.lines[0].flags[0].code is FlagCode.NO_POSITION_PROOF


def test_an_audit_record_shows_its_sequence_and_the_entry_as_written() -> None:
    entry = AuditEntry(uuid4(), "batch.approved", "payout_batch", uuid4(), {"lines": 3}, NOW)
    body = AuditEntryOut.model_validate(AuditRecord(sequence=41, entry=entry)).model_dump()
    assert body == {
        "sequence": 41,
        "actor_id": entry.actor_id,
        "action": "batch.approved",
        "subject_kind": "payout_batch",
        "subject_id": entry.subject_id,
        "details": {"lines": 3},
        "at": NOW,
    }


def test_a_reward_shows_the_inputs_it_was_computed_from_and_the_earnings_the_caps_counted() -> None:
    inputs = RewardInputs(
        extra_distance_m=1_500,
        extra_duration_s=240,
        bags=2,
        local_hour=17,
        trust_tier=TrustTier.SILVER,
        method=PaymentMethod.STORE_CREDIT,
    )
    record = RewardRecord(
        id=uuid4(),
        order_id=uuid4(),
        shopper_id=uuid4(),
        store_id=uuid4(),
        policy_id=uuid4(),
        policy_version=3,
        inputs=inputs,
        earned_before=EarningsSoFar(today_cents=900, this_week_cents=4_100),
        breakdown=(RewardComponent(ComponentKind.BASE, "Base reward", 250),),
        cash_value_cents=Cents(410),
        amount_cents=Cents(492),
        earned_at=NOW,
        transaction_id=uuid4(),
        referral_transaction_id=None,
    )
    body = RewardOut.model_validate(ShopperReward(record, PaymentMethod.STORE_CREDIT, reversed=True))
    assert (body.order_id, body.policy_version, body.amount_cents, body.reversed) == (record.order_id, 3, 492, True)
    assert body.inputs.model_dump(mode="json") == {
        "extra_distance_m": 1_500,
        "extra_duration_s": 240,
        "bags": 2,
        "local_hour": 17,
        "trust_tier": 2,
        "method": "store_credit",
        "earned_today_cents": 900,
        "earned_this_week_cents": 4_100,
    }


BOOLEAN_NUMBERS = [
    ("parameters", "base_cents"),
    ("parameters", "minimum_cents"),
    ("parameters", "daily_cap_cents"),
    ("parameters", "store_credit_bonus_bps"),
    ("parameters", "referral_first_deliveries"),
    ("parameters", "peak_multiplier_bps"),
    ("credit", "policy_version"),
    ("approval", "revision"),
]


@pytest.mark.parametrize(("body", "name"), BOOLEAN_NUMBERS)
def test_true_is_refused_where_a_money_body_wants_a_number(body: str, name: str) -> None:
    """JSON's true read as 1 would set a base fare of one cent, credit by policy version 1 or approve
    revision 1: refused, naming the field, as for every other amount."""
    parameters: dict[str, object] = {
        "base_cents": 300,
        "per_extra_km_cents": 40,
        "per_extra_minute_cents": 5,
        "per_bag_cents": 25,
        "minimum_cents": 350,
        "store_credit_bonus_bps": 10_000,
    }
    if body == "parameters":
        parameters[name] = [True] * 24 if name == "peak_multiplier_bps" else True
        model: type[BaseModel] = PolicyIn
        data: dict[str, object] = {"parameters": parameters}
    else:
        model = RewardCreditIn if body == "credit" else ApprovalIn
        data = {name: True}
    with pytest.raises(ValidationError, match="not true or false"):
        model.model_validate(data)


def test_policy_parameters_written_as_text_still_read_as_numbers() -> None:
    """The console's forms hand numbers over as text: refusing booleans must not refuse those."""
    body = PolicyIn.model_validate(
        {
            "parameters": {
                "base_cents": "300",
                "per_extra_km_cents": "40",
                "per_extra_minute_cents": "5",
                "per_bag_cents": "25",
                "minimum_cents": "350",
                "peak_multiplier_bps": ["10000"] * 24,
            }
        }
    )
    assert (body.parameters.base_cents, body.parameters.peak_multiplier_bps[0]) == (300, 10_000)
