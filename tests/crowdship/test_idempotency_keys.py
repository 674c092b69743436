"""One way to run a request once per key: a retry gets the first result, a reused key is refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from crowdship.errors import InvalidInput
from crowdship.idempotency import (
    IdempotencyKeyReused,
    MemoryIdempotencyStore,
    StoredResult,
    fingerprint,
    once,
    require_key,
)


def test_a_fingerprint_compares_instants_not_how_their_offset_is_written() -> None:
    """One instant written in UTC or with another offset is one request; another instant is another request."""
    utc = datetime(2026, 12, 1, tzinfo=UTC)
    new_york = utc.astimezone(timezone(timedelta(hours=-5)))
    assert new_york.isoformat() == "2026-11-30T19:00:00-05:00"
    assert fingerprint("op", {"start": utc, "n": [utc]}) == fingerprint("op", {"start": new_york, "n": [new_york]})
    assert fingerprint("op", {"start": utc}) != fingerprint("op", {"start": utc + timedelta(seconds=1)})
    assert fingerprint("op", {"start": utc}) == fingerprint("op", {"start": utc.isoformat()})  # as kept before


def test_a_fingerprint_depends_on_content_not_key_order() -> None:
    """The same request fingerprints the same however its keys are ordered; another request differs."""
    assert fingerprint("op", {"a": 1, "b": 2}) == fingerprint("op", {"b": 2, "a": 1})
    assert fingerprint("op", {"a": 1}) != fingerprint("op", {"a": 2})
    assert fingerprint("op", {"a": 1}) != fingerprint("other", {"a": 1})


@pytest.mark.parametrize("key", ["", "  ", "x" * 201])
def test_blank_and_overlong_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput, match="idempotency_key"):
        require_key(key)
    assert require_key("k-1") == "k-1"


def _store() -> tuple[MemoryIdempotencyStore, list[Callable[[], None]]]:
    undos: list[Callable[[], None]] = []
    rows: dict[tuple[str, str], StoredResult] = {}
    return MemoryIdempotencyStore(rows, undos.append), undos


def _run(store: MemoryIdempotencyStore, request: Mapping[str, Any], calls: list[int], *, scope: str = "op") -> Any:
    def work() -> int:
        calls.append(1)
        return len(calls)

    return once(
        store,
        scope=scope,
        key="k",
        request=request,
        run=work,
        dump=lambda value: {"value": value},
        load=lambda stored: stored["value"],
    )


def test_a_retry_gets_the_first_result_and_runs_nothing() -> None:
    store, _ = _store()
    calls: list[int] = []
    first = _run(store, {"a": 1}, calls)
    again = _run(store, {"a": 1}, calls)
    assert (first.value, first.replayed) == (1, False)
    assert (again.value, again.replayed) == (1, True)
    assert calls == [1]


def test_the_same_key_with_another_request_is_refused_and_scopes_do_not_collide() -> None:
    store, _ = _store()
    calls: list[int] = []
    _run(store, {"a": 1}, calls)
    with pytest.raises(IdempotencyKeyReused) as raised:
        _run(store, {"a": 2}, calls)
    assert raised.value.kind == "conflict"
    assert _run(store, {"a": 2}, calls, scope="another operation").replayed is False
    assert calls == [1, 1]


def test_undoing_a_claim_frees_the_key() -> None:
    """A transaction that does not commit leaves the key free, as the database's rollback would."""
    store, undos = _store()
    calls: list[int] = []
    _run(store, {"a": 1}, calls)
    for undo in reversed(undos):
        undo()
    assert _run(store, {"a": 2}, calls).replayed is False


def test_an_instant_may_be_fingerprinted_as_str_writes_it_still_compared_in_utc() -> None:
    """With a space between date and time, an instant in UTC fingerprints as its `str` text did (how order intake
    kept its keys before), and one written with another offset is the same instant."""
    utc = datetime(2026, 12, 1, 17, 30, 0, 250, tzinfo=UTC)
    new_york = utc.astimezone(timezone(timedelta(hours=-5)))
    as_str = fingerprint("op", {"t": str(utc)})
    assert fingerprint("op", {"t": utc}, date_time_sep=" ") == as_str
    assert fingerprint("op", {"t": new_york}, date_time_sep=" ") == as_str
    assert fingerprint("op", {"t": utc}) != as_str
