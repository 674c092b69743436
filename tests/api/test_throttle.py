"""The sign-in limits on real Redis: checking and counting are one step, so a burst of guesses sent at once
cannot all reach the password check."""

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
    throttle = LoginThrottle(client, per_account=5, per_address=20, lockout_s=900)

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
@pytest.mark.parametrize("addresses", [1, 4])
def test_a_burst_of_guesses_reaches_the_password_check_five_times_at_most(settings: Settings, addresses: int) -> None:
    outcomes = asyncio.run(_burst(settings, tries=40, addresses=addresses))
    assert outcomes.count(0) == 5
    assert outcomes.count(429) == 35


def test_the_lock_lasts_the_lockout_from_the_failure_that_reached_the_limit(
    settings: Settings, redis_client: redis.Redis
) -> None:
    asyncio.run(_burst(settings, tries=6, addresses=1))
    (key,) = redis_client.keys("*login:account:*")
    assert 890 <= redis_client.ttl(key) <= 900
    assert "ana@example.org" not in key.lower()


def test_a_password_check_that_ends_in_an_error_takes_its_failure_back(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Every sign-in form goes through `judging`: a check that raises (PostgreSQL away) leaves no failure on
    the account, one that ends in a wrong password leaves one."""

    async def attempts() -> None:
        client = aioredis.Redis.from_url(settings.require_redis_url())
        throttle = LoginThrottle(client, per_account=5, per_address=20, lockout_s=900)
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
    (key,) = redis_client.keys("*login:account:*")
    assert redis_client.get(key) == "1"


async def _registrations(settings: Settings, addresses: list[str]) -> list[int]:
    """A registration from each address in turn: 0 for each let through, else the refusal's status."""
    client = aioredis.Redis.from_url(settings.require_redis_url())
    throttle = LoginThrottle(client, per_account=5, per_address=20, lockout_s=900)
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
