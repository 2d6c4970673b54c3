"""The provider chain: ask providers in order until a slot has its items.

The provider's own timeout and the slot's deadline bound each provider
call. A failed call is retried only when the error is retryable and a
second attempt fits before the deadline. A circuit breaker per provider
stops calling a failing service for a while.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .._checks import require_bool
from ..exceptions import (
    ConfigurationError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from ..recommendation import Recommendation, RecommendationRequest
from .base import Provider

__all__ = ["CircuitBreaker", "ProviderChain", "RetryPolicy"]

logger = logging.getLogger(__name__)

#: Seconds kept free before the slot deadline for the providers after a
#: provider, by default. The embedded recommender needs about a millisecond.
DEFAULT_RESERVE = 0.02


def _check_seconds(what: str, value: object, *, zero: bool = False) -> float:
    bound = ">= 0" if zero else "> 0"
    message = f"{what} must be a finite number of seconds {bound}, got {value!r}."
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(message)
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not zero):
        raise ConfigurationError(message)
    return seconds


@dataclass(frozen=True)
class RetryPolicy:
    """When the chain calls a provider again after a failed attempt.

    Only an error whose ``retryable`` attribute is true is retried (see
    :mod:`edge_personalize.exceptions`): a 429 with a ``Retry-After``
    hint, Workers AI's 3040 (out of capacity), a 503 and a reset
    connection. The wait is the service's hint when it gave one, else
    ``backoff`` seconds doubled for each attempt and scaled by a random
    factor between 0.5 and 1, so that many requests do not retry at
    once. A retry happens only when the wait is at most ``max_delay`` and
    the wait plus ``min_attempt_time`` ends before the slot deadline.

    :param attempts: attempts per provider and request, the first one
        included; 1 turns retries off.
    """

    attempts: int = 2
    backoff: float = 0.05
    max_delay: float = 1.0
    min_attempt_time: float = 0.05

    def __post_init__(self) -> None:
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or not 1 <= self.attempts <= 10
        ):
            raise ConfigurationError(
                f"RetryPolicy attempts={self.attempts!r} is invalid; use an int "
                "from 1 (no retries) to 10."
            )
        for name in ("backoff", "max_delay", "min_attempt_time"):
            _check_seconds(f"RetryPolicy {name}", getattr(self, name), zero=True)

    def delay(self, attempt: int, hint: float | None) -> float | None:
        """Return the seconds to wait before attempt ``attempt + 1``, or ``None``.

        ``None`` means no retry: attempts are used up, or the wait is
        longer than ``max_delay``.
        """
        if attempt >= self.attempts:
            return None
        if hint is not None:
            wait = hint
        else:
            wait = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
        return wait if wait <= self.max_delay else None


class CircuitBreaker:
    """Stop calling a provider that keeps failing, and try it again later.

    The breaker is *closed* while calls go through. After ``failures``
    failures in a row it *opens*: calls are skipped for ``recovery``
    seconds. Then it is *half-open*: one trial call goes through while
    the others are still skipped. A successful trial closes the breaker;
    a failed one opens it for another ``recovery`` seconds. A call that
    is cancelled or declined is neither a success nor a failure.

    Several chains may share one breaker: a remote provider owns one, so
    every slot that uses the provider shares its state. A lock guards the
    state, because the chains may run in different event loops and threads.

    :param clock: the time source, ``time.monotonic`` by default.
    """

    def __init__(
        self,
        *,
        failures: int = 5,
        recovery: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise ConfigurationError(
                f"CircuitBreaker failures={failures!r} is invalid; use an int >= 1."
            )
        self.failures = failures
        self.recovery = _check_seconds("CircuitBreaker recovery", recovery)
        self._clock = clock
        self._lock = threading.Lock()
        self._failed = 0
        self._opened_at: float | None = None
        self._trial_running = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(failures={self.failures!r}, recovery={self.recovery!r})"

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._clock() < self._opened_at + self.recovery:
                return "open"
            return "half-open"

    def allow(self) -> bool:
        """Return whether a call may go through now.

        In the half-open state the first caller gets the trial and must
        report its outcome with :meth:`succeeded`, :meth:`failed` or
        :meth:`released`.
        """
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() < self._opened_at + self.recovery:
                return False
            if self._trial_running:
                return False
            self._trial_running = True
            return True

    def succeeded(self) -> bool:
        """Record a success; return ``True`` if it closed an open breaker."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failed = 0
            self._opened_at = None
            self._trial_running = False
            return was_open

    def failed(self) -> bool:
        """Record a failure; return ``True`` if it opened the breaker."""
        with self._lock:
            self._trial_running = False
            if self._opened_at is not None:
                # A failed trial, or a call that started before the breaker
                # opened: either way the service is still failing.
                self._opened_at = self._clock()
                return False
            self._failed += 1
            if self._failed >= self.failures:
                self._opened_at = self._clock()
                return True
            return False

    def released(self) -> None:
        """Record a call that ended without an outcome (cancelled or declined)."""
        with self._lock:
            self._trial_running = False


