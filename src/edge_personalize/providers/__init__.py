"""Recommender providers and the chain that calls them in order.

A provider is any object with ``async def recommend(request)``; see
:class:`Provider`. :class:`CatalogProvider` is the embedded recommender,
:class:`StaticProvider` returns a fixed list, :class:`WorkersAIProvider`,
:class:`OpenAIProvider` and :class:`HTTPProvider` ask remote services, and
:class:`ProviderChain` combines providers so that a failing one never
breaks a page.
"""

from __future__ import annotations

from ._prompt import PromptLimits
from .base import Provider
from .catalog import CatalogProvider
from .chain import CircuitBreaker, ProviderChain, RetryPolicy
from .http import HTTPProvider
from .openai import OpenAIProvider
from .static import StaticProvider
from .workers_ai import WorkersAIProvider

__all__ = [
    "CatalogProvider",
    "CircuitBreaker",
    "HTTPProvider",
    "OpenAIProvider",
    "PromptLimits",
    "Provider",
    "ProviderChain",
    "RetryPolicy",
    "StaticProvider",
    "WorkersAIProvider",
]
