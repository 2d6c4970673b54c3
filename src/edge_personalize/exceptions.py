"""Exceptions raised by edge_personalize.

Every exception the library raises on purpose derives from one root::

    EdgePersonalizeError
     ├── ConfigurationError          bad configuration, raised at start-up
     │    ├── RoutePatternError      a route pattern that does not compile
     │    └── CatalogError           a catalog file that cannot be loaded
     └── ProviderError              a provider failed to return recommendations
          ├── ProviderTimeout       a provider did not answer in time
          └── ProviderUnavailable   a provider opts out of a request

Configuration errors are raised when a ``Personalizer`` or a middleware is
built, never while a request is served. Provider errors are caught by the
slot's provider chain: a page never fails because a provider did.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConfigurationError",
    "EdgePersonalizeError",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RoutePatternError",
]


class EdgePersonalizeError(Exception):
    """Base class of every exception raised by edge_personalize."""


class ConfigurationError(EdgePersonalizeError, ValueError):
    """Invalid configuration, detected when the personalizer is built."""


class RoutePatternError(ConfigurationError):
    """A route pattern or condition that cannot be compiled."""


class CatalogError(ConfigurationError):
    """A catalog file or record that cannot be loaded."""


class ProviderError(EdgePersonalizeError):
    """A provider failed to produce recommendations for one request."""


class ProviderTimeout(ProviderError):
    """A provider did not produce recommendations within its timeout."""


class ProviderUnavailable(ProviderError):
    """A provider declines a request, so the chain moves on to the next one.

    Raising it is not a failure: the chain logs it at DEBUG level only.
    """
