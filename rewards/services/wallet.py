"""A shopper's money as they and finance read it: balances, the ledger with running balances, the rewards
with what each was computed from; and how the shopper wants to be paid (cash or store credit)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crowdship.clock import require_aware
from crowdship.errors import InvalidInput
from crowdship.pages import Page, check_page
from crowdship.units import Cents
from rewards.ledger import AccountKind
from rewards.policy import PaymentMethod
from rewards.records import LedgerLine, PaymentMethodChoice, RewardRecord
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork
from rewards.services.common import audit

DEFAULT_PAYMENT_METHOD = PaymentMethod.CASH
"""What a shopper who never chose is paid in."""


@dataclass(frozen=True)
class ShopperBalances:
    shopper_id: UUID
    store_credit_cents: Cents
    cash_payable_cents: Cents


def shopper_balances(uow: RewardsUnitOfWork, *, shopper_id: UUID) -> ShopperBalances:
    accounts = uow.repos.ledger.shopper_accounts(shopper_id)
    uow.commit()  # opening the accounts on first sight is kept
    return ShopperBalances(
        shopper_id,
        accounts[AccountKind.STORE_CREDIT].held_cents,
        accounts[AccountKind.CASH_PAYABLE].held_cents,
    )


def shopper_ledger(
    uow: RewardsUnitOfWork,
    *,
    shopper_id: UUID,
    account: AccountKind | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[LedgerLine]:
    """The shopper's ledger entries, newest first, with running balances; `NotFound` for an unknown shopper."""
    if account is not None and not account.belongs_to_shopper:
        raise InvalidInput("account", "a shopper has store_credit and cash_payable accounts")
    check_page(limit, offset)
    repos = uow.repos
    repos.shoppers.get(shopper_id)
    lines, total = repos.ledger.shopper_entries(shopper_id, account, limit, offset)
    return Page(lines, total)


@dataclass(frozen=True)
class ShopperReward:
    record: RewardRecord
    method: PaymentMethod
    reversed: bool


def shopper_rewards(
    uow: RewardsUnitOfWork, *, shopper_id: UUID, limit: int = 50, offset: int = 0
) -> Page[ShopperReward]:
    """The shopper's rewards, newest first, each with the policy version and inputs it was computed from."""
    check_page(limit, offset)
    records, total = uow.repos.rewards.for_shopper(shopper_id, limit, offset)
    return Page([ShopperReward(record, record.inputs.method, reversed_) for record, reversed_ in records], total)


def every_reward(uow: RewardsUnitOfWork, *, limit: int = 50, offset: int = 0) -> Page[ShopperReward]:
    """Every shopper's rewards, newest first, each with the policy version and inputs it was computed from."""
    check_page(limit, offset)
    records, total = uow.repos.rewards.every(limit, offset)
    return Page([ShopperReward(record, record.inputs.method, reversed_) for record, reversed_ in records], total)


@dataclass(frozen=True)
class PaymentPreference:
    shopper_id: UUID
    method: PaymentMethod
    chosen_at: datetime | None
    """When the shopper made this choice; None when they never chose (the default, cash)."""


def payment_method_at(repos: RewardsRepositories, shopper_id: UUID, at: datetime) -> PaymentMethod:
    """The method in force at `at` (an offer's creation): both the offer's quote and the delivery's credit
    ask for the same instant, so a change between offer and delivery does not make them disagree."""
    return payment_methods_at(repos, [shopper_id], at)[shopper_id]


def payment_methods_at(
    repos: RewardsRepositories, shopper_ids: Collection[UUID], at: datetime
) -> dict[UUID, PaymentMethod]:
    """`payment_method_at` for many shoppers in one read (a batch's trips)."""
    chosen = repos.payment_choices.in_force_at(shopper_ids, at)
    return {
        shopper_id: chosen[shopper_id].method if shopper_id in chosen else DEFAULT_PAYMENT_METHOD
        for shopper_id in shopper_ids
    }


def payment_preference(uow: RewardsUnitOfWork, *, shopper_id: UUID) -> PaymentPreference:
    """The shopper's newest choice, or cash if they never chose; `NotFound` for an unknown shopper."""
    repos = uow.repos
    repos.shoppers.get(shopper_id)
    choice = repos.payment_choices.latest(shopper_id)
    uow.rollback()
    if choice is None:
        return PaymentPreference(shopper_id, DEFAULT_PAYMENT_METHOD, None)
    return PaymentPreference(shopper_id, choice.method, choice.chosen_at)


def set_payment_preference(
    uow: RewardsUnitOfWork,
    *,
    shopper_id: UUID,
    method: PaymentMethod,
    now: datetime,
    actor_id: UUID | None = None,
) -> PaymentPreference:
    """Store credit or cash for offers made from `now` on; offers already made keep the method they showed.

    Choosing the method already in force changes nothing (no new row, no audit entry): a PUT can be retried.
    """
    try:
        method = PaymentMethod(method)
    except ValueError as error:
        raise InvalidInput("method", "must be cash or store_credit") from error
    require_aware(now, "now")
    repos = uow.repos
    # One change at a time per shopper, so that the audit's "before" is the choice really replaced.
    repos.shoppers.lock(shopper_id)
    current = repos.payment_choices.latest(shopper_id)
    before = DEFAULT_PAYMENT_METHOD if current is None else current.method
    if current is not None and current.method is method:
        uow.rollback()
        return PaymentPreference(shopper_id, method, current.chosen_at)
    if current is None and method is DEFAULT_PAYMENT_METHOD:
        uow.rollback()
        return PaymentPreference(shopper_id, method, None)
    repos.payment_choices.add(PaymentMethodChoice(shopper_id, method, now, actor_id))
    audit(
        repos,
        actor_id=actor_id,
        action="payment_method.changed",
        subject_kind="shopper",
        subject_id=shopper_id,
        at=now,
        before=before.value,
        after=method.value,
    )
    uow.commit()
    return PaymentPreference(shopper_id, method, now)
