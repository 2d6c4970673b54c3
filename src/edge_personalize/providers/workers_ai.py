"""Recommendations from Cloudflare Workers AI, over Cloudflare's REST API.

Each request is one ``POST {base_url}/accounts/{account_id}/ai/run/{model}``
with a bearer token. In ``"text"`` mode a text-generation model chooses
among catalog candidates and responds in JSON mode. In ``"embeddings"``
mode an embedding model re-ranks the candidates by their similarity to
the visitor's interests. See ``docs/providers.md``.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence

import httpx

from .._checks import require_bool
from ..catalog import Catalog, Product
from ..exceptions import ConfigurationError, ProviderResponseError, ProviderUnavailable
from ..recommendation import RecommendationRequest
from ._client import (
    MAX_RESPONSE_BYTES,
    check_base_url,
    remote_text,
    resolve_secret,
)
from ._grounding import ResponseItem, parse_response
from ._prompt import DEFAULT_INCLUDE, PromptLimits, clean_value, response_schema
from ._remote import (
    DEFAULT_BREAKER,
    DEFAULT_CANDIDATES,
    DEFAULT_TIMEOUT,
    BreakerDefault,
    Candidates,
    ModelProvider,
    check_text,
    settings_digest,
)
from ._responses import read_response
from .chain import CircuitBreaker

__all__ = ["WorkersAIProvider"]

#: Cloudflare's API, the default ``base_url``.
CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"

#: The default model of each mode.
DEFAULT_MODELS = {
    "text": "@cf/meta/llama-3.1-8b-instruct-fast",
    "embeddings": "@cf/baai/bge-base-en-v1.5",
}

# Model names such as "@cf/meta/llama-3.1-8b-instruct-fast" go into the URL
# path as they are, so only the characters Cloudflare's names use pass.
_MODEL_NAME = re.compile(
    r"@?[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*"
)
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Product vectors kept per provider in embeddings mode.
MAX_CACHED_VECTORS = 10_000


class WorkersAIProvider(ModelProvider):
    """Recommend catalog products with a Cloudflare Workers AI model.

    In ``"text"`` mode the provider picks ``candidates`` products from the
    catalog with the embedded recommender and asks a text-generation
    model to choose and order up to ``request.limit`` of them. The request
    sets ``messages``, ``max_tokens``, ``temperature`` and, with
    ``json_mode``, a ``response_format`` with the JSON schema of the
    response. In JSON mode ``result.response`` is an object; without it,
    it is text, which is searched for JSON or a list of names. Items are
    grounded in the catalog (see ``docs/providers.md``); without a catalog
    the model names products freely and they are shown as text without
    links.

    In ``"embeddings"`` mode (a catalog is required) the provider sends
    ``{"text": [...]}`` with the visitor's interests and the titles of the
    candidates to an embedding model, and orders the candidates by the
    cosine similarity of their vectors (``result.data``) to the interests'.
    Product vectors are kept in memory, so later requests embed only the
    visitor's text and products not seen before. A visitor without
    interests and without a current product is declined, so the next
    provider of the chain fills the slot.

    :param account_id: the Cloudflare account id; by default the
        environment variable named by ``account_id_env``.
    :param api_token: an API token with Workers AI read permission; by
        default the environment variable named by ``api_token_env``. It
        never appears in logs, messages or this object's repr.
    :param model: the model name, such as ``"@cf/meta/llama-3.1-8b-instruct-fast"``;
        the default depends on ``mode``.
    :param catalog: the :class:`~edge_personalize.catalog.Catalog` that
        responses are grounded in, or ``None``.
    :param base_url: the API's base URL, up to ``/client/v4``. Tests and
        gateways point it elsewhere.
    :param timeout: seconds one call may take; the slot deadline cuts it.
    :param breaker: the provider's circuit breaker, shared by every chain
        it is in; ``None`` turns it off.
    :param include: the context fields sent to the model in ``"text"``
        mode (see ``docs/providers.md``); interests, params and viewed ids
        are also read to pick candidates.
    :param transport: an ``httpx`` transport for tests; ``None`` uses the
        client shared by every remote provider.
    :raises ConfigurationError: for a missing account id or token, or any
        invalid option.
    """

    service = "Workers AI"

    def __init__(
        self,
        *,
        account_id: str | None = None,
        api_token: str | None = None,
        model: str | None = None,
        catalog: Catalog | None = None,
        base_url: str = CLOUDFLARE_API,
        mode: str = "text",
        json_mode: bool = True,
        max_tokens: int = 256,
        temperature: float = 0.2,
        system_prompt: str | None = None,
        limits: PromptLimits | None = None,
        model_reasons: bool = True,
        candidates: int = DEFAULT_CANDIDATES,
        include: Collection[str] = DEFAULT_INCLUDE,
        current_param: str | Sequence[str] = ("slug", "id"),
        timeout: float = DEFAULT_TIMEOUT,
        breaker: CircuitBreaker | None | BreakerDefault = DEFAULT_BREAKER,
        account_id_env: str | None = "CLOUDFLARE_ACCOUNT_ID",
        api_token_env: str | None = "CLOUDFLARE_API_TOKEN",
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        name = type(self).__name__
        token = resolve_secret(api_token, api_token_env, "api_token", name)
        if token is None:
            raise ConfigurationError(
                f"{name}: the API token is missing; pass api_token=... or set the "
                f"environment variable {api_token_env or 'CLOUDFLARE_API_TOKEN'}."
            )

        super().__init__(
            catalog=catalog,
            timeout=timeout,
            breaker=breaker,
            include=include,
            candidates=candidates,
            current_param=current_param,
            transport=transport,
            max_response_bytes=max_response_bytes,
            secrets=[token],
            system_prompt=system_prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            limits=limits,
            model_reasons=model_reasons,
        )
        _check_mode(mode, self.catalog, name)

        self.mode = mode
        self.account_id = _account_id(account_id, account_id_env, name)
        self.model = _model_name(DEFAULT_MODELS[mode] if model is None else model, name)
        self.base_url = check_base_url(base_url, "base_url", name)
        self.json_mode = require_bool(json_mode, "json_mode")
        self.url = f"{self.base_url}/accounts/{self.account_id}/ai/run/{self.model}"
        self._token = token
        self._vectors = _VectorCache(MAX_CACHED_VECTORS)

        if mode == "embeddings":
            # The model only orders the candidates, so reasons come from the
            # catalog recommender, and the visitor's interests and current
            # product are all that is sent.
            self.model_reasons = False
            self.features = frozenset({"interests", "params", "viewed"})

        #: A digest of the settings that shape the response, for caches.
        self.settings_key = settings_digest(
            {**self.model_settings(), "json_mode": self.json_mode}
        )

    def __repr__(self) -> str:
        return (
            f"WorkersAIProvider(model={self.model!r}, mode={self.mode!r}, "
            f"base_url={self.base_url!r}, account_id={self.account_id!r}, "
            f"settings={self.settings_key!r})"
        )

    async def ask(
        self, request: RecommendationRequest, candidates: Candidates
    ) -> list[ResponseItem]:
        """Run the model on ``request`` and return the items it names."""
        if self.mode == "embeddings":
            return await self._rank_by_similarity(request, candidates)

        grounded = self.catalog is not None
        payload: dict[str, object] = {
            "messages": self.messages(request, candidates),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if self.json_mode:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": response_schema(request.limit, grounded=grounded),
            }
        result = await self._run(payload, request)

        if not isinstance(result, Mapping) or "response" not in result:
            raise ProviderResponseError(
                f"{self.service} returned no result.response: "
                f"{remote_text(result, self.redactor)}"
            )
        response = result["response"]
        if not isinstance(response, (str, Mapping, list)):
            raise ProviderResponseError(
                f"{self.service} returned a result.response of type "
                f"{type(response).__name__}, not text or JSON."
            )
        return parse_response(response)

    async def _run(
        self, payload: Mapping[str, object], request: RecommendationRequest
    ) -> object:
        response = await self.post(
            self.url,
            payload,
            request,
            headers={"Authorization": f"Bearer {self._token.reveal()}"},
        )
        body = read_response(response, self.service, self.redactor)
        if not isinstance(body, Mapping) or body.get("success") is not True:
            raise ProviderResponseError(
                f"{self.service} returned HTTP {response.status} without "
                f'"success": true: {remote_text(body, self.redactor)}',
                status=response.status,
            )
        return body.get("result")

    async def _rank_by_similarity(
        self, request: RecommendationRequest, candidates: Candidates
    ) -> list[ResponseItem]:
        query = self._query_text(request, candidates)
        if not query:
            raise ProviderUnavailable(
                "The visitor has no interests and no current product to rank by."
            )

        known: dict[str, list[float]] = {}
        missing: list[Product] = []
        for product in candidates.products:
            cached = self._vectors.get(product.id)
            if cached is None:
                missing.append(product)
            else:
                known[product.id] = cached

        texts = [query, *(_product_text(product) for product in missing)]
        vectors = await self._embed(texts, request)
        for product, vector in zip(missing, vectors[1:], strict=True):
            self._vectors.put(product.id, vector)
            known[product.id] = vector

        query_vector = vectors[0]
        scored: list[tuple[float, int, Product]] = []
        for position, product in enumerate(candidates.products):
            vector = known[product.id]
            # Vectors of different lengths cannot be compared: skip the product.
            if len(vector) == len(query_vector):
                similarity = _cosine(query_vector, vector)
                scored.append((-similarity, position, product))
        scored.sort(key=lambda entry: (entry[0], entry[1]))
        return [ResponseItem(id=product.id) for _, _, product in scored]

    def _query_text(
        self, request: RecommendationRequest, candidates: Candidates
    ) -> str:
        parts = [
            clean_value(interest, self.limits.max_value_length)
            for interest in request.context.interests[: self.limits.max_items]
        ]
        if candidates.current is not None:
            parts.append(_product_text(candidates.current))
        return ", ".join(part for part in parts if part)

    async def _embed(
        self, texts: Sequence[str], request: RecommendationRequest
    ) -> list[list[float]]:
        result = await self._run({"text": list(texts)}, request)
        data = result.get("data") if isinstance(result, Mapping) else None
        if not isinstance(data, list) or len(data) != len(texts):
            raise ProviderResponseError(
                f"{self.service} did not return {len(texts)} vectors in result.data."
            )
        vectors = [_vector(item) for item in data]
        if any(vector is None for vector in vectors):
            raise ProviderResponseError(
                f"{self.service} returned a vector in result.data that is "
                "not a list of finite numbers."
            )
        return [vector for vector in vectors if vector is not None]


def _check_mode(mode: object, catalog: Catalog | None, name: str) -> None:
    if mode not in DEFAULT_MODELS:
        raise ConfigurationError(
            f"{name}: mode={mode!r} is invalid; use 'text' or 'embeddings'."
        )
    if mode == "embeddings" and catalog is None:
        raise ConfigurationError(
            f"{name}: mode='embeddings' re-ranks catalog products, so it needs "
            "catalog=Catalog.from_file(...)."
        )


def _account_id(value: str | None, env_name: str | None, name: str) -> str:
    if value is None and env_name:
        value = os.environ.get(env_name) or None
    if value is None:
        raise ConfigurationError(
            f"{name}: the account id is missing; pass account_id=... or set the "
            f"environment variable {env_name or 'CLOUDFLARE_ACCOUNT_ID'}."
        )
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise ConfigurationError(
            f"{name}: account_id={value!r} is invalid; it is the 32-character "
            "hexadecimal id on the Workers AI page of the Cloudflare dashboard."
        )
    return value


def _model_name(value: object, name: str) -> str:
    text = check_text(value, "model", name)
    if not _MODEL_NAME.fullmatch(text) or ".." in text:
        raise ConfigurationError(
            f"{name}: model={value!r} is not a Workers AI model name; use a name "
            "such as '@cf/meta/llama-3.1-8b-instruct-fast'."
        )
    return text


def _product_text(product: Product) -> str:
    parts = [product.title, product.category, product.brand, *product.tags[:5]]
    return clean_value(" ".join(part for part in parts if part), 300)


def _vector(value: object) -> list[float] | None:
    if not isinstance(value, list) or not value:
        return None
    vector: list[float] = []
    for number in value:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            return None
        if not math.isfinite(number):
            return None
        vector.append(float(number))
    return vector


def _cosine(left: Sequence[float], right: Sequence[float]) -> float:
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    norms = math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right))
    return dot / norms if norms else 0.0


class _VectorCache:
    """Product vectors by id, the least recently used dropped beyond a size."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> list[float] | None:
        with self._lock:
            vector = self._vectors.get(key)
            if vector is not None:
                self._vectors.move_to_end(key)
            return vector

    def put(self, key: str, vector: list[float]) -> None:
        with self._lock:
            self._vectors[key] = vector
            self._vectors.move_to_end(key)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
