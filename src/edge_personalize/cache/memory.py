"""The in-process cache: a size-bounded LRU mapping with expiry."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..exceptions import ConfigurationError
from .base import CacheBackend, CacheEntry

__all__ = ["MemoryCache"]


class MemoryCache(CacheBackend):
    """Keep recommendations in this process, least recently used out first.

    The default cache of a :class:`~edge_personalize.Personalizer`. Each
    worker process has its own, so with several workers a segment is
    computed once per worker. :class:`~edge_personalize.cache.RedisCache`
    shares entries between processes and hosts.

    Entries are stored as the immutable objects the providers returned, so
    a hit costs a dictionary lookup. Expired entries are dropped when they
    are read, and the least recently used entry is dropped when a new one
    would exceed ``max_entries``.

    :param max_entries: the number of keys kept, at least 1.
    :param ttl, stale_ttl, negative_ttl, fill_timeout, key_secret, clock:
        see :class:`~edge_personalize.cache.CacheBackend`.
    :raises ConfigurationError: if a setting is out of range.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        ttl: float = 60.0,
        stale_ttl: float = 300.0,
        negative_ttl: float = 5.0,
        fill_timeout: float = 2.0,
        key_secret: bytes | str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (
            isinstance(max_entries, bool)
            or not isinstance(max_entries, int)
            or max_entries < 1
        ):
            raise ConfigurationError(
                f"max_entries must be an int of at least 1, got {max_entries!r}."
            )
        super().__init__(
            ttl=ttl,
            stale_ttl=stale_ttl,
            negative_ttl=negative_ttl,
            fill_timeout=fill_timeout,
            key_secret=key_secret,
            clock=clock,
        )
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        # A personalizer may serve a WSGI app (the loop thread) and an ASGI
        # app (the server's loop) at once, so two threads can get here.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"MemoryCache(max_entries={self.max_entries!r}, ttl={self.ttl!r}, "
            f"stale_ttl={self.stale_ttl!r}, negative_ttl={self.negative_ttl!r})"
        )

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CacheEntry | None:
        """Return the entry of ``key`` unless it is missing or past ``stale_until``."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry.stale_until:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    async def set(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` and drop the least recently used keys over the bound."""
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        """Remove ``key`` if it is stored."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._entries.clear()
