"""The sign-in limits on real Redis: checking and counting are one step, so a burst of guesses sent at once
cannot all reach the password check. Failures are counted per account and client address (5 lock the account
for that address) and per account across all addresses (50 lock it for every address)."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis

from api.problems import ProblemException
from api.throttle import LoginThrottle
from crowdship.settings import Settings


async def _burst(settings: Settings, tries: int, addresses: int) -> list[int]:
    """`tries` sign-ins at once on one account from `addresses` addresses: 0 for each let through, else 429."""
    client = aioredis.Redis.from_url(settings.require_redis_url())
    throttle = LoginThrottle.from_settings(client, settings)

    async def attempt(index: int) -> int:
        try:
            await throttle.sign_in(email="Ana@Example.org", address=f"10.0.0.{index % addresses}")
        except ProblemException as refused:
            return refused.status
        return 0

    try:
        return await asyncio.gather(*(attempt(index) for index in range(tries)))
    finally:
        await client.aclose()


@pytest.mark.usefixtures("redis_client")
@pytest.mark.parametrize(("tries", "addresses", "let_through"), [(40, 1, 5), (40, 4, 20), (75, 25, 50)])
def test_a_burst_of_guesses_reaches_the_password_check_five_times_per_address_and_fifty_in_all(
    settings: Settings, tries: int, addresses: int, let_through: int
) -> None:
    """Each address has its 5 tries on the account, whatever the others do; all addresses together have 50."""
    outcomes = asyncio.run(_burst(settings, tries=tries, addresses=addresses))
    assert outcomes.count(0) == let_through
    assert outcomes.count(429) == tries - let_through


async def _attempts(throttle: LoginThrottle, email: str, addresses: list[str]) -> list[str]:
    """A sign-in on `email` from each address in turn: "ok" for each let through, else the refusal's status and
    detail (when it says to wait the lockout at most)."""
    outcomes = []
    for address in addresses:
        try:
            await throttle.sign_in(email=email, address=address)
            outcomes.append("ok")
        except ProblemException as refused:
            waits_well = 1 <= int(refused.headers["Retry-After"]) <= 900
            outcomes.append(f"{refused.status} {refused.detail}" if waits_well else "no Retry-After")
    return outcomes


@pytest.mark.usefixtures("redis_client")
def test_failures_from_one_address_lock_the_account_for_that_address_only(settings: Settings) -> None:
    """Five wrong guesses from anywhere no longer lock the owner out: signing in from another address (of
    another IPv6 network) is let through, and the locked address stays locked."""

    async def attempts() -> list[str]:
        client = aioredis.Redis.from_url(settings.require_redis_url())
        throttle = LoginThrottle.from_settings(client, settings)
        try:
            guesses = ["2001:db8:1:2::7"] * 5 + ["2001:db8:1:2:ffff::1"]
            return await _attempts(throttle, "ana@example.org", [*guesses, "2001:db8:1:3::1", "2001:db8:1:2::7"])
        finally:
            await client.aclose()

    outcomes = asyncio.run(attempts())
    assert outcomes[:5] == ["ok"] * 5
    assert outcomes[5].startswith("429 ")
    assert "locked" in outcomes[5]
    assert outcomes[6] == "ok"
    assert outcomes[7] == outcomes[5]


@pytest.mark.usefixtures("redis_client")
def test_guesses_refused_by_a_lock_do_not_count_towards_the_account_wide_limit(settings: Settings) -> None:
    """One address that keeps guessing while locked for the account cannot push the account-wide count up to
    lock the owner out everywhere: only the five guesses it was let through count."""

    async def attempts() -> list[str]:
        client = aioredis.Redis.from_url(settings.require_redis_url())
        throttle = LoginThrottle(client, per_account=10, per_account_from_address=5, per_address=20, lockout_s=900)
        try:
            return await _attempts(throttle, "ana@example.org", ["10.0.0.1"] * 20 + ["10.0.0.2"] * 5)
        finally:
            await client.aclose()

    outcomes = asyncio.run(attempts())
    assert outcomes[:5] == ["ok"] * 5
    assert all(outcome.startswith("429 ") and "locked" in outcome for outcome in outcomes[5:20])
    assert outcomes[20:] == ["ok"] * 5


@pytest.mark.usefixtures("redis_client")
def test_an_address_that_has_no_account_is_locked_as_an_account_is(settings: Settings) -> None:
    """The throttle never asks whether the account exists: what it answers tells nobody."""

    async def attempts() -> tuple[list[str], list[str]]:
        client = aioredis.Redis.from_url(settings.require_redis_url())
        throttle = LoginThrottle.from_settings(client, settings)
        try:
            known = await _attempts(throttle, "ana@example.org", ["10.0.0.1"] * 6)
            unknown = await _attempts(throttle, "nobody-at-all@example.org", ["10.0.0.2"] * 6)
            return known, unknown
        finally:
            await client.aclose()

    known, unknown = asyncio.run(attempts())
    assert known == unknown


def test_the_lock_lasts_the_lockout_from_the_failure_that_reached_the_limit(
    settings: Settings, redis_client: redis.Redis
) -> None:
    asyncio.run(_burst(settings, tries=6, addresses=1))
    keys = redis_client.keys("*login:account:*")
    assert len(keys) == 2, "the account's failures from the address, and from all addresses"
    assert all(890 <= redis_client.ttl(key) <= 900 for key in keys)
    assert not any("ana@example.org" in key.lower() for key in keys)


def test_a_password_check_that_ends_in_an_error_takes_its_failure_back(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Every sign-in form goes through `judging`: a check that raises (PostgreSQL away) leaves no failure on
    the account, one that ends in a wrong password leaves one (from the address, and in all)."""

    async def attempts() -> None:
        client = aioredis.Redis.from_url(settings.require_redis_url())
        throttle = LoginThrottle.from_settings(client, settings)
        try:
            for _ in range(6):
                with pytest.raises(OSError, match="PostgreSQL away"):
                    async with throttle.judging(email="ana@example.org", address="10.0.0.1"):
                        raise OSError("PostgreSQL away")
            async with throttle.judging(email="ana@example.org", address="10.0.0.1"):
                pass  # a wrong password: the failure stays counted
        finally:
            await client.aclose()

    asyncio.run(attempts())
    keys = redis_client.keys("*login:account:*")
    assert [redis_client.get(key) for key in keys] == ["1", "1"]


