"""Idempotency, one way for every money- or order-making request: the first request under a key is carried out
and its result kept with a fingerprint of the request; a retry of the same request gets that first result; the
same key with a different request is refused (`IdempotencyKeyReused`).

Keys live in a scope (an operation, or a caller: `orders:<user id>`), so that two callers or two operations
never collide. The store keeps the key in the same transaction as the work it guards: a crash between the two
cannot happen, and a retry racing the original waits for it, then sees its result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from crowdship.errors import DomainError, InvalidInput

MAX_KEY_LENGTH = 200
Result = TypeVar("Result")


class IdempotencyKeyReused(DomainError):
    """The key was used before for a different request: refusing, rather than guessing which one is meant."""

    kind = "conflict"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request; use a new key")
        self.key = key


@dataclass(frozen=True)
class StoredResult:
    request_hash: str
    result: Mapping[str, Any] | None
    """None while the first request is still being carried out (only its own transaction sees that)."""


class IdempotencyStore(Protocol):
    def claim(self, scope: str, key: str, request_hash: str) -> StoredResult | None:
        """Reserves the key for this request in the current transaction; returns the earlier record if any."""
        ...

    def complete(self, scope: str, key: str, result: Mapping[str, Any]) -> None: ...


def require_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput("idempotency_key", f"give a non-blank key of at most {MAX_KEY_LENGTH} characters")
    return key


def _canonical(value: Any, date_time_sep: str = "T") -> Any:
    """How a request's value is fingerprinted: an instant by the instant it names, in UTC (a period written
    `...T00:00:00Z` or `...T19:00:00-05:00` the day before is one request), as its ISO text with `date_time_sep`
    between date and time; anything else as `str` gives it."""
    if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC).isoformat(sep=date_time_sep)
    if isinstance(value, datetime):
        return value.isoformat(sep=date_time_sep)
    return str(value)


def fingerprint(operation: str, request: Mapping[str, Any], *, date_time_sep: str = "T") -> str:
    """A stable fingerprint of a request, to tell a retry from a reuse of its idempotency key. Pass instants as
    `datetime`s, not text: they are compared as instants, whatever offset they were written with.

    `date_time_sep` is for an operation whose keys were kept, before instants were compared in UTC, with the
    instants' text as `str` writes it (a space between date and time): with `" "` an instant written in UTC
    fingerprints as it did then, so that a key kept then still matches its retry."""
    default = partial(_canonical, date_time_sep=date_time_sep)
    canonical = json.dumps({"operation": operation, "request": request}, sort_keys=True, default=default)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome(Generic[Result]):
    value: Result
    replayed: bool
    """True when this is the first request's result, given back to a retry."""


def once(
    store: IdempotencyStore,
    *,
    scope: str,
    key: str,
    request: Mapping[str, Any],
    run: Callable[[], Result],
    dump: Callable[[Result], Mapping[str, Any]],
    load: Callable[[Mapping[str, Any]], Result],
    date_time_sep: str = "T",
) -> Outcome[Result]:
    """Runs `run` once per (scope, key): a retry of the same request gets the first result back (`load` of
    what `dump` kept); the same key with another request raises `IdempotencyKeyReused`. `date_time_sep`: as
    `fingerprint` takes it."""
    key = require_key(key)
    request_hash = fingerprint(scope, request, date_time_sep=date_time_sep)
    earlier = store.claim(scope, key, request_hash)
    if earlier is not None:
        if earlier.request_hash != request_hash or earlier.result is None:
            raise IdempotencyKeyReused(key)
        return Outcome(load(earlier.result), replayed=True)
    result = run()
    store.complete(scope, key, dump(result))
    return Outcome(result, replayed=False)


class MemoryIdempotencyStore:
    """The store in memory, for the simulator and use-case tests; `record` receives an undo for each write, so
    that a transaction that does not commit leaves nothing (as the in-memory units of work promise)."""

    def __init__(self, rows: dict[tuple[str, str], StoredResult], record: Callable[[Callable[[], None]], None]) -> None:
        self._rows = rows
        self._record = record

    def claim(self, scope: str, key: str, request_hash: str) -> StoredResult | None:
        earlier = self._rows.get((scope, key))
        if earlier is not None:
            return earlier
        self._rows[(scope, key)] = StoredResult(request_hash, None)

        def forget() -> None:
            self._rows.pop((scope, key), None)

        self._record(forget)
        return None

    def complete(self, scope: str, key: str, result: Mapping[str, Any]) -> None:
        before = self._rows[(scope, key)]
        self._rows[(scope, key)] = StoredResult(before.request_hash, dict(result))
        self._record(lambda: self._rows.__setitem__((scope, key), before))
