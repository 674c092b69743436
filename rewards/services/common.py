"""What every rewards use case does the same way: run money-moving work once per idempotency key, write the
audit log, and post a ledger transaction after locking and checking its accounts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from crowdship.idempotency import IdempotencyKeyReused, Outcome, once, require_key
from dispatch.errors import Forbidden
from rewards.ledger import LedgerTransaction, PromisedPayout, TransactionKind, check_balances_after, debited
from rewards.records import AuditEntry
from rewards.repositories import RewardsRepositories, RewardsUnitOfWork

Result = TypeVar("Result")


def idempotent(
    repos: RewardsRepositories,
    *,
    key: str,
    operation: str,
    request: Mapping[str, Any],
    run: Callable[[], Result],
    dump: Callable[[Result], Mapping[str, Any]],
    load: Callable[[Mapping[str, Any]], Result],
) -> Result:
    """`run` once per key within the operation (`crowdship.idempotency.once`, the operation as scope)."""
    return once(repos.idempotency, scope=operation, key=key, request=request, run=run, dump=dump, load=load).value


def callers_once(
    repos: RewardsRepositories,
    *,
    caller: UUID | None,
    key: str,
    operation: str,
    request: Mapping[str, Any],
    run: Callable[[], Result],
    dump: Callable[[Result], Mapping[str, Any]],
    load: Callable[[Mapping[str, Any]], Result],
) -> Outcome[Result]:
    """`run` once per key of the caller within the operation, as order intake keys orders by caller: two people
    never collide on a key. Kept as `<caller id>:<key>`; a key reused for another request is refused naming the
    key as the caller gave it (`IdempotencyKeyReused`), never the stored one. The outcome says whether it is the
    first result given back to a retry. Without a caller (a use case run by the system), the key is kept as is."""
    try:
        return once(
            repos.idempotency,
            scope=operation,
            key=require_key(key) if caller is None else f"{caller}:{require_key(key)}",
            request=request,
            run=run,
            dump=dump,
            load=load,
        )
    except IdempotencyKeyReused:
        raise IdempotencyKeyReused(key) from None


def require_active_actor(repos: RewardsRepositories, actor_id: UUID | None) -> None:
    """Refuses (`Forbidden`) a deactivated account, locked to share until the transaction ends: the API checks
    the token when a request arrives, and a request already past that check when its actor is deactivated would
    otherwise still move money. Called first, before any other lock. An actor that is no account (the
    simulator's, the system's) has nothing to lock."""
    if actor_id is not None and repos.actors.active_locked(actor_id) is False:
        raise Forbidden(f"account {actor_id} is deactivated: it no longer moves money or decides")


def finish(uow: RewardsUnitOfWork, replayed: bool) -> None:
    """A first request keeps its work; a replay changed nothing, so its transaction is let go."""
    if replayed:
        uow.rollback()
    else:
        uow.commit()


def audit(
    repos: RewardsRepositories,
    *,
    actor_id: UUID | None,
    action: str,
    subject_kind: str,
    subject_id: UUID | None,
    at: datetime,
    **details: Any,
) -> None:
    repos.audit.append(AuditEntry(actor_id, action, subject_kind, subject_id, jsonable(details), at))


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, UUID | datetime):
        return str(value)
    return value


def post(repos: RewardsRepositories, transaction: LedgerTransaction) -> None:
    """Locks the accounts (id order), refuses a negative shopper balance, or one below what an approved payout
    batch is to pay from it (unless this is that payout), writes the transaction."""
    accounts = repos.ledger.lock(entry.account_id for entry in transaction.entries)
    promised: dict[UUID, PromisedPayout] = {}
    if transaction.kind is not TransactionKind.PAYOUT:
        shoppers = {accounts[account_id].shopper_id for account_id in debited(transaction.entries)}
        promised = repos.payouts.promised([shopper_id for shopper_id in shoppers if shopper_id is not None])
    check_balances_after(accounts, transaction.entries, promised)
    repos.ledger.post(transaction)