def test_a_right_password_clears_the_failures_from_its_address_not_the_account_wide_count(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """The owner's sign-in forgets their own mistakes; it does not hand guessers elsewhere a fresh 50."""

    async def attempts() -> None:
        client = aioredis.Redis.from_url(settings.require_redis_url())
        throttle = LoginThrottle.from_settings(client, settings)
        try:
            for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
                await throttle.sign_in(email="ana@example.org", address=address)
            await throttle.succeeded(email="ana@example.org", address="10.0.0.2")
        finally:
            await client.aclose()

    asyncio.run(attempts())
    counts = {
        str(key).partition(":from:")[2] or "all": redis_client.get(key) for key in redis_client.keys("*login:account:*")
    }
    assert counts == {"10.0.0.1": "2", "all": "3"}


async def _registrations(settings: Settings, addresses: list[str]) -> list[int]:
    """A registration from each address in turn: 0 for each let through, else the refusal's status."""
    client = aioredis.Redis.from_url(settings.require_redis_url())
    throttle = LoginThrottle.from_settings(client, settings)
    outcomes = []
    try:
        for address in addresses:
            try:
                await throttle.register(address=address)
                outcomes.append(0)
            except ProblemException as refused:
                outcomes.append(refused.status)
    finally:
        await client.aclose()
    return outcomes


@pytest.mark.usefixtures("redis_client")
def test_the_addresses_of_one_ipv6_network_count_as_one_client(settings: Settings) -> None:
    """One IPv6 connection is handed a whole /64 (18 quintillion addresses): counted per address, its owner
    registered accounts or tried passwords without end by changing the last bits. A /64 is one client, written
    however it is written; another network, or an IPv4 client, counts on its own."""
    same_network = [f"2001:db8:1:2:{index:x}::{index:x}" for index in range(21)]
    same_network[3] = "2001:0db8:0001:0002:0000:0000:0000:0003"
    outcomes = asyncio.run(_registrations(settings, same_network))
    assert outcomes == [0] * 20 + [429]
    assert asyncio.run(_registrations(settings, ["2001:db8:1:3::1", "10.0.0.1", "::ffff:10.0.0.2"])) == [0, 0, 0]
