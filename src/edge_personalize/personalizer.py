"""The ``Personalizer``: configuration checked once, and a plan per request.

A ``Personalizer`` contains everything the adapters share: the routes, the
slots with their provider chains and renderers, the deadline and the body
size cap. For each request the adapters call :meth:`Personalizer.plan`,
which returns ``None`` when the request is not to be personalized, or a
:class:`Plan` that starts the recommendation work at once and later hands
out one rendered fragment per slot.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._checks import require_bool
from .cache.base import CacheBackend
from .cache.flight import CachedChain
from .cache.memory import MemoryCache
from .context import Context, ContextOptions, RequestView, build_context
from .exceptions import ConfigurationError
from .providers.base import Provider
from .providers.chain import ProviderChain
from .recommendation import ABANDONED, RecommendationRequest
from .rendering import Renderer, render_recommendations
from .routes import Route, Router

__all__ = ["Personalizer", "Plan", "Slot"]

logger = logging.getLogger(__name__)

DEFAULT_SLOT = "recommendations"
DEFAULT_HEADING = "Recommended for you"
MAX_LIMIT = 50


class _Default(enum.Enum):
    """The default of the ``cache`` option: a new ``MemoryCache()``."""

    CACHE = enum.auto()

    def __repr__(self) -> str:
        return "MemoryCache()"


@dataclass(frozen=True)
class Slot:
    """One named placeholder: its providers, how many items, how to render.

    ``providers`` are asked in order until ``limit`` items are found.
    ``heading`` is the title of the default fragment (``None`` for none).
    ``renderer``, when given, replaces the default renderer for this slot.
    It is called as ``renderer(slot, items, context)`` and must return
    HTML; it is trusted code, so it must escape what it inserts (see
    :func:`edge_personalize.rendering.escape_html`).
    """

    providers: Sequence[Provider]
    limit: int = 4
    heading: str | None = DEFAULT_HEADING
    renderer: Renderer | None = None

    def __post_init__(self) -> None:
        if isinstance(self.providers, (str, bytes)) or not isinstance(
            self.providers, Sequence
        ):
            raise ConfigurationError(
                f"Slot providers must be a list of providers, got {self.providers!r}."
            )
        if isinstance(self.limit, bool) or not isinstance(self.limit, int):
            raise ConfigurationError(f"Slot limit must be an int, got {self.limit!r}.")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ConfigurationError(
                f"Slot limit must be between 1 and {MAX_LIMIT}, got {self.limit!r}."
            )
        if self.heading is not None and not isinstance(self.heading, str):
            raise ConfigurationError(
                f"Slot heading must be a str or None, got {self.heading!r}."
            )
        if self.renderer is not None and not callable(self.renderer):
            raise ConfigurationError(
                f"Slot renderer must be callable, got {self.renderer!r}."
            )


@dataclass(frozen=True)
class _CompiledSlot:
    name: str
    chain: ProviderChain
    limit: int
    heading: str | None
    renderer: Renderer | None
    # The recommendation source of a request: the chain, or the chain
    # behind the cache.
    source: Provider


class Personalizer:
    """Decide which requests to personalize and produce their fragments.

    :param routes: Next.js-style path patterns (``"/products/:slug"``),
        :class:`~edge_personalize.routes.Route` objects or matcher mappings
        (``{"source": ..., "has": [...], "missing": [...]}``). Only GET
        requests whose path matches one of them are personalized.
    :param providers: shorthand for one slot named ``recommendations``
        served by these providers, asked in order.
    :param slots: named slots, ``{"recommendations": Slot(...), ...}``.
        Give either ``providers`` or ``slots``.
    :param deadline: seconds, counted from the request's arrival, that a
        slot may wait for its providers; after that the placeholder keeps
        its fallback. The default is 0.2.
    :param max_body_size: bytes of HTML the adapters buffer to rewrite;
        a larger body is sent unchanged. The default is 2 MiB.
    :param renderer: the renderer of every slot without its own.
    :param personalize_bots: personalize requests whose User-Agent looks
        like a crawler. Off by default, so crawlers index the page as the
        app renders it.
    :param context_options: how the visitor's context is read; the
        keyword arguments below are shorthands for its fields.
    :param interest_params: query parameters that carry interests.
    :param interests_cookie: the cookie that carries interests.
    :param viewed_cookie: the cookie that carries recently viewed ids.
    :param trusted_headers: geo headers to trust: presets
        ``"cloudflare"``, ``"vercel"``, ``"cloudfront"`` or header names.
        None is trusted by default, because a client can send any header.
    :param cache: where each slot's recommendations are kept per visitor
        segment: a :class:`~edge_personalize.cache.MemoryCache` (a new one
        by default), a :class:`~edge_personalize.cache.RedisCache` shared
        by several processes, or ``None`` to call the providers on every
        request. See ``docs/caching.md``.
    """

    def __init__(
        self,
        routes: Sequence[str | Route | Mapping[str, Any]],
        *,
        providers: Sequence[Provider] | None = None,
        slots: Mapping[str, Slot] | None = None,
        deadline: float = 0.2,
        max_body_size: int = 2 * 1024 * 1024,
        renderer: Renderer | None = None,
        personalize_bots: bool = False,
        context_options: ContextOptions | None = None,
        cache: CacheBackend | None | _Default = _Default.CACHE,
        **context_fields: Any,
    ) -> None:
        self.router = Router(routes)
        self.deadline = _check_deadline(deadline)
        self.max_body_size = _check_body_size(max_body_size)
        self.personalize_bots = require_bool(personalize_bots, "personalize_bots")
        self.context_options = _context_options(context_options, context_fields)
        if renderer is not None and not callable(renderer):
            raise ConfigurationError(f"renderer must be callable, got {renderer!r}.")
        self.cache = _check_cache(cache)
        self.slots = _compile_slots(providers, slots, renderer, self.cache)
        self.slot_names = frozenset(self.slots)

    def __repr__(self) -> str:
        routes = [route.source for route in self.router.routes]
        return (
            f"<Personalizer routes={routes!r} slots={sorted(self.slots)!r} "
            f"deadline={self.deadline!r}>"
        )

    async def aclose(self) -> None:
        """Close the cache and every provider with an ``aclose()`` coroutine method.

        Remote providers and the Redis cache hold connection pools. The ASGI
        adapter calls this on lifespan shutdown, and the sync adapters when
        the process exits.
        """
        if self.cache is not None:
            try:
                await self.cache.aclose()
            except Exception:
                logger.exception("Closing cache %r failed", self.cache)

        closed: set[int] = set()
        for slot in self.slots.values():
            for provider in slot.chain.providers:
                aclose = getattr(provider, "aclose", None)
                if aclose is None or id(provider) in closed:
                    continue
                closed.add(id(provider))
                try:
                    await aclose()
                except Exception:
                    logger.exception("Closing provider %r failed", provider)

    def may_personalize(self, method: str, path: str) -> bool:
        """Return whether a request with this method and path may be personalized.

        It reads no headers, so adapters call it first and an unmatched
        request costs one regex search. ``True`` means :meth:`plan` decides.
        """
        return method == "GET" and self.router.may_match(path)

    def plan(
        self,
        request: RequestView,
        *,
        adjust_context: Callable[[Context], Context] | None = None,
    ) -> Plan | None:
        """Return the plan for ``request``, or ``None`` to pass it through.

        ``None`` means the request is not a GET or matches no route. A
        crawler's request, unless ``personalize_bots`` is set, gets a plan
        that runs no provider (see :class:`Plan`). The deadline counts from
        this call, so adapters call it as soon as the request arrives.

        ``adjust_context`` lets an adapter add signals of its framework (a
        signed-in customer's favourite categories, say) to the context; it
        must return a ``Context``.
        """
        arrival = time.monotonic()
        if request.method != "GET":
            return None

        match = self.router.match(request)
        if match is None:
            return None

        context = build_context(request, match.params, self.context_options)
        if adjust_context is not None:
            context = adjust_context(context)
            if not isinstance(context, Context):
                raise TypeError(
                    f"adjust_context must return a Context, got {context!r}."
                )
        if context.bot and not self.personalize_bots:
            logger.debug("Not personalizing %s: the client is a crawler", request.path)
            return Plan(self, context, arrival + self.deadline, personalized=False)

        return Plan(self, context, arrival + self.deadline)


def _check_deadline(deadline: float) -> float:
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
        raise ConfigurationError(
            f"deadline must be a number of seconds, got {deadline!r}."
        )
    if not math.isfinite(deadline) or not 0 < deadline <= 60:
        raise ConfigurationError(
            f"deadline must be more than 0 and at most 60 seconds, got {deadline!r}."
        )
    return float(deadline)


def _check_body_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigurationError(
            f"max_body_size must be a positive number of bytes, got {size!r}."
        )
    return size


def _context_options(
    options: ContextOptions | None, fields: Mapping[str, Any]
) -> ContextOptions:
    if options is not None and fields:
        raise ConfigurationError(
            "Pass either context_options or its fields as keyword arguments "
            f"({', '.join(sorted(fields))}), not both."
        )
    if options is not None:
        if not isinstance(options, ContextOptions):
            raise ConfigurationError(
                f"context_options must be a ContextOptions, got {options!r}."
            )
        return options

    known = set(ContextOptions.__dataclass_fields__)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ConfigurationError(
            f"Personalizer() got unexpected keyword arguments {unknown!r}; "
            f"the context options are {sorted(known)!r}."
        )
    return ContextOptions(**fields)


def _check_cache(cache: CacheBackend | None | _Default) -> CacheBackend | None:
    if cache is _Default.CACHE:
        return MemoryCache()
    if cache is not None and not isinstance(cache, CacheBackend):
        raise ConfigurationError(
            f"cache must be a MemoryCache, a RedisCache, another CacheBackend or "
            f"None to turn caching off, got {cache!r}."
        )
    return cache


def _compile_slots(
    providers: Sequence[Provider] | None,
    slots: Mapping[str, Slot] | None,
    renderer: Renderer | None,
    cache: CacheBackend | None,
) -> dict[str, _CompiledSlot]:
    if (providers is None) == (slots is None):
        raise ConfigurationError(
            "Give either providers=[...] (one slot named 'recommendations') "
            "or slots={'name': Slot(providers=[...])}, not both and not neither."
        )
    if providers is not None:
        slots = {DEFAULT_SLOT: Slot(providers=providers)}
    assert slots is not None

    if not isinstance(slots, Mapping) or not slots:
        raise ConfigurationError(
            f"slots must be a non-empty mapping of names to Slot, got {slots!r}."
        )
    compiled: dict[str, _CompiledSlot] = {}
    for name, slot in slots.items():
        _check_slot_name(name)
        if not isinstance(slot, Slot):
            raise ConfigurationError(f"slots[{name!r}] must be a Slot, got {slot!r}.")
        chain = ProviderChain(slot.providers, name=name)
        source: Provider = chain
        if cache is not None:
            source = CachedChain(chain, cache, slot=name, limit=slot.limit)
        compiled[name] = _CompiledSlot(
            name=name,
            chain=chain,
            limit=slot.limit,
            heading=slot.heading,
            renderer=slot.renderer or renderer,
            source=source,
        )
    return compiled


def _check_slot_name(name: object) -> None:
    # The rewriter validates the grammar too; checking here names the
    # setting the user wrote.
    from .rewriting import SLOT_NAME_RE

    if not isinstance(name, str) or not SLOT_NAME_RE.fullmatch(name):
        raise ConfigurationError(
            f"Slot name {name!r} is invalid: use lower-case letters, digits, "
            "'-' and '_', starting with a letter or digit, as in "
            "<!-- personalize:recommendations -->."
        )


@dataclass
class Plan:
    """The personalization of one request: its context and its slot work.

    Call :meth:`start` in the event loop that will run the providers; it
    creates one task per slot. :meth:`fragment` waits for a slot until the
    deadline and returns its HTML, or ``None`` when the fallback stays.
    :meth:`cancel` stops whatever is still running; adapters call it when
    the response is finished, whatever happened.

    A plan with ``personalized`` false (a crawler's request) runs no slot,
    so every placeholder keeps its fallback. The response still goes through
    the adapter, which marks it as chosen by the visitor's headers.
    """

    personalizer: Personalizer
    context: Context
    deadline: float
    personalized: bool = True
    _tasks: dict[str, asyncio.Task[str | None]] = field(default_factory=dict)

    def start(self) -> None:
        """Start every slot's provider chain as a task of the running loop."""
        if not self.personalized:
            return
        for name, slot in self.personalizer.slots.items():
            self._tasks[name] = asyncio.ensure_future(self._run_slot(slot))

    async def fragment(self, slot: str) -> str | None:
        """Wait for ``slot`` until the deadline; return its HTML or ``None``."""
        task = self._tasks.get(slot)
        if task is None:
            return None

        if not task.done():
            remaining = self.deadline - time.monotonic()
            if remaining > 0:
                await asyncio.wait({task}, timeout=remaining)
            if not task.done():
                logger.info(
                    "Slot %r missed its deadline on %s; keeping the fallback",
                    slot,
                    self.context.path,
                )
                task.cancel()
                return None

        if task.cancelled():
            return None
        return task.result()

    async def fragments(self, slots: Sequence[str]) -> dict[str, str | None]:
        """Wait for each of ``slots`` until the deadline; map them to HTML."""
        # The tasks run concurrently, so waiting for them one by one costs
        # no more than the slowest; the deadline is the same for all.
        return {slot: await self.fragment(slot) for slot in slots}

    def cancel(self) -> None:
        """Cancel the slot tasks that are still running, because no response needs them.

        Unlike a missed deadline, this also stops cache fills that no other
        request waits for.
        """
        for task in self._tasks.values():
            if not task.done():
                task.cancel(ABANDONED)

    async def _run_slot(self, slot: _CompiledSlot) -> str | None:
        request = RecommendationRequest(
            self.context, slot.name, slot.limit, deadline=self.deadline
        )
        try:
            items = await slot.source.recommend(request)
            if not items:
                logger.debug("Slot %r has no items; keeping the fallback", slot.name)
                return None

            if slot.renderer is not None:
                html = slot.renderer(slot.name, items, self.context)
            else:
                html = render_recommendations(
                    slot.name, items, self.context, heading=slot.heading
                )
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException:
            # The page must never fail because personalization did. Even a
            # KeyboardInterrupt from a renderer stays here: escaping the task,
            # it would stop the event loop that serves every request.
            logger.exception("Slot %r failed; keeping the fallback", slot.name)
            return None

        if not isinstance(html, str):
            logger.error(
                "The renderer of slot %r returned %s, not str; keeping the fallback",
                slot.name,
                type(html).__name__,
            )
            return None
        if not html.strip():
            # The renderer dropped every item (unsafe URLs, say): an empty
            # fragment would erase the fallback, so keep the fallback.
            logger.debug("Slot %r rendered nothing; keeping the fallback", slot.name)
            return None
        return html
