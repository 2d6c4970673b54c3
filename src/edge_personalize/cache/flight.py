"""Serving recommendations through a cache: freshness, refreshes, single-flight.

:class:`CachedChain` puts a cache in front of one slot's provider chain.
For each request it reads the segment's entry and then:

- fresh entry: return its items (a negative entry returns none, so the
  slot keeps its fallback);
- stale entry: return its items at once and start one background refresh
  of the key, unless a fill of that key is already running;
- no entry: join the fill of that key that is already running in this
  process, or start one.

A fill is a task of its own that calls the chain once, hands the result to
every request waiting for it and then stores it. Requests stop waiting at
their deadline, but the fill goes on (for at most ``fill_timeout``
seconds), so a provider slower than the deadline still fills the cache
for the requests that follow. A request that is abandoned instead (its
client left, or its response turned out not to need the slot) cancels the
fill when it was the fill's only waiter, so no provider call outlives a
request that no client waits for. With a shared store, a fill first takes the
key's lock. A process that finds the lock taken waits up to ``lock_wait``
for the other process's entry, and returns no items if it does not come.

:class:`CacheRuntime` is the per-cache state behind this: running fills
per event loop, the store's health, and rate-limited warnings. When a
store operation fails or times out, the store is skipped for a backoff
period (1 s, doubling to 30 s while it keeps failing), so an outage costs
at most one ``timeout`` per request and usually none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import logging
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from ..recommendation import ABANDONED, Recommendation, RecommendationRequest
from .base import CacheEntry, CacheEntryError
from .keys import chain_features, chain_identity, segment_key

if TYPE_CHECKING:
    from ..providers.chain import ProviderChain
    from .base import CacheBackend

__all__ = ["CacheRuntime", "CachedChain"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Items = tuple[Recommendation, ...]

# At most one warning of each kind per cache in this interval, in seconds.
# The next one reports how many were left out.
WARNING_INTERVAL = 60.0

# Seconds the store is skipped after a failure: doubled on each failure
# that follows a retry, up to the maximum, and reset on success.
BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0

# Seconds added to the lock's lifetime beyond the fill's own bounds.
LOCK_MARGIN = 1.0

# Pauses between reads while another process fills a key, in seconds; the
# last one repeats until ``lock_wait`` runs out.
POLL_INTERVALS = (0.005, 0.01, 0.02, 0.04, 0.05)


class _Failed(enum.Enum):
    """The outcome of a store operation that failed or was skipped."""

    FAILED = enum.auto()


FAILED = _Failed.FAILED


@dataclasses.dataclass
class _Flight:
    """One running fill: the task and the future its waiters share."""

    future: asyncio.Future[Items]
    task: asyncio.Task[None]
    waiters: int = 0


class CacheRuntime:
    """The state that a cache keeps while it serves: fills, health, warnings.

    Every :class:`~edge_personalize.cache.CacheBackend` owns one. Running
    fills are kept per event loop, because asyncio futures belong to one
    loop and a personalizer may serve several (tests, or WSGI and ASGI
    apps in one process).
    """

    def __init__(self, backend: CacheBackend) -> None:
        # A weak reference: the backend owns the runtime, not the reverse.
        self._backend = weakref.ref(backend)
        self._flights: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, _Flight]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._backoff = 0.0
        self._failing = False
        self._warned: dict[str, tuple[float, int]] = {}

    @property
    def backend(self) -> CacheBackend:
        """The cache that owns this runtime."""
        backend = self._backend()
        if backend is None:
            raise RuntimeError("The cache of this runtime was garbage-collected.")
        return backend

    def flights(self) -> dict[str, _Flight]:
        """Return the running fills of the current event loop, by key."""
        loop = asyncio.get_running_loop()
        flights = self._flights.get(loop)
        if flights is None:
            with self._lock:
                flights = self._flights.setdefault(loop, {})
        return flights

    def available(self) -> bool:
        """Return ``False`` while the store is skipped after a failure."""
        return time.monotonic() >= self._down_until

    async def read(self, key: str) -> CacheEntry | None | _Failed:
        """Return the entry of ``key``, ``None`` for a miss, or ``FAILED``.

        A value that cannot be decoded counts as a miss and is logged.
        """
        try:
            return await self._call("read", lambda: self.backend.get(key))
        except CacheEntryError as exc:
            self.backend.stats.corrupt_values += 1
            self.warn(
                "corrupt",
                "Cache %r holds an unreadable value under %s (%s); computing it again",
                self.backend,
                key,
                exc,
            )
            return None

    async def write(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry``; a failure is logged and otherwise ignored."""
        await self._call("write", lambda: self.backend.set(key, entry))

    async def lock(self, key: str, ttl: float) -> str | None | _Failed:
        """Take the fill lock of ``key``: a token, ``None`` if taken, or ``FAILED``."""
        return await self._call("lock", lambda: self.backend.acquire_lock(key, ttl))

    async def unlock(self, key: str, token: str) -> None:
        """Release the fill lock of ``key``."""
        await self._call("unlock", lambda: self.backend.release_lock(key, token))

    async def _call(
        self, operation: str, start: Callable[[], Awaitable[T]]
    ) -> T | _Failed:
        # `start` makes the coroutine only when the store is tried, so a
        # skipped operation leaves no coroutine that is never awaited.
        backend = self.backend
        if not self.available():
            backend.stats.skipped += 1
            return FAILED
        try:
            if backend.timeout is None:
                result = await start()
            else:
                result = await _bounded(start(), backend.timeout)
        except CacheEntryError:
            raise
        except Exception as exc:
            self._record_failure(operation, exc)
            return FAILED
        self._record_success()
        return result

    def _record_failure(self, operation: str, exc: Exception) -> None:
        backend = self.backend
        backend.stats.backend_errors += 1
        now = time.monotonic()
        with self._lock:
            # Operations that were already running when the store failed
            # fail too; they do not lengthen the backoff again.
            if now >= self._down_until:
                self._backoff = min(max(self._backoff * 2, BACKOFF_MIN), BACKOFF_MAX)
                self._down_until = now + self._backoff
            self._failing = True
            backoff = self._backoff
        self.warn(
            "store",
            "Cache %r failed to %s (%s); personalizing without it for %.0f s",
            backend,
            operation,
            _describe(exc),
            backoff,
        )

    def _record_success(self) -> None:
        if not self._failing:
            return
        with self._lock:
            recovered, self._failing, self._backoff = self._failing, False, 0.0
        if recovered:
            logger.info("Cache %r works again; using it", self.backend)

    def warn(
        self, kind: str, message: str, *args: object, exc_info: bool = False
    ) -> None:
        """Log a warning unless one of ``kind`` was logged in the last minute."""
        now = time.monotonic()
        with self._lock:
            last, left_out = self._warned.get(kind, (-WARNING_INTERVAL, 0))
            if now - last < WARNING_INTERVAL:
                self._warned[kind] = (last, left_out + 1)
                return
            self._warned[kind] = (now, 0)
        if left_out:
            message += " (%d similar warnings since the last one were not logged)"
            args = (*args, left_out)
        logger.warning(message, *args, exc_info=exc_info)

    async def aclose(self) -> None:
        """Cancel the fills running in the current event loop and wait for them."""
        loop = asyncio.get_running_loop()
        with self._lock:
            flights = self._flights.pop(loop, {})
        tasks = [flight.task for flight in flights.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


if sys.version_info >= (3, 11):

    async def _bounded(operation: Awaitable[T], timeout: float) -> T:
        # asyncio.timeout runs the operation in the current task. wait_for
        # on Python 3.11 wraps each call in a new task, which cost about as
        # much as the Redis GET itself on loopback.
        async with asyncio.timeout(timeout):
            return await operation

else:

    async def _bounded(operation: Awaitable[T], timeout: float) -> T:
        return await asyncio.wait_for(operation, timeout)


def _describe(exc: Exception) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


class CachedChain:
    """A slot's provider chain behind a cache; a provider itself.

    :param chain: the chain to call on a miss.
    :param cache: where entries are stored.
    :param slot: the slot's name, the first part of every key.
    :param limit: the slot's item limit. A request with another limit
        bypasses the cache, because the key assumes this one.
    :raises ConfigurationError: if a provider declares invalid ``features``.
    """

    def __init__(
        self, chain: ProviderChain, cache: CacheBackend, *, slot: str, limit: int
    ) -> None:
        self.chain = chain
        self.cache = cache
        self.slot = slot
        self.limit = limit
        self.features = chain_features(chain.providers)
        self.chain_id = chain_identity(slot, limit, chain.providers)

    def __repr__(self) -> str:
        return f"CachedChain({self.chain!r}, {self.cache!r})"

    def key(self, request: RecommendationRequest) -> str:
        """Return the cache key of ``request``'s segment."""
        return segment_key(
            self.slot,
            self.chain_id,
            request.context,
            self.features,
            self.cache.key_secret,
        )

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        """Return the items of ``request``'s segment, from the cache when possible."""
        if request.limit != self.limit:
            return await self.chain.recommend(request)

        key = self.key(request)
        runtime = self.cache.runtime
        stats = self.cache.stats
        entry = await runtime.read(key)
        if isinstance(entry, CacheEntry):
            now = self.cache.clock()
            if now < entry.fresh_until:
                if entry.negative:
                    stats.negative_hits += 1
                else:
                    stats.hits += 1
                return list(entry.items)
            if not entry.negative and now < entry.stale_until:
                stats.stale_hits += 1
                self._refresh(key, request, entry)
                return list(entry.items)

        stats.misses += 1
        flight = runtime.flights().get(key) or self._start(key, request, None)
        flight.waiters += 1
        try:
            # The shield keeps the fill running when this request is
            # cancelled at its deadline; other requests may wait for it too.
            return list(await asyncio.shield(flight.future))
        except asyncio.CancelledError as exc:
            if ABANDONED in exc.args and flight.waiters == 1:
                flight.task.cancel()
            raise
        finally:
            flight.waiters -= 1

    def _refresh(
        self, key: str, request: RecommendationRequest, previous: CacheEntry
    ) -> None:
        if key in self.cache.runtime.flights():
            return
        self.cache.stats.refreshes += 1
        self._start(key, request, previous)

    def _start(
        self, key: str, request: RecommendationRequest, previous: CacheEntry | None
    ) -> _Flight:
        loop = asyncio.get_running_loop()
        flights = self.cache.runtime.flights()
        future: asyncio.Future[Items] = loop.create_future()
        task = loop.create_task(self._fill(key, request, previous, future))
        flight = _Flight(future, task)
        flights[key] = flight
        task.add_done_callback(functools.partial(_finish, flights, key, flight))
        return flight

    async def _fill(
        self,
        key: str,
        request: RecommendationRequest,
        previous: CacheEntry | None,
        future: asyncio.Future[Items],
    ) -> None:
        runtime = self.cache.runtime
        token: str | None | _Failed = FAILED
        try:
            if self.cache.shared:
                token = await runtime.lock(key, self._lock_ttl())
                ready = await self._filled_elsewhere(key, token, previous)
                if ready is not None:
                    _resolve(future, ready)
                    return

            items, ok = await self._call_chain(key, request)
            entry = self._entry(items, ok, previous)
            if not ok and previous is not None:
                # A failed refresh leaves the stale items in service.
                items = previous.items
            _resolve(future, items)
            if entry is not None:
                await runtime.write(key, entry)
        finally:
            if isinstance(token, str):
                await runtime.unlock(key, token)

    async def _filled_elsewhere(
        self, key: str, token: str | None | _Failed, previous: CacheEntry | None
    ) -> Items | None:
        """Return the items another process has stored or is storing, if any.

        ``None`` means this fill goes ahead and calls the chain.
        """
        runtime = self.cache.runtime
        if token is None and previous is not None:
            # Another process is refreshing this key; the stale items stay.
            return previous.items
        if token is None:
            entry = await self._wait_for_other_process(key)
            return () if entry is None else entry.items
        if token is FAILED:
            # Without the store there is nothing to share or to wait for.
            return None

        # The key may have been stored between this request's read and
        # the lock, by the process that held the lock until then.
        stored = await runtime.read(key)
        if isinstance(stored, CacheEntry) and self.cache.clock() < stored.fresh_until:
            return stored.items
        return None

    async def _wait_for_other_process(self, key: str) -> CacheEntry | None:
        runtime = self.cache.runtime
        stats = self.cache.stats
        stats.lock_waits += 1
        give_up = time.monotonic() + self.cache.lock_wait
        for pause in _pauses():
            remaining = give_up - time.monotonic()
            if remaining <= 0 or not runtime.available():
                break
            await asyncio.sleep(min(pause, remaining))
            entry = await runtime.read(key)
            if isinstance(entry, CacheEntry):
                return entry

        stats.lock_timeouts += 1
        logger.debug(
            "Another process is still filling %s; the slot keeps its fallback", key
        )
        return None

    async def _call_chain(
        self, key: str, request: RecommendationRequest
    ) -> tuple[Items, bool]:
        """Call the chain once; return its items and whether it succeeded."""
        cache = self.cache
        cache.stats.fills += 1
        # The fill outlives the request, so providers get the fill's own
        # deadline: one timed to the request would end every fill of a
        # provider slower than the deadline, and nothing would be stored.
        fill_request = dataclasses.replace(
            request, deadline=time.monotonic() + cache.fill_timeout
        )
        try:
            items = await asyncio.wait_for(
                self.chain.recommend(fill_request), cache.fill_timeout
            )
        except asyncio.TimeoutError:
            cache.runtime.warn(
                "fill",
                "The providers of slot %r timed out after fill_timeout "
                "(%.1f s); caching the failure for %.0f s",
                self.slot,
                cache.fill_timeout,
                cache.negative_ttl,
            )
            return (), False
        except Exception:
            cache.runtime.warn(
                "fill",
                "The provider chain of slot %r failed; caching the failure for %.0f s",
                self.slot,
                cache.negative_ttl,
                exc_info=True,
            )
            return (), False

        checked = tuple(item for item in items if isinstance(item, Recommendation))
        logger.debug("Filled %s with %d items", key, len(checked))
        return checked, bool(checked)

    def _entry(
        self, items: Items, ok: bool, previous: CacheEntry | None
    ) -> CacheEntry | None:
        """Return the entry to store after a fill, or ``None`` to store nothing."""
        cache = self.cache
        now = cache.clock()
        if ok:
            # NOTE: the chain does not report which of its providers failed.
            # When the first one failed and later ones filled the slot, that
            # fallback result looks like a success and is kept for the ttl.
            fresh_until = now + cache.ttl
            return CacheEntry(items, now, fresh_until, fresh_until + cache.stale_ttl)

        cache.stats.fill_failures += 1
        if previous is not None:
            # Keep serving the stale items, and try again after negative_ttl
            # rather than on every request while the provider is failing.
            retry_at = min(now + cache.negative_ttl, previous.stale_until)
            fresh_until = max(retry_at, previous.created)
            return dataclasses.replace(previous, fresh_until=fresh_until)
        if cache.negative_ttl <= 0:
            return None
        expires = now + cache.negative_ttl
        return CacheEntry((), now, expires, expires, negative=True)

    def _lock_ttl(self) -> float:
        # The holder reads, calls the chain and writes before it unlocks.
        return self.cache.fill_timeout + 2 * (self.cache.timeout or 0.0) + LOCK_MARGIN


def _pauses() -> Iterator[float]:
    yield from POLL_INTERVALS
    while True:
        yield POLL_INTERVALS[-1]


def _resolve(future: asyncio.Future[Items], items: Items) -> None:
    if not future.done():
        future.set_result(items)


def _finish(
    flights: dict[str, _Flight], key: str, flight: _Flight, task: asyncio.Task[None]
) -> None:
    if flights.get(key) is flight:
        del flights[key]
    if task.cancelled():
        # Shutdown, or Personalizer.aclose(): the waiters are cancelled too.
        flight.future.cancel()
        return

    error = task.exception()
    if error is not None:
        logger.error("A cache fill of %s failed", key, exc_info=error)
    # The waiters get no items, so their slots keep the fallback.
    _resolve(flight.future, ())
