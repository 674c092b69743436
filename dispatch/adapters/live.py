"""Live state in Redis: shopper positions (GEO), who is on a trip, rate limits, the sampling gate, and offer
events (pub/sub). Stores' batch leases are PostgreSQL's (`dispatch.adapters.leases`).

Nothing here is of record. If Redis is flushed, positions come back from the latest PostGIS samples
(`rebuild_positions`) and from the next updates; whether a shopper is on a trip is read again from
PostgreSQL at their next update; a shopper who missed an event finds the offer
through the API, which reads PostgreSQL. Telling Redis that a trip started or ended happens after the
transaction that did it, and is best effort: a committed change is never reported as failed because Redis
was away, and what it leaves behind is pruned by the dispatcher (`prune_live_positions`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any
from uuid import UUID

import redis
import redis.asyncio as aioredis

from crowdship.logging import get_logger
from dispatch.adapters.live_batch import ScriptBatch
from dispatch.evidence import LocationSample
from routing.geo import GeoPoint

log = get_logger(__name__)

PREFIX = "crowdship"
POSITIONS_KEY = f"{PREFIX}:positions"
REBUILT_MARKER_KEY = f"{PREFIX}:live-state-built"

ACTIVE_MARKER_TTL_S = 12 * 3600
"""A trip's marker outlives any trip; should its removal be missed, it still goes in the end."""
INACTIVE_MARKER_TTL_S = 30
"""How long 'no active trip' is believed without asking PostgreSQL again (check-in clears it at once)."""

# One script per location update: rate limit, whether the shopper is on a trip, position, and whether a sample
# is due (updates arriving together share a round trip: `live_batch`). The counter is keyed by the second it
# counts (from the service's clock).
_LOCATION_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], 5) end
if count > tonumber(ARGV[1]) then return -1 end
if redis.call('EXISTS', KEYS[4]) == 0 then
  if redis.call('EXISTS', KEYS[5]) == 1 then return -3 end
  return -2
end
redis.call('GEOADD', KEYS[2], ARGV[2], ARGV[3], ARGV[4])
if redis.call('SET', KEYS[3], ARGV[5], 'NX', 'PX', ARGV[6]) then return 1 end
return 0
"""


ACCOUNTS_CHANNEL = f"{PREFIX}:accounts"
"""Ids of accounts that were deactivated or reactivated: API processes forget what they cached of them."""


def offers_channel(shopper_id: UUID) -> str:
    return f"{PREFIX}:offers:{shopper_id}"


def _active_key(shopper_id: UUID) -> str:
    return f"{PREFIX}:on-trip:{shopper_id}"


def _inactive_key(shopper_id: UUID) -> str:
    return f"{PREFIX}:no-trip:{shopper_id}"


def _sample_gate_key(shopper_id: UUID) -> str:
    return f"{PREFIX}:sample-gate:{shopper_id}"


class LocationOutcome(Enum):
    SAMPLE_DUE = 1
    """Stored live, and the first update of a sampling interval: the caller keeps it in PostGIS too."""
    STORED = 0
    """Stored live."""
    RATE_LIMITED = -1
    """Over the shopper's rate limit: nothing was stored."""
    TRIP_UNKNOWN = -2
    """Redis does not know whether the shopper is on a trip (never told, or lost): nothing was stored; ask
    PostgreSQL and tell Redis (`mark_on_trip` / `mark_off_trip`)."""
    NO_TRIP = -3
    """The shopper has no active trip: nothing was stored."""

    @property
    def stored(self) -> bool:
        return self in (LocationOutcome.SAMPLE_DUE, LocationOutcome.STORED)


def _queue_trip_end(pipe: redis.client.Pipeline | aioredis.client.Pipeline, shopper_id: UUID) -> None:
    """What a trip's end takes out of live state, queued on a pipeline (the dispatcher's or the API's): the
    shopper's live position and markers, and a short marker saying they are off a trip."""
    pipe.delete(_active_key(shopper_id), _sample_gate_key(shopper_id))
    pipe.zrem(POSITIONS_KEY, str(shopper_id))
    pipe.set(_inactive_key(shopper_id), "1", ex=INACTIVE_MARKER_TTL_S)