@dataclass(frozen=True)
class _Settings:
    """The timeout and the circuit breaker of one provider in a chain."""

    timeout: float | None
    breaker: CircuitBreaker | None


class ProviderChain:
    """Ask providers in order and merge their items into one list.

    Each provider is asked with the same request. Its items are appended
    until ``request.limit`` items are collected; when it returns fewer, the
    next provider fills the rest. Items that are not
    :class:`~edge_personalize.recommendation.Recommendation` instances and
    repeats of an id already collected are dropped.

    Every call is bounded in time. A provider's ``timeout`` attribute
    (seconds), or ``default_timeout`` for a provider without one, bounds
    each attempt, and the request's deadline bounds the whole chain. A
    provider that has other providers after it must finish ``reserve``
    seconds before the deadline, so that they still have time to fill the
    slot. The request a provider receives carries the deadline of its
    attempt, so that it can size its own timeouts.

    A failed attempt is retried as ``retry`` allows. Each provider has a
    :class:`CircuitBreaker`: the provider's own ``breaker`` attribute when
    it has one (``None`` turns it off), else one that the chain creates
    when ``breakers`` is true.

    A provider that raises
    :class:`~edge_personalize.exceptions.ProviderUnavailable` is skipped
    with a DEBUG log line. A timeout or another
    :class:`~edge_personalize.exceptions.ProviderError` is logged at
    WARNING level with its message, and any other exception with its
    traceback too; the chain then moves on. It never logs the visitor's
    context. Cancellation (:class:`asyncio.CancelledError`) propagates and
    cancels the running provider call, so a slot deadline or a client
    that went away stops the chain at once.

    A chain is itself a provider, so chains can be nested.

    :param providers: the providers, asked in this order.
    :param name: the chain's name in logs, usually the slot's name.
    :raises ConfigurationError: if ``providers`` is empty, one of them has
        no ``async def recommend(request)`` method or an invalid
        ``timeout`` or ``breaker``, or an option is invalid.
    """

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        name: str = "recommendations",
        default_timeout: float | None = None,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 (immutable)
        breakers: bool = True,
        reserve: float = DEFAULT_RESERVE,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"ProviderChain name must be a non-empty str, got {name!r}."
            )
        if isinstance(providers, (str, bytes)) or not isinstance(providers, Sequence):
            raise ConfigurationError(
                f"The providers of chain {name!r} must be a list of providers, "
                f"got {providers!r}."
            )
        if not providers:
            raise ConfigurationError(
                f"The provider chain {name!r} is empty; give at least one "
                "provider, such as CatalogProvider(catalog)."
            )
        for index, provider in enumerate(providers):
            _check_provider(provider, index, name)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(
                f"ProviderChain retry must be a RetryPolicy or None, got {retry!r}."
            )

        self.providers: tuple[Provider, ...] = tuple(providers)
        self.name = name
        self.retry = retry
        self.reserve = _check_seconds("ProviderChain reserve", reserve, zero=True)
        if default_timeout is not None:
            _check_seconds("ProviderChain default_timeout", default_timeout)
        self._settings = tuple(
            _settings(
                provider,
                index,
                name,
                default_timeout,
                require_bool(breakers, "ProviderChain breakers"),
            )
            for index, provider in enumerate(self.providers)
        )

    def __repr__(self) -> str:
        return f"ProviderChain({list(self.providers)!r}, name={self.name!r})"

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        """Return up to ``request.limit`` items from the providers, in order."""
        collected: list[Recommendation] = []
        if request.limit <= 0:
            return collected

        seen: set[str] = set()
        last = len(self.providers) - 1
        for index, provider in enumerate(self.providers):
            stop_at = request.deadline
            if stop_at is not None and index < last:
                stop_at -= self.reserve
            items = await self._ask(provider, self._settings[index], request, stop_at)
            if items is None:
                continue
            self._merge(provider, request, items, collected, seen)
            if len(collected) >= request.limit:
                break
        return collected

    async def aclose(self) -> None:
        """Close every provider that has an ``aclose()`` coroutine method."""
        for provider in self.providers:
            aclose = getattr(provider, "aclose", None)
            if aclose is None:
                continue
            try:
                await aclose()
            except Exception:
                logger.exception("Closing provider %r failed", provider)

    async def _ask(
        self,
        provider: Provider,
        settings: _Settings,
        request: RecommendationRequest,
        stop_at: float | None,
    ) -> Sequence[object] | None:
        breaker = settings.breaker
        if breaker is not None and not breaker.allow():
            logger.debug(
                "Skipping provider %r for slot %r in chain %r: its circuit is open",
                provider,
                request.slot,
                self.name,
            )
            return None

        outcome: bool | None = None
        try:
            result = await self._attempts(provider, settings, request, stop_at)
            items = self._check_items(provider, request, result)
            outcome = items is not None
            return items
        except ProviderUnavailable:
            logger.debug(
                "Provider %r declined slot %r in chain %r",
                provider,
                request.slot,
                self.name,
            )
            return None
        except ProviderError as exc:
            outcome = False
            logger.warning(
                "Provider %r failed for slot %r in chain %r: %s",
                provider,
                request.slot,
                self.name,
                exc,
            )
            return None
        except Exception:
            outcome = False
            logger.warning(
                "Provider %r failed for slot %r in chain %r",
                provider,
                request.slot,
                self.name,
                exc_info=True,
            )
            return None
        finally:
            # Runs on cancellation too, so a cancelled trial call frees
            # the half-open breaker for the next one.
            if breaker is not None:
                self._report(provider, breaker, outcome)

    async def _attempts(
        self,
        provider: Provider,
        settings: _Settings,
        request: RecommendationRequest,
        stop_at: float | None,
    ) -> object:
        attempt = 1
        while True:
            attempt_deadline = _attempt_deadline(settings.timeout, stop_at)
            try:
                return await _call(provider, request, attempt_deadline)
            except ProviderError as exc:
                delay = self._retry_delay(exc, attempt, stop_at)
                if delay is None:
                    raise
                logger.info(
                    "Provider %r failed for slot %r in chain %r, retrying in %.0f ms: "
                    "%s",
                    provider,
                    request.slot,
                    self.name,
                    delay * 1000,
                    exc,
                )
                await asyncio.sleep(delay)
            attempt += 1

    def _retry_delay(
        self, error: ProviderError, attempt: int, stop_at: float | None
    ) -> float | None:
        if self.retry is None or not error.retryable:
            return None
        delay = self.retry.delay(attempt, error.retry_after)
        if delay is None:
            return None
        if stop_at is not None:
            time_left = stop_at - time.monotonic()
            if delay + self.retry.min_attempt_time > time_left:
                return None
        return delay

    def _check_items(
        self, provider: Provider, request: RecommendationRequest, result: object
    ) -> Sequence[object] | None:
        # Only a finite sequence is read, so a provider that returns a
        # generator or a string cannot stall or confuse the chain.
        if isinstance(result, (str, bytes)) or not isinstance(result, Sequence):
            logger.warning(
                "Provider %r returned %s for slot %r in chain %r, not a list of "
                "Recommendation; skipping it",
                provider,
                type(result).__name__,
                request.slot,
                self.name,
            )
            return None
        return result

    def _report(
        self, provider: Provider, breaker: CircuitBreaker, outcome: bool | None
    ) -> None:
        if outcome is None:
            breaker.released()
        elif outcome:
            if breaker.succeeded():
                logger.info(
                    "Provider %r succeeded again; chain %r calls it again",
                    provider,
                    self.name,
                )
        elif breaker.failed():
            logger.warning(
                "Provider %r failed %d times in a row; chain %r skips it for %.0f s",
                provider,
                breaker.failures,
                self.name,
                breaker.recovery,
            )

    def _merge(
        self,
        provider: Provider,
        request: RecommendationRequest,
        items: Sequence[object],
        collected: list[Recommendation],
        seen: set[str],
    ) -> None:
        invalid = 0
        # A provider may return a huge or endless sequence: look at a bounded
        # number of entries, so the event loop never stalls on one result.
        for examined, item in enumerate(items):
            if len(collected) >= request.limit or examined >= _MAX_EXAMINED:
                break
            if not isinstance(item, Recommendation):
                invalid += 1
                continue
            if item.id in seen:
                continue
            seen.add(item.id)
            collected.append(item)

        if invalid:
            logger.warning(
                "Provider %r returned %d items that are not Recommendation for "
                "slot %r in chain %r; dropped them",
                provider,
                invalid,
                request.slot,
                self.name,
            )


