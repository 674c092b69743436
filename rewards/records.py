"""What rewards keeps, as plain records, and the refusals its storage can give, in the business's words.

The repositories (`rewards.repositories`) hand these out whatever stores them: PostgreSQL or memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.errors import DomainError
from crowdship.units import Cents
from rewards.breakdown import RewardComponent
from rewards.ledger import AccountKind, TransactionKind
from rewards.policy import EarningsSoFar, PaymentMethod, RewardInputs


class NoPolicyInForce(DomainError):
    """Nothing can be priced or credited before a reward policy is proposed and approved."""

    kind = "conflict"


class PolicyVersionTaken(DomainError):
    kind = "conflict"


class AlreadyReferred(DomainError):
    kind = "conflict"

    def __init__(self, referred_shopper_id: UUID) -> None:
        super().__init__(f"shopper {referred_shopper_id} already has a referrer")


class ShopperAlreadyInOpenBatch(DomainError):
    kind = "conflict"


class RewardNotDue(DomainError):
    """Rewards are credited on proof of delivery only."""

    kind = "conflict"


class AlreadyRewarded(DomainError):
    kind = "conflict"

    def __init__(self, order_id: UUID) -> None:
        super().__init__(f"order {order_id} was already rewarded")
        self.order_id = order_id


class NothingToPay(DomainError):
    kind = "conflict"


@dataclass(frozen=True)
class RewardRecord:
    """A credited delivery reward as stored: what it was computed from and where the money went."""

    id: UUID
    order_id: UUID
    shopper_id: UUID
    store_id: UUID
    policy_id: UUID
    policy_version: int
    inputs: RewardInputs
    earned_before: EarningsSoFar
    breakdown: tuple[RewardComponent, ...]
    """How the amount was reached, in whole cents that add up to `amount_cents`."""
    cash_value_cents: Cents
    amount_cents: Cents
    earned_at: datetime
    transaction_id: UUID | None
    referral_transaction_id: UUID | None


@dataclass(frozen=True)
class OrderForReward:
    """What a credit needs to know of the delivered order."""

    order_id: UUID
    store_id: UUID
    status: str


@dataclass(frozen=True)
class StandingHold:
    """A hold finance put on a shopper's line that no one released before its batch closed."""

    batch_id: UUID
    reason: str
    held_by: UUID | None


@dataclass(frozen=True)
class PayableBalance:
    shopper_id: UUID
    account_id: UUID
    balance_cents: Cents


@dataclass(frozen=True)
class AuditEntry:
    actor_id: UUID | None
    action: str
    subject_kind: str
    subject_id: UUID | None
    details: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class PaymentMethodChoice:
    """One choice a shopper made; the newest at or before an instant is in force then."""

    shopper_id: UUID
    method: PaymentMethod
    chosen_at: datetime
    chosen_by: UUID | None


@dataclass(frozen=True)
class LedgerLine:
    """One movement on a shopper account, with that account's balance right after it."""

    entry_id: int
    account: AccountKind
    transaction_id: UUID
    kind: TransactionKind
    description: str
    at: datetime
    amount_cents: Cents
    balance_after_cents: Cents
    order_id: UUID | None
    reverses_id: UUID | None
    payout_line_id: UUID | None
