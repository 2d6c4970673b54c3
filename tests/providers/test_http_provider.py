"""HTTPProvider: the documented request and response, grounding, faults, secrets."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from remote_support import (
    CATALOG,
    CONTEXT,
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
)
from edge_personalize.providers import CatalogProvider, HTTPProvider, ProviderChain
from edge_personalize.rendering import render_recommendations
from emulators.fixtures import ServedEmulator

URL = "http://127.0.0.1:9/recommend"
SECRET = "service-secret-0f9e"


def provider(transport: Any = None, **options: Any) -> HTTPProvider:
    settings: dict[str, Any] = {"url": URL, "transport": transport}
    settings.update(options)
    return HTTPProvider(**settings)


def items_response(*items: dict[str, Any]) -> httpx.Response:
    return json_response({"items": list(items)})


# --- construction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"url": "/recommend"}, "url='/recommend'", id="relative"),
        pytest.param({"headers": ["a"]}, "must be a mapping", id="headers-list"),
        pytest.param({"headers": {"Bad Name": "x"}}, "'Bad Name'", id="header-name"),
        pytest.param(
            {"headers": {"Content-Type": "text/plain"}}, "set by the provider", id="ct"
        ),
        pytest.param({"headers": {"X-Key": "a\nb"}}, "'X-Key'", id="header-newline"),
        pytest.param({"timeout": -1}, "timeout=-1", id="timeout"),
        pytest.param({"limits": {"max_items": 1}}, "PromptLimits", id="limits"),
    ],
)
def test_rejects_option(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider(**options)
    assert fragment in str(caught.value)


def test_repr_hides_secrets() -> None:
    built = provider(
        url="http://user:pass-9x@127.0.0.1:9/recommend?key=query-secret",
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    text = repr(built)
    assert text.startswith(
        "HTTPProvider(url='http://127.0.0.1:9/recommend', headers=['Authorization'], "
    )
    assert SECRET not in text
    assert "pass-9x" not in text
    assert "query-secret" not in text


def test_features_are_include() -> None:
    built = provider(catalog=CATALOG, include={"interests", "device"})
    assert built.features == frozenset({"interests", "device"})


# --- the request -------------------------------------------------------------------


def test_request_documented_body() -> None:
    recorder = Recorder(items_response())
    run(provider(recorder.transport))
    assert recorder.payload() == {
        "version": 1,
        "slot": "recommendations",
        "limit": 4,
        "context": {
            "path": CONTEXT.path,
            "params": dict(CONTEXT.params),
            "interests": ["beauty"],
            "viewed": ["2"],
            "languages": ["en-GB"],
        },
    }


def test_request_include_all_fields() -> None:
    recorder = Recorder(items_response())
    include = {
        "path",
        "params",
        "interests",
        "viewed",
        "languages",
        "country",
        "device",
    }
    run(provider(recorder.transport, include=include))
    context = recorder.payload()["context"]
    assert context["country"] == "GB"
    assert context["device"] == "desktop"


def test_request_headers_sent() -> None:
    recorder = Recorder(items_response())
    run(provider(recorder.transport, headers={"Authorization": f"Bearer {SECRET}"}))
    sent = recorder.requests[0]
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.headers["content-type"] == "application/json"


def test_request_url_kept_as_given() -> None:
    recorder = Recorder(items_response())
    run(provider(recorder.transport, url="http://127.0.0.1:9/api/recs/?v=2"))
    assert str(recorder.requests[0].url) == "http://127.0.0.1:9/api/recs/?v=2"


def test_request_values_cleaned() -> None:
    recorder = Recorder(items_response())
    context = Context(path="/a\x00b\u202e\nc", interests=("x" * 500,))
    run(provider(recorder.transport), make_request(context))
    sent = recorder.payload()["context"]
    assert sent["path"] == "/a b c"
    assert sent["interests"] == ["x" * 64]


# --- responses ---------------------------------------------------------------------


def test_answer_without_catalog_keeps_fields() -> None:
    item = {
        "id": "sku-1",
        "title": "Red mug",
        "url": "/products/red-mug",
        "image_url": "/img/1.jpg",
        "price": 9.5,
        "currency": "eur",
        "reason": "Goes with coffee",
    }
    [result] = run(provider(Recorder(items_response(item)).transport))
    assert result.id == "sku-1"
    assert result.url == "/products/red-mug"
    assert result.image_url == "/img/1.jpg"
    assert result.price == 9.5
    assert result.currency == "EUR"
    assert result.reason == "Goes with coffee"


def test_answer_bare_list() -> None:
    response = json_response([{"id": "a", "title": "A", "url": "/a"}])
    assert ids(run(provider(Recorder(response).transport))) == ["a"]


def test_answer_grounded_with_catalog() -> None:
    response = items_response(
        {"id": "3", "title": "Anything", "url": "javascript:alert(1)"},
        {"id": "not-in-catalog", "title": "Invented"},
        {"title": "Red Lipstick"},
    )
    items = run(provider(Recorder(response).transport, catalog=CATALOG))
    assert ids(items) == ["3", "4"]
    assert items[0].title == "Powder Canister"
    assert items[0].url == CATALOG.get("3").url  # type: ignore[union-attr]


def test_answer_unsafe_urls_not_rendered() -> None:
    response = items_response(
        {"id": "a", "title": "Evil", "url": "javascript:alert(1)"},
        {"id": "b", "title": "Good", "url": "/b", "image_url": "data:image/png,x"},
    )
    items = run(provider(Recorder(response).transport))
    html = render_recommendations("recommendations", items, Context())
    assert "javascript:" not in html
    assert "data:" not in html
    assert 'href="/b"' in html


def test_answer_invalid_items_skipped() -> None:
    response = items_response(
        {"id": "a", "title": "A", "url": "/a", "price": "free", "currency": "euro"},
        {"id": "b"},
        "just a name",
    )
    items = run(provider(Recorder(response).transport))
    assert ids(items)[0] == "a"
    assert items[0].price is None
    assert items[0].currency is None


@pytest.mark.parametrize(
    ("response", "error", "fragment"),
    [
        pytest.param(
            json_response({"items": "none"}),
            ProviderResponseError,
            "items list",
            id="items",
        ),
        pytest.param(
            json_response({"error": "database down"}),
            ProviderResponseError,
            "database down",
            id="error-200",
        ),
        pytest.param(
            json_response({"detail": "Not found"}, 404),
            ProviderResponseError,
            "HTTP 404",
            id="404",
        ),
        pytest.param(
            json_response({"error": "slow down"}, 429, {"Retry-After": "3"}),
            ProviderRateLimited,
            "slow down",
            id="429",
        ),
    ],
)
def test_answer_errors(response: httpx.Response, error: type, fragment: str) -> None:
    with pytest.raises(error) as caught:
        run(provider(Recorder(response).transport))
    assert fragment in str(caught.value)


def test_error_redacts_header_value() -> None:
    response = json_response({"error": f"bad token Bearer {SECRET}"}, 401)
    built = provider(
        Recorder(response).transport, headers={"Authorization": f"Bearer {SECRET}"}
    )
    with pytest.raises(ProviderResponseError) as caught:
        run(built)
    assert SECRET not in str(caught.value)
    assert "bad token ********" in str(caught.value)


# --- against the emulator ----------------------------------------------------------


def test_emulator_service(emulator: ServedEmulator) -> None:
    emulator.service_items = [{"id": "5"}, {"id": "6"}, {"id": "ghost"}]
    items = run(HTTPProvider(url=emulator.service_url, catalog=CATALOG))
    assert ids(items) == ["5", "6"]
    assert emulator.received[0].json()["context"]["interests"] == ["beauty"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param("429", ProviderRateLimited, id="429"),
        pytest.param("500", ProviderResponseError, id="500"),
        pytest.param("malformed", ProviderResponseError, id="malformed"),
        pytest.param("truncated", ProviderConnectionError, id="truncated"),
        pytest.param("error-200", ProviderResponseError, id="error-200"),
        pytest.param("drip", ProviderTimeout, id="drip"),
        pytest.param("hang", ProviderTimeout, id="hang"),
    ],
)
def test_emulator_faults(emulator: ServedEmulator, fault: str, error: type) -> None:
    emulator.fault = fault
    emulator.service_items = [{"id": "5"}]
    with pytest.raises(ProviderError) as caught:
        run(HTTPProvider(url=emulator.service_url, catalog=CATALOG, timeout=0.3))
    assert type(caught.value) is error


def test_emulator_chain_fallback(
    emulator: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fault = "500"
    emulator.echo_auth = True
    remote = HTTPProvider(
        url=emulator.service_url,
        catalog=CATALOG,
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    chain = ProviderChain([remote, CatalogProvider(CATALOG)])
    with caplog.at_level(logging.DEBUG):
        items = run(chain, make_request(deadline=1.0))
    assert ids(items) == fallback_ids()
    assert "Emulated fault 500" in caplog.text
    assert SECRET not in caplog.text
