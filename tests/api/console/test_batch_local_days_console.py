"""The console prepares payout periods as days of the reward policy in force's time zone, the zone the daily and
weekly caps count their days in, and shows a batch's period as those days: for a retailer in Toronto a batch for
30 November runs from that local midnight to the next, not from UTC midnight (19:00 the day before, there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from api_support import Account
from console_support import StaffLogin, form_token, said
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from rewards_flow import credit_without_proof, publish_policy

from api.console.session import CSRF_FIELD
from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store
from rewards.policy import PolicyParameters
from rewards.pricing import day_and_week_bounds

TORONTO = ZoneInfo("America/Toronto")
EARNED = [  # around the local day of 30 November 2026 (EST, UTC-5)
    datetime(2026, 11, 30, 2, 0, tzinfo=UTC),  # 29 November, 21:00 there
    datetime(2026, 11, 30, 5, 0, tzinfo=UTC),  # 30 November, 00:00
    datetime(2026, 12, 1, 4, 30, tzinfo=UTC),  # 30 November, 23:30
    datetime(2026, 12, 1, 5, 0, tzinfo=UTC),  # 1 December, 00:00
]


@pytest.fixture
def clock() -> ManualClock:
    """Before the days these tests earn rewards on (the test policy is approved then), moved forward in turn."""
    return ManualClock(datetime(2026, 10, 30, 12, 0, tzinfo=UTC))


def _prepare_on_the_console(client: TestClient, first: str, last: str) -> str:
    form = {
        CSRF_FIELD: form_token(client, "/console/finance/batches"),
        "idempotency_key": f"local-days-{first}-{last}",
        "period_start": first,
        "period_end": last,
    }
    prepared = client.post("/console/finance/batches", data=form)
    assert prepared.status_code == 200, prepared.text
    return prepared.text


def test_a_batch_of_local_days_covers_exactly_the_rewards_credited_on_those_days_where_the_caps_count_them(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    approver: Account,
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    policy = publish_policy(client, ops, approver, timezone="America/Toronto")
    parameters = PolicyParameters.from_json(policy["parameters"])
    ana = make_shopper("Ana")
    for instant in EARNED:
        clock.set(instant)
        credit_without_proof(db, store, clock, ana)
    clock.set(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    sign_in_as(Role.FINANCE, "fiona")

    form_page = said(client.get("/console/finance/batches").text)
    assert "Dates are days in America/Toronto (the reward policy's time zone, whose days the caps count)" in form_page
    batch_page = said(_prepare_on_the_console(client, "2026-11-30", "2026-11-30"))

    with db.connection() as connection:
        period = connection.execute("SELECT period_start, period_end FROM payout_batches").fetchone()
        earned = [row[0] for row in connection.execute("SELECT earned_at FROM delivery_rewards ORDER BY earned_at")]
    assert period == (datetime(2026, 11, 30, 5, tzinfo=UTC), datetime(2026, 12, 1, 5, tzinfo=UTC))
    start, end = period
    on_the_day = [
        at for at in earned if day_and_week_bounds(at, parameters)[0].astimezone(TORONTO).date() == date(2026, 11, 30)
    ]
    assert on_the_day == [at for at in earned if start <= at < end] == EARNED[1:3]
    assert "Period2026-11-30 (whole days in America/Toronto, the last one included)" in batch_page


def test_a_local_day_the_clocks_go_back_on_is_25_hours_long(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    approver: Account,
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """1 November 2026 in Toronto: EDT until 02:00, then EST; the batch runs from 04:00 to 05:00 UTC the next day,
    and its list shows it as that one day."""
    publish_policy(client, ops, approver, timezone="America/Toronto")
    clock.set(datetime(2026, 11, 1, 18, 0, tzinfo=UTC))
    credit_without_proof(db, store, clock, make_shopper("Ana"))
    clock.set(datetime(2026, 11, 2, 15, 0, tzinfo=UTC))
    sign_in_as(Role.FINANCE, "fiona")
    _prepare_on_the_console(client, "2026-11-01", "2026-11-01")
    with db.connection() as connection:
        period = connection.execute("SELECT period_start, period_end FROM payout_batches").fetchone()
    assert period == (datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC))
    listed = said(client.get("/console/finance/batches").text)
    assert "2026-11-01" in listed.partition("Batches")[2]
    assert "2026-11-01 (UTC)" not in listed  # a day of the policy's zone, not said as another zone's


def test_without_a_policy_in_force_the_days_are_utc_days_and_the_form_says_so(
    client: TestClient, sign_in_as: Callable[..., StaffLogin]
) -> None:
    sign_in_as(Role.FINANCE, "fiona")
    assert "Dates are UTC days (no reward policy is in force)" in said(client.get("/console/finance/batches").text)
