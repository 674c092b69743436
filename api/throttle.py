"""Sign-in abuse limits, in Redis: attempts per client address per minute, and failed attempts per account,
after which the account is locked for a while. Both answer 429 with Retry-After.

While Redis is away the limits cannot be kept, so sign-in is refused (503) rather than left open to guessing.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from api.problems import ProblemException
from dispatch.adapters.live import PREFIX

# One round trip: count the address's attempt this minute, then look at the account's failures.
_CHECK_SCRIPT = """
local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 then redis.call('EXPIRE', KEYS[1], 60) end
if attempts > tonumber(ARGV[1]) then return {1, redis.call('TTL', KEYS[1])} end
local failures = tonumber(redis.call('GET', KEYS[2]) or '0')
if failures >= tonumber(ARGV[2]) then return {2, redis.call('TTL', KEYS[2])} end
return {0, 0}
"""
_FAILED_SCRIPT = """
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return failures
"""


def _account_key(email: str) -> str:
    # Hashed: no e-mail address in Redis's keys (they show up in monitoring tools).
    return f"{PREFIX}:login:account:{hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]}"


def _address_key(address: str) -> str:
    return f"{PREFIX}:login:address:{address}"


class LoginThrottle:
    def __init__(self, client: aioredis.Redis, *, per_account: int, per_address: int, lockout_s: int) -> None:
        self._per_account = per_account
        self._per_address = per_address
        self._lockout_s = lockout_s
        self._client = client
        self._check = client.register_script(_CHECK_SCRIPT)
        self._failed = client.register_script(_FAILED_SCRIPT)

    async def check(self, *, email: str, address: str) -> None:
        """Counts an attempt from `address`; raises a 429 problem when the address or the account is over."""
        verdict, ttl = await self._check(
            keys=[_address_key(address), _account_key(email)], args=[self._per_address, self._per_account]
        )
        retry_after = str(max(1, int(ttl)))
        if int(verdict) == 1:
            raise ProblemException(
                429, "too many sign-in attempts from this address; wait a minute", headers={"Retry-After": retry_after}
            )
        if int(verdict) == 2:
            raise ProblemException(
                429,
                "this account is locked after too many failed sign-ins; try again later",
                headers={"Retry-After": retry_after},
            )

    async def failed(self, *, email: str) -> None:
        await self._failed(keys=[_account_key(email)], args=[self._lockout_s])

    async def succeeded(self, *, email: str) -> None:
        await self._client.delete(_account_key(email))
