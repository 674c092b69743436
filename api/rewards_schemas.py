"""Bodies of the finance, reward-policy and wallet endpoints. Money is always integer cents (`*_cents`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.fields import Instant
from api.schemas import LongText, Schema, Text
from dispatch.model import TrustTier
from rewards.ledger import AccountKind, TransactionKind
from rewards.payouts import BatchStatus, FlagCode, PayoutBatch, PayoutLine
from rewards.policy import HOURS_IN_DAY, PaymentMethod, PolicyParameters, PolicyStatus, RewardPolicy
from rewards.reconciliation import DiscrepancyKind, ReconciliationReport
from rewards.records import AuditEntry, LedgerLine
from rewards.services import (
    AuditRecord,
    PaidBatch,
    PaymentPreference,
    ShopperBalances,
    ShopperReward,
)

MAX_CENTS = 100_000_000
"""A million in cents: far above any reward parameter, far below what the columns hold."""
MAX_BPS = 100_000
"""x10 in basis points."""

Multiplier = Annotated[int, Field(ge=0, le=MAX_BPS, description="Basis points: 10 000 = x1")]

# --- Reward policies -------------------------------------------------------------------------------------


class PolicyParametersIn(Schema):
    """The numbers ops set: money in cents, multipliers in basis points (10 000 = x1)."""

    base_cents: int = Field(ge=0, le=MAX_CENTS, examples=[250])
    per_extra_km_cents: int = Field(ge=0, le=MAX_CENTS, examples=[40])
    per_extra_minute_cents: int = Field(ge=0, le=MAX_CENTS, examples=[5])
    per_bag_cents: int = Field(ge=0, le=MAX_CENTS, examples=[25])
    minimum_cents: int = Field(ge=0, le=MAX_CENTS, examples=[300])
    included_distance_m: int = Field(default=0, ge=0, le=1_000_000, description="Covered by the base fare")
    included_duration_s: int = Field(default=0, ge=0, le=86_400, description="Covered by the base fare")
    peak_multiplier_bps: list[Multiplier] = Field(
        default_factory=lambda: [10_000] * HOURS_IN_DAY,
        min_length=HOURS_IN_DAY,
        max_length=HOURS_IN_DAY,
        description="One multiplier per local hour of the day, 0..23",
    )
    tier_multiplier_bps: list[Multiplier] = Field(
        default_factory=lambda: [10_000] * len(TrustTier),
        min_length=len(TrustTier),
        max_length=len(TrustTier),
        description="One multiplier per trust tier: new, bronze, silver, gold",
    )
    daily_cap_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS, examples=[5000])
    weekly_cap_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS, examples=[20000])
    store_credit_bonus_bps: int = Field(
        default=10_000, ge=10_000, le=MAX_BPS, description="11 000 = store credit pays 10 % more than cash"
    )
    referral_commission_bps: int = Field(default=0, ge=0, le=10_000)
    referral_first_deliveries: int = Field(default=0, ge=0, le=1_000)
    timezone: str = Field(default="UTC", min_length=1, max_length=64, examples=["America/New_York"])

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()


class PolicyParametersOut(BaseModel):
    base_cents: int
    per_extra_km_cents: int
    per_extra_minute_cents: int
    per_bag_cents: int
    minimum_cents: int
    included_distance_m: int
    included_duration_s: int
    peak_multiplier_bps: list[int]
    tier_multiplier_bps: list[int]
    daily_cap_cents: int | None
    weekly_cap_cents: int | None
    store_credit_bonus_bps: int
    referral_commission_bps: int
    referral_first_deliveries: int
    timezone: str

    @classmethod
    def of(cls, parameters: PolicyParameters) -> PolicyParametersOut:
        return cls.model_validate(parameters.to_json())


class PolicyIn(Schema):
    parameters: PolicyParametersIn
    note: LongText | None = Field(default=None, examples=["Evening peak x1.2 from 17:00 to 19:00"])

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parameters": {
                        "base_cents": 250,
                        "per_extra_km_cents": 40,
                        "per_extra_minute_cents": 5,
                        "per_bag_cents": 25,
                        "minimum_cents": 300,
                        "daily_cap_cents": 5000,
                        "weekly_cap_cents": 20000,
                        "store_credit_bonus_bps": 11000,
                        "timezone": "America/New_York",
                    },
                    "note": "Autumn rates",
                }
            ]
        },
    )


class PolicyOut(BaseModel):
    id: UUID
    version: int = Field(ge=1, examples=[3])
    parameters: PolicyParametersOut
    note: str
    created_by: UUID = Field(description="Who proposed it")
    created_at: datetime = Field(description="When it was proposed")
    status: PolicyStatus = Field(description="proposed (prices nothing yet), approved or rejected")
    decided_by: UUID | None = Field(description="Who approved or rejected it: never its author")
    decided_at: datetime | None = Field(description="An approved version is in force from here until the next one")
    decision_reason: str | None

    @classmethod
    def of(cls, policy: RewardPolicy) -> PolicyOut:
        decision = policy.decision
        return cls(
            id=policy.id,
            version=policy.version,
            parameters=PolicyParametersOut.of(policy.parameters),
            note=policy.note,
            created_by=policy.created_by,
            created_at=policy.created_at,
            status=policy.status,
            decided_by=decision.decided_by if decision else None,
            decided_at=decision.decided_at if decision else None,
            decision_reason=decision.reason if decision else None,
        )


class PolicyDecisionIn(Schema):
    reason: LongText | None = Field(default=None, description="Why (required when rejecting)")


# --- Payout batches --------------------------------------------------------------------------------------


class BatchIn(Schema):
    period_start: Instant = Field(description="Deliveries from this instant are checked for anomalies")
    period_end: Instant = Field(description="...until this one (exclusive)")


class FlagOut(BaseModel):
    code: FlagCode
    detail: str = Field(examples=["order 6c1f... rewarded without position proof"])


class PayoutLineOut(BaseModel):
    id: UUID
    shopper_id: UUID
    amount_cents: int = Field(gt=0, examples=[1840])
    flags: list[FlagOut] = Field(description="Anomalies finance should look at before approving")
    held: bool = Field(description="A held line is not paid; its money stays for a later batch")
    hold_reason: str | None
    held_by: UUID | None
    open: bool = Field(description="Still payable by this batch (closed once the batch is paid or rejected)")

    @classmethod
    def of(cls, line: PayoutLine) -> PayoutLineOut:
        return cls(
            id=line.id,
            shopper_id=line.shopper_id,
            amount_cents=line.amount_cents,
            flags=[FlagOut(code=flag.code, detail=flag.detail) for flag in line.flags],
            held=line.held,
            hold_reason=line.hold_reason,
            held_by=line.held_by,
            open=line.open,
        )


class PayoutBatchOut(BaseModel):
    id: UUID
    status: BatchStatus
    period_start: datetime
    period_end: datetime
    prepared_by: UUID
    prepared_at: datetime
    approved_by: UUID | None
    approved_at: datetime | None
    paid_by: UUID | None
    paid_at: datetime | None
    rejected_by: UUID | None
    rejected_at: datetime | None
    rejection_reason: str | None
    total_cents: int = Field(ge=0, description="Every line, held or not")
    payable_cents: int = Field(ge=0, description="The lines not held: what paying the batch moves")
    flagged_lines: int = Field(ge=0)
    lines: list[PayoutLineOut]

    @classmethod
    def of(cls, batch: PayoutBatch) -> PayoutBatchOut:
        return cls(
            id=batch.id,
            status=batch.status,
            period_start=batch.period_start,
            period_end=batch.period_end,
            prepared_by=batch.prepared_by,
            prepared_at=batch.prepared_at,
            approved_by=batch.approved_by,
            approved_at=batch.approved_at,
            paid_by=batch.paid_by,
            paid_at=batch.paid_at,
            rejected_by=batch.rejected_by,
            rejected_at=batch.rejected_at,
            rejection_reason=batch.rejection_reason,
            total_cents=batch.total_cents,
            payable_cents=batch.payable_cents,
            flagged_lines=sum(1 for line in batch.lines if line.flags),
            lines=[PayoutLineOut.of(line) for line in batch.lines],
        )


class ReasonIn(Schema):
    reason: Text = Field(examples=["recipient repeated 6 times this week; asked the store to check"])


class PaymentOut(BaseModel):
    batch_id: UUID
    paid_cents: int = Field(ge=0, description="Moved from the shoppers' cash payable to payouts clearing")
    transaction_ids: list[UUID] = Field(description="One ledger transaction per line paid")

    @classmethod
    def of(cls, paid: PaidBatch) -> PaymentOut:
        return cls(batch_id=paid.batch_id, paid_cents=paid.paid_cents, transaction_ids=list(paid.transaction_ids))


# --- Reconciliation, ledger, audit -------------------------------------------------------------------------


class DiscrepancyOut(BaseModel):
    kind: DiscrepancyKind
    subject_id: UUID
    detail: str


class ReconciliationOut(BaseModel):
    agrees: bool = Field(description="True when the ledger, the payouts and the deliveries tell the same story")
    discrepancies: list[DiscrepancyOut]
    accounts_checked: int = Field(ge=0)
    transactions_checked: int = Field(ge=0)
    rewards_checked: int = Field(ge=0)
    paid_lines_checked: int = Field(ge=0)

    @classmethod
    def of(cls, report: ReconciliationReport) -> ReconciliationOut:
        return cls(
            agrees=report.agrees,
            discrepancies=[
                DiscrepancyOut(kind=d.kind, subject_id=d.subject_id, detail=d.detail) for d in report.discrepancies
            ],
            accounts_checked=report.accounts_checked,
            transactions_checked=report.transactions_checked,
            rewards_checked=report.rewards_checked,
            paid_lines_checked=report.paid_lines_checked,
        )


class LedgerEntryOut(BaseModel):
    entry_id: int
    account: AccountKind = Field(description="store_credit or cash_payable")
    transaction_id: UUID
    kind: TransactionKind
    description: str
    at: datetime
    amount_cents: int = Field(description="Positive: the company owes the shopper more; negative: less")
    balance_after_cents: int = Field(description="The account's balance right after this entry")
    order_id: UUID | None
    reverses_id: UUID | None
    payout_line_id: UUID | None

    @classmethod
    def of(cls, line: LedgerLine) -> LedgerEntryOut:
        return cls(
            entry_id=line.entry_id,
            account=line.account,
            transaction_id=line.transaction_id,
            kind=line.kind,
            description=line.description,
            at=line.at,
            amount_cents=line.amount_cents,
            balance_after_cents=line.balance_after_cents,
            order_id=line.order_id,
            reverses_id=line.reverses_id,
            payout_line_id=line.payout_line_id,
        )


class AuditEntryOut(BaseModel):
    sequence: int = Field(description="Order of writing")
    actor_id: UUID | None
    action: str = Field(examples=["batch.approved"])
    subject_kind: str = Field(examples=["payout_batch"])
    subject_id: UUID | None
    details: dict[str, Any]
    at: datetime

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEntryOut:
        entry: AuditEntry = record.entry
        return cls(
            sequence=record.sequence,
            actor_id=entry.actor_id,
            action=entry.action,
            subject_kind=entry.subject_kind,
            subject_id=entry.subject_id,
            details=entry.details,
            at=entry.at,
        )


# --- The shopper's wallet ------------------------------------------------------------------------------------


class WalletOut(BaseModel):
    store_credit_cents: int = Field(ge=0, description="Spendable in the store", examples=[1250])
    cash_payable_cents: int = Field(ge=0, description="Paid out by finance in the next batch", examples=[3380])

    @classmethod
    def of(cls, balances: ShopperBalances) -> WalletOut:
        return cls(store_credit_cents=balances.store_credit_cents, cash_payable_cents=balances.cash_payable_cents)


class RewardInputsOut(BaseModel):
    """What the offer showed: the reward is the policy applied to these."""

    extra_distance_m: int
    extra_duration_s: int
    bags: int
    local_hour: int = Field(ge=0, le=23, description="Hour of the offer in the policy's time zone")
    trust_tier: int = Field(ge=0, le=3)
    method: PaymentMethod
    earned_today_cents: int = Field(description="Counted by the daily cap before this reward")
    earned_this_week_cents: int = Field(description="Counted by the weekly cap before this reward")


class RewardOut(BaseModel):
    order_id: UUID
    earned_at: datetime
    policy_version: int = Field(ge=1)
    inputs: RewardInputsOut
    method: PaymentMethod
    cash_value_cents: int = Field(ge=0, description="Worth in cash after minimum and caps")
    amount_cents: int = Field(ge=0, description="Credited (store credit includes its bonus)")
    reversed: bool = Field(description="Taken back after a dispute")
    breakdown: dict[str, Any] = Field(description="How the amount was reached (components, multipliers, caps)")

    @classmethod
    def of(cls, reward: ShopperReward) -> RewardOut:
        record = reward.record
        return cls(
            order_id=record.order_id,
            earned_at=record.earned_at,
            policy_version=record.policy_version,
            inputs=RewardInputsOut(
                extra_distance_m=record.inputs.extra_distance_m,
                extra_duration_s=record.inputs.extra_duration_s,
                bags=record.inputs.bags,
                local_hour=record.inputs.local_hour,
                trust_tier=int(record.inputs.trust_tier),
                method=record.inputs.method,
                earned_today_cents=record.earned_before.today_cents,
                earned_this_week_cents=record.earned_before.this_week_cents,
            ),
            method=reward.method,
            cash_value_cents=record.cash_value_cents,
            amount_cents=record.amount_cents,
            reversed=reward.reversed,
            breakdown=record.breakdown,
        )


class PaymentMethodIn(Schema):
    """How you want to be paid for deliveries offered from now on."""

    method: PaymentMethod = Field(
        description="`store_credit` (worth more: the policy's store-credit bonus is added) or `cash`",
        examples=["store_credit"],
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"method": "store_credit"}]})


class PaymentMethodOut(BaseModel):
    method: PaymentMethod = Field(
        description="What offers made from now on show and what their deliveries credit", examples=["store_credit"]
    )
    chosen_at: datetime | None = Field(
        description="When you chose it; null while you have never changed the default, cash",
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"method": "store_credit", "chosen_at": "2026-11-22T14:05:00Z"}]}
    )

    @classmethod
    def of(cls, preference: PaymentPreference) -> PaymentMethodOut:
        return cls(method=preference.method, chosen_at=preference.chosen_at)
