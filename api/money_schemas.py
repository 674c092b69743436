"""Bodies of the money actions taken by hand: a reward reversed or credited late (finance), a referral and store
credit spent at the till (operations). Money is integer cents (`*_cents`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from api.schemas import FromDomain, Schema
from rewards.policy import PaymentMethod

MAX_REDEMPTION_CENTS = 1_000_000
"""$10,000 at the till at once: far above what rewards add up to, far below what the columns hold."""
MAX_POLICY_VERSION = 1_000_000


class RewardCreditIn(Schema):
    """Which approved policy version prices the delivery; without it, the version in force at the delivery."""

    policy_version: int | None = Field(default=None, ge=1, le=MAX_POLICY_VERSION, examples=[3])


class RewardCreditOut(FromDomain):
    reward_id: UUID
    order_id: UUID
    shopper_id: UUID = Field(description="Who delivered the order, credited now")
    policy_version: int = Field(ge=1)
    method: PaymentMethod
    cash_value_cents: int = Field(ge=0, description="Worth in cash after minimum and caps")
    amount_cents: int = Field(ge=0, description="Credited (store credit includes its bonus)")
    transaction_id: UUID | None = Field(description="None when the caps left nothing to credit")
    referrer_shopper_id: UUID | None
    referral_commission_cents: int = Field(ge=0)
    referral_transaction_id: UUID | None


class RewardReversalOut(FromDomain):
    order_id: UUID
    reversed_ids: list[UUID] = Field(description="The reward's ledger transaction, and its referral bonus if any")
    reversal_ids: list[UUID] = Field(description="The transactions that undo them, in the same order")


class ReferralIn(Schema):
    referrer_shopper_id: UUID = Field(description="Who brought the new shopper")
    referred_shopper_id: UUID = Field(description="The new shopper, before their first delivery")


class ReferralOut(FromDomain):
    referrer_shopper_id: UUID
    referred_shopper_id: UUID
    created_at: datetime
    created_by: UUID = Field(description="Who registered it")


class StoreCreditRedemptionIn(Schema):
    amount_cents: int = Field(gt=0, le=MAX_REDEMPTION_CENTS, examples=[1250])


class StoreCreditRedemptionOut(FromDomain):
    shopper_id: UUID
    transaction_id: UUID = Field(description="The ledger transaction that took the credit")
    amount_cents: int = Field(gt=0)
