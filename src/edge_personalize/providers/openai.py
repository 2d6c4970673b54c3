"""Recommendations from any OpenAI-compatible chat-completions endpoint.

OpenAI, vLLM, Ollama, the llama.cpp server and Cloudflare's
``/ai/v1/chat/completions`` all accept ``POST {base_url}/chat/completions``
with the same JSON. See ``docs/providers.md`` for each one's base URL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import httpx

from .._checks import require_bool
from ..catalog import Catalog
from ..exceptions import ConfigurationError, ProviderResponseError
from ..recommendation import RecommendationRequest
from ._client import MAX_RESPONSE_BYTES, check_base_url, remote_text, resolve_secret
from ._grounding import ResponseItem, parse_response
from ._prompt import DEFAULT_INCLUDE, PromptLimits, response_schema
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

__all__ = ["OpenAIProvider"]

_TOKEN_LIMIT_PARAMS = ("max_tokens", "max_completion_tokens")


class OpenAIProvider(ModelProvider):
    """Recommend catalog products with a model behind an OpenAI-compatible API.

    The provider picks ``candidates`` products from the catalog with the
    embedded recommender and asks the model to choose and order up to
    ``request.limit`` of them. With ``structured_output`` the request
    asks for ``response_format: {"type": "json_schema", "json_schema":
    {"name", "schema", "strict": true}}``. Servers that ignore it respond
    with free text, which is searched for JSON (a code fence or an object
    inside prose) and then for a list of names, so both kinds of server
    work. Items are grounded in the catalog; without a catalog the model
    names products freely and they are shown as text without links.

    Error bodies are read in the shapes of OpenAI (``{"error": {...}}``),
    of Ollama and others (``{"error": "..."}``), of vLLM and of
    Cloudflare, and an error sent with HTTP 200 is still an error. A
    refusal (``message.refusal``) counts as an error too.

    :param base_url: the API's base URL, ending before
        ``/chat/completions``, such as ``"http://127.0.0.1:11434/v1"``.
    :param model: the name of a model that the server serves.
    :param api_key: the bearer token; by default the environment variable
        named by ``api_key_env``. Without one no ``Authorization`` header
        is sent, which local servers accept. It never appears in logs,
        messages or this object's repr.
    :param catalog: the :class:`~edge_personalize.catalog.Catalog` that
        responses are grounded in, or ``None``.
    :param max_tokens_param: the name of the token limit in the request:
        ``"max_tokens"``, or ``"max_completion_tokens"`` for OpenAI's
        reasoning models, which reject the former.
    :param timeout: seconds one call may take; the slot deadline cuts it.
    :param breaker: the provider's circuit breaker, shared by every chain
        it is in; ``None`` turns it off.
    :param include: the context fields sent to the model (see
        ``docs/providers.md``); interests, params and viewed ids are also
        read to pick candidates.
    :param transport: an ``httpx`` transport for tests; ``None`` uses the
        client shared by every remote provider.
    :raises ConfigurationError: for an invalid option.
    """

    service = "The OpenAI-compatible server"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        catalog: Catalog | None = None,
        structured_output: bool = True,
        max_tokens: int = 256,
        max_tokens_param: str = "max_tokens",
        temperature: float = 0.2,
        system_prompt: str | None = None,
        limits: PromptLimits | None = None,
        model_reasons: bool = True,
        candidates: int = DEFAULT_CANDIDATES,
        include: Collection[str] = DEFAULT_INCLUDE,
        current_param: str | Sequence[str] = ("slug", "id"),
        timeout: float = DEFAULT_TIMEOUT,
        breaker: CircuitBreaker | None | BreakerDefault = DEFAULT_BREAKER,
        api_key_env: str | None = "OPENAI_API_KEY",
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        name = type(self).__name__
        key = resolve_secret(api_key, api_key_env, "api_key", name)
        super().__init__(
            catalog=catalog,
            timeout=timeout,
            breaker=breaker,
            include=include,
            candidates=candidates,
            current_param=current_param,
            transport=transport,
            max_response_bytes=max_response_bytes,
            secrets=[key],
            system_prompt=system_prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            limits=limits,
            model_reasons=model_reasons,
        )
        if max_tokens_param not in _TOKEN_LIMIT_PARAMS:
            raise ConfigurationError(
                f"{name}: max_tokens_param={max_tokens_param!r} is invalid; use "
                "'max_tokens' or 'max_completion_tokens'."
            )
        self.base_url = check_base_url(base_url, "base_url", name)
        self.model = check_text(model, "model", name)
        self.structured_output = require_bool(structured_output, "structured_output")
        self.max_tokens_param = max_tokens_param
        self.url = f"{self.base_url}/chat/completions"
        self._key = key
        #: A digest of the settings that shape the response, for caches.
        self.settings_key = settings_digest(
            {
                **self.model_settings(),
                "structured_output": self.structured_output,
                "max_tokens_param": self.max_tokens_param,
            }
        )

    def __repr__(self) -> str:
        return (
            f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r}, "
            f"settings={self.settings_key!r})"
        )

    async def ask(
        self, request: RecommendationRequest, candidates: Candidates
    ) -> list[ResponseItem]:
        """Ask the model to choose for ``request``; return the items it names."""
        payload: dict[str, object] = {
            "model": self.model,
            "messages": self.messages(request, candidates),
            self.max_tokens_param: self.max_tokens,
            "temperature": self.temperature,
            "n": 1,
            "stream": False,
        }
        if self.structured_output:
            schema = response_schema(request.limit, grounded=self.catalog is not None)
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "recommendations",
                    "schema": schema,
                    "strict": True,
                },
            }

        headers = {}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        response = await self.post(self.url, payload, request, headers)
        body = read_response(response, self.service, self.redactor)
        return parse_response(self._content(body))

    def _content(self, body: object) -> str:
        choices = body.get("choices") if isinstance(body, Mapping) else None
        if not isinstance(choices, list) or not choices:
            raise ProviderResponseError(
                f"{self.service} returned no choices: "
                f"{remote_text(body, self.redactor)}"
            )
        first = choices[0]
        message = first.get("message") if isinstance(first, Mapping) else None
        if not isinstance(message, Mapping):
            raise ProviderResponseError(
                f"{self.service} returned a choice without a message."
            )

        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            raise ProviderResponseError(
                f"{self.service}'s model refused the request: "
                f"{remote_text(refusal, self.redactor)}"
            )
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ProviderResponseError(
                f"{self.service} returned an empty message content."
            )
        return content
