"""The cache inside a Personalizer: the option, plans and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import cache_support
import pytest
from cache_support import CountingProvider, RedisTarget

from edge_personalize import ConfigurationError, Personalizer, RequestView, Slot
from edge_personalize.cache import MemoryCache, RedisCache
from edge_personalize.cache.flight import CachedChain

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"
PHONE = b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """A unique key prefix on the test Redis; its keys are deleted afterwards."""
    yield from cache_support.redis_target()


def _view(
    path: str = "/products/mug", agent: bytes = FIREFOX, **kw: Any
) -> RequestView:
    return RequestView("GET", path, headers=[(b"user-agent", agent)], **kw)


async def _serve(personalizer: Personalizer, view: RequestView) -> str | None:
    plan = personalizer.plan(view)
    assert plan is not None
    plan.start()
    return await plan.fragment("recommendations")


def _personalizer(provider: CountingProvider, **options: Any) -> Personalizer:
    return Personalizer(routes=["/products/:slug"], providers=[provider], **options)


def test_default_cache_is_memory() -> None:
    first = _personalizer(CountingProvider())
    second = _personalizer(CountingProvider())
    assert isinstance(first.cache, MemoryCache)
    assert first.cache is not second.cache


def test_default_cache_serves_second_request() -> None:
    provider = CountingProvider()
    personalizer = _personalizer(provider)

    async def scenario() -> list[str | None]:
        return [await _serve(personalizer, _view()) for _ in range(3)]

    first, second, third = asyncio.run(scenario())
    assert first is not None
    assert second == first
    assert third == first
    assert provider.calls == 1


def test_cache_none_calls_providers_each_time() -> None:
    provider = CountingProvider()
    personalizer = _personalizer(provider, cache=None)

    async def scenario() -> None:
        for _ in range(3):
            await _serve(personalizer, _view())

    asyncio.run(scenario())
    assert personalizer.cache is None
    assert provider.calls == 3


def test_given_cache_used() -> None:
    cache = MemoryCache()
    personalizer = _personalizer(CountingProvider(), cache=cache)

    asyncio.run(_serve(personalizer, _view()))
    assert personalizer.cache is cache
    assert cache.stats.fills == 1


def test_slots_wrap_chain_in_cache() -> None:
    personalizer = Personalizer(
        routes=["/"],
        slots={
            "recommendations": Slot([CountingProvider()]),
            "trending": Slot([CountingProvider()], limit=2),
        },
    )
    sources = [slot.source for slot in personalizer.slots.values()]
    assert all(isinstance(source, CachedChain) for source in sources)
    assert [source.limit for source in sources] == [4, 2]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "cache",
    [
        pytest.param("redis://127.0.0.1:6379/0", id="url"),
        pytest.param(MemoryCache, id="class"),
        pytest.param({}, id="dict"),
    ],
)
def test_invalid_cache(cache: object) -> None:
    with pytest.raises(ConfigurationError, match="cache must be"):
        _personalizer(CountingProvider(), cache=cache)


def test_invalid_features_fail_at_construction() -> None:
    provider = CountingProvider()
    provider.features = frozenset({"language"})
    with pytest.raises(ConfigurationError, match="unknown features"):
        _personalizer(provider)


def test_unread_device_shares_entry() -> None:
    provider = CountingProvider(features=frozenset({"interests"}))
    personalizer = _personalizer(provider)

    async def scenario() -> None:
        await _serve(personalizer, _view(agent=FIREFOX))
        await _serve(personalizer, _view(agent=PHONE))

    asyncio.run(scenario())
    assert provider.calls == 1


def test_read_interest_splits_entry() -> None:
    provider = CountingProvider(features=frozenset({"interests"}))
    personalizer = _personalizer(provider)

    async def scenario() -> None:
        await _serve(personalizer, _view(query_string=b"interest=beauty"))
        await _serve(personalizer, _view(query_string=b"interest=books"))
        await _serve(personalizer, _view(query_string=b"interest=beauty"))

    asyncio.run(scenario())
    assert provider.calls == 2


def test_renderer_runs_per_request() -> None:
    # Items are cached, HTML is not, so a renderer gets each request's context.
    seen: list[str] = []

    def renderer(slot: str, items: Any, context: Any) -> str:
        seen.append(context.path)
        return f"<p>{len(items)}</p>"

    personalizer = Personalizer(
        routes=["/products/:slug"],
        providers=[CountingProvider(features=frozenset())],
        renderer=renderer,
    )

    async def scenario() -> None:
        await _serve(personalizer, _view("/products/a"))
        await _serve(personalizer, _view("/products/b"))

    asyncio.run(scenario())
    assert seen == ["/products/a", "/products/b"]


def test_aclose_closes_redis(redis_target: RedisTarget) -> None:
    cache = RedisCache(redis_target.url, prefix=redis_target.prefix)
    personalizer = _personalizer(CountingProvider(), cache=cache)

    async def scenario() -> tuple[str | None, int]:
        html = await _serve(personalizer, _view())
        for flight in list(cache.runtime.flights().values()):
            await flight.task
        await personalizer.aclose()
        return html, len(cache._clients)

    html, clients = asyncio.run(scenario())
    assert html is not None
    assert clients == 0


def test_redis_shared_by_personalizers(redis_target: RedisTarget) -> None:
    provider = CountingProvider()
    first = _personalizer(
        provider, cache=RedisCache(redis_target.url, prefix=redis_target.prefix)
    )
    second = _personalizer(
        provider, cache=RedisCache(redis_target.url, prefix=redis_target.prefix)
    )

    async def scenario() -> list[str | None]:
        html = [await _serve(first, _view())]
        assert first.cache is not None
        for flight in list(first.cache.runtime.flights().values()):
            await flight.task
        html.append(await _serve(second, _view()))
        await first.aclose()
        await second.aclose()
        return html

    html = asyncio.run(scenario())
    assert html[0] is not None
    assert html[1] == html[0]
    assert provider.calls == 1


def test_cache_exports() -> None:
    import edge_personalize.cache as package

    missing = [name for name in package.__all__ if not hasattr(package, name)]
    assert missing == []
    assert package.__all__ == sorted(package.__all__)
