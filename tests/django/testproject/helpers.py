"""Pages, providers and personalizers shared by the Django tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from html import escape

from edge_personalize import (
    Context,
    Personalizer,
    Recommendation,
    RecommendationRequest,
    Slot,
)

# A browser's User-Agent: without one, a request counts as a crawler.
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"
HTML = "text/html; charset=utf-8"

MARK = b"<!-- personalize:recs -->"
HEAD = b"<html><body><h1>Mug</h1>"
TAIL = b"</body></html>"
PAGE = HEAD + MARK + TAIL
FRAGMENT = '<aside class="recs"><a href="/p/42">Mug &amp; Saucer</a></aside>'
PERSONALIZED = HEAD + FRAGMENT.encode() + TAIL
ITEM = Recommendation(id="42", title="Mug & Saucer", url="/p/42")

# Upper bound on how long a test waits for an event that should happen at
# once; reaching it means the awaited step never came.
EVENT_TIMEOUT = 10.0  # seconds


def fixed_renderer(slot: str, items: Sequence[Recommendation], context: Context) -> str:
    """Render every slot as ``FRAGMENT``, so lengths can be checked exactly."""
    return FRAGMENT


def title_renderer(slot: str, items: Sequence[Recommendation], context: Context) -> str:
    """Render the titles of ``items``, escaped, in one ``<aside>``."""
    titles = "".join(f"<b>{escape(item.title)}</b>" for item in items)
    return f'<aside class="recs">{titles}</aside>'


class RecordingProvider:
    """A provider that records its calls and the context it was given.

    It waits ``delay`` seconds, or until ``gate`` is set when a gate is
    given, then returns ``ITEM`` (or raises ``error``). ``entered`` is set
    when a call starts, and ``finished`` once it has completed, failed or
    been cancelled.
    """

    def __init__(
        self,
        delay: float = 0.0,
        *,
        gate: threading.Event | None = None,
        error: Exception | None = None,
    ) -> None:
        self.delay = delay
        self.gate = gate
        self.error = error
        self.started = 0
        self.completed = 0
        self.cancelled = 0
        self.contexts: list[Context] = []
        self.entered = threading.Event()
        self.finished = threading.Event()

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        self.started += 1
        self.contexts.append(request.context)
        self.entered.set()
        try:
            await asyncio.sleep(self.delay)
            if self.gate is not None:
                await self._wait_for_gate()
        except asyncio.CancelledError:
            self.cancelled += 1
            self.finished.set()
            raise
        self.finished.set()
        if self.error is not None:
            raise self.error
        self.completed += 1
        return [ITEM]

    async def _wait_for_gate(self) -> None:
        assert self.gate is not None
        # A threading.Event, so that tests can open it from any thread.
        while not self.gate.is_set():
            await asyncio.sleep(0.005)


class InterestProvider:
    """Recommend one item named after the visitor's first interest."""

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        interests = request.context.interests
        name = interests[0] if interests else "nobody"
        return [Recommendation(id=name, title=f"Pick for {name}", url=f"/p/{name}")]


def make_personalizer(
    provider: object | None = None,
    *,
    deadline: float = 0.5,
    renderer: object = fixed_renderer,
    **options: object,
) -> Personalizer:
    """Personalize the slot ``recs`` on ``/shop/...`` with ``provider``.

    The cache is off unless ``cache`` is given, so that each request calls
    the provider and cancelling a plan cancels the provider's call.
    """
    options.setdefault("cache", None)
    providers = [provider if provider is not None else RecordingProvider()]
    return Personalizer(
        routes=["/shop/:rest*"],
        slots={"recs": Slot(providers=providers, renderer=renderer)},  # type: ignore[arg-type]
        deadline=deadline,
        **options,  # type: ignore[arg-type]
    )
