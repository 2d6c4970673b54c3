"""WorkersAIProvider: request, envelope, JSON mode, embeddings, faults, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from remote_support import (
    CATALOG,
    CONTEXT,
    PRODUCT,
    Recorder,
    fallback_ids,
    ids,
    json_response,
    make_request,
    run,
)

from edge_personalize import Context
from edge_personalize.exceptions import (
    ConfigurationError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from edge_personalize.providers import (
    CatalogProvider,
    CircuitBreaker,
    ProviderChain,
    WorkersAIProvider,
)
from edge_personalize.providers._client import ClientPool
from emulators.app import ACCOUNT_ID, TOKEN
from emulators.fixtures import ServedEmulator
from emulators.servers import ResetServer, refused_url, wait_until

BASE = "http://127.0.0.1:9/client/v4"
MODEL_PATH = (
    f"/client/v4/accounts/{ACCOUNT_ID}/ai/run/@cf/meta/llama-3.1-8b-instruct-fast"
)


def provider(transport: Any = None, **options: Any) -> WorkersAIProvider:
    settings: dict[str, Any] = {
        "account_id": ACCOUNT_ID,
        "api_token": TOKEN,
        "catalog": CATALOG,
        "base_url": BASE,
        "transport": transport,
    }
    settings.update(options)
    return WorkersAIProvider(**settings)


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def cloudflare_error(code: int, message: str) -> dict[str, Any]:
    return {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
    }


def answer(*item_ids: str) -> httpx.Response:
    items = [{"id": item_id, "reason": f"Reason {item_id}"} for item_id in item_ids]
    return json_response(envelope({"response": {"items": items}}))


def served(emulator: ServedEmulator, **options: Any) -> WorkersAIProvider:
    settings: dict[str, Any] = {
        "base_url": emulator.workers_base_url,
        "transport": None,
    }
    settings.update(options)
    return provider(**settings)


# --- construction ------------------------------------------------------------------


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "env-token-123")
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT_ID)
    recorder = Recorder(answer("3"))
    items = run(
        WorkersAIProvider(catalog=CATALOG, base_url=BASE, transport=recorder.transport)
    )
    assert ids(items) == ["3"]
    assert recorder.requests[0].headers["authorization"] == "Bearer env-token-123"


def test_missing_token_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        WorkersAIProvider(account_id=ACCOUNT_ID)
    assert "CLOUDFLARE_API_TOKEN" in str(caught.value)


def test_missing_account_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        WorkersAIProvider(api_token=TOKEN)
    assert "CLOUDFLARE_ACCOUNT_ID" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"account_id": "a/b"}, "account_id='a/b'", id="account-slash"),
        pytest.param({"model": "../admin"}, "not a Workers AI model", id="model-dots"),
        pytest.param({"model": "@cf/a b"}, "model=", id="model-space"),
        pytest.param({"model": ""}, "model=''", id="model-empty"),
        pytest.param({"mode": "image"}, "mode='image'", id="mode"),
        pytest.param({"base_url": "ftp://x"}, "base_url='ftp://x'", id="base-url"),
        pytest.param({"timeout": 0}, "timeout=0", id="timeout"),
        pytest.param({"catalog": "products.json"}, "must be a Catalog", id="catalog"),
        pytest.param({"breaker": 5}, "breaker=5", id="breaker"),
        pytest.param({"temperature": 3}, "temperature=3", id="temperature"),
        pytest.param({"max_tokens": 0}, "max_tokens=0", id="max-tokens"),
        pytest.param({"candidates": 0}, "candidates=0", id="candidates"),
        pytest.param({"include": {"ip"}}, "['ip']", id="include"),
        pytest.param({"system_prompt": " "}, "system_prompt=", id="system-prompt"),
        pytest.param(
            {"mode": "embeddings", "catalog": None}, "needs catalog", id="embed-catalog"
        ),
    ],
)
def test_rejects_option(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider(**options)
    assert fragment in str(caught.value)


def test_rejects_bad_token_without_showing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider(api_token="secret with spaces")
    assert "secret with spaces" not in str(caught.value)


def test_repr_hides_token() -> None:
    built = provider()
    assert TOKEN not in repr(built)
    assert TOKEN not in str(vars(built))
    assert "llama-3.1-8b-instruct" in repr(built)


def test_catalog_provider_accepted() -> None:
    built = provider(catalog=CatalogProvider(CATALOG))
    assert built.catalog is CATALOG


@pytest.mark.parametrize(
    ("options", "features"),
    [
        pytest.param(
            {},
            {"path", "params", "interests", "viewed", "languages"},
            id="text",
        ),
        pytest.param(
            {"include": {"country"}},
            {"country", "interests", "params", "viewed"},
            id="include",
        ),
        pytest.param(
            {"mode": "embeddings"}, {"interests", "params", "viewed"}, id="embeddings"
        ),
        pytest.param(
            {"catalog": None, "include": {"interests"}}, {"interests"}, id="no-catalog"
        ),
    ],
)
def test_features(options: dict[str, Any], features: set[str]) -> None:
    assert provider(**options).features == frozenset(features)


# --- the request -------------------------------------------------------------------


def test_request_url_and_token() -> None:
    recorder = Recorder(answer("3"))
    run(provider(recorder.transport))
    sent = recorder.requests[0]
    assert sent.method == "POST"
    assert sent.url.raw_path.decode() == MODEL_PATH
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"] == "edge-personalize"


def test_request_json_mode_payload() -> None:
    recorder = Recorder(answer("3"))
    run(provider(recorder.transport, max_tokens=100, temperature=0.5))
    payload = recorder.payload()
    assert [m["role"] for m in payload["messages"]] == ["system", "user"]
    assert payload["max_tokens"] == 100
    assert payload["temperature"] == 0.5
    assert payload["response_format"]["type"] == "json_schema"
    schema = payload["response_format"]["json_schema"]
    assert schema["properties"]["items"]["maxItems"] == 4


def test_request_without_json_mode() -> None:
    recorder = Recorder(
        json_response(envelope({"response": '{"items": [{"id": "3"}]}'}))
    )
    items = run(provider(recorder.transport, json_mode=False))
    assert "response_format" not in recorder.payload()
    assert ids(items) == ["3"]


def test_request_custom_system_prompt() -> None:
    recorder = Recorder(answer("3"))
    run(provider(recorder.transport, system_prompt="Be brief."))
    assert recorder.payload()["messages"][0]["content"] == "Be brief."


def test_request_candidates_exclude_page_and_viewed() -> None:
    recorder = Recorder(answer("3"))
    run(provider(recorder.transport, candidates=10))
    user = recorder.payload()["messages"][1]["content"]
    assert '"id":"1"' not in user
    assert '"id":"2"' not in user
    assert user.count('"id":"') == 10


# --- responses ---------------------------------------------------------------------


def test_answer_object_grounded() -> None:
    recorder = Recorder(answer("5", "424242", "3", "1"))
    items = run(provider(recorder.transport))
    assert ids(items) == ["5", "3"]
    assert items[0].reason == "Reason 5"
    assert items[0].url == CATALOG.get("5").url  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "response",
    [
        pytest.param('{"items": [{"id": "3"}]}', id="json-string"),
        pytest.param('```json\n{"items": [{"id": "3"}]}\n```', id="fenced"),
        pytest.param("1. Powder Canister - matte finish", id="names"),
    ],
)
def test_answer_text_parsed(response: str) -> None:
    recorder = Recorder(json_response(envelope({"response": response})))
    assert ids(run(provider(recorder.transport))) == ["3"]


def test_answer_without_catalog_free_text() -> None:
    items_answer = {"items": [{"title": "Cold brew kit", "reason": "You like coffee"}]}
    recorder = Recorder(json_response(envelope({"response": items_answer})))
    items = run(provider(recorder.transport, catalog=None))
    assert [item.title for item in items] == ["Cold brew kit"]
    assert [item.url for item in items] == [""]
    user = recorder.payload()["messages"][1]["content"]
    assert "candidates" not in user


@pytest.mark.parametrize(
    ("response", "error", "fragment"),
    [
        pytest.param(
            json_response(cloudflare_error(5007, "No such model")),
            ProviderResponseError,
            "No such model",
            id="success-false-200",
        ),
        pytest.param(
            json_response(cloudflare_error(10000, "Authentication error"), 401),
            ProviderResponseError,
            "HTTP 401",
            id="401",
        ),
        pytest.param(
            json_response(envelope({"usage": {}})),
            ProviderResponseError,
            "returned no result.response",
            id="no-response",
        ),
        pytest.param(
            json_response(envelope({"response": 42})),
            ProviderResponseError,
            "of type int",
            id="response-number",
        ),
        pytest.param(
            json_response({"result": {"response": {}}}),
            ProviderResponseError,
            '"success": true',
            id="no-success",
        ),
        pytest.param(
            httpx.Response(502, text="<html>Bad gateway</html>"),
            ProviderResponseError,
            "HTTP 502",
            id="html-502",
        ),
        pytest.param(
            httpx.Response(200, text="{not json"),
            ProviderResponseError,
            "not valid JSON",
            id="malformed",
        ),
    ],
)
def test_answer_errors(response: httpx.Response, error: type, fragment: str) -> None:
    with pytest.raises(error) as caught:
        run(provider(Recorder(response).transport))
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("response", "kind", "retryable", "retry_after"),
    [
        pytest.param(
            json_response(cloudflare_error(3040, "Out of capacity"), 429),
            ProviderRateLimited,
            True,
            None,
            id="3040",
        ),
        pytest.param(
            json_response(cloudflare_error(3036, "Account limited"), 429),
            ProviderRateLimited,
            False,
            None,
            id="429-no-hint",
        ),
        pytest.param(
            json_response(
                cloudflare_error(3036, "Slow down"), 429, {"Retry-After": "2"}
            ),
            ProviderRateLimited,
            True,
            2.0,
            id="429-retry-after",
        ),
        pytest.param(
            json_response(cloudflare_error(3000, "Unavailable"), 503),
            ProviderResponseError,
            True,
            None,
            id="503",
        ),
        pytest.param(
            json_response(cloudflare_error(3000, "Internal"), 500),
            ProviderResponseError,
            False,
            None,
            id="500",
        ),
    ],
)
def test_answer_retry_classes(
    response: httpx.Response, kind: type, retryable: bool, retry_after: float | None
) -> None:
    with pytest.raises(ProviderError) as caught:
        run(provider(Recorder(response).transport))
    assert type(caught.value) is kind
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after


def test_answer_too_large() -> None:
    big = json_response(envelope({"response": "x" * 5000}))
    with pytest.raises(ProviderResponseError) as caught:
        run(provider(Recorder(big).transport, max_response_bytes=1024))
    assert "longer than 1024 bytes" in str(caught.value)


# --- embeddings ---------------------------------------------------------------------


class Embedder:
    """Respond to embedding requests: texts with ``favourite`` point one way."""

    def __init__(self, favourite: str) -> None:
        self.favourite = favourite
        self.batches: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["text"]
        self.batches.append(texts)
        vectors = [[1.0, 0.1] if self.favourite in t else [0.1, 1.0] for t in texts]
        vectors[0] = [1.0, 0.0]
        return json_response(envelope({"shape": [len(texts), 2], "data": vectors}))


def embedding_provider(embedder: Embedder) -> WorkersAIProvider:
    return provider(httpx.MockTransport(embedder), mode="embeddings")


def test_embeddings_rerank_candidates() -> None:
    request = make_request(Context(interests=("beauty",)), limit=20)
    last = fallback_ids(request)[-1]
    product = CATALOG.get(last)
    assert product is not None
    embedder = Embedder(product.title)
    items = run(
        embedding_provider(embedder), make_request(Context(interests=("beauty",)))
    )
    assert ids(items)[0] == last
    assert embedder.batches[0][0] == "beauty"


def test_embeddings_vectors_cached() -> None:
    embedder = Embedder("Mascara")
    built = embedding_provider(embedder)
    request = make_request(Context(interests=("beauty",)))

    async def twice() -> None:
        await built.recommend(request)
        await built.recommend(request)
        await built.aclose()

    asyncio.run(twice())
    assert len(embedder.batches[0]) == 21
    assert embedder.batches[1] == ["beauty"]


def test_embeddings_query_has_current_product() -> None:
    embedder = Embedder("Mascara")
    run(
        embedding_provider(embedder),
        make_request(Context(params={"slug": PRODUCT.slug})),
    )
    assert PRODUCT.title in embedder.batches[0][0]


def test_embeddings_current_product_catch_all() -> None:
    embedder = Embedder("Mascara")
    params = {"path": ("products", PRODUCT.slug)}
    built = provider(
        httpx.MockTransport(embedder), mode="embeddings", current_param="path"
    )
    run(built, make_request(Context(params=params)))
    assert PRODUCT.title in embedder.batches[0][0]


def test_embeddings_without_signal_declines() -> None:
    embedder = Embedder("Mascara")
    with pytest.raises(ProviderUnavailable):
        run(embedding_provider(embedder), make_request(Context()))
    assert embedder.batches == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([[1.0, 0.0]], id="too-few"),
        pytest.param("vectors", id="not-list"),
        pytest.param([["x", 1.0]] * 21, id="not-numbers"),
        pytest.param([[float("nan"), 1.0]] * 21, id="nan"),
    ],
)
def test_embeddings_bad_vectors(data: Any) -> None:
    # Python's json module writes NaN, as some servers do, and reads it.
    body = json.dumps(envelope({"data": data})).encode()
    response = httpx.Response(200, content=body)
    built = provider(Recorder(response).transport, mode="embeddings")
    with pytest.raises(ProviderResponseError):
        run(built, make_request(Context(interests=("beauty",))))


# --- against the emulator, over real sockets ----------------------------------------


def test_emulator_text_mode(emulator: ServedEmulator) -> None:
    request = make_request(limit=20)
    candidates = fallback_ids(request)
    items = run(served(emulator), make_request())
    assert ids(items) == list(reversed(candidates))[:4]
    assert items[0].reason == "Picked by the emulator"
    received = emulator.received[0]
    assert received.path == MODEL_PATH
    assert received.json()["response_format"]["type"] == "json_schema"


def test_emulator_text_mode_string_answer(emulator: ServedEmulator) -> None:
    emulator.answer_style = "prose"
    items = run(served(emulator, json_mode=False))
    assert len(items) == 4


def test_emulator_embeddings_mode(emulator: ServedEmulator) -> None:
    built = served(emulator, mode="embeddings")
    items = run(built, make_request(Context(interests=("lipstick",))))
    assert ids(items)[0] == "4"
    assert emulator.received[0].path.endswith("/ai/run/@cf/baai/bge-base-en-v1.5")


FAULT_TABLE = [
    pytest.param("429", ProviderRateLimited, True, id="429"),
    pytest.param("429-no-hint", ProviderRateLimited, False, id="429-no-hint"),
    pytest.param("3040", ProviderRateLimited, True, id="3040"),
    pytest.param("500", ProviderResponseError, False, id="500"),
    pytest.param("503", ProviderResponseError, True, id="503"),
    pytest.param("malformed", ProviderResponseError, False, id="malformed"),
    pytest.param("truncated", ProviderConnectionError, True, id="truncated"),
    pytest.param("error-200", ProviderResponseError, False, id="error-200"),
    pytest.param("wrong-shape", ProviderResponseError, False, id="wrong-shape"),
    pytest.param("drip", ProviderTimeout, False, id="drip"),
    pytest.param("hang", ProviderTimeout, False, id="hang"),
]


@pytest.mark.parametrize(("fault", "error", "retryable"), FAULT_TABLE)
def test_emulator_fault_error(
    emulator: ServedEmulator, fault: str, error: type, retryable: bool
) -> None:
    emulator.fault = fault
    emulator.retry_after = "1"
    with pytest.raises(ProviderError) as caught:
        run(served(emulator, timeout=0.3))
    assert type(caught.value) is error
    assert caught.value.retryable is retryable


def test_emulator_latency_timeout(emulator: ServedEmulator) -> None:
    emulator.latency = 5.0
    with pytest.raises(ProviderTimeout):
        run(served(emulator, timeout=0.2))


def test_refused_not_retryable() -> None:
    built = provider(base_url=f"{refused_url()}/client/v4")
    with pytest.raises(ProviderConnectionError) as caught:
        run(built)
    assert caught.value.retryable is False


def test_reset_retryable(resetter: ResetServer) -> None:
    built = provider(base_url=f"{resetter.url}/client/v4")
    with pytest.raises(ProviderConnectionError) as caught:
        run(built)
    assert caught.value.retryable is True
    assert resetter.connections >= 1


@pytest.mark.parametrize(("fault", "error", "retryable"), FAULT_TABLE)
def test_chain_falls_back_on_fault(
    emulator: ServedEmulator, fault: str, error: type, retryable: bool
) -> None:
    emulator.fault = fault
    chain = ProviderChain([served(emulator), CatalogProvider(CATALOG)])
    request = make_request(deadline=0.4)
    assert ids(run(chain, request)) == fallback_ids()


def test_chain_retries_3040_then_answers(emulator: ServedEmulator) -> None:
    emulator.fault = "3040"
    emulator.fault_times = 1
    chain = ProviderChain([served(emulator), CatalogProvider(CATALOG)])
    items = run(chain, make_request(deadline=2.0))
    assert items[0].reason == "Picked by the emulator"
    assert len(emulator.received) == 2


def test_chain_breaker_stops_calls(emulator: ServedEmulator) -> None:
    emulator.fault = "500"
    remote = served(emulator, breaker=CircuitBreaker(failures=3, recovery=60))
    chain = ProviderChain([remote, CatalogProvider(CATALOG)])
    for _ in range(6):
        assert ids(run(chain, make_request(deadline=1.0))) == fallback_ids()
    assert len(emulator.received) == 3
    assert remote.breaker is not None
    assert remote.breaker.state == "open"


def test_cancel_closes_connection(emulator: ServedEmulator) -> None:
    emulator.fault = "hang"
    built = served(emulator, timeout=30.0)

    async def scenario() -> None:
        task = asyncio.ensure_future(built.recommend(make_request()))
        while not emulator.received:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await built.aclose()

    asyncio.run(scenario())
    assert wait_until(lambda: emulator.disconnects == 1)


# --- secrets ---------------------------------------------------------------------


def test_token_not_in_errors_or_logs(
    emulator: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fault = "500"
    emulator.echo_auth = True
    chain = ProviderChain([served(emulator), CatalogProvider(CATALOG)])
    with caplog.at_level(logging.DEBUG):
        run(chain, make_request(deadline=1.0))
        with pytest.raises(ProviderResponseError) as caught:
            run(served(emulator))
    assert "for Bearer ********" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caplog.text
    assert "Emulated fault 500" in caplog.text


def test_token_not_in_connection_errors(caplog: pytest.LogCaptureFixture) -> None:
    chain = ProviderChain(
        [provider(base_url=f"{refused_url()}/client/v4"), CatalogProvider(CATALOG)]
    )
    with caplog.at_level(logging.DEBUG):
        run(chain, make_request(deadline=1.0))
    assert "Could not connect" in caplog.text
    assert TOKEN not in caplog.text


# --- the shared client -------------------------------------------------------------


def test_pool_client_per_loop() -> None:
    pool = ClientPool()

    async def clients() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        first, second = pool.client(), pool.client()
        await pool.aclose()
        return first, second

    first_loop = asyncio.run(clients())
    second_loop = asyncio.run(clients())
    assert first_loop[0] is first_loop[1]
    assert first_loop[0] is not second_loop[0]
    assert first_loop[0].is_closed


def test_pool_new_client_after_close() -> None:
    pool = ClientPool()

    async def scenario() -> tuple[bool, bool]:
        first = pool.client()
        await pool.aclose()
        second = pool.client()
        await pool.aclose()
        return first is not second, first.is_closed

    new_client, first_closed = asyncio.run(scenario())
    assert new_client
    assert first_closed


def test_pool_rejects_cookies() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json=envelope({"response": {"items": [{"id": "3"}]}}),
            headers={"Set-Cookie": "tracker=abc; Path=/"},
        )
    )
    built = provider(recorder.transport)

    async def twice() -> None:
        await built.recommend(make_request())
        await built.recommend(make_request())
        await built.aclose()

    asyncio.run(twice())
    assert "cookie" not in recorder.requests[1].headers


def test_include_sends_country() -> None:
    recorder = Recorder(answer("3"))
    run(provider(recorder.transport, include={"path", "country"}))
    user = recorder.payload()["messages"][1]["content"]
    assert '"country":"GB"' in user
    assert CONTEXT.path in user
    assert '"languages"' not in user


def test_default_include_leaves_out_country() -> None:
    recorder = Recorder(answer("3"))
    run(provider(recorder.transport))
    user = recorder.payload()["messages"][1]["content"]
    assert '"country"' not in user
    assert '"device"' not in user
