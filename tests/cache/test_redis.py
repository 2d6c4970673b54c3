"""RedisCache against the real Redis at 127.0.0.1:6379, and its faults.

Faults are real too: a stopped Redis is a closed port of 127.0.0.1, a slow
one is a TCP proxy on 127.0.0.1 that delays each reply, and corrupted
values are written into the keys the cache reads.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cache_support
import pytest
from cache_support import (
    ITEMS,
    LIMIT,
    CountingProvider,
    RedisTarget,
    cached,
    context,
    free_port,
    request,
    settle,
)

from edge_personalize import (
    ConfigurationError,
    Personalizer,
    Recommendation,
    RequestView,
)
from edge_personalize.cache import CacheEntry, RedisCache
from edge_personalize.cache._codec import MAX_VALUE_BYTES, decode_entry, encode_entry

FIRST = list(ITEMS[:LIMIT])
LOGGER = "edge_personalize.cache.flight"
WORKER = Path(__file__).with_name("redis_worker.py")
UA = (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")

# Bounds on waits that end quickly unless something is broken.
PROCESS_TIMEOUT = 60.0  # seconds


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """A unique key prefix on the test Redis; its keys are deleted afterwards."""
    yield from cache_support.redis_target()


@pytest.fixture
def sync_redis() -> Iterator[Any]:
    """A synchronous client of the test Redis."""
    yield from cache_support.sync_redis()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("http://127.0.0.1:6379", "not a valid Redis URL", id="http"),
        pytest.param("127.0.0.1:6379", "not a valid Redis URL", id="no-scheme"),
        pytest.param(6379, "must be a str", id="number"),
    ],
)
def test_invalid_url(url: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedisCache(url)


def test_invalid_url_hides_password() -> None:
    with pytest.raises(ConfigurationError) as raised:
        RedisCache("redis://user:s3cret@127.0.0.1:6379/0?db=x")
    assert "s3cret" not in str(raised.value)


def test_repr_hides_password() -> None:
    cache = RedisCache("redis://user:s3cret@127.0.0.1:6379/0")
    assert "s3cret" not in repr(cache)
    assert "user:***@127.0.0.1:6379" in repr(cache)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"prefix": ""}, "prefix", id="empty-prefix"),
        pytest.param({"prefix": "a b"}, "prefix", id="space-prefix"),
        pytest.param({"prefix": "x" * 101}, "prefix", id="long-prefix"),
        pytest.param({"lock_wait": -1}, "lock_wait", id="negative-wait"),
        pytest.param({"lock_wait": "1"}, "lock_wait", id="text-wait"),
        pytest.param({"max_connections": 0}, "max_connections", id="no-connections"),
        pytest.param({"timeout": 0}, "timeout", id="zero-timeout"),
        pytest.param({"ttl": -5}, "ttl", id="negative-ttl"),
    ],
)
def test_invalid_settings(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedisCache("redis://127.0.0.1:6379/0", **options)


def _entry(now: float, fresh: float = 60.0, stale: float = 300.0) -> CacheEntry:
    return CacheEntry(ITEMS[:2], now, now + fresh, now + fresh + stale)


def test_round_trip(redis_target: RedisTarget, sync_redis: Any) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)
    entry = _entry(time.time())

    async def scenario() -> CacheEntry | None:
        await cache.set("k", entry)
        try:
            return await cache.get("k")
        finally:
            await cache.aclose()

    assert asyncio.run(scenario()) == entry
    stored = sync_redis.get(redis_target.prefix + "k")
    assert decode_entry(stored) == entry


def test_expiry_set_to_stale_time(redis_target: RedisTarget, sync_redis: Any) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def scenario() -> None:
        await cache.set("k", _entry(time.time(), fresh=60, stale=300))
        await cache.aclose()

    asyncio.run(scenario())
    remaining = sync_redis.pttl(redis_target.prefix + "k")
    assert 0 < remaining <= 360_000


def test_past_stale_time_is_miss(redis_target: RedisTarget, sync_redis: Any) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)
    # Written directly with a long Redis expiry, as another host whose
    # clock runs ahead would.
    sync_redis.set(redis_target.prefix + "k", encode_entry(_entry(1000.0)), ex=60)

    async def scenario() -> CacheEntry | None:
        try:
            return await cache.get("k")
        finally:
            await cache.aclose()

    assert asyncio.run(scenario()) is None


def test_expired_entry_not_written(redis_target: RedisTarget, sync_redis: Any) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def scenario() -> None:
        await cache.set("k", _entry(1000.0))
        await cache.aclose()

    asyncio.run(scenario())
    assert sync_redis.exists(redis_target.prefix + "k") == 0


def test_delete(redis_target: RedisTarget, sync_redis: Any) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def scenario() -> None:
        await cache.set("k", _entry(time.time()))
        await cache.delete("k")
        await cache.aclose()

    asyncio.run(scenario())
    assert sync_redis.exists(redis_target.prefix + "k") == 0


def test_lock_excludes_second_holder(redis_target: RedisTarget) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def scenario() -> list[str | None]:
        first = await cache.acquire_lock("k", 5.0)
        second = await cache.acquire_lock("k", 5.0)
        assert first is not None
        await cache.release_lock("k", first)
        third = await cache.acquire_lock("k", 5.0)
        await cache.aclose()
        return [first, second, third]

    first, second, third = asyncio.run(scenario())
    assert second is None
    assert third is not None
    assert third != first


def test_release_needs_own_token(redis_target: RedisTarget, sync_redis: Any) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def scenario() -> None:
        await cache.acquire_lock("k", 5.0)
        await cache.release_lock("k", "someone else's token")
        await cache.aclose()

    asyncio.run(scenario())
    assert sync_redis.exists(redis_target.prefix + "k:lock") == 1


def test_lock_expires(redis_target: RedisTarget, sync_redis: Any) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def scenario() -> None:
        await cache.acquire_lock("k", 2.5)
        await cache.aclose()

    asyncio.run(scenario())
    remaining = sync_redis.pttl(redis_target.prefix + "k:lock")
    assert 0 < remaining <= 2500


def test_prefixes_isolate_caches(redis_target: RedisTarget) -> None:
    first = RedisCache(redis_target.url, prefix=redis_target.prefix + "a:")
    second = RedisCache(redis_target.url, prefix=redis_target.prefix + "b:")

    async def scenario() -> CacheEntry | None:
        await first.set("k", _entry(time.time()))
        try:
            return await second.get("k")
        finally:
            await first.aclose()
            await second.aclose()

    assert asyncio.run(scenario()) is None


def test_client_per_event_loop(redis_target: RedisTarget) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)
    entry = _entry(time.time())

    async def write() -> None:
        await cache.set("k", entry)
        await cache.aclose()

    async def read() -> CacheEntry | None:
        try:
            return await cache.get("k")
        finally:
            await cache.aclose()

    asyncio.run(write())
    assert asyncio.run(read()) == entry


def test_aclose_drops_clients(redis_target: RedisTarget) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def scenario() -> int:
        await cache.get("k")
        await cache.aclose()
        return len(cache._clients)

    assert asyncio.run(scenario()) == 0


# The first loop skips aclose() on purpose, so redis-py warns about its
# unclosed connection when the dropped pool is garbage-collected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_closed_loop_clients_dropped(redis_target: RedisTarget) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)

    async def use() -> None:
        await cache.get("k")

    async def use_and_close() -> int:
        await cache.get("k")
        clients = len(cache._clients)
        await cache.aclose()
        return clients

    # The first loop ends without aclose(); its pool must not pile up.
    asyncio.run(use())
    clients = asyncio.run(use_and_close())
    # Collect the dropped pool now, so its warning belongs to this test.
    gc.collect()
    assert clients == 1
    assert len(cache._clients) == 0


def test_shared_between_caches(redis_target: RedisTarget) -> None:
    # Two cache objects share nothing in memory, like two processes.
    provider = CountingProvider()
    first = cached(provider, RedisCache(redis_target.url, prefix=redis_target.prefix))
    second = cached(provider, RedisCache(redis_target.url, prefix=redis_target.prefix))

    async def scenario() -> list[list[Recommendation]]:
        results = [await first.recommend(request())]
        await settle(first.cache)
        results.append(await second.recommend(request()))
        await first.cache.aclose()
        await second.cache.aclose()
        return results

    assert asyncio.run(scenario()) == [FIRST, FIRST]
    assert provider.calls == 1
    assert second.cache.stats.hits == 1


def test_lock_wait_gets_other_fill(redis_target: RedisTarget) -> None:
    filler, waiter = CountingProvider(), CountingProvider()
    first = cached(filler, RedisCache(redis_target.url, prefix=redis_target.prefix))
    second = cached(
        waiter,
        RedisCache(redis_target.url, prefix=redis_target.prefix, lock_wait=30.0),
    )

    async def scenario() -> list[Recommendation]:
        filler.gate = asyncio.Event()
        filling = asyncio.ensure_future(first.recommend(request()))
        await filler.started.wait()
        waiting = asyncio.ensure_future(second.recommend(request()))
        while second.cache.stats.lock_waits == 0:
            await asyncio.sleep(0.001)
        filler.gate.set()
        await filling
        result = await waiting
        await first.cache.aclose()
        await second.cache.aclose()
        return result

    assert asyncio.run(scenario()) == FIRST
    assert filler.calls == 1
    assert waiter.calls == 0


def test_lock_wait_bounded_then_fallback(redis_target: RedisTarget) -> None:
    filler, waiter = CountingProvider(), CountingProvider()
    first = cached(filler, RedisCache(redis_target.url, prefix=redis_target.prefix))
    second = cached(
        waiter,
        RedisCache(redis_target.url, prefix=redis_target.prefix, lock_wait=0.05),
    )

    async def scenario() -> list[list[Recommendation]]:
        filler.gate = asyncio.Event()
        filling = asyncio.ensure_future(first.recommend(request()))
        await filler.started.wait()
        gave_up = await second.recommend(request())
        filler.gate.set()
        await filling
        await settle(first.cache)
        after = await second.recommend(request())
        await first.cache.aclose()
        await second.cache.aclose()
        return [gave_up, after]

    assert asyncio.run(scenario()) == [[], FIRST]
    assert waiter.calls == 0
    assert second.cache.stats.lock_timeouts == 1


def test_single_flight_across_processes(
    redis_target: RedisTarget, sync_redis: Any
) -> None:
    prefix = redis_target.prefix
    requests_per_process = 20
    env = {**os.environ, "PYTHONPATH": str(WORKER.parent)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), redis_target.url, prefix, "20"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        sync_redis.set(prefix + "go", "1")
        events = _wait_for_events(sync_redis, prefix + "events", 2)
        sync_redis.set(prefix + "release", "1")
        outputs = [worker.communicate(timeout=PROCESS_TIMEOUT) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()

    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    reports = [json.loads(stdout) for stdout, _ in outputs]
    assert sorted(event.split(":")[0] for event in events) == ["called", "waiting"]
    assert int(sync_redis.get(prefix + "calls")) == 1
    assert [report["served"] for report in reports] == [requests_per_process] * 2
    assert sum(report["stats"]["fills"] for report in reports) == 1


def _wait_for_events(client: Any, key: str, count: int) -> list[str]:
    give_up = time.monotonic() + PROCESS_TIMEOUT
    while time.monotonic() < give_up:
        events = [event.decode() for event in client.lrange(key, 0, -1)]
        if len(events) >= count:
            return events
        time.sleep(0.01)
    pytest.fail(f"The worker processes reported only {client.lrange(key, 0, -1)!r}.")


# Faults


def _personalizer(cache: RedisCache, provider: CountingProvider) -> Personalizer:
    return Personalizer(
        routes=["/products/:slug"], providers=[provider], cache=cache, deadline=0.3
    )


async def _fragment(personalizer: Personalizer) -> str | None:
    plan = personalizer.plan(RequestView("GET", "/products/mug", headers=[UA]))
    assert plan is not None
    plan.start()
    return await plan.fragment("recommendations")


def test_stopped_redis(caplog: pytest.LogCaptureFixture) -> None:
    provider = CountingProvider()
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", timeout=1.0)
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        results = [await source.recommend(request()) for _ in range(5)]
        await cache.aclose()
        return results

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert asyncio.run(scenario()) == [FIRST] * 5
    assert cache.stats.backend_errors == 1
    assert cache.stats.skipped >= 4
    assert len(caplog.records) == 1
    assert "failed to read" in caplog.text
    assert "personalizing without it" in caplog.text


def test_stopped_redis_page_personalized() -> None:
    provider = CountingProvider()
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0")
    personalizer = _personalizer(cache, provider)

    async def scenario() -> str | None:
        try:
            return await _fragment(personalizer)
        finally:
            await personalizer.aclose()

    html = asyncio.run(scenario())
    assert html is not None
    assert "Item 1" in html


class DelayingProxy:
    """A TCP proxy on 127.0.0.1 that delays every reply from Redis.

    It runs its own event loop in a thread, so the delay does not block
    the test's loop.
    """

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delaying-proxy")
        self._pumps: set[asyncio.Task[None]] = set()
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> DelayingProxy:
        self._thread.start()
        self._ready.wait(PROCESS_TIMEOUT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(
            PROCESS_TIMEOUT
        )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(PROCESS_TIMEOUT)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        pumps = [
            asyncio.ensure_future(self._pump(client_reader, writer, 0.0)),
            asyncio.ensure_future(self._pump(reader, client_writer, self.delay)),
        ]
        self._pumps.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)
        self._pumps.difference_update(pumps)
        for stream in (writer, client_writer):
            stream.close()

    async def _pump(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, delay: float
    ) -> None:
        while data := await source.read(65536):
            if delay:
                await asyncio.sleep(delay)
            target.write(data)
            await target.drain()
        target.close()


@pytest.fixture
def slow_redis() -> Iterator[DelayingProxy]:
    """Redis behind a proxy that delays each reply by half a second."""
    cache_support.require_redis()
    with DelayingProxy(6379, delay=0.5) as proxy:
        yield proxy


def test_proxy_passes_commands(redis_target: RedisTarget) -> None:
    # Checks the test's own proxy: without a delay, the cache works
    # through it.
    provider = CountingProvider()
    with DelayingProxy(6379, delay=0.0) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        source = cached(provider, RedisCache(url, prefix=redis_target.prefix))

        async def scenario() -> None:
            await source.recommend(request())
            await settle(source.cache)
            await source.recommend(request())
            await source.cache.aclose()

        asyncio.run(scenario())
    assert provider.calls == 1
    assert source.cache.stats.hits == 1


def test_slow_redis(
    slow_redis: DelayingProxy,
    redis_target: RedisTarget,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = CountingProvider()
    url = f"redis://127.0.0.1:{slow_redis.port}/0"
    cache = RedisCache(url, prefix=redis_target.prefix, timeout=0.05)
    source = cached(provider, cache)

    async def scenario() -> list[list[Recommendation]]:
        results = [await source.recommend(request()) for _ in range(3)]
        await cache.aclose()
        return results

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert asyncio.run(scenario()) == [FIRST] * 3
    assert slow_redis.connections >= 1
    assert cache.stats.backend_errors == 1
    assert "TimeoutError" in caplog.text


def test_slow_redis_page_within_deadline(
    slow_redis: DelayingProxy, redis_target: RedisTarget
) -> None:
    # The proxy replies after 0.5 s, the deadline is 0.3 s: the fragment
    # only arrives if the cache gives up after its 0.05 s timeout.
    url = f"redis://127.0.0.1:{slow_redis.port}/0"
    cache = RedisCache(url, prefix=redis_target.prefix, timeout=0.05)
    personalizer = _personalizer(cache, CountingProvider())

    async def scenario() -> str | None:
        try:
            return await _fragment(personalizer)
        finally:
            await personalizer.aclose()

    html = asyncio.run(scenario())
    assert html is not None
    assert "Item 1" in html


def _bad_item() -> bytes:
    document = json.loads(encode_entry(_entry(time.time())))
    document["items"][0]["title"] = 5
    return json.dumps(document).encode()


def _wrong_version() -> bytes:
    document = json.loads(encode_entry(_entry(time.time())))
    document["v"] = 99
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"\x00garbage\xff", id="binary"),
        pytest.param(b"{not json", id="truncated-json"),
        pytest.param(b"[]", id="json-array"),
        pytest.param(_wrong_version(), id="other-version"),
        pytest.param(_bad_item(), id="bad-item"),
        pytest.param(b"x" * (MAX_VALUE_BYTES + 1), id="oversized"),
        pytest.param(None, id="hash-type"),
    ],
)
def test_corrupted_value(
    value: bytes | None,
    redis_target: RedisTarget,
    sync_redis: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = CountingProvider()
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)
    source = cached(provider, cache)
    key = redis_target.prefix + source.key(request())
    if value is None:
        sync_redis.hset(key, "field", "value")
    else:
        sync_redis.set(key, value)

    async def scenario() -> list[Recommendation]:
        result = await source.recommend(request())
        await settle(cache)
        await cache.aclose()
        return result

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert asyncio.run(scenario()) == FIRST
    # Read twice: before and after taking the fill lock.
    assert cache.stats.corrupt_values == 2
    assert cache.stats.backend_errors == 0
    assert len(caplog.records) == 1
    assert "unreadable value" in caplog.text
    # The next fill replaced the bad value with a valid entry.
    assert decode_entry(sync_redis.get(key)).items == tuple(FIRST)


def test_key_contains_prefix_and_slot(
    redis_target: RedisTarget, sync_redis: Any
) -> None:
    provider = CountingProvider()
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)
    source = cached(provider, cache)
    ctx = context(interests=("private-interest",))

    async def scenario() -> None:
        await source.recommend(request(ctx))
        await settle(cache)
        await cache.aclose()

    asyncio.run(scenario())
    keys = [key.decode() for key in sync_redis.scan_iter(redis_target.prefix + "*")]
    assert len(keys) == 1
    assert keys[0].startswith(redis_target.prefix + "recommendations:")
    assert "private-interest" not in keys[0]
