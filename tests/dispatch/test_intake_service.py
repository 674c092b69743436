"""Order intake's idempotency on real PostgreSQL: a retry names the delivery window's instants in whatever UTC
offset it likes (the same instants are the same request), and a key kept before instants were compared in UTC
still matches its retry."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.idempotency import IdempotencyKeyReused, fingerprint
from crowdship.settings import Settings
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.intake import INSTANT_TEXT_SEP, OrderIntake, ingest_order
from routing.areas import circular_area
from routing.geo import GeoPoint

STORE_AT = GeoPoint(30.4627, -84.2211)
NOW = datetime.now(UTC).replace(microsecond=0)
EASTERN = timezone(timedelta(hours=-5))


@pytest.fixture
def context(db: ConnectionPool, settings: Settings) -> DispatchContext:
    return DispatchContext(
        unit_of_work=lambda: PostgresDispatchUnitOfWork(db),
        clock=ManualClock(NOW),
        config=DispatchConfig.from_settings(settings),
    )


@pytest.fixture
def intake(db: ConnectionPool) -> OrderIntake:
    store = Store("Intake store", STORE_AT, circular_area(STORE_AT, 8_000), Cents(899))
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.commit()
    return OrderIntake(
        store_id=store.id,
        external_ref="WEB-1",
        dropoff=GeoPoint(30.48, -84.219),
        dropoff_address="1200 Magnolia Dr",
        recipient_name="Jade",
        window_earliest=NOW,
        window_latest=NOW + timedelta(hours=3),
        dispatch_deadline=NOW + timedelta(hours=2, microseconds=500),
        size_bags=1,
        value_cents=Cents(4599),
    )


def _in_eastern(intake: OrderIntake) -> OrderIntake:
    deadline = intake.dispatch_deadline
    return replace(
        intake,
        window_earliest=intake.window_earliest.astimezone(EASTERN),
        window_latest=intake.window_latest.astimezone(EASTERN),
        dispatch_deadline=deadline.astimezone(EASTERN) if deadline is not None else None,
    )


def _fingerprinted_as_before(scope: str, intake: OrderIntake) -> str:
    """How intake fingerprinted a request before instants were compared in UTC: every value but booleans and
    integers as `str` writes it, hashed as `crowdship.idempotency` then did."""
    request = {
        name: str(value) if not isinstance(value, bool | int) else value for name, value in asdict(intake).items()
    }
    canonical = json.dumps({"operation": scope, "request": request}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_a_retry_with_the_windows_instants_in_another_offset_is_the_same_request(
    context: DispatchContext, intake: OrderIntake
) -> None:
    first = ingest_order(context, scope="orders:ops", idempotency_key="k-1", intake=intake)
    again = ingest_order(context, scope="orders:ops", idempotency_key="k-1", intake=_in_eastern(intake))
    assert (first.replayed, again.replayed) == (False, True)
    assert again.receipt == first.receipt


def test_a_retry_with_another_instant_under_the_same_key_is_refused(
    context: DispatchContext, intake: OrderIntake
) -> None:
    ingest_order(context, scope="orders:ops", idempotency_key="k-1", intake=intake)
    later = replace(intake, window_latest=intake.window_latest + timedelta(seconds=1))
    with pytest.raises(IdempotencyKeyReused):
        ingest_order(context, scope="orders:ops", idempotency_key="k-1", intake=later)


@pytest.mark.parametrize("deadline", [True, False])
def test_a_request_in_utc_fingerprints_as_before_so_a_key_kept_then_matches_its_retry(
    context: DispatchContext, intake: OrderIntake, db: ConnectionPool, deadline: bool
) -> None:
    """The fingerprint of a request in UTC is the very one kept before (its instants written with a space, as
    `str` does, the default deadline as `None`); a key kept then with it replays."""
    if not deadline:
        intake = replace(intake, dispatch_deadline=None)
    before = _fingerprinted_as_before("orders:ops", intake)
    assert fingerprint("orders:ops", intake.as_request(), date_time_sep=INSTANT_TEXT_SEP) == before
    assert fingerprint("orders:ops", _in_eastern(intake).as_request(), date_time_sep=INSTANT_TEXT_SEP) == before
    kept: dict[str, Any] = {"status_code": 201, "receipt": {"order_id": "kept before", "status": "pending"}}
    with PostgresDispatchUnitOfWork(db) as uow:
        assert uow.idempotency.claim("orders:ops", "k-old", before) is None
        uow.idempotency.complete("orders:ops", "k-old", kept)
        uow.commit()
    retried = ingest_order(context, scope="orders:ops", idempotency_key="k-old", intake=intake)
    assert (retried.replayed, retried.receipt) == (True, kept["receipt"])
