"""Whether a token's account may still act: asked of PostgreSQL, remembered briefly, and during an outage of
PostgreSQL the last answer stands, so that what needs Redis only (a location update, an open event stream)
keeps working past the cache's lifetime instead of failing for every shopper."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from api_support import Account
from psycopg_pool import ConnectionPool

from api.security import ActiveAccounts, Principal
from composition import live_context
from crowdship.clock import ManualClock
from crowdship.db import open_pool
from crowdship.outages import BACKING_SERVICE_ERRORS
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.services import accounts


def _principal(account: Account) -> Principal:
    """The account's token as the API reads it (its issue time is all that is checked against the account)."""
    return Principal(account.user_id, Role.SHOPPER, account.shopper_id)


def _accounts_on_own_pool(settings: Settings, clock: ManualClock) -> tuple[ActiveAccounts, ConnectionPool]:
    """Asks through a pool of its own, closed by the test to take PostgreSQL away from it alone."""
    pool = open_pool(settings.require_database_url(), max_size=1, name="active-accounts-test", timeout_s=0.5)
    context = live_context(settings, pool, clock=clock, live=None)
    return ActiveAccounts(partial(accounts.earliest_token_accepted, context), ttl_s=0.0), pool


def test_during_an_outage_of_postgresql_the_last_answer_stands(
    api_settings: Settings, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    shopper = make_shopper()
    active, pool = _accounts_on_own_pool(api_settings, clock)
    assert active.ask(_principal(shopper)) is True
    pool.close()
    assert active.cached(_principal(shopper)) is None  # past its lifetime: it is asked again, and cannot be
    assert active.ask(_principal(shopper)) is True


def test_an_account_forgotten_because_it_changed_is_not_guessed_during_an_outage(
    api_settings: Settings, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A change (a deactivation) makes the API forget the account: with PostgreSQL away, nothing is assumed."""
    shopper = make_shopper()
    active, pool = _accounts_on_own_pool(api_settings, clock)
    assert active.ask(_principal(shopper)) is True
    active.forget(shopper.user_id)
    pool.close()
    with pytest.raises(BACKING_SERVICE_ERRORS):
        active.ask(_principal(shopper))


def test_an_answer_older_than_the_outage_allowance_is_not_used(
    api_settings: Settings, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    shopper = make_shopper()
    pool = open_pool(api_settings.require_database_url(), max_size=1, name="active-accounts-test", timeout_s=0.5)
    context = live_context(api_settings, pool, clock=clock, live=None)
    active = ActiveAccounts(partial(accounts.earliest_token_accepted, context), ttl_s=0.0, outage_allowance_s=0.0)
    assert active.ask(_principal(shopper)) is True
    pool.close()
    with pytest.raises(BACKING_SERVICE_ERRORS):
        active.ask(_principal(shopper))
