"""Helpers and fixtures of the cache tests.

Redis tests use the server at 127.0.0.1:6379 through ``redis_target`` and
``sync_redis``. When it does not reply they skip, unless the environment
sets ``EP_REQUIRE_REDIS=1``, which makes them fail.
Every test writes under a key prefix of its own and deletes its keys
afterwards; nothing flushes the database, because other programs may use
it.

The Redis helpers are generators that test modules wrap in fixtures of
their own, rather than fixtures in a conftest.py: the adapter tests import
the top-level conftest by its module name, and a second conftest module
would take that name.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from edge_personalize import (
    Context,
    ProviderChain,
    Recommendation,
    RecommendationRequest,
)
from edge_personalize.cache import CacheBackend
from edge_personalize.cache.flight import CachedChain

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
SLOT = "recommendations"
LIMIT = 4

ITEMS = tuple(
    Recommendation(id=str(number), title=f"Item {number}", url=f"/products/{number}")
    for number in range(1, 7)
)


class FakeClock:
    """A wall clock that moves only when a test calls ``advance``."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingProvider:
    """A provider that counts its calls and can be held, made to fail or slow.

    While ``gate`` is set to an unset event, each call waits for it, which
    lets a test decide when a fill finishes without timing anything.
    """

    def __init__(
        self,
        items: Sequence[Recommendation] = ITEMS,
        *,
        features: frozenset[str] | None = frozenset({"interests"}),
    ) -> None:
        self.items = list(items)
        self.calls = 0
        self.fail = False
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.requests: list[RecommendationRequest] = []
        if features is not None:
            self.features = features

    def __repr__(self) -> str:
        return "CountingProvider()"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        self.calls += 1
        self.requests.append(request)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("the recommender is down")
        return self.items[: request.limit]


def context(**fields: object) -> Context:
    """Return a visitor context; interests default to ``("beauty",)``."""
    fields.setdefault("interests", ("beauty",))
    return Context(**fields)  # type: ignore[arg-type]


def request(ctx: Context | None = None, limit: int = LIMIT) -> RecommendationRequest:
    """Return the request of the ``recommendations`` slot for ``ctx``."""
    return RecommendationRequest(ctx or context(), SLOT, limit, deadline=None)


def cached(provider: object, cache: CacheBackend) -> CachedChain:
    """Put ``cache`` in front of a chain of ``provider`` alone."""
    chain = ProviderChain([provider], name=SLOT)  # type: ignore[list-item]
    return CachedChain(chain, cache, slot=SLOT, limit=LIMIT)


async def settle(cache: CacheBackend) -> None:
    """Wait until the fills that ``cache`` runs in this loop have finished."""
    while True:
        tasks = [flight.task for flight in cache.runtime.flights().values()]
        if not tasks:
            return
        await asyncio.gather(*tasks, return_exceptions=True)


def free_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class RedisTarget:
    """The test Redis and the key prefix of one test."""

    url: str
    prefix: str


@functools.cache
def _redis_replies() -> bool:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        host=REDIS_HOST,
        port=REDIS_PORT,
        socket_connect_timeout=1,
        socket_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def require_redis() -> None:
    """Skip the test (or fail it, with ``EP_REQUIRE_REDIS=1``) without Redis."""
    if _redis_replies():
        return
    reason = (
        f"Redis at {REDIS_HOST}:{REDIS_PORT} does not reply; start redis-server "
        "to run the Redis cache tests"
    )
    if os.environ.get("EP_REQUIRE_REDIS") == "1":
        pytest.fail(reason + " (EP_REQUIRE_REDIS=1 requires them).")
    pytest.skip(reason + ".")


def redis_target() -> Iterator[RedisTarget]:
    """Yield a unique key prefix on the test Redis, then delete its keys.

    Test modules wrap it in a fixture of the same name.
    """
    import redis

    require_redis()
    prefix = f"ep-test:{uuid.uuid4().hex[:12]}:"
    yield RedisTarget(REDIS_URL, prefix)

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def sync_redis() -> Iterator[Any]:
    """Yield a synchronous redis-py client of the test Redis, to inspect keys."""
    import redis

    require_redis()
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=5)
    yield client
    client.close()
