"""The cache interface: stored entries, freshness settings and backend methods.

A backend stores :class:`CacheEntry` values under string keys. It also
carries the freshness settings (``ttl``, ``stale_ttl``, ``negative_ttl``),
because users configure them where they choose the store, as in
``RedisCache(url, ttl=120)``. Freshness, stale-while-revalidate, negative
caching and single-flight are not the backend's work: they live in
:mod:`edge_personalize.cache.flight` and only call the methods below.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

from ..exceptions import CacheEntryError, ConfigurationError
from ..recommendation import Recommendation

__all__ = ["CacheBackend", "CacheEntry", "CacheEntryError", "CacheStats"]

# Bounds of the duration settings, in seconds. A day of freshness is
# already far longer than recommendations stay relevant.
MAX_TTL = 24 * 60 * 60
MAX_FILL_TIMEOUT = 60.0
MAX_KEY_SECRET = 64  # bytes; the key size limit of BLAKE2b


@dataclass(frozen=True)
class CacheEntry:
    """The recommendations of one segment and how long they may be served.

    Times are seconds since the epoch from the backend's clock, so every
    process that shares a store reads them the same way. The entry is fresh
    before ``fresh_until``. Between ``fresh_until`` and ``stale_until`` it is
    stale: it is still served, and a refresh starts in the background. After
    ``stale_until`` it is gone. A negative entry records a failed or empty
    provider result and carries no items.
    """

    items: tuple[Recommendation, ...]
    created: float
    fresh_until: float
    stale_until: float
    negative: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.items, tuple):
            object.__setattr__(self, "items", tuple(self.items))
        if self.negative and self.items:
            raise ValueError("A negative cache entry cannot carry items.")
        if not self.created <= self.fresh_until <= self.stale_until:
            raise ValueError(
                "A cache entry needs created <= fresh_until <= stale_until, got "
                f"{self.created!r}, {self.fresh_until!r}, {self.stale_until!r}."
            )


@dataclass
class CacheStats:
    """Counters of what a cache did in this process since it was built.

    ``fills`` counts provider chain calls made through the cache, for
    misses and background refreshes. ``backend_errors`` counts store
    operations that failed or timed out. ``skipped`` counts operations not
    tried because the store had failed moments before.
    """

    hits: int = 0
    stale_hits: int = 0
    negative_hits: int = 0
    misses: int = 0
    fills: int = 0
    fill_failures: int = 0
    refreshes: int = 0
    lock_waits: int = 0
    lock_timeouts: int = 0
    corrupt_values: int = 0
    backend_errors: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain mapping, for logs and metrics."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


class CacheBackend(abc.ABC):
    """Base class of recommendation caches: settings and the store methods.

    Subclasses implement :meth:`get`, :meth:`set` and :meth:`delete`. A
    store that several processes share also sets ``shared = True`` and
    implements :meth:`acquire_lock` and :meth:`release_lock`, so that a
    cold key is computed by one process only. Every method may raise: the
    cache logs the error, serves without the store for a while and never
    lets it reach the page.

    :param ttl: seconds an entry is fresh after it is computed.
    :param stale_ttl: seconds after ``ttl`` during which a stale entry is
        still served while one background refresh replaces it; 0 turns
        stale-while-revalidate off.
    :param negative_ttl: seconds a failed or empty provider result is
        stored, so that requests for that key meanwhile get no items
        without calling the providers. 0 turns negative caching off.
    :param fill_timeout: seconds a provider call made by the cache may
        take. The call outlives the request that started it, so the result
        is stored even when that request has stopped waiting.
    :param timeout: seconds each store operation may take, or ``None``
        for a store that never blocks.
    :param key_secret: when given, segment digests are keyed with it
        (BLAKE2b, at most 64 bytes), so that whoever reads the keys cannot
        test guesses of a visitor's interests against them. Every process
        that shares the store needs the same secret.
    :param clock: the time in seconds since the epoch; tests pass a fake.
    :raises ConfigurationError: if a setting is out of range.
    """

    #: Whether several processes see the same entries (enables the lock).
    shared: ClassVar[bool] = False
    #: Seconds a request waits for another process filling the same key.
    lock_wait: float = 0.0

    def __init__(
        self,
        *,
        ttl: float = 60.0,
        stale_ttl: float = 300.0,
        negative_ttl: float = 5.0,
        fill_timeout: float = 2.0,
        timeout: float | None = None,
        key_secret: bytes | str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = _check_seconds("ttl", ttl, minimum_exclusive=True)
        self.stale_ttl = _check_seconds("stale_ttl", stale_ttl)
        self.negative_ttl = _check_seconds("negative_ttl", negative_ttl)
        self.fill_timeout = _check_seconds(
            "fill_timeout",
            fill_timeout,
            minimum_exclusive=True,
            maximum=MAX_FILL_TIMEOUT,
        )
        self.timeout = (
            None
            if timeout is None
            else _check_seconds("timeout", timeout, minimum_exclusive=True, maximum=60)
        )
        self.key_secret = _check_secret(key_secret)
        if not callable(clock):
            raise ConfigurationError(f"clock must be callable, got {clock!r}.")
        self.clock = clock
        self.stats = CacheStats()

        # Imported here because the flight module builds on this one.
        from .flight import CacheRuntime

        self.runtime = CacheRuntime(self)

    @abc.abstractmethod
    async def get(self, key: str) -> CacheEntry | None:
        """Return the entry stored under ``key``, or ``None`` for a miss.

        An entry past its ``stale_until`` counts as a miss. Raise
        :class:`CacheEntryError` for a value that cannot be decoded.
        """

    @abc.abstractmethod
    async def set(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` under ``key`` until its ``stale_until``."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key`` if it is stored."""

    async def acquire_lock(self, key: str, ttl: float) -> str | None:
        """Take the fill lock of ``key`` for ``ttl`` seconds.

        Return a token to pass to :meth:`release_lock`, or ``None`` when
        another process holds the lock. A store that is not shared returns
        a token at once, because the in-process single-flight already
        gives each key one provider call at a time.
        """
        return "local"

    async def release_lock(self, key: str, token: str) -> None:
        """Release the lock of ``key`` if ``token`` still holds it.

        A store that is not shared has no lock, so this does nothing.
        """
        return None

    async def aclose(self) -> None:
        """Stop this event loop's background work and close connections.

        Subclasses that hold connections close them and call
        ``await super().aclose()``.
        """
        await self.runtime.aclose()


def _check_seconds(
    name: str,
    value: float,
    *,
    minimum_exclusive: bool = False,
    maximum: float = MAX_TTL,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}.")
    too_small = value <= 0 if minimum_exclusive else value < 0
    if not math.isfinite(value) or too_small or value > maximum:
        low = "more than 0" if minimum_exclusive else "at least 0"
        raise ConfigurationError(
            f"{name} must be {low} and at most {maximum:g} seconds, got {value!r}."
        )
    return float(value)


def _check_secret(secret: bytes | str | None) -> bytes | None:
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes):
        raise ConfigurationError(
            f"key_secret must be bytes, a str or None, got a {type(secret).__name__}."
        )
    if not 1 <= len(secret) <= MAX_KEY_SECRET:
        # The message leaves the secret out, because errors end up in logs.
        raise ConfigurationError(
            f"key_secret must be 1 to {MAX_KEY_SECRET} bytes long, got "
            f"{len(secret)} bytes."
        )
    return secret
