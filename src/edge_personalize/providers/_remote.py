"""Shared parts of the remote providers: configuration checks, candidates, grounding.

:class:`RemoteProvider` is the base of the Workers AI, OpenAI-compatible
and HTTP providers. It picks the catalog candidates that a model chooses
from, sizes each call's timeout from the request's deadline, sends it on
the shared client and grounds the response. :class:`ModelProvider` adds
what the two language-model providers share: the prompt, its limits and
the sampling options.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._checks import require_bool
from ..catalog import Catalog, Product
from ..context import Context
from ..exceptions import ConfigurationError, ProviderTimeout
from ..recommendation import Recommendation, RecommendationRequest
from ._client import (
    ClientPool,
    Redactor,
    Secret,
    ServiceResponse,
    post_json,
    shared_pool,
)
from ._grounding import Grounder, ResponseItem, free_recommendations
from ._prompt import (
    DEFAULT_FREE_SYSTEM_PROMPT,
    DEFAULT_SYSTEM_PROMPT,
    PromptLimits,
    build_messages,
    check_include,
    check_system_prompt,
    visitor_data,
)
from .catalog import CatalogProvider
from .chain import CircuitBreaker

#: Seconds one call to a remote service may take, by default. The slot
#: deadline cuts it shorter during a page request.
DEFAULT_TIMEOUT = 2.0

#: Catalog products offered to a model to choose from, by default.
DEFAULT_CANDIDATES = 20

# Context fields that the catalog recommender reads to pick candidates.
_CANDIDATE_FEATURES = frozenset({"interests", "params", "viewed"})


class BreakerDefault(enum.Enum):
    """The default of ``breaker``: a new ``CircuitBreaker()`` per provider."""

    BREAKER = enum.auto()

    def __repr__(self) -> str:
        return "CircuitBreaker()"


DEFAULT_BREAKER = BreakerDefault.BREAKER


@dataclass(frozen=True)
class Candidates:
    """The catalog products a model may choose from for one request."""

    current: Product | None = None
    products: tuple[Product, ...] = ()
    # The catalog recommender's reason for each candidate, by product id.
    reasons: Mapping[str, str] = field(default_factory=dict)
    # Ids never to recommend: the product on the page and viewed ones.
    excluded: frozenset[str] = frozenset()


class RemoteProvider:
    """The base of providers that ask a remote service over HTTP.

    Subclasses implement :meth:`ask` (send the request, return the
    items of the response) and set ``service``, the name used in messages.
    """

    service = "remote provider"
    # Whether responses without a catalog keep their links (a site's own
    # service) or are shown as text only (a model's invention).
    keeps_links = False
    # Whether the service chooses among candidates (a model), so that no
    # request is sent when there are none, or from its own data.
    needs_candidates = True

    def __init__(
        self,
        *,
        catalog: Catalog | None,
        timeout: float,
        breaker: CircuitBreaker | None | BreakerDefault,
        include: Collection[str],
        candidates: int,
        current_param: str | Sequence[str],
        transport: httpx.AsyncBaseTransport | None,
        max_response_bytes: int,
        secrets: Sequence[Secret | None] = (),
    ) -> None:
        name = type(self).__name__
        self.catalog = _check_catalog(catalog, name)
        self.timeout = check_positive(timeout, "timeout", name)
        self.breaker = _check_breaker(breaker, name)
        self.include = check_include(include, name)
        self.candidates = check_count(candidates, "candidates", name, 1, 200)
        self.max_response_bytes = check_count(
            max_response_bytes, "max_response_bytes", name, 1024, 64 * 1024 * 1024
        )
        if transport is not None and not isinstance(
            transport, httpx.AsyncBaseTransport
        ):
            raise ConfigurationError(
                f"{name}: transport={transport!r} must be an httpx.AsyncBaseTransport "
                "or None."
            )
        self._pool: ClientPool = (
            shared_pool() if transport is None else ClientPool(transport=transport)
        )
        #: Replaces this provider's secrets in texts that go into messages.
        self.redactor = Redactor(secret for secret in secrets if secret is not None)

        self._ranker: CatalogProvider | None = None
        self._grounder: Grounder | None = None
        features = set(self.include)
        if self.catalog is not None:
            self._ranker = CatalogProvider(self.catalog, current_param=current_param)
            self._grounder = Grounder(self.catalog)
            features |= _CANDIDATE_FEATURES
        #: The context fields this provider reads; caches key on them.
        self.features: frozenset[str] = frozenset(features)

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        """Ask the service for up to ``request.limit`` items and ground them."""
        if request.limit <= 0:
            return []
        candidates = await self.pick_candidates(request)
        if (
            self.needs_candidates
            and self._grounder is not None
            and not candidates.products
        ):
            return []

        items = await self.ask(request, candidates)
        return self.ground(items, request, candidates)

    async def ask(
        self, request: RecommendationRequest, candidates: Candidates
    ) -> list[ResponseItem]:
        """Send one request to the service and return the items it names."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close this event loop's HTTP client and its connections.

        Without a ``transport``, every remote provider shares the client,
        so this closes it for all of them. A later request opens a new one.
        The personalizer calls this at shutdown.
        """
        await self._pool.aclose()

    async def pick_candidates(self, request: RecommendationRequest) -> Candidates:
        """Return the catalog products to offer, ranked for the request."""
        if self._ranker is None or self.catalog is None:
            return Candidates()
        ranked = await self._ranker.recommend(
            RecommendationRequest(
                request.context, request.slot, max(self.candidates, request.limit)
            )
        )
        products = tuple(
            product
            for product in (self.catalog.get(item.id) for item in ranked)
            if product is not None
        )
        reasons = {item.id: item.reason for item in ranked if item.reason}
        current = self._ranker.current_product(request.context.params)
        return Candidates(
            current=current,
            products=products,
            reasons=reasons,
            excluded=_excluded(self.catalog, request.context, current),
        )

    def ground(
        self,
        items: Sequence[ResponseItem],
        request: RecommendationRequest,
        candidates: Candidates,
        *,
        model_reasons: bool = True,
    ) -> list[Recommendation]:
        """Map ``items`` to catalog products, or keep them as free text."""
        if self._grounder is None:
            return free_recommendations(
                items, limit=request.limit, links=self.keeps_links
            )
        return self._grounder.ground(
            items,
            limit=request.limit,
            candidates=candidates.products,
            excluded=candidates.excluded,
            fallback_reasons=candidates.reasons,
            model_reasons=model_reasons,
        )

    def budget(self, request: RecommendationRequest) -> float:
        """Return the seconds this call may take: the timeout, cut by the deadline.

        :raises ProviderTimeout: if the deadline has passed.
        """
        budget = self.timeout
        if request.deadline is not None:
            budget = min(budget, request.deadline - time.monotonic())
        if budget <= 0:
            raise ProviderTimeout(
                f"{self.service} was not called: the deadline had passed."
            )
        return budget

    async def post(
        self,
        url: str,
        payload: object,
        request: RecommendationRequest,
        headers: Mapping[str, str],
    ) -> ServiceResponse:
        """POST ``payload`` to ``url`` on the shared client, within the budget."""
        return await post_json(
            self._pool.client(),
            url,
            payload,
            headers=headers,
            timeout=self.budget(request),
            where=self.service,
            redact=self.redactor,
            max_bytes=self.max_response_bytes,
        )


class ModelProvider(RemoteProvider):
    """The base of providers that prompt a language model."""

    def __init__(
        self,
        *,
        system_prompt: str | None,
        max_tokens: int,
        temperature: float,
        limits: PromptLimits | None,
        model_reasons: bool,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        name = type(self).__name__
        self.system_prompt = check_system_prompt(system_prompt, name)
        self.max_tokens = check_count(max_tokens, "max_tokens", name, 16, 8192)
        self.temperature = _check_temperature(temperature, name)
        if limits is not None and not isinstance(limits, PromptLimits):
            raise ConfigurationError(
                f"{name}: limits={limits!r} must be a PromptLimits or None."
            )
        self.limits = limits or PromptLimits()
        self.model_reasons = require_bool(model_reasons, "model_reasons")

    def model_settings(self) -> dict[str, object]:
        """Return the settings that shape the prompt and the model's response."""
        return {
            "system_prompt": self.system_prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "limits": self.limits,
            "model_reasons": self.model_reasons,
            "candidates": self.candidates,
            "include": sorted(self.include),
            "current_param": self._ranker.current_param if self._ranker else None,
        }

    def messages(
        self, request: RecommendationRequest, candidates: Candidates
    ) -> list[dict[str, str]]:
        """Return the chat messages for ``request``."""
        grounded = self.catalog is not None
        default = DEFAULT_SYSTEM_PROMPT if grounded else DEFAULT_FREE_SYSTEM_PROMPT
        visitor = visitor_data(
            request.context,
            self.include,
            self.limits,
            catalog=self.catalog,
            current=candidates.current,
        )
        return build_messages(
            self.system_prompt or default,
            visitor,
            candidates.products,
            request.limit,
            self.limits,
        )

    def ground(
        self,
        items: Sequence[ResponseItem],
        request: RecommendationRequest,
        candidates: Candidates,
        *,
        model_reasons: bool = True,
    ) -> list[Recommendation]:
        """Ground ``items``, keeping the model's reasons only if configured."""
        return super().ground(
            items,
            request,
            candidates,
            model_reasons=model_reasons and self.model_reasons,
        )


