"""`/health` answers anyone, unauthenticated and unthrottled, as load balancers need: a flood of it shares one
look at the servers per second instead of taking a PostgreSQL connection each (which requests would wait for)."""

from __future__ import annotations

import asyncio

from api.health import ServersLook, ServersSeen
from crowdship.cache import open_async_redis
from crowdship.db import open_pool
from crowdship.settings import Settings


def test_a_flood_of_probes_shares_one_look_a_second_at_the_servers(settings: Settings) -> None:
    now = [100.0]
    with open_pool(settings.require_database_url(), max_size=2) as pool:

        async def probes() -> tuple[list[ServersSeen], int, ServersSeen, int, ServersSeen]:
            client = open_async_redis(settings)
            try:
                look = ServersLook(pool, client, fresh_s=1.0, monotonic=lambda: now[0])
                flood = await asyncio.gather(*(look() for _ in range(200)))
                after_flood = pool.get_stats().get("requests_num", 0)
                now[0] += 0.9
                within = await look()
                after_within = pool.get_stats().get("requests_num", 0)
                now[0] += 0.2
                return flood, after_flood, within, after_within, await look()
            finally:
                await client.aclose()

        requests_before = pool.get_stats().get("requests_num", 0)
        flood, after_flood, within, after_within, later = asyncio.run(probes())
        requests_after = pool.get_stats().get("requests_num", 0)

    assert set(flood) == {ServersSeen(postgres=True, redis=True)}
    assert after_flood - requests_before == 1, "each probe of the flood took a PostgreSQL connection"
    assert within == ServersSeen(postgres=True, redis=True)
    assert after_within == after_flood, "a probe within the second looked again"
    assert later == ServersSeen(postgres=True, redis=True)
    assert requests_after - requests_before == 2, "a probe after the second did not look again"
