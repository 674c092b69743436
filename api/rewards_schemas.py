"""Bodies of the finance, reward-policy and wallet endpoints. Money is always integer cents (`*_cents`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AliasChoices, AliasPath, ConfigDict, Field, field_validator

from api.fields import Instant
from api.schemas import FromDomain, LongText, Schema, Text
from dispatch.model import TrustTier
from rewards.anomalies import FlagCode
from rewards.breakdown import ComponentKind
from rewards.ledger import AccountKind, TransactionKind
from rewards.payouts import BatchStatus, PayoutLine
from rewards.policy import (
    HOURS_IN_DAY,
    MAX_INCLUDED_DISTANCE_M,
    MAX_INCLUDED_DURATION_S,
    MAX_PARAMETER_CENTS,
    MAX_REFERRAL_FIRST_DELIVERIES,
    PaymentMethod,
)
from rewards.policy_versions import PolicyStatus
from rewards.reconciliation import MAX_DISCREPANCIES_KEPT, DiscrepancyKind

MAX_CENTS = MAX_PARAMETER_CENTS
"""A million in cents: far above any reward parameter, far below what the columns hold (the domain's bound)."""
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
    included_distance_m: int = Field(
        default=0, ge=0, le=MAX_INCLUDED_DISTANCE_M, description="Covered by the base fare"
    )
    included_duration_s: int = Field(
        default=0, ge=0, le=MAX_INCLUDED_DURATION_S, description="Covered by the base fare"
    )
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
    referral_first_deliveries: int = Field(default=0, ge=0, le=MAX_REFERRAL_FIRST_DELIVERIES)
    timezone: str = Field(default="UTC", min_length=1, max_length=64, examples=["America/New_York"])

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()


class PolicyParametersOut(FromDomain):
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


def _of_decision(name: str) -> AliasChoices:
    """A decided version's verdict field; null while the version is proposed (its `decision` is None)."""
    return AliasChoices(AliasPath("decision", name), "decision")


class PolicyOut(FromDomain):
    id: UUID
    version: int = Field(ge=1, examples=[3])
    parameters: PolicyParametersOut
    note: str
    created_by: UUID = Field(description="Who proposed it")
    created_at: datetime = Field(description="When it was proposed")
    status: PolicyStatus = Field(description="proposed (prices nothing yet), approved or rejected")
    decided_by: UUID | None = Field(
        validation_alias=_of_decision("decided_by"), description="Who approved or rejected it: never its author"
    )
    decided_at: datetime | None = Field(
        validation_alias=_of_decision("decided_at"),
        description="An approved version is in force from here until the next one",
    )
    decision_reason: str | None = Field(validation_alias=_of_decision("reason"))


class PolicyDecisionIn(Schema):
    reason: LongText | None = Field(default=None, description="Why (required when rejecting)")


# --- Payout batches --------------------------------------------------------------------------------------


class BatchIn(Schema):
    period_start: Instant = Field(description="Deliveries from this instant are checked for anomalies")
    period_end: Instant = Field(description="...until this one (exclusive)")


class FlagOut(FromDomain):
    code: FlagCode
    detail: str = Field(examples=["order 6c1f... rewarded without position proof"])


class PayoutLineOut(FromDomain):
    id: UUID
    shopper_id: UUID
    amount_cents: int = Field(gt=0, examples=[1840])
    flags: list[FlagOut] = Field(description="Anomalies finance should look at before approving")
    held: bool = Field(description="A held line is not paid; its money stays for a later batch")
    hold_reason: str | None
    held_by: UUID | None
    hold_released_by: UUID | None = Field(
        description="Who released a hold someone else placed on the line: they may not approve the batch"
    )
    open: bool = Field(description="Still payable by this batch (closed once the batch is paid or rejected)")


class BatchExportOut(FromDomain):
    exported_by: UUID
    exported_at: datetime


class PayoutBatchOut(FromDomain):
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
    bank_file_withdrawn: bool = Field(
        description="Rejected after its bank upload was exported, on the rejecter's word that the file was withdrawn"
    )
    exports: list[BatchExportOut] = Field(
        description="Every download of its bank upload (`/export`), oldest first: rejecting it afterwards needs "
        "`bank_file_withdrawn`"
    )
    total_cents: int = Field(ge=0, description="Every line, held or not")
    payable_cents: int = Field(ge=0, description="The lines not held: what paying the batch moves")
    flagged_lines: int = Field(ge=0, validation_alias=AliasPath("lines"))  # counted from the lines
    lines: list[PayoutLineOut]
    revision: int = Field(
        ge=0,
        description="Counts the holds and releases of its lines; send it when approving to approve this batch as "
        "you reviewed it",
        examples=[2],
    )

    @field_validator("flagged_lines", mode="before")
    @classmethod
    def _count_flagged(cls, lines: Sequence[PayoutLine]) -> int:
        return sum(1 for line in lines if line.flags)


class ApprovalIn(Schema):
    revision: int | None = Field(
        default=None,
        ge=0,
        le=2_147_483_647,
        description="The batch's `revision` as you reviewed it: 409 if a line was held or released since",
        examples=[2],
    )


class ReasonIn(Schema):
    reason: Text = Field(examples=["recipient repeated 6 times this week; asked the store to check"])


class RejectionIn(ReasonIn):
    bank_file_withdrawn: bool = Field(
        default=False,
        description="Required true to reject a batch whose bank upload was exported: you withdrew the file from the "
        "bank (say so in `reason`), or it would pay the lines again freed for the next batch; 409 `batch-exported` "
        "otherwise",
    )


class PaymentOut(FromDomain):
    batch_id: UUID
    paid_cents: int = Field(ge=0, description="Moved from the shoppers' cash payable to payouts clearing")
    transaction_ids: list[UUID] = Field(description="One ledger transaction per line paid")


# --- Reconciliation, ledger, audit -------------------------------------------------------------------------


class DiscrepancyOut(FromDomain):
    kind: DiscrepancyKind
    subject_id: UUID
    detail: str


class ReconciliationOut(FromDomain):
    agrees: bool = Field(description="True when the ledger, the payouts and the deliveries tell the same story")
    discrepancies: list[DiscrepancyOut] = Field(
        description=f"The first {MAX_DISCREPANCIES_KEPT} differences found; `discrepancy_count` counts them all"
    )
    discrepancy_count: int = Field(ge=0)
    accounts_checked: int = Field(ge=0)
    transactions_checked: int = Field(ge=0)
    rewards_checked: int = Field(ge=0)
    paid_lines_checked: int = Field(ge=0)


class LedgerEntryOut(FromDomain):
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


class AuditEntryOut(FromDomain):
    # Read from an `AuditRecord`: its sequence number, and the entry as written.
    sequence: int = Field(description="Order of writing")
    actor_id: UUID | None = Field(validation_alias=AliasPath("entry", "actor_id"))
    action: str = Field(validation_alias=AliasPath("entry", "action"), examples=["batch.approved"])
    subject_kind: str = Field(validation_alias=AliasPath("entry", "subject_kind"), examples=["payout_batch"])
    subject_id: UUID | None = Field(validation_alias=AliasPath("entry", "subject_id"))
    details: dict[str, Any] = Field(validation_alias=AliasPath("entry", "details"))
    at: datetime = Field(validation_alias=AliasPath("entry", "at"))


# --- The shopper's wallet ------------------------------------------------------------------------------------


class WalletOut(FromDomain):
    store_credit_cents: int = Field(ge=0, description="Spendable in the store", examples=[1250])
    cash_payable_cents: int = Field(ge=0, description="Paid out by finance in the next batch", examples=[3380])


class RewardInputsOut(FromDomain):
    """What the offer showed: the reward is the policy applied to these."""

    # Read from a `RewardRecord`: its `inputs`, and the earnings before it that the caps counted.
    extra_distance_m: int = Field(validation_alias=AliasPath("inputs", "extra_distance_m"))
    extra_duration_s: int = Field(validation_alias=AliasPath("inputs", "extra_duration_s"))
    bags: int = Field(validation_alias=AliasPath("inputs", "bags"))
    local_hour: int = Field(
        ge=0,
        le=23,
        validation_alias=AliasPath("inputs", "local_hour"),
        description="Hour of the offer in the policy's time zone",
    )
    trust_tier: int = Field(ge=0, le=3, validation_alias=AliasPath("inputs", "trust_tier"))  # `TrustTier` as int
    method: PaymentMethod = Field(validation_alias=AliasPath("inputs", "method"))
    earned_today_cents: int = Field(
        validation_alias=AliasPath("earned_before", "today_cents"),
        description="Counted by the daily cap before this reward",
    )
    earned_this_week_cents: int = Field(
        validation_alias=AliasPath("earned_before", "this_week_cents"),
        description="Counted by the weekly cap before this reward",
    )


class RewardComponentOut(FromDomain):
    """One step of a reward, in whole cents: caps and ceilings take away (negative), the rounding either way."""

    kind: ComponentKind = Field(examples=["distance"])
    label: str = Field(
        description="What this step is, with its inputs",
        examples=["Extra distance: 2300 m beyond the 1000 m included, at 0.50 per km"],
    )
    cents: int = Field(description="What this step adds (or takes away) in cents", examples=[65])


def _of_record(name: str) -> AliasPath:
    """A `ShopperReward` holds the stored reward on its `record`, beside the method and whether it was reversed."""
    return AliasPath("record", name)


class RewardOut(FromDomain):
    order_id: UUID = Field(validation_alias=_of_record("order_id"))
    earned_at: datetime = Field(validation_alias=_of_record("earned_at"))
    policy_version: int = Field(ge=1, validation_alias=_of_record("policy_version"))
    inputs: RewardInputsOut = Field(validation_alias="record")
    method: PaymentMethod
    cash_value_cents: int = Field(
        ge=0, validation_alias=_of_record("cash_value_cents"), description="Worth in cash after minimum and caps"
    )
    amount_cents: int = Field(
        ge=0, validation_alias=_of_record("amount_cents"), description="Credited (store credit includes its bonus)"
    )
    reversed: bool = Field(description="Taken back after a dispute")
    breakdown: list[RewardComponentOut] = Field(
        validation_alias=_of_record("breakdown"),
        description="How the amount was reached: components in whole cents that add up to `amount_cents`",
    )


class PaymentMethodIn(Schema):
    """How you want to be paid for deliveries offered from now on."""

    method: PaymentMethod = Field(
        description="`store_credit` (worth more: the policy's store-credit bonus is added) or `cash`",
        examples=["store_credit"],
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"method": "store_credit"}]})


class PaymentMethodOut(FromDomain):
    method: PaymentMethod = Field(
        description="What offers made from now on show and what their deliveries credit", examples=["store_credit"]
    )
    chosen_at: datetime | None = Field(
        description="When you chose it; null while you have never changed the default, cash",
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"method": "store_credit", "chosen_at": "2026-11-22T14:05:00Z"}]}
    )
