"""Sign-in abuse limits, in Redis: attempts per client address per minute, and failed attempts per account,
after which the account is locked for a while. Both answer 429 with Retry-After.

While Redis is away the limits cannot be kept, so sign-in is refused (503) rather than left open to guessing.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from api.problems import ProblemException
from crowdship.errors import InvalidInput
from crowdship.outages import BACKING_SERVICE_ERRORS
from dispatch.accounts import normalise_email
from dispatch.adapters.live import PREFIX

# One round trip, so that checking and counting are one step: count the address's attempt this minute, then
# (for a sign-in) count the attempt as the account's failure until it succeeds. A burst of guesses sent at
# once therefore reaches the password check at most `per_account` times.
_ATTEMPT_SCRIPT = """
local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 then redis.call('EXPIRE', KEYS[1], 60) end
if attempts > tonumber(ARGV[1]) then return {1, redis.call('TTL', KEYS[1])} end
if #KEYS == 1 then return {0, 0} end
local failures = redis.call('INCR', KEYS[2])
if failures == 1 or failures == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if failures > tonumber(ARGV[2]) then return {2, redis.call('TTL', KEYS[2])} end
return {0, 0}
"""

# A sign-in whose password was never judged (PostgreSQL away) takes back the failure it counted.
_UNDO_SCRIPT = """
local failures = redis.call('DECR', KEYS[1])
if failures <= 0 then redis.call('DEL', KEYS[1]) end
return failures
"""


def _account_key(email: str) -> str:
    # Spelled as the account is looked up: every spelling of one address counts against the one lockout.
    # Hashed: no e-mail address in Redis's keys (they show up in monitoring tools).
    try:
        spelling = normalise_email(email)
    except InvalidInput:
        spelling = email.strip().lower()
    return f"{PREFIX}:login:account:{hashlib.sha256(spelling.encode()).hexdigest()[:32]}"


IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is its /64: one connection is handed the whole network, and counted per address its owner would
go past every limit by changing the last bits."""


def _address_key(address: str) -> str:
    return f"{PREFIX}:login:address:{_client_network(address)}"


def _client_network(address: str) -> str:
    """What the per-address limits count: an IPv4 address (an IPv4-mapped IPv6 one too) as itself, an IPv6 address
    as its /64 network, however either is written; anything else as given."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else parsed)


class LoginThrottle:
    def __init__(self, client: aioredis.Redis, *, per_account: int, per_address: int, lockout_s: int) -> None:
        self._limits = [per_address, per_account, lockout_s]
        self._client = client
        self._attempt = client.register_script(_ATTEMPT_SCRIPT)
        self._undo = client.register_script(_UNDO_SCRIPT)

    async def sign_in(self, *, email: str, address: str) -> None:
        """Counts a sign-in attempt from `address` and, until `succeeded`, as a failure of the account; raises a
        429 problem when either is over its limit (the account then stays locked for `lockout_s`)."""
        await self._count([_address_key(address), _account_key(email)])

    async def register(self, *, address: str) -> None:
        """Counts a registration against the address's limit (shared with sign-ins)."""
        await self._count([_address_key(address)])

    async def succeeded(self, *, email: str) -> None:
        """The password was right: the account's count of failures starts again."""
        await self._client.delete(_account_key(email))

    async def not_judged(self, *, email: str) -> None:
        """The password could not be checked (a server away): the failure `sign_in` counted is taken back, so
        that an outage never locks anyone out."""
        await self._undo(keys=[_account_key(email)])

    @asynccontextmanager
    async def judging(self, *, email: str, address: str) -> AsyncIterator[None]:
        """`sign_in` around the password check: a check that ends in an error rather than a verdict (PostgreSQL
        away) takes its failure back. Every sign-in form (the API's, the console's) goes through it."""
        await self.sign_in(email=email, address=address)
        try:
            yield
        except BaseException:
            with contextlib.suppress(*BACKING_SERVICE_ERRORS):  # Redis away too: the count expires on its own
                await self.not_judged(email=email)
            raise

    async def _count(self, keys: list[str]) -> None:
        verdict, ttl = await self._attempt(keys=keys, args=self._limits)
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
