"""Sign-in abuse limits, in Redis: attempts per client address per minute, and failed attempts on an account,
counted from each client address and from all together. Past the first limit the account is locked for that
address only, so that whoever guesses an account's e-mail address cannot keep its owner out; past the second
(much higher) it is locked for every address, so that guessing spread over many addresses is stopped too. All
answer 429 with Retry-After; none asks whether the account exists.

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
from crowdship.settings import Settings
from dispatch.accounts import normalise_email
from dispatch.adapters.live import PREFIX

# One round trip, so that checking and counting are one step: count the address's attempt this minute, then
# (for a sign-in) refuse if the account is locked for this address (KEYS[2]) or for all (KEYS[3]), else count
# the attempt as a failure in both until it succeeds. A guess refused by a lock counts nowhere: one address that
# keeps guessing cannot push the account-wide count up to lock the owner out everywhere. A lock lasts the lockout
# from the failure that reached its limit; a count below the limit lasts it from its first failure.
_ATTEMPT_SCRIPT = """
local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 then redis.call('EXPIRE', KEYS[1], 60) end
if attempts > tonumber(ARGV[1]) then return {1, redis.call('TTL', KEYS[1])} end
if #KEYS == 1 then return {0, 0} end
for index = 2, 3 do
  if tonumber(redis.call('GET', KEYS[index]) or '0') >= tonumber(ARGV[index]) then
    return {index, redis.call('TTL', KEYS[index])}
  end
end
for index = 2, 3 do
  local failures = redis.call('INCR', KEYS[index])
  if failures == 1 or failures == tonumber(ARGV[index]) then redis.call('EXPIRE', KEYS[index], ARGV[4]) end
end
return {0, 0}
"""

# A sign-in whose password was never judged (PostgreSQL away) takes back the failures it counted.
_UNDO_SCRIPT = """
for _, key in ipairs(KEYS) do
  if redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0
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


def _failure_keys(email: str, address: str) -> list[str]:
    """The account's failures from the client address's network, and from all addresses."""
    account = _account_key(email)
    return [f"{account}:from:{_client_network(address)}", account]


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
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        per_account: int,
        per_account_from_address: int,
        per_address: int,
        lockout_s: int,
    ) -> None:
        self._limits = [per_address, per_account_from_address, per_account, lockout_s]
        self._client = client
        self._attempt = client.register_script(_ATTEMPT_SCRIPT)
        self._undo = client.register_script(_UNDO_SCRIPT)

    @classmethod
    def from_settings(cls, client: aioredis.Redis, settings: Settings) -> LoginThrottle:
        return cls(
            client,
            per_account=settings.login_attempts_per_account,
            per_account_from_address=settings.login_attempts_per_account_from_address,
            per_address=settings.login_attempts_per_address,
            lockout_s=settings.login_lockout_s,
        )

    async def sign_in(self, *, email: str, address: str) -> None:
        """Counts a sign-in attempt from `address` and, until `succeeded`, as a failure of the account from that
        address and in all; raises a 429 problem when the address is over its limit or the account is locked (for
        that address, or for all), without counting the refused attempt as a failure."""
        await self._count([_address_key(address), *_failure_keys(email, address)])

    async def register(self, *, address: str) -> None:
        """Counts a registration against the address's limit (shared with sign-ins)."""
        await self._count([_address_key(address)])

    async def succeeded(self, *, email: str, address: str) -> None:
        """The password was right: the account's failures from this address start again. Its count from all
        addresses does not, else each of the owner's sign-ins would hand guessers elsewhere a fresh allowance."""
        await self._client.delete(_failure_keys(email, address)[0])

    async def not_judged(self, *, email: str, address: str) -> None:
        """The password could not be checked (a server away): the failures `sign_in` counted are taken back, so
        that an outage never locks anyone out."""
        await self._undo(keys=_failure_keys(email, address))

    @asynccontextmanager
    async def judging(self, *, email: str, address: str) -> AsyncIterator[None]:
        """`sign_in` around the password check: a check that ends in an error rather than a verdict (PostgreSQL
        away) takes its failures back. Every sign-in form (the API's, the console's) goes through it."""
        await self.sign_in(email=email, address=address)
        try:
            yield
        except BaseException:
            with contextlib.suppress(*BACKING_SERVICE_ERRORS):  # Redis away too: the counts expire on their own
                await self.not_judged(email=email, address=address)
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
                "this account is locked for this address after too many failed sign-ins from it; try again later",
                headers={"Retry-After": retry_after},
            )
        if int(verdict) == 3:
            raise ProblemException(
                429,
                "this account is locked after too many failed sign-ins; try again later",
                headers={"Retry-After": retry_after},
            )
