"""Recommendations from your own HTTP service, in a small documented JSON format.

The provider POSTs the visitor's context as JSON and reads a JSON list of
items back. ``docs/providers.md`` documents both bodies; in short::

    POST <url>
    {"version": 1, "slot": "recommendations", "limit": 4,
     "context": {"path": "/products/red-mug", "params": {"slug": "red-mug"},
                 "interests": ["coffee"], "viewed": ["12", "7"],
                 "languages": ["en-GB", "en"]}}

    200 OK
    {"items": [{"id": "12", "title": "Red mug", "url": "/products/red-mug",
                "image_url": "/img/12.jpg", "price": 9.5, "currency": "EUR",
                "reason": "Goes with your coffee"}]}
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit

import httpx

from ..catalog import Catalog
from ..exceptions import ConfigurationError, ProviderResponseError
from ..recommendation import RecommendationRequest
from ._client import (
    MAX_RESPONSE_BYTES,
    Secret,
    check_base_url,
    describe_url,
    remote_text,
)
from ._grounding import ResponseItem, parse_response
from ._prompt import DEFAULT_INCLUDE, PromptLimits, visitor_data
from ._remote import (
    DEFAULT_BREAKER,
    BreakerDefault,
    Candidates,
    RemoteProvider,
    settings_digest,
)
from ._responses import read_response
from .chain import CircuitBreaker

__all__ = ["HTTPProvider"]

#: The version of the request body, sent as ``"version"``.
PROTOCOL_VERSION = 1

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host"})


class HTTPProvider(RemoteProvider):
    """Recommend what your own recommendation service returns.

    Each request POSTs ``{"version": 1, "slot", "limit", "context"}`` to
    ``url``, where ``context`` contains the cleaned and bounded fields in
    ``include``, and nothing else about the request: no IP address,
    cookie or user agent. The service responds with ``{"items": [...]}`` (or a
    bare list) of objects with ``id``, ``title``, ``url`` and optionally
    ``image_url``, ``price``, ``currency`` and ``reason``.

    With a ``catalog``, items are grounded in it by ``id`` (or by title
    or slug when the id is unknown): unknown items are dropped, and the
    title, link, image and price come from the catalog. Without one, each
    item's own fields are used, and the renderer still checks every URL
    and escapes every text.

    :param url: the service's absolute http(s) URL. Put credentials in
        ``headers``, not in the URL, because HTTP libraries log URLs.
    :param headers: extra request headers, such as
        ``{"Authorization": "Bearer ..."}``. Their values are treated as
        secrets: never logged, never in messages or this object's repr.
    :param timeout: seconds one call may take; the slot deadline cuts it.
    :param breaker: the provider's circuit breaker, shared by every chain
        it is in; ``None`` turns it off.
    :param include: the context fields sent (see ``docs/providers.md``).
    :param limits: the bounds on the values sent, as for the prompts of
        model providers.
    :param transport: an ``httpx`` transport for tests; ``None`` uses the
        client shared by every remote provider.
    :raises ConfigurationError: for an invalid option.
    """

    service = "The recommendation service"
    keeps_links = True
    needs_candidates = False

    def __init__(
        self,
        *,
        url: str,
        catalog: Catalog | None = None,
        headers: Mapping[str, str] | None = None,
        include: Collection[str] = DEFAULT_INCLUDE,
        limits: PromptLimits | None = None,
        timeout: float = 1.0,
        breaker: CircuitBreaker | None | BreakerDefault = DEFAULT_BREAKER,
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        name = type(self).__name__
        checked_url = check_base_url(url, "url", name, strip_slash=False)
        checked_headers = _check_headers(headers, name)
        secrets = [Secret(value) for value in checked_headers.values()]
        secrets += _url_secrets(url)
        super().__init__(
            catalog=catalog,
            timeout=timeout,
            breaker=breaker,
            include=include,
            candidates=1,
            current_param=("slug", "id"),
            transport=transport,
            max_response_bytes=max_response_bytes,
            secrets=secrets,
        )
        if limits is not None and not isinstance(limits, PromptLimits):
            raise ConfigurationError(
                f"{name}: limits={limits!r} must be a PromptLimits or None."
            )
        self.limits = limits or PromptLimits()
        self.url = checked_url
        self._headers = checked_headers
        # The service gets the context as it is, not catalog candidates.
        self.features = self.include
        #: A digest of the settings that shape the request, for caches.
        self.settings_key = settings_digest(
            {"include": sorted(self.include), "limits": self.limits}
        )

    def __repr__(self) -> str:
        names = sorted(self._headers)
        return (
            f"HTTPProvider(url={describe_url(self.url)!r}, headers={names!r}, "
            f"settings={self.settings_key!r})"
        )

    async def pick_candidates(self, request: RecommendationRequest) -> Candidates:
        """Return no candidates: the service chooses from its own data."""
        return Candidates()

    async def ask(
        self, request: RecommendationRequest, candidates: Candidates
    ) -> list[ResponseItem]:
        """POST the request's context to the service and return its items."""
        payload = {
            "version": PROTOCOL_VERSION,
            "slot": request.slot,
            "limit": request.limit,
            "context": visitor_data(request.context, self.include, self.limits),
        }
        response = await self.post(self.url, payload, request, self._headers)
        body = read_response(response, self.service, self.redactor)
        if isinstance(body, Mapping):
            items = body.get("items")
        else:
            items = body
        if not isinstance(items, list):
            raise ProviderResponseError(
                f"{self.service} returned no items list: "
                f"{remote_text(body, self.redactor)}",
                status=response.status,
            )
        return parse_response(items)


def _check_headers(headers: object, name: str) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ConfigurationError(
            f"{name}: headers must be a mapping of header names to values, got a "
            f"{type(headers).__name__}."
        )
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key):
            raise ConfigurationError(f"{name}: header name {key!r} is invalid.")
        if key.lower() in _RESERVED_HEADERS:
            raise ConfigurationError(
                f"{name}: header {key!r} is set by the provider; remove it."
            )
        # The value may be a secret, so the message names only the header.
        if not isinstance(value, str) or not value.isprintable() or not value.isascii():
            raise ConfigurationError(
                f"{name}: the value of header {key!r} must be a str of printable "
                "ASCII characters."
            )
        checked[key] = value
    return checked


def _url_secrets(url: str) -> Sequence[Secret]:
    parts = urlsplit(url)
    secrets = [Secret(value) for _, value in parse_qsl(parts.query) if len(value) > 3]
    if parts.password:
        secrets.append(Secret(parts.password))
    return secrets