def settings_digest(settings: Mapping[str, object]) -> str:
    """Return 8 hex digits that change whenever one of ``settings`` does.

    Providers show it in their repr, which caches use to tell chains
    apart, so a new prompt or limit never reuses entries of the old one.
    No secret may be among the settings.
    """
    data = json.dumps(settings, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.blake2b(data.encode("utf-8"), digest_size=4).hexdigest()


def _check_catalog(catalog: object, name: str) -> Catalog | None:
    if catalog is None or isinstance(catalog, Catalog):
        return catalog
    if isinstance(catalog, CatalogProvider):
        return catalog.catalog
    raise ConfigurationError(
        f"{name}: catalog={catalog!r} must be a Catalog (or a CatalogProvider), "
        "or None; load one with Catalog.from_file(path)."
    )


def _check_breaker(breaker: object, name: str) -> CircuitBreaker | None:
    if breaker is DEFAULT_BREAKER:
        return CircuitBreaker()
    if breaker is None or isinstance(breaker, CircuitBreaker):
        return breaker
    raise ConfigurationError(
        f"{name}: breaker={breaker!r} must be a CircuitBreaker, or None to turn "
        "the circuit breaker off."
    )


def check_positive(value: object, option: str, name: str) -> float:
    """Return ``value`` as a float after checking it is a positive number."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"{name}: {option}={value!r} must be a positive number of seconds."
        )
    return float(value)


def check_count(value: object, option: str, name: str, low: int, high: int) -> int:
    """Return ``value`` after checking it is an int from ``low`` to ``high``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise ConfigurationError(
            f"{name}: {option}={value!r} is invalid; use an int from {low} to {high}."
        )
    return value


def _check_temperature(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value <= 2
    ):
        raise ConfigurationError(
            f"{name}: temperature={value!r} is invalid; use a number from 0 to 2."
        )
    return float(value)


def check_text(value: object, option: str, name: str) -> str:
    """Return ``value`` after checking it is a non-empty, printable str."""
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ConfigurationError(
            f"{name}: {option}={value!r} must be a non-empty printable str."
        )
    return value


def _excluded(
    catalog: Catalog, context: Context, current: Product | None
) -> frozenset[str]:
    excluded = {current.id} if current is not None else set()
    for entry in context.viewed:
        product = catalog.get(entry) or catalog.by_slug(entry)
        if product is not None:
            excluded.add(product.id)
    return frozenset(excluded)
