"""Live state in Redis: shopper positions (GEO), rate limits, the sampling gate, per-store dispatch leases
and offer events (pub/sub).

Nothing here is of record. If Redis is flushed, positions come back from the latest PostGIS samples
(`rebuild_positions`) and from the next updates; leases are simply taken again; a shopper who missed an
event finds the offer through the API, which reads PostgreSQL.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import redis
import redis.asyncio as aioredis

from dispatch.repositories import LocationSample
from routing.geo import GeoPoint

PREFIX = "crowdship"
POSITIONS_KEY = f"{PREFIX}:positions"
REBUILT_MARKER_KEY = f"{PREFIX}:live-state-built"

# One round trip per location update: rate limit, position, and whether a sample is due. The counter is keyed
# by the second it counts (from the service's clock); it lingers a minute so that a slow client cannot reset it.
_LOCATION_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], 60) end
if count > tonumber(ARGV[1]) then return -1 end
redis.call('GEOADD', KEYS[2], ARGV[2], ARGV[3], ARGV[4])
if redis.call('SET', KEYS[3], ARGV[5], 'NX', 'PX', ARGV[6]) then return 1 end
return 0
"""

# Release or extend a lease only while holding it: compare the token first.
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def offers_channel(shopper_id: UUID) -> str:
    return f"{PREFIX}:offers:{shopper_id}"


def _lease_key(store_id: UUID) -> str:
    return f"{PREFIX}:lease:store:{store_id}"


@dataclass(frozen=True)
class LocationOutcome:
    accepted: bool
    """False when the shopper went over the rate limit; nothing was recorded."""
    sample_due: bool
    """True for the first update of a sampling interval: the caller writes it to PostGIS."""


class AsyncLivePositions:
    """The hot path of location updates, on the asyncio client so that it never waits on a thread."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._script = client.register_script(_LOCATION_SCRIPT)

    async def record(
        self,
        shopper_id: UUID,
        position: GeoPoint,
        *,
        epoch_second: int,
        rate_limit_per_s: int,
        sample_interval_s: float,
    ) -> LocationOutcome:
        member = str(shopper_id)
        result = await self._script(
            keys=[
                f"{PREFIX}:rate:location:{member}:{epoch_second}",
                POSITIONS_KEY,
                f"{PREFIX}:sample-gate:{member}",
            ],
            args=[
                rate_limit_per_s,
                position.lon,
                position.lat,
                member,
                epoch_second,
                int(sample_interval_s * 1000),
            ],
        )
        return LocationOutcome(accepted=result != -1, sample_due=result == 1)


class LiveState:
    """Synchronous access for use cases, the dispatcher and tests."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._release = client.register_script(_RELEASE_SCRIPT)

    # Positions ------------------------------------------------------------------------------------

    def position(self, shopper_id: UUID) -> GeoPoint | None:
        found = self._client.geopos(POSITIONS_KEY, str(shopper_id))
        if not found or found[0] is None:
            return None
        lon, lat = found[0]
        return GeoPoint(float(lat), float(lon))

    def positions_count(self) -> int:
        return int(self._client.zcard(POSITIONS_KEY))

    def live_among(self, shopper_ids: Sequence[UUID]) -> int:
        """How many of these shoppers have a live position (one round trip)."""
        if not shopper_ids:
            return 0
        found = self._client.geopos(POSITIONS_KEY, *(str(shopper_id) for shopper_id in shopper_ids))
        return sum(1 for position in found if position is not None)

    def rebuild_positions(self, samples: Sequence[LocationSample]) -> int:
        """Puts back the last known position of every active shopper; returns how many it restored."""
        pipe = self._client.pipeline()
        for sample in samples:
            pipe.geoadd(POSITIONS_KEY, (sample.position.lon, sample.position.lat, str(sample.shopper_id)), nx=True)
        pipe.set(REBUILT_MARKER_KEY, "1")
        pipe.execute()
        return len(samples)

    def needs_rebuild(self) -> bool:
        """True after Redis lost its data (or on first start): the marker is gone."""
        return not self._client.exists(REBUILT_MARKER_KEY)

    # Dispatch leases -------------------------------------------------------------------------------

    def acquire_lease(self, store_id: UUID, ttl_s: float) -> str | None:
        """Takes the store's batch lease if nobody holds it; returns the token that proves ownership."""
        token = secrets.token_hex(16)
        if self._client.set(_lease_key(store_id), token, nx=True, px=int(ttl_s * 1000)):
            return token
        return None

    def release_lease(self, store_id: UUID, token: str) -> bool:
        return bool(self._release(keys=[_lease_key(store_id)], args=[token]))

    # Events ----------------------------------------------------------------------------------------

    def publish_offer(self, shopper_id: UUID, payload: Mapping[str, Any]) -> int:
        return int(self._client.publish(offers_channel(shopper_id), json.dumps(payload, default=str)))