# Entries of one provider result looked at, at most: many times any sane
# limit (a slot shows at most 50 items), small enough to check in well
# under a millisecond.
_MAX_EXAMINED = 1000


def _attempt_deadline(timeout: float | None, stop_at: float | None) -> float | None:
    if timeout is None:
        return stop_at
    own = time.monotonic() + timeout
    return own if stop_at is None else min(own, stop_at)


async def _guarded(provider: Provider, request: RecommendationRequest) -> object:
    """Await ``provider.recommend``, turning a stray BaseException into an error.

    asyncio re-raises KeyboardInterrupt and SystemExit out of the event loop
    when a task lets them escape, which would stop the loop that serves
    every request, and other BaseException subclasses would escape the
    chain's handlers. Converting them here, inside the task that runs the
    provider, keeps them a failure of this provider only.
    """
    try:
        return await provider.recommend(request)
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except Exception:
        raise
    except BaseException as exc:
        raise ProviderError(
            f"It raised {type(exc).__name__}, which is not an Exception."
        ) from exc


async def _call(
    provider: Provider, request: RecommendationRequest, deadline: float | None
) -> object:
    """Call ``provider`` and cancel it at ``deadline``."""
    if deadline is None:
        return await _guarded(provider, request)

    budget = deadline - time.monotonic()
    if budget <= 0:
        raise ProviderTimeout(
            "It was not called: no time was left before the deadline."
        )
    if request.deadline != deadline:
        request = dataclasses.replace(request, deadline=deadline)
    try:
        return await asyncio.wait_for(_guarded(provider, request), budget)
    except asyncio.TimeoutError:
        raise ProviderTimeout(
            f"It did not respond within {budget * 1000:.0f} ms."
        ) from None