class AsyncLivePositions:
    """The hot path of location updates, on the asyncio client so that it never waits on a thread."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._script = ScriptBatch(client, _LOCATION_SCRIPT)

    @property
    def round_trips(self) -> int:
        """Round trips the location updates took so far: updates arriving together share one."""
        return self._script.round_trips

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
            [
                f"{PREFIX}:rate:location:{member}:{epoch_second}",
                POSITIONS_KEY,
                _sample_gate_key(shopper_id),
                _active_key(shopper_id),
                _inactive_key(shopper_id),
            ],
            [
                rate_limit_per_s,
                position.lon,
                position.lat,
                member,
                epoch_second,
                int(sample_interval_s * 1000),
            ],
        )
        return LocationOutcome(int(result))

    async def mark_on_trip(self, shopper_id: UUID, trip_id: UUID) -> None:
        await self.client.set(_active_key(shopper_id), str(trip_id), ex=ACTIVE_MARKER_TTL_S)

    async def mark_off_trip(self, shopper_id: UUID) -> None:
        await self.client.set(_inactive_key(shopper_id), "1", ex=INACTIVE_MARKER_TTL_S)

    async def trip_over(self, shopper_id: UUID) -> None:
        """What `RedisLiveState.trip_ended` does, for a trip whose end Redis missed (away as it was told): the
        shopper's live position and markers go."""
        async with self.client.pipeline() as pipe:
            _queue_trip_end(pipe, shopper_id)
            await pipe.execute()

    async def reopen_sample_gate(self, shopper_id: UUID) -> None:
        """After a sample could not be kept: the next update tries again."""
        await self.client.delete(_sample_gate_key(shopper_id))


class RedisLiveState:
    """Live state in Redis, for the use cases and the dispatcher (`dispatch.live.LiveState`)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    # Positions ------------------------------------------------------------------------------------

    def position(self, shopper_id: UUID) -> GeoPoint | None:
        found = self._client.geopos(POSITIONS_KEY, str(shopper_id))
        if not found or found[0] is None:
            return None
        lon, lat = found[0]
        return GeoPoint(float(lat), float(lon))

    def shoppers_with_positions(self, limit: int) -> list[UUID]:
        """Up to `limit` shoppers that have a live position (for pruning)."""
        members = self._client.zrange(POSITIONS_KEY, 0, limit - 1)
        return [UUID(str(member)) for member in members]

    def forget_positions(self, shopper_ids: Sequence[UUID]) -> int:
        if not shopper_ids:
            return 0
        return int(self._client.zrem(POSITIONS_KEY, *(str(shopper_id) for shopper_id in shopper_ids)))

    # Trips --------------------------------------------------------------------------------------------

    def trip_started(self, shopper_id: UUID, trip_id: UUID) -> None:
        """Best effort, after the check-in committed: from now on the shopper's positions are kept."""
        with _best_effort("trip started"):
            pipe = self._client.pipeline()
            pipe.set(_active_key(shopper_id), str(trip_id), ex=ACTIVE_MARKER_TTL_S)
            pipe.delete(_inactive_key(shopper_id))
            pipe.execute()

    def trip_ended(self, shopper_id: UUID) -> None:
        """Best effort, after the trip's end committed: its live position and markers go."""
        with _best_effort("trip ended"):
            pipe = self._client.pipeline()
            _queue_trip_end(pipe, shopper_id)
            pipe.execute()

    def claim_chore(self, name: str, every_s: float) -> bool:
        """True for the one process (of many) that should do a periodic chore now."""
        return bool(self._client.set(f"{PREFIX}:chore:{name}", "1", nx=True, px=int(every_s * 1000)))

    def live_among(self, shopper_ids: Sequence[UUID]) -> int:
        """How many of these shoppers have a live position (one round trip)."""
        return len(self.positions(shopper_ids))

    def positions(self, shopper_ids: Sequence[UUID]) -> dict[UUID, GeoPoint]:
        """Where each of these shoppers is now, for those with a live position (one round trip)."""
        if not shopper_ids:
            return {}
        found = self._client.geopos(POSITIONS_KEY, *(str(shopper_id) for shopper_id in shopper_ids))
        return {
            shopper_id: GeoPoint(float(position[1]), float(position[0]))
            for shopper_id, position in zip(shopper_ids, found, strict=True)
            if position is not None
        }

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

    # Events ----------------------------------------------------------------------------------------

    def publish_offer(self, shopper_id: UUID, payload: Mapping[str, Any]) -> None:
        """Best effort, after the offer committed: a shopper who misses it finds it through the API."""
        with _best_effort("offer event"):
            self._client.publish(offers_channel(shopper_id), json.dumps(payload, default=str))

    def account_changed(self, user_id: UUID) -> None:
        """Best effort, after the change committed; processes that miss it learn within their cache's life."""
        with _best_effort("account changed"):
            self._client.publish(ACCOUNTS_CHANNEL, str(user_id))


@contextmanager
def _best_effort(what: str) -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        log.warning("live state not updated", what=what, error=type(error).__name__)
