"""Exceptions raised by edge_personalize.

Every exception the library raises on purpose derives from one root::

    EdgePersonalizeError
     ├── ConfigurationError             bad configuration, raised at start-up
     │    ├── RoutePatternError         a route pattern that does not compile
     │    └── CatalogError              a catalog file that cannot be loaded
     ├── CacheEntryError                a stored cache value that cannot be read
     └── ProviderError                  a provider failed to recommend items
          ├── ProviderTimeout           a provider did not respond in time
          ├── ProviderUnavailable       a provider opts out of a request
          ├── ProviderConnectionError   the connection to a service failed
          └── ProviderResponseError     an error response, or an unusable one
               └── ProviderRateLimited  the service is over its rate or capacity

Configuration errors are raised when a ``Personalizer`` or a middleware is
built, never while a request is served. Provider errors are caught by the
slot's provider chain: a page never fails because a provider did.

Every ``ProviderError`` has two attributes that the chain reads to decide
on a retry: ``retryable`` (false unless the failure is one a second
attempt may fix) and ``retry_after`` (seconds the service requested the
caller to wait, or ``None``).
"""

from __future__ import annotations

__all__ = [
    "CacheEntryError",
    "CatalogError",
    "ConfigurationError",
    "EdgePersonalizeError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderResponseError",
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

    #: Whether a second attempt may succeed. The chain retries only then.
    retryable: bool = False
    #: Seconds the service requested the caller to wait before a retry, if any.
    retry_after: float | None = None


class ProviderTimeout(ProviderError):
    """A provider did not produce recommendations within its timeout."""


class ProviderUnavailable(ProviderError):
    """A provider declines a request, so the chain moves on to the next one.

    Raising it is not a failure: the chain logs it at DEBUG level only.
    """


class ProviderConnectionError(ProviderError):
    """The connection to a remote provider failed or broke mid-response.

    A refused connection is not retryable, because the service is not
    listening. A connection that was reset or closed before the whole
    response arrived is retryable.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ProviderResponseError(ProviderError):
    """A remote provider returned an error, or a body that is unusable.

    ``status`` is the HTTP status and ``code`` the service's own error
    code (a Cloudflare code such as 3040, or an OpenAI error code), when
    the response had them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after


class ProviderRateLimited(ProviderResponseError):
    """A remote provider rejected a request for its rate limit or capacity.

    It is retryable when the service sent a ``Retry-After`` header or
    reports a temporary lack of capacity (Workers AI code 3040). A bare
    HTTP 429 is not retryable.
    """


class CacheEntryError(EdgePersonalizeError):
    """A stored cache value that cannot be decoded into a cache entry.

    Backends raise it from ``CacheBackend.get``. The cache logs it
    (rate-limited), treats the key as a miss and overwrites the value with
    the next result. The backend is not considered down.
    """
