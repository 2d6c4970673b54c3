"""MemoryCache: the LRU bound, expiry and settings checks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cache_support import ITEMS, FakeClock

from edge_personalize import ConfigurationError
from edge_personalize.cache import CacheEntry, MemoryCache


def _entry(clock: FakeClock, fresh: float = 60.0, stale: float = 300.0) -> CacheEntry:
    now = clock()
    return CacheEntry(ITEMS[:2], now, now + fresh, now + fresh + stale)


def test_get_returns_stored_entry() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    entry = _entry(clock)

    async def scenario() -> CacheEntry | None:
        await cache.set("k", entry)
        return await cache.get("k")

    assert asyncio.run(scenario()) is entry


def test_get_missing_key() -> None:
    assert asyncio.run(MemoryCache().get("nothing")) is None


def test_stale_entry_still_returned() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    entry = _entry(clock)

    async def scenario() -> CacheEntry | None:
        await cache.set("k", entry)
        clock.advance(61)
        return await cache.get("k")

    assert asyncio.run(scenario()) is entry


def test_entry_dropped_after_stale_time() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)

    async def scenario() -> CacheEntry | None:
        await cache.set("k", _entry(clock))
        clock.advance(360)
        return await cache.get("k")

    assert asyncio.run(scenario()) is None
    assert len(cache) == 0


def test_lru_drops_least_recently_used() -> None:
    clock = FakeClock()
    cache = MemoryCache(max_entries=2, clock=clock)

    async def scenario() -> list[bool]:
        await cache.set("a", _entry(clock))
        await cache.set("b", _entry(clock))
        await cache.get("a")  # "b" is now the least recently used
        await cache.set("c", _entry(clock))
        return [await cache.get(key) is not None for key in ("a", "b", "c")]

    assert asyncio.run(scenario()) == [True, False, True]
    assert len(cache) == 2


def test_set_replaces_entry() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    second = _entry(clock, fresh=10)

    async def scenario() -> CacheEntry | None:
        await cache.set("k", _entry(clock))
        await cache.set("k", second)
        return await cache.get("k")

    assert asyncio.run(scenario()) is second
    assert len(cache) == 1


def test_delete_and_clear() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)

    async def scenario() -> None:
        await cache.set("a", _entry(clock))
        await cache.set("b", _entry(clock))
        await cache.delete("a")
        await cache.delete("missing")

    asyncio.run(scenario())
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0


def test_lock_always_granted() -> None:
    cache = MemoryCache()

    async def scenario() -> list[str | None]:
        first = await cache.acquire_lock("k", 1.0)
        second = await cache.acquire_lock("k", 1.0)
        return [first, second]

    tokens = asyncio.run(scenario())
    assert None not in tokens
    assert MemoryCache.shared is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"max_entries": 0}, "max_entries", id="no-entries"),
        pytest.param({"max_entries": True}, "max_entries", id="bool-entries"),
        pytest.param({"max_entries": 1.5}, "max_entries", id="float-entries"),
        pytest.param({"ttl": 0}, "ttl must be more than 0", id="zero-ttl"),
        pytest.param({"ttl": -1}, "ttl", id="negative-ttl"),
        pytest.param({"ttl": float("inf")}, "ttl", id="infinite-ttl"),
        pytest.param({"ttl": "60"}, "ttl must be a number", id="text-ttl"),
        pytest.param({"ttl": 2 * 86400}, "at most 86400", id="long-ttl"),
        pytest.param({"stale_ttl": -1}, "stale_ttl", id="negative-stale"),
        pytest.param({"negative_ttl": float("nan")}, "negative_ttl", id="nan-negative"),
        pytest.param({"fill_timeout": 0}, "fill_timeout", id="zero-fill"),
        pytest.param({"fill_timeout": 61}, "fill_timeout", id="long-fill"),
        pytest.param({"key_secret": b""}, "key_secret", id="empty-secret"),
        pytest.param({"key_secret": b"x" * 65}, "key_secret", id="long-secret"),
        pytest.param({"key_secret": 5}, "key_secret", id="number-secret"),
        pytest.param({"clock": 5}, "clock", id="clock"),
    ],
)
def test_invalid_settings(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        MemoryCache(**options)


def test_invalid_secret_not_in_message() -> None:
    with pytest.raises(ConfigurationError) as raised:
        MemoryCache(key_secret="hunter2" * 10)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("option", "value", "stored"),
    [
        pytest.param("stale_ttl", 0, 0.0, id="no-stale"),
        pytest.param("negative_ttl", 0, 0.0, id="no-negative"),
        pytest.param("key_secret", "text secret", b"text secret", id="text-secret"),
        pytest.param("max_entries", 1, 1, id="one-entry"),
    ],
)
def test_valid_edge_settings(option: str, value: object, stored: object) -> None:
    cache = MemoryCache(**{option: value})  # type: ignore[arg-type]
    assert getattr(cache, option) == stored
