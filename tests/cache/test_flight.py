"""CachedChain: hits, stale-while-revalidate, negative caching, single-flight.

These tests drive the cache orchestration with MemoryCache and with small
stores that fail on demand. Fills are held and released with events, and
time moves with a fake clock, so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from cache_support import (
    ITEMS,
    LIMIT,
    SLOT,
    CountingProvider,
    FakeClock,
    cached,
    context,
    request,
    settle,
)

from edge_personalize import ProviderChain, Recommendation, RecommendationRequest
from edge_personalize.cache import (
    CacheBackend,
    CacheEntry,
    CacheEntryError,
    MemoryCache,
)
from edge_personalize.cache import flight as flight_module
from edge_personalize.cache.flight import CachedChain

FIRST = list(ITEMS[:LIMIT])
NEWER = [Recommendation(id=f"n{n}", title=f"New {n}", url=f"/n/{n}") for n in range(4)]
LOGGER = "edge_personalize.cache.flight"

# A bound on waits that should end at once; only a bug reaches it.
HANG_GUARD = 10.0


def _memory(clock: FakeClock | None = None, **options: Any) -> MemoryCache:
    return MemoryCache(clock=clock or FakeClock(), **options)


def test_second_request_hits() -> None:
    provider = CountingProvider()
    cache = _memory()
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        return [await source.recommend(request()) for _ in range(3)]

    results = asyncio.run(scenario())
    assert results == [FIRST, FIRST, FIRST]
    assert provider.calls == 1
    assert cache.stats.misses == 1
    assert cache.stats.hits == 2


def test_unread_feature_shares_entry() -> None:
    provider = CountingProvider(features=frozenset({"interests"}))
    source = cached(provider, _memory())

    async def scenario() -> None:
        await source.recommend(request(context(device="mobile", country="DE")))
        await source.recommend(request(context(device="desktop", languages=("fr",))))

    asyncio.run(scenario())
    assert provider.calls == 1


def test_read_feature_splits_entry() -> None:
    provider = CountingProvider(features=frozenset({"interests"}))
    source = cached(provider, _memory())

    async def scenario() -> None:
        await source.recommend(request(context(interests=("beauty",))))
        await source.recommend(request(context(interests=("books",))))

    asyncio.run(scenario())
    assert provider.calls == 2


def test_undeclared_features_split_by_everything() -> None:
    provider = CountingProvider(features=None)
    source = cached(provider, _memory())

    async def scenario() -> None:
        await source.recommend(request(context(device="mobile")))
        await source.recommend(request(context(device="desktop")))

    asyncio.run(scenario())
    assert provider.calls == 2


def test_concurrent_misses_share_one_call() -> None:
    provider = CountingProvider()
    cache = _memory()
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        provider.gate = asyncio.Event()
        waiting = [
            asyncio.ensure_future(source.recommend(request())) for _ in range(50)
        ]
        await provider.started.wait()
        provider.gate.set()
        return await asyncio.gather(*waiting)

    results = asyncio.run(scenario())
    assert provider.calls == 1
    assert all(result == FIRST for result in results)
    assert cache.stats.misses == 50
    assert cache.stats.fills == 1


def test_fill_outlives_cancelled_request() -> None:
    provider = CountingProvider()
    cache = _memory()
    source = cached(provider, cache)

    async def scenario() -> list[Recommendation]:
        provider.gate = asyncio.Event()
        first = asyncio.ensure_future(source.recommend(request()))
        await provider.started.wait()
        # The slot deadline passes: the request stops waiting.
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        provider.gate.set()
        await settle(cache)
        return await source.recommend(request())

    assert asyncio.run(scenario()) == FIRST
    assert provider.calls == 1
    assert cache.stats.hits == 1


def test_fill_gets_own_deadline() -> None:
    provider = CountingProvider()
    cache = _memory(fill_timeout=5.0)
    source = cached(provider, cache)
    soon = time.monotonic() + 0.001
    asked = RecommendationRequest(context(), SLOT, LIMIT, deadline=soon)

    asyncio.run(source.recommend(asked))
    deadline = provider.requests[0].deadline
    assert deadline is not None
    assert deadline > soon


def test_stale_entry_served_while_refreshing() -> None:
    clock = FakeClock()
    provider = CountingProvider()
    cache = _memory(clock, ttl=60, stale_ttl=300)
    source = cached(provider, cache)

    async def scenario() -> tuple[list[list[Recommendation]], list[Recommendation]]:
        await source.recommend(request())
        clock.advance(61)
        provider.items = NEWER
        provider.gate = asyncio.Event()
        # The refresh is held at the gate, so these can only return if
        # they do not wait for it.
        stale = await asyncio.wait_for(
            asyncio.gather(*(source.recommend(request()) for _ in range(10))),
            HANG_GUARD,
        )
        provider.gate.set()
        await settle(cache)
        return stale, await source.recommend(request())

    stale, refreshed = asyncio.run(scenario())
    assert all(result == FIRST for result in stale)
    assert refreshed == NEWER
    assert provider.calls == 2
    assert cache.stats.stale_hits == 10
    assert cache.stats.refreshes == 1


def test_no_stale_period_waits_for_fill() -> None:
    clock = FakeClock()
    provider = CountingProvider()
    source = cached(provider, _memory(clock, ttl=60, stale_ttl=0))

    async def scenario() -> list[Recommendation]:
        await source.recommend(request())
        clock.advance(60)
        provider.items = NEWER
        return await source.recommend(request())

    assert asyncio.run(scenario()) == NEWER
    assert provider.calls == 2


def test_entry_past_stale_period_refilled() -> None:
    clock = FakeClock()
    provider = CountingProvider()
    source = cached(provider, _memory(clock, ttl=60, stale_ttl=300))

    async def scenario() -> list[Recommendation]:
        await source.recommend(request())
        clock.advance(361)
        provider.items = NEWER
        return await source.recommend(request())

    assert asyncio.run(scenario()) == NEWER
    assert provider.calls == 2


def test_failure_cached_briefly() -> None:
    clock = FakeClock()
    provider = CountingProvider()
    provider.fail = True
    cache = _memory(clock, negative_ttl=5)
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        results = [await source.recommend(request()) for _ in range(3)]
        clock.advance(5)
        provider.fail = False
        results.append(await source.recommend(request()))
        return results

    assert asyncio.run(scenario()) == [[], [], [], FIRST]
    assert provider.calls == 2
    assert cache.stats.negative_hits == 2
    assert cache.stats.fill_failures == 1


def test_empty_result_cached_as_negative() -> None:
    provider = CountingProvider(items=[])
    cache = _memory()
    source = cached(provider, cache)

    async def scenario() -> None:
        for _ in range(3):
            await source.recommend(request())

    asyncio.run(scenario())
    assert provider.calls == 1
    assert cache.stats.negative_hits == 2


def test_no_negative_ttl_calls_every_time() -> None:
    provider = CountingProvider()
    provider.fail = True
    source = cached(provider, _memory(negative_ttl=0))

    async def scenario() -> None:
        for _ in range(3):
            await source.recommend(request())

    asyncio.run(scenario())
    assert provider.calls == 3


def test_failed_refresh_keeps_stale_items() -> None:
    clock = FakeClock()
    provider = CountingProvider()
    cache = _memory(clock, ttl=60, stale_ttl=300, negative_ttl=5)
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        await source.recommend(request())
        clock.advance(61)
        provider.fail = True
        results = [await source.recommend(request())]  # starts the refresh
        await settle(cache)
        results.append(await source.recommend(request()))  # within negative_ttl
        calls_before_retry = provider.calls
        clock.advance(5)
        results.append(await source.recommend(request()))  # retries
        await settle(cache)
        assert calls_before_retry == 2
        return results

    assert asyncio.run(scenario()) == [FIRST, FIRST, FIRST]
    assert provider.calls == 3
    assert cache.stats.fill_failures == 2


def test_fill_timeout_caches_failure(caplog: pytest.LogCaptureFixture) -> None:
    provider = CountingProvider()
    cache = _memory(fill_timeout=0.01)
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        provider.gate = asyncio.Event()  # never set: the provider hangs
        return [await source.recommend(request()) for _ in range(2)]

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert asyncio.run(scenario()) == [[], []]
    assert provider.calls == 1
    assert "timed out after fill_timeout" in caplog.text


class _RaisingChain(ProviderChain):
    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        raise RuntimeError("chain bug")


def test_chain_error_logged_and_cached(caplog: pytest.LogCaptureFixture) -> None:
    chain = _RaisingChain([CountingProvider()], name=SLOT)
    cache = _memory()
    source = CachedChain(chain, cache, slot=SLOT, limit=LIMIT)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert asyncio.run(source.recommend(request())) == []
    assert cache.stats.fill_failures == 1
    assert "chain bug" in caplog.text


def test_other_limit_bypasses_cache() -> None:
    provider = CountingProvider()
    cache = _memory()
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        return [await source.recommend(request(limit=2)) for _ in range(2)]

    assert asyncio.run(scenario()) == [FIRST[:2], FIRST[:2]]
    assert provider.calls == 2
    assert len(cache) == 0


def test_entries_survive_event_loop() -> None:
    provider = CountingProvider()
    source = cached(provider, _memory())

    asyncio.run(source.recommend(request()))
    assert asyncio.run(source.recommend(request())) == FIRST
    assert provider.calls == 1


def test_fill_cut_by_loop_end_refilled() -> None:
    provider = CountingProvider()
    cache = _memory()
    source = cached(provider, cache)

    async def abandon() -> None:
        provider.gate = asyncio.Event()
        asyncio.ensure_future(source.recommend(request()))
        await provider.started.wait()
        # asyncio.run cancels the held fill when this returns.

    asyncio.run(abandon())
    provider.gate = None
    assert asyncio.run(source.recommend(request())) == FIRST
    assert provider.calls == 2


def test_aclose_cancels_running_fills() -> None:
    provider = CountingProvider()
    cache = _memory()
    source = cached(provider, cache)

    async def scenario() -> tuple[bool, int]:
        provider.gate = asyncio.Event()
        waiting = asyncio.ensure_future(source.recommend(request()))
        await provider.started.wait()
        await cache.aclose()
        results = await asyncio.gather(waiting, return_exceptions=True)
        cancelled = isinstance(results[0], asyncio.CancelledError)
        return cancelled, len(cache.runtime.flights())

    cancelled, running = asyncio.run(scenario())
    assert cancelled
    assert running == 0


class FaultyCache(CacheBackend):
    """A store that works, raises, hangs or returns garbage, as ``mode`` selects."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("timeout", 0.05)
        super().__init__(clock=FakeClock(), **options)
        self.mode = "ok"
        self.entries: dict[str, CacheEntry] = {}
        self.operations = 0

    async def _fault(self) -> None:
        self.operations += 1
        if self.mode == "error":
            raise ConnectionError("Connection refused")
        if self.mode == "hang":
            await asyncio.Event().wait()

    async def get(self, key: str) -> CacheEntry | None:
        await self._fault()
        if self.mode == "corrupt":
            self.mode = "ok"
            raise CacheEntryError("The value is not JSON.")
        return self.entries.get(key)

    async def set(self, key: str, entry: CacheEntry) -> None:
        await self._fault()
        self.entries[key] = entry

    async def delete(self, key: str) -> None:
        await self._fault()
        self.entries.pop(key, None)


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_store_fault_serves_from_provider(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    provider = CountingProvider()
    cache = FaultyCache()
    cache.mode = mode
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        return [await source.recommend(request()) for _ in range(5)]

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        results = asyncio.run(scenario())
    assert results == [FIRST] * 5
    # The first read failed; the store was skipped after that.
    assert cache.stats.backend_errors == 1
    assert cache.operations == 1
    assert cache.stats.skipped >= 4
    assert len(caplog.records) == 1
    assert "personalizing without it" in caplog.text


def test_store_recovers_after_backoff(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(flight_module, "BACKOFF_MIN", 0.0)
    provider = CountingProvider()
    cache = FaultyCache()
    source = cached(provider, cache)

    async def scenario() -> None:
        cache.mode = "error"
        await source.recommend(request())
        cache.mode = "ok"
        await source.recommend(request())  # fills and stores
        await settle(cache)
        await source.recommend(request())  # hits

    with caplog.at_level(logging.INFO, logger=LOGGER):
        asyncio.run(scenario())
    assert provider.calls == 2
    assert cache.stats.hits == 1
    assert "works again" in caplog.text


def test_corrupt_value_is_miss_not_outage(caplog: pytest.LogCaptureFixture) -> None:
    provider = CountingProvider()
    cache = FaultyCache()
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        cache.mode = "corrupt"
        first = await source.recommend(request())
        await settle(cache)
        return [first, await source.recommend(request())]

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert asyncio.run(scenario()) == [FIRST, FIRST]
    assert cache.stats.corrupt_values == 1
    assert cache.stats.backend_errors == 0
    assert cache.stats.hits == 1
    assert "unreadable value" in caplog.text


def test_warnings_rate_limited(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cache = FaultyCache()
    runtime = cache.runtime

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for number in range(3):
            runtime.warn("store", "Store failed %d", number)
        monkeypatch.setattr(flight_module, "WARNING_INTERVAL", 0.0)
        runtime.warn("store", "Store failed %d", 3)
        runtime.warn("other", "Other failure")

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Store failed 0",
        "Store failed 3 (2 similar warnings since the last one were not logged)",
        "Other failure",
    ]
