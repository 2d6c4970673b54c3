"""One process of the cross-process single-flight test in test_redis.py.

Usage: python redis_worker.py URL PREFIX REQUESTS

The process builds a RedisCache under PREFIX and waits until the key
``PREFIX + "go"`` exists. Then it sends REQUESTS identical concurrent
requests through the cache. Its provider pushes ``called`` to the list
``PREFIX + "events"`` and waits until ``PREFIX + "release"`` exists. When
the process finds another process filling the key, it pushes ``waiting``.
At the end it prints one JSON line: how many requests got the provider's
items, and the cache's counters.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import redis.asyncio

from edge_personalize import Context, ProviderChain, Recommendation
from edge_personalize.cache import RedisCache
from edge_personalize.cache.flight import CachedChain
from edge_personalize.recommendation import RecommendationRequest

ITEMS = [Recommendation(id=str(n), title=f"Item {n}", url=f"/p/{n}") for n in range(4)]
POLL = 0.005  # seconds between checks of the signal keys


class HeldProvider:
    """Counts calls in Redis and returns only after the test releases it."""

    features = frozenset({"interests"})

    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        await self.client.incr(self.prefix + "calls")
        await self.client.rpush(self.prefix + "events", f"called:{os.getpid()}")
        while not await self.client.exists(self.prefix + "release"):
            await asyncio.sleep(POLL)
        return ITEMS


async def report_waiting(
    client: redis.asyncio.Redis, prefix: str, cache: RedisCache
) -> None:
    while cache.stats.lock_waits == 0:
        await asyncio.sleep(POLL)
    await client.rpush(prefix + "events", f"waiting:{os.getpid()}")


async def main(url: str, prefix: str, count: int) -> None:
    client = redis.asyncio.Redis.from_url(url)
    # lock_wait and fill_timeout only bound a broken run; the test
    # releases the provider as soon as both processes have reported.
    cache = RedisCache(url, prefix=prefix, lock_wait=30.0, fill_timeout=30.0)
    chain = ProviderChain([HeldProvider(client, prefix)], name="recommendations")
    source = CachedChain(chain, cache, slot="recommendations", limit=4)
    request = RecommendationRequest(
        Context(interests=("beauty",)), "recommendations", 4, deadline=None
    )

    while not await client.exists(prefix + "go"):
        await asyncio.sleep(POLL)
    watcher = asyncio.ensure_future(report_waiting(client, prefix, cache))
    results = await asyncio.gather(*(source.recommend(request) for _ in range(count)))
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)

    for flight in list(cache.runtime.flights().values()):
        await asyncio.gather(flight.task, return_exceptions=True)
    served = sum(1 for result in results if result == ITEMS)
    print(json.dumps({"served": served, "stats": cache.stats.as_dict()}), flush=True)
    await cache.aclose()
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
