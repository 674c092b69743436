"""Store credit spent at the till: from the shopper's store-credit account, once per idempotency key of the
staff member taking it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.units import Cents
from rewards.ledger import AccountKind, InsufficientBalance, TransactionKind, transfer
from rewards.records import NotEnoughStoreCredit
from rewards.repositories import RewardsUnitOfWork
from rewards.services.common import audit, callers_once, finish, post, require_active_actor


@dataclass(frozen=True)
class Posting:
    transaction_id: UUID
    amount_cents: Cents
    replayed: bool = field(default=False, compare=False)
    """True when the key was used before for the same request: this is the first request's posting."""

    def to_json(self) -> dict[str, Any]:
        return {"transaction_id": str(self.transaction_id), "amount_cents": self.amount_cents}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Posting:
        return cls(UUID(data["transaction_id"]), Cents(int(data["amount_cents"])))


def redeem_store_credit(
    uow: RewardsUnitOfWork,
    *,
    shopper_id: UUID,
    amount_cents: Cents,
    now: datetime,
    idempotency_key: str,
    actor_id: UUID | None = None,
) -> Posting:
    """The shopper spends store credit at the till, once per key (a retry gets the first posting back,
    `replayed`). `NotFound` for an unknown shopper; `NotEnoughStoreCredit` (an `InsufficientBalance`) beyond
    their balance."""
    repos = uow.repos
    require_active_actor(repos, actor_id)

    def run() -> Posting:
        repos.shoppers.get(shopper_id)  # NotFound before any account is opened for nobody
        accounts = repos.ledger.shopper_accounts(shopper_id)
        redeemed = repos.ledger.company_account(AccountKind.STORE_CREDIT_REDEEMED)
        transaction = transfer(
            kind=TransactionKind.STORE_CREDIT_REDEMPTION,
            description=f"store credit spent by shopper {shopper_id}",
            created_at=now,
            from_account=accounts[AccountKind.STORE_CREDIT].id,
            to_account=redeemed.id,
            amount=amount_cents,
            actor_id=actor_id,
        )
        try:
            post(repos, transaction)
        except InsufficientBalance as error:
            raise NotEnoughStoreCredit(error) from error
        audit(
            repos,
            actor_id=actor_id,
            action="store_credit.redeemed",
            subject_kind="shopper",
            subject_id=shopper_id,
            at=now,
            amount_cents=amount_cents,
        )
        return Posting(transaction.id, amount_cents)

    outcome = callers_once(
        repos,
        caller=actor_id,
        operation="redeem_store_credit",
        key=idempotency_key,
        request={"shopper_id": str(shopper_id), "amount_cents": amount_cents},
        run=run,
        dump=Posting.to_json,
        load=Posting.from_json,
    )
    finish(uow, outcome.replayed)
    return replace(outcome.value, replayed=outcome.replayed)
