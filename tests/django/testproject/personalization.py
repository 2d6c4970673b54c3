"""Personalizers, providers and hooks that the tests name by dotted path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from html import escape

from django.http import HttpRequest

from edge_personalize import (
    Context,
    Personalizer,
    Recommendation,
    RecommendationRequest,
    StaticProvider,
)
from edge_personalize.cache import MemoryCache

ITEM = Recommendation(id="42", title="Mug & Saucer", url="/p/42")


def build_personalizer() -> Personalizer:
    """Personalize ``/shop/...`` with one fixed item."""
    return Personalizer(routes=["/shop/:rest*"], providers=[StaticProvider([ITEM])])


PERSONALIZER = build_personalizer()
STATIC_PROVIDER = StaticProvider([ITEM])
MEMORY_CACHE = MemoryCache()


class FixedProvider:
    """A provider class that needs no arguments, for dotted-path settings."""

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        return [ITEM]


class NeedsArguments:
    """A provider class that cannot be built without arguments."""

    def __init__(self, catalog: object) -> None:
        self.catalog = catalog

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        return []


def fixed_provider() -> FixedProvider:
    """Build a provider; a factory function for dotted-path settings."""
    return FixedProvider()


def invalid_personalizer() -> Personalizer:
    """Build a personalizer with an invalid deadline."""
    return Personalizer(routes=["/shop"], providers=[STATIC_PROVIDER], deadline=-1)


def render_plain(slot: str, items: Sequence[Recommendation], context: Context) -> str:
    """Render the first item's title, escaped."""
    return f"<p>{escape(items[0].title)}</p>"


def add_tea(request: HttpRequest, context: Context) -> Context:
    """A context hook that adds the interest ``tea``."""
    return replace(context, interests=("tea", *context.interests))


async def async_hook(request: HttpRequest, context: Context) -> Context:
    """A context hook written as a coroutine function, which is rejected."""
    return context
