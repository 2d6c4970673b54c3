"""OpenAIProvider: request shape, structured output, error shapes, faults."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from remote_support import (
    CATALOG,
    Recorder,
    fallback_ids,
    ids,
    json_response,
    make_request,
    run,
)

from edge_personalize.exceptions import (
    ConfigurationError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
)
from edge_personalize.providers import CatalogProvider, OpenAIProvider, ProviderChain
from emulators.app import API_KEY
from emulators.fixtures import ServedEmulator

BASE = "http://127.0.0.1:9/v1"


def provider(transport: Any = None, **options: Any) -> OpenAIProvider:
    settings: dict[str, Any] = {
        "base_url": BASE,
        "model": "llama3.1:8b",
        "api_key": API_KEY,
        "catalog": CATALOG,
        "transport": transport,
    }
    settings.update(options)
    return OpenAIProvider(**settings)


def completion(content: Any, **message: Any) -> httpx.Response:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
            }
        ],
    }
    return json_response(body)


def picks(*item_ids: str) -> httpx.Response:
    items = [{"id": item_id, "reason": "fits"} for item_id in item_ids]
    return completion(json.dumps({"items": items}))


def served(emulator: ServedEmulator, **options: Any) -> OpenAIProvider:
    settings: dict[str, Any] = {"base_url": emulator.openai_base_url, "transport": None}
    settings.update(options)
    return provider(**settings)


# --- construction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"base_url": "127.0.0.1:8080"}, "base_url=", id="no-scheme"),
        pytest.param({"model": ""}, "model=''", id="model-empty"),
        pytest.param({"model": None}, "model=None", id="model-none"),
        pytest.param(
            {"max_tokens_param": "tokens"}, "max_tokens_param='tokens'", id="param"
        ),
        pytest.param({"api_key": "two words"}, "api_key=", id="key-space"),
    ],
)
def test_rejects_option(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider(**options)
    assert fragment in str(caught.value)
    assert "two words" not in str(caught.value)


def test_repr_hides_key() -> None:
    built = provider()
    assert API_KEY not in repr(built)
    assert API_KEY not in str(vars(built))
    assert repr(built).startswith(
        f"OpenAIProvider(model='llama3.1:8b', base_url='{BASE}', settings='"
    )


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"system_prompt": "Be brief."}, id="system-prompt"),
        pytest.param({"candidates": 5}, id="candidates"),
        pytest.param({"include": {"interests"}}, id="include"),
        pytest.param({"structured_output": False}, id="structured-output"),
    ],
)
def test_repr_changes_with_settings(options: dict[str, Any]) -> None:
    assert repr(provider(**options)) != repr(provider())


def test_repr_same_for_same_settings() -> None:
    assert repr(provider()) == repr(provider())


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    recorder = Recorder(picks("3"))
    run(provider(recorder.transport, api_key=None))
    assert recorder.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_no_key_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    recorder = Recorder(picks("3"))
    run(provider(recorder.transport, api_key=None, api_key_env=None))
    assert "authorization" not in recorder.requests[0].headers


# --- the request -------------------------------------------------------------------


def test_request_shape() -> None:
    recorder = Recorder(picks("3"))
    run(provider(recorder.transport))
    sent = recorder.requests[0]
    payload = recorder.payload()
    assert str(sent.url) == f"{BASE}/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert payload["model"] == "llama3.1:8b"
    assert payload["max_tokens"] == 256
    assert payload["stream"] is False
    assert [m["role"] for m in payload["messages"]] == ["system", "user"]


def test_request_structured_output() -> None:
    recorder = Recorder(picks("3"))
    run(provider(recorder.transport))
    response_format = recorder.payload()["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "recommendations"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False


def test_request_without_structured_output() -> None:
    recorder = Recorder(picks("3"))
    run(provider(recorder.transport, structured_output=False))
    assert "response_format" not in recorder.payload()


def test_request_max_completion_tokens() -> None:
    recorder = Recorder(picks("3"))
    run(provider(recorder.transport, max_tokens_param="max_completion_tokens"))
    payload = recorder.payload()
    assert payload["max_completion_tokens"] == 256
    assert "max_tokens" not in payload


def test_base_url_trailing_slash() -> None:
    recorder = Recorder(picks("3"))
    run(provider(recorder.transport, base_url=BASE + "/"))
    assert str(recorder.requests[0].url) == f"{BASE}/chat/completions"


# --- responses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param('{"items": [{"id": "3", "reason": "r"}]}', id="json"),
        pytest.param('```json\n{"items": [{"id": "3"}]}\n```', id="fenced"),
        pytest.param('Sure! {"items": [{"id": "3"}]} Enjoy.', id="prose"),
        pytest.param("My picks:\n1. Powder Canister - matte", id="names"),
        pytest.param('[{"title": "Powder Canister"}]', id="titles"),
    ],
)
def test_answer_tolerant(content: str) -> None:
    assert ids(run(provider(Recorder(completion(content)).transport))) == ["3"]


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        pytest.param(
            json_response({"error": {"message": "model not found", "code": "404"}}),
            "model not found",
            id="openai-shape-200",
        ),
        pytest.param(
            json_response({"error": "model 'x' not found"}, 404),
            "model 'x' not found",
            id="string-shape",
        ),
        pytest.param(
            json_response({"object": "error", "message": "bad", "code": 400}, 400),
            "bad",
            id="vllm-shape",
        ),
        pytest.param(
            json_response(
                {"success": False, "errors": [{"code": 5007, "message": "no model"}]},
                400,
            ),
            "no model",
            id="cloudflare-shape",
        ),
        pytest.param(
            json_response({"detail": "Not authenticated"}, 403),
            "Not authenticated",
            id="detail-shape",
        ),
        pytest.param(
            json_response({"unexpected": True}), "returned no choices", id="no-choices"
        ),
        pytest.param(completion(None), "empty message content", id="null-content"),
        pytest.param(
            completion(None, refusal="I can't help with that"),
            "refused the request: I can't help with that",
            id="refusal",
        ),
        pytest.param(
            json_response({"choices": [{"index": 0}]}),
            "without a message",
            id="no-message",
        ),
    ],
)
def test_answer_errors(response: httpx.Response, fragment: str) -> None:
    with pytest.raises(ProviderResponseError) as caught:
        run(provider(Recorder(response).transport))
    assert fragment in str(caught.value)


def test_answer_error_code_kept() -> None:
    response = json_response(
        {"error": {"message": "Rate limit", "type": "requests", "code": "rate_limit"}},
        429,
        {"retry-after-ms": "250"},
    )
    with pytest.raises(ProviderRateLimited) as caught:
        run(provider(Recorder(response).transport))
    assert caught.value.code == "rate_limit"
    assert caught.value.status == 429
    assert caught.value.retry_after == 0.25
    assert caught.value.retryable is True


def test_answer_without_catalog() -> None:
    content = '{"items": [{"title": "Pour-over kettle", "reason": "coffee"}]}'
    recorder = Recorder(completion(content))
    items = run(provider(recorder.transport, catalog=None))
    assert [item.title for item in items] == ["Pour-over kettle"]
    assert [item.url for item in items] == [""]
    schema = recorder.payload()["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["items"]["items"]["required"] == ["title", "reason"]


def test_answer_model_reasons_off() -> None:
    recorder = Recorder(picks("3"))
    [item] = run(provider(recorder.transport, model_reasons=False))
    assert item.reason != "fits"
    assert item.reason


# --- against the emulator ----------------------------------------------------------


def test_emulator_answer(emulator: ServedEmulator) -> None:
    candidates = fallback_ids(make_request(limit=20))
    items = run(served(emulator))
    assert ids(items) == list(reversed(candidates))[:4]
    assert emulator.received[0].path == "/v1/chat/completions"


@pytest.mark.parametrize("style", ["fenced", "prose", "names"])
def test_emulator_ignores_response_format(emulator: ServedEmulator, style: str) -> None:
    emulator.answer_style = style
    items = run(served(emulator))
    assert len(items) == 4


@pytest.mark.parametrize("shape", ["object", "string", "vllm"])
def test_emulator_error_shapes(emulator: ServedEmulator, shape: str) -> None:
    emulator.fault = "error-200"
    emulator.error_shape = shape
    with pytest.raises(ProviderResponseError) as caught:
        run(served(emulator))
    assert "Emulated fault error-200" in str(caught.value)


def test_emulator_wrong_key(emulator: ServedEmulator) -> None:
    with pytest.raises(ProviderResponseError) as caught:
        run(served(emulator, api_key="sk-wrong"))
    assert caught.value.status == 401
    assert "sk-wrong" not in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "error", "retryable"),
    [
        pytest.param("429", ProviderRateLimited, True, id="429"),
        pytest.param("429-no-hint", ProviderRateLimited, False, id="429-no-hint"),
        pytest.param("500", ProviderResponseError, False, id="500"),
        pytest.param("503", ProviderResponseError, True, id="503"),
        pytest.param("malformed", ProviderResponseError, False, id="malformed"),
        pytest.param("truncated", ProviderConnectionError, True, id="truncated"),
        pytest.param("error-200", ProviderResponseError, False, id="error-200"),
        pytest.param("refusal", ProviderResponseError, False, id="refusal"),
        pytest.param("drip", ProviderTimeout, False, id="drip"),
        pytest.param("hang", ProviderTimeout, False, id="hang"),
    ],
)
def test_emulator_faults(
    emulator: ServedEmulator, fault: str, error: type, retryable: bool
) -> None:
    emulator.fault = fault
    with pytest.raises(ProviderError) as caught:
        run(served(emulator, timeout=0.3))
    assert type(caught.value) is error
    assert caught.value.retryable is retryable


def test_emulator_chain_fallback(emulator: ServedEmulator) -> None:
    emulator.fault = "hang"
    chain = ProviderChain([served(emulator), CatalogProvider(CATALOG)])
    assert ids(run(chain, make_request(deadline=0.3))) == fallback_ids()


def test_emulator_key_redacted_in_logs(
    emulator: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fault = "503"
    emulator.echo_auth = True
    chain = ProviderChain([served(emulator), CatalogProvider(CATALOG)])
    with caplog.at_level(logging.DEBUG):
        run(chain, make_request(deadline=1.0))
    assert "Bearer ********" in caplog.text
    assert API_KEY not in caplog.text
