"""Recommendation caches: in-process (the default) and Redis.

A :class:`~edge_personalize.Personalizer` keeps each slot's
recommendations per visitor segment, so a request for a segment served
recently does not wait for a provider::

    from edge_personalize.cache import RedisCache

    personalizer = Personalizer(
        routes=["/products/:slug"],
        providers=[CatalogProvider(catalog)],
        cache=RedisCache("redis://127.0.0.1:6379/0", ttl=120),
    )

:class:`MemoryCache` is used when no cache is given, and ``cache=None``
turns caching off. Both caches implement :class:`CacheBackend`, the small
async interface a cache of your own implements too. ``docs/caching.md``
describes keys, freshness, stale-while-revalidate and what is stored.
"""

from __future__ import annotations

from .base import CacheBackend, CacheEntry, CacheEntryError, CacheStats
from .memory import MemoryCache
from .redis import RedisCache

__all__ = [
    "CacheBackend",
    "CacheEntry",
    "CacheEntryError",
    "CacheStats",
    "MemoryCache",
    "RedisCache",
]