def _settings(
    provider: Provider,
    index: int,
    name: str,
    default_timeout: float | None,
    breakers: bool,
) -> _Settings:
    timeout = getattr(provider, "timeout", None)
    if timeout is None:
        timeout = default_timeout
    else:
        _check_seconds(
            f"The timeout of provider {provider!r} in chain {name!r}", timeout
        )

    breaker: object
    if hasattr(provider, "breaker"):
        breaker = getattr(provider, "breaker")  # noqa: B009 (not in the protocol)
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ConfigurationError(
                f"Provider {provider!r} at position {index} of chain {name!r} has "
                f"breaker={breaker!r}; it must be a CircuitBreaker or None."
            )
    else:
        breaker = CircuitBreaker() if breakers else None
    assert breaker is None or isinstance(breaker, CircuitBreaker)
    return _Settings(timeout=timeout, breaker=breaker)


def _check_provider(provider: object, index: int, name: str) -> None:
    if isinstance(provider, type):
        raise ConfigurationError(
            f"Provider {provider!r} at position {index} of chain {name!r} is a "
            f"class; pass an instance, such as {provider.__name__}(...)."
        )
    method = getattr(provider, "recommend", None)
    if method is None or not inspect.iscoroutinefunction(method):
        raise ConfigurationError(
            f"Provider {provider!r} at position {index} of chain {name!r} has "
            "no async recommend() method; a provider must define "
            "'async def recommend(self, request)'."
        )
