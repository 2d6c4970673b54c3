"""Personalize server-rendered HTML at the edge of any Python web app.

Placeholder comments such as ``<!-- personalize:recommendations -->`` in the
pages of chosen routes are replaced, on the way out, by recommendations
computed for the visitor. The adapters live in ``edge_personalize.wsgi``
(Flask and any WSGI app), ``edge_personalize.asgi`` (FastAPI, Starlette and
any ASGI app) and ``edge_personalize.django`` (Django's ``MIDDLEWARE``).
"""

from __future__ import annotations

from .catalog import Catalog, Product
from .context import Context, ContextOptions, RequestView
from .exceptions import (
    CacheEntryError,
    CatalogError,
    ConfigurationError,
    EdgePersonalizeError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
    RoutePatternError,
)
from .personalizer import Personalizer, Plan, Slot
from .providers import CatalogProvider, Provider, ProviderChain, StaticProvider
from .recommendation import Recommendation, RecommendationRequest
from .routes import Condition, Route

__version__ = "0.1.0"

__all__ = [
    "CacheEntryError",
    "Catalog",
    "CatalogError",
    "CatalogProvider",
    "Condition",
    "ConfigurationError",
    "Context",
    "ContextOptions",
    "EdgePersonalizeError",
    "Personalizer",
    "Plan",
    "Product",
    "Provider",
    "ProviderChain",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderResponseError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Recommendation",
    "RecommendationRequest",
    "RequestView",
    "Route",
    "RoutePatternError",
    "Slot",
    "StaticProvider",
    "__version__",
]
