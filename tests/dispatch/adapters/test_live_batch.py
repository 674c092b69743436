"""Location updates arriving together go to Redis together: one pipeline of the location script per turn of the
event loop, each caller answered for its own update, as if it had gone alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID, uuid4

import pytest
import redis

from crowdship.cache import open_async_redis
from crowdship.settings import Settings
from dispatch.adapters.live import AsyncLivePositions, LocationOutcome
from dispatch.adapters.live_batch import MAX_PIPELINE
from routing.geo import GeoPoint

SECOND = 1_800_000_000
T = TypeVar("T")


async def _updates(positions: AsyncLivePositions, shopper_ids: list[UUID]) -> list[LocationOutcome | BaseException]:
    updates = [
        positions.record(
            shopper_id, GeoPoint(30.46, -84.22), epoch_second=SECOND, rate_limit_per_s=3, sample_interval_s=60
        )
        for shopper_id in shopper_ids
    ]
    return await asyncio.gather(*updates, return_exceptions=True)


async def _load_script(positions: AsyncLivePositions) -> None:
    """One update of a shopper nobody knows: Redis then holds the script, so the pipelines counted after it are
    the updates' own (a Redis that had never seen it, or lost it, costs one more to load it again)."""
    await _updates(positions, [uuid4()])


def _run(settings: Settings, scenario: Callable[[AsyncLivePositions], Awaitable[T]]) -> T:
    async def run() -> T:
        client = open_async_redis(settings)
        try:
            return await scenario(AsyncLivePositions(client))
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_updates_sent_together_share_one_round_trip_and_each_gets_its_own_outcome(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """Four updates of a shopper on a trip (limit 3 a second: the first due for a sample, the fourth refused),
    one of a shopper Redis knows nothing of, one of a shopper known to have no trip."""
    on_trip, unknown, off_trip = uuid4(), uuid4(), uuid4()

    async def scenario(positions: AsyncLivePositions) -> tuple[list[LocationOutcome | BaseException], int]:
        await positions.mark_on_trip(on_trip, uuid4())
        await positions.mark_off_trip(off_trip)
        await _load_script(positions)
        before = positions.round_trips
        outcomes = await _updates(positions, [on_trip, unknown, on_trip, off_trip, on_trip, on_trip])
        return outcomes, positions.round_trips - before

    outcomes, round_trips = _run(settings, scenario)
    assert outcomes == [
        LocationOutcome.SAMPLE_DUE,
        LocationOutcome.TRIP_UNKNOWN,
        LocationOutcome.STORED,
        LocationOutcome.NO_TRIP,
        LocationOutcome.STORED,
        LocationOutcome.RATE_LIMITED,
    ]
    assert round_trips == 1
    assert redis_client.geopos("crowdship:positions", str(on_trip))[0] is not None


def test_a_redis_that_lost_its_scripts_is_given_the_script_again(settings: Settings, redis_client: redis.Redis) -> None:
    shopper_id = uuid4()

    async def scenario(positions: AsyncLivePositions) -> list[LocationOutcome | BaseException]:
        await positions.mark_on_trip(shopper_id, uuid4())
        await _updates(positions, [shopper_id])
        redis_client.script_flush()  # as after a restart
        return await _updates(positions, [shopper_id, shopper_id])

    assert _run(settings, scenario) == [LocationOutcome.STORED, LocationOutcome.STORED]


def test_an_update_redis_refuses_fails_alone(settings: Settings, redis_client: redis.Redis) -> None:
    """A command that fails in Redis (here its rate counter is not a number) fails its own caller only."""
    broken, fine = uuid4(), uuid4()
    redis_client.hset(f"crowdship:rate:location:{broken}:{SECOND}", "not", "a counter")

    async def scenario(positions: AsyncLivePositions) -> list[LocationOutcome | BaseException]:
        await positions.mark_on_trip(fine, uuid4())
        await positions.mark_on_trip(broken, uuid4())
        return await _updates(positions, [broken, fine])

    refused, answered = _run(settings, scenario)
    assert isinstance(refused, redis.ResponseError)
    assert answered is LocationOutcome.SAMPLE_DUE


@pytest.mark.usefixtures("redis_client")  # an empty database
def test_an_update_given_up_on_leaves_the_others_their_answers(settings: Settings) -> None:
    shoppers = [uuid4(), uuid4()]

    async def scenario(positions: AsyncLivePositions) -> LocationOutcome:
        for shopper_id in shoppers:
            await positions.mark_on_trip(shopper_id, uuid4())
        abandoned = asyncio.ensure_future(_updates(positions, shoppers[:1]))
        kept = asyncio.ensure_future(_updates(positions, shoppers[1:]))
        await asyncio.sleep(0)
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        (outcome,) = await kept
        assert isinstance(outcome, LocationOutcome)
        return outcome

    assert _run(settings, scenario) is LocationOutcome.SAMPLE_DUE


def test_a_turn_with_more_updates_than_a_pipeline_holds_sends_them_in_bounded_pipelines(settings: Settings) -> None:
    """600 updates made together: three pipelines (256, 256, 88), each caller answered."""
    shopper_ids = [uuid4() for _ in range(600)]

    async def scenario(positions: AsyncLivePositions) -> tuple[list[LocationOutcome | BaseException], int]:
        await _load_script(positions)
        before = positions.round_trips
        outcomes = await _updates(positions, shopper_ids)
        return outcomes, positions.round_trips - before

    outcomes, round_trips = _run(settings, scenario)
    assert outcomes == [LocationOutcome.TRIP_UNKNOWN] * 600
    assert round_trips == 3 == -(-600 // MAX_PIPELINE)
