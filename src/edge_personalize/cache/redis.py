"""The shared cache: entries in Redis, through redis-py's asyncio client.

Every worker process and host that points at the same Redis database and
key prefix shares the entries, and a cold key is computed by one process
at a time under a short lock (``SET NX PX``). Values are JSON with a
format version (see :mod:`edge_personalize.cache._codec`) and expire in
Redis when their stale period ends.

redis-py is an optional dependency: ``pip install redis`` (version 5 or
newer). It is imported when a ``RedisCache`` is built.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..exceptions import ConfigurationError
from ._codec import decode_entry, encode_entry
from .base import CacheBackend, CacheEntry, CacheEntryError, _check_seconds

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisCache"]

LOCK_SUFFIX = ":lock"
MAX_PREFIX_LENGTH = 100
MAX_CONNECTIONS = 1000

# Deletes the lock only if it still holds this process's token, so a fill
# that outlived its lock cannot release the lock of the next holder.
_RELEASE_SCRIPT = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


class RedisCache(CacheBackend):
    """Share recommendations between processes and hosts through Redis.

    ::

        cache = RedisCache("redis://127.0.0.1:6379/0", ttl=120)
        personalizer = Personalizer(routes=[...], providers=[...], cache=cache)

    Each store operation is bounded by ``timeout``: connecting, waiting for
    a pooled connection, and the command itself. When Redis is down, slow
    or returns values that cannot be decoded, personalization carries on
    without the cache. Warnings are rate-limited to one a minute for each
    kind of failure.

    A connection pool is made per event loop on first use (the ASGI
    server's loop, or the WSGI adapter's loop thread) and again after a
    fork, because asyncio connections belong to the loop that opened them.

    :param url: ``redis://[[user]:[password]@]host[:port][/db]``,
        ``rediss://...`` for TLS or ``unix:///path/to/socket?db=0``.
    :param prefix: prepended to every key. Apps that share a Redis
        database need different prefixes.
    :param timeout: seconds each store operation may take. Keep it well
        under the personalizer's ``deadline``.
    :param lock_wait: seconds a request waits for another process that is
        computing the same cold key. After that the slot keeps its
        fallback for this request instead of queueing; the other process
        still stores the result for the next one.
    :param max_connections: connections per process and event loop. A
        request waits for a free one at most ``timeout`` seconds.
    :param ttl, stale_ttl, negative_ttl, fill_timeout, key_secret, clock:
        see :class:`~edge_personalize.cache.CacheBackend`.
    :raises ConfigurationError: if redis-py is not installed, the URL is
        not a Redis URL or a setting is out of range.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ep:",
        ttl: float = 60.0,
        stale_ttl: float = 300.0,
        negative_ttl: float = 5.0,
        fill_timeout: float = 2.0,
        timeout: float = 0.1,
        lock_wait: float = 0.1,
        max_connections: int = 20,
        key_secret: bytes | str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check_url(url)
        self.url = url
        self.prefix = _check_prefix(prefix)
        self.lock_wait = _check_seconds("lock_wait", lock_wait, maximum=60)
        self.max_connections = _check_max_connections(max_connections)
        super().__init__(
            ttl=ttl,
            stale_ttl=stale_ttl,
            negative_ttl=negative_ttl,
            fill_timeout=fill_timeout,
            timeout=timeout,
            key_secret=key_secret,
            clock=clock,
        )
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[int, Redis]
        ] = weakref.WeakKeyDictionary()
        self._clients_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"RedisCache({_redact(self.url)!r}, prefix={self.prefix!r}, "
            f"ttl={self.ttl!r}, stale_ttl={self.stale_ttl!r}, "
            f"negative_ttl={self.negative_ttl!r}, timeout={self.timeout!r})"
        )

    async def get(self, key: str) -> CacheEntry | None:
        """Return the entry of ``key``, or ``None`` if missing or past its stale time.

        :raises CacheEntryError: if the stored value cannot be decoded or
            the key is of a Redis type other than string.
        """
        from redis.exceptions import ResponseError

        try:
            raw = await self._client().get(self.prefix + key)
        except ResponseError as exc:
            if str(exc).startswith("WRONGTYPE"):
                raise CacheEntryError(
                    f"The key is of a Redis type other than string: {exc}"
                ) from exc
            raise
        if raw is None:
            return None
        if not isinstance(raw, bytes):
            raise CacheEntryError(f"The value is a {type(raw).__name__}, not bytes.")

        entry = decode_entry(raw)
        if self.clock() >= entry.stale_until:
            return None
        return entry

    async def set(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` with a Redis expiry at its ``stale_until``."""
        remaining = entry.stale_until - self.clock()
        if remaining <= 0:
            return
        await self._client().set(
            self.prefix + key,
            encode_entry(entry),
            px=max(1, math.ceil(remaining * 1000)),
        )

    async def delete(self, key: str) -> None:
        """Remove ``key`` from Redis."""
        await self._client().delete(self.prefix + key)

    async def acquire_lock(self, key: str, ttl: float) -> str | None:
        """Set the lock key of ``key`` unless it exists; return its token."""
        token = secrets.token_hex(16)
        acquired = await self._client().set(
            self.prefix + key + LOCK_SUFFIX,
            token,
            nx=True,
            px=max(1, math.ceil(ttl * 1000)),
        )
        return token if acquired else None

    async def release_lock(self, key: str, token: str) -> None:
        """Delete the lock key of ``key`` if it still holds ``token``."""
        await self._client().eval(
            _RELEASE_SCRIPT, 1, self.prefix + key + LOCK_SUFFIX, token
        )

    async def aclose(self) -> None:
        """Stop background work and close this event loop's connections.

        Pools of other event loops that are already closed are dropped;
        their sockets were closed with the loop.
        """
        await super().aclose()
        loop = asyncio.get_running_loop()
        with self._clients_lock:
            owned = self._clients.pop(loop, None)
            self._drop_closed_loops()
        if owned is not None and owned[0] == os.getpid():
            await owned[1].aclose()

    def _client(self) -> Redis:
        loop = asyncio.get_running_loop()
        pid = os.getpid()
        owned = self._clients.get(loop)
        if owned is not None and owned[0] == pid:
            return owned[1]

        with self._clients_lock:
            owned = self._clients.get(loop)
            if owned is None or owned[0] != pid:
                # A pool inherited through fork() shares its sockets with
                # the parent, so the child opens its own.
                owned = (pid, self._new_client())
                self._clients[loop] = owned
                self._drop_closed_loops()
            return owned[1]

    def _drop_closed_loops(self) -> None:
        # A pool's connections refer to their loop, so an entry would keep
        # a closed loop alive although the mapping's keys are weak.
        for other in list(self._clients):
            if other.is_closed():
                del self._clients[other]

    def _new_client(self) -> Redis:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        options: dict[str, Any] = {
            "max_connections": self.max_connections,
            "timeout": self.timeout,
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            # redis-py retries ten times by default; a retry would hold the
            # request past `timeout`, and the cache copes with a failure.
            "retry": Retry(NoBackoff(), 0),
        }
        pool = BlockingConnectionPool.from_url(self.url, **options)
        return Redis.from_pool(pool)


def _check_url(url: object) -> None:
    try:
        import redis  # noqa: F401
        from redis.asyncio.connection import parse_url
    except ImportError as exc:
        raise ConfigurationError(
            "RedisCache needs the redis package (redis-py 5 or newer); install "
            "it with 'pip install redis'."
        ) from exc

    if not isinstance(url, str):
        raise ConfigurationError(f"The Redis URL must be a str, got {url!r}.")
    try:
        parse_url(url)
    except ValueError as exc:
        raise ConfigurationError(
            f"{_redact(url)!r} is not a valid Redis URL ({exc}); use "
            "'redis://host:port/db', 'rediss://...' or 'unix:///path?db=0'."
        ) from exc


def _check_prefix(prefix: object) -> str:
    if (
        not isinstance(prefix, str)
        or not 1 <= len(prefix) <= MAX_PREFIX_LENGTH
        or not prefix.isprintable()
        or any(char.isspace() for char in prefix)
    ):
        raise ConfigurationError(
            f"prefix must be 1 to {MAX_PREFIX_LENGTH} printable characters "
            f"without spaces, such as 'ep:', got {prefix!r}."
        )
    return prefix


def _check_max_connections(count: object) -> int:
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not 1 <= count <= MAX_CONNECTIONS
    ):
        raise ConfigurationError(
            f"max_connections must be an int from 1 to {MAX_CONNECTIONS}, "
            f"got {count!r}."
        )
    return count


def _redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:***@{host}")
    if "password=" in parts.query:
        parts = parts._replace(query="***")
    return urlunsplit(parts)
