"""Django adapter: reading the EDGE_PERSONALIZE settings at start-up."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import testproject
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.test.utils import override_settings
from django.urls import path
from testproject import personalization
from testproject.helpers import BROWSER_UA, HTML, PAGE

from edge_personalize import ContextOptions, Personalizer, Slot, StaticProvider
from edge_personalize.cache import MemoryCache
from edge_personalize.django import PersonalizeMiddleware

testproject.setup()

PROVIDER_PATH = "testproject.personalization.STATIC_PROVIDER"


def get_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE, content_type=HTML)


def build(**overrides: Any) -> PersonalizeMiddleware:
    """Build the middleware under ``overrides`` of the settings."""
    with override_settings(**overrides):
        return PersonalizeMiddleware(get_response)


@pytest.fixture
def without_setting() -> Iterator[None]:
    """Remove EDGE_PERSONALIZE from the settings for one test."""
    with override_settings():
        del settings.EDGE_PERSONALIZE
        yield


# Accepted forms


def test_personalizer_object() -> None:
    personalizer = Personalizer(routes=["/a"], providers=[StaticProvider([])])
    middleware = build(EDGE_PERSONALIZE=personalizer)
    assert middleware.personalizer is personalizer


def test_dotted_path_to_object() -> None:
    middleware = build(EDGE_PERSONALIZE="testproject.personalization.PERSONALIZER")
    assert middleware.personalizer is personalization.PERSONALIZER


def test_dotted_path_to_factory() -> None:
    middleware = build(
        EDGE_PERSONALIZE="testproject.personalization.build_personalizer"
    )
    assert isinstance(middleware.personalizer, Personalizer)
    assert middleware.personalizer is not personalization.PERSONALIZER


@pytest.mark.parametrize(
    ("entry", "expected_type"),
    [
        pytest.param(PROVIDER_PATH, StaticProvider, id="path-to-object"),
        pytest.param(
            "testproject.personalization.FixedProvider",
            personalization.FixedProvider,
            id="path-to-class",
        ),
        pytest.param(
            "testproject.personalization.fixed_provider",
            personalization.FixedProvider,
            id="path-to-factory",
        ),
        pytest.param(personalization.STATIC_PROVIDER, StaticProvider, id="object"),
        pytest.param(
            personalization.FixedProvider, personalization.FixedProvider, id="class"
        ),
    ],
)
def test_provider_entries(entry: object, expected_type: type) -> None:
    middleware = build(EDGE_PERSONALIZE={"routes": ["/a"], "providers": [entry]})
    providers = middleware.personalizer.slots["recommendations"].chain.providers
    assert len(providers) == 1
    assert isinstance(providers[0], expected_type)


def test_slots_as_dicts() -> None:
    middleware = build(
        EDGE_PERSONALIZE={
            "routes": ["/products/:slug"],
            "slots": {
                "recs": {
                    "providers": [PROVIDER_PATH],
                    "limit": 2,
                    "heading": "Picks",
                    "renderer": "testproject.personalization.render_plain",
                },
                "trending": Slot(providers=[personalization.STATIC_PROVIDER]),
            },
            "deadline": 0.5,
            "max_body_size": 4096,
        }
    )
    personalizer = middleware.personalizer
    assert sorted(personalizer.slots) == ["recs", "trending"]
    assert personalizer.slots["recs"].limit == 2
    assert personalizer.slots["recs"].heading == "Picks"
    assert personalizer.slots["recs"].renderer is personalization.render_plain
    assert personalizer.deadline == 0.5
    assert personalizer.max_body_size == 4096


def test_context_fields_in_dict() -> None:
    middleware = build(
        EDGE_PERSONALIZE={
            "routes": ["/a"],
            "providers": [PROVIDER_PATH],
            "interest_params": ["topic"],
            "trusted_headers": ["cloudflare"],
        }
    )
    options = middleware.personalizer.context_options
    assert options.interest_params == ("topic",)
    assert options.trusted_headers == ("cloudflare",)


def test_context_options_as_dict() -> None:
    middleware = build(
        EDGE_PERSONALIZE={
            "routes": ["/a"],
            "providers": [PROVIDER_PATH],
            "context_options": {"viewed_cookie": None, "max_interests": 3},
        }
    )
    assert middleware.personalizer.context_options == ContextOptions(
        viewed_cookie=None, max_interests=3
    )


@pytest.mark.parametrize(
    ("cache", "expected_type"),
    [
        pytest.param(
            "edge_personalize.cache.MemoryCache", MemoryCache, id="class-path"
        ),
        pytest.param(
            "testproject.personalization.MEMORY_CACHE", MemoryCache, id="object-path"
        ),
        pytest.param(None, type(None), id="off"),
    ],
)
def test_cache_entry(cache: object, expected_type: type) -> None:
    middleware = build(
        EDGE_PERSONALIZE={
            "routes": ["/a"],
            "providers": [PROVIDER_PATH],
            "cache": cache,
        }
    )
    assert isinstance(middleware.personalizer.cache, expected_type)


def test_context_hook_by_path() -> None:
    middleware = build(
        EDGE_PERSONALIZE_CONTEXT_HOOK="testproject.personalization.add_tea"
    )
    assert middleware.context_hook is personalization.add_tea


# Turning the middleware off


def test_disabled_raises_middleware_not_used() -> None:
    with pytest.raises(MiddlewareNotUsed):
        build(EDGE_PERSONALIZE_ENABLED=False)


def test_disabled_needs_no_setting(without_setting: None) -> None:
    with pytest.raises(MiddlewareNotUsed):
        build(EDGE_PERSONALIZE_ENABLED=False)


def test_disabled_handler_skips_middleware() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/shop/mug",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_USER_AGENT": BROWSER_UA,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    calls: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        calls.append(status)
        return lambda data: None

    with override_settings(EDGE_PERSONALIZE_ENABLED=False, ROOT_URLCONF=__name__):
        response = WSGIHandler()(environ, start_response)
        body = b"".join(response)
        response.close()
    assert calls == ["200 OK"]
    assert body == PAGE


urlpatterns = [path("shop/mug", get_response)]


# Invalid settings


@pytest.mark.parametrize(
    ("overrides", "setting", "fix"),
    [
        pytest.param(
            {"EDGE_PERSONALIZE_ENABLED": "yes"},
            "EDGE_PERSONALIZE_ENABLED",
            "must be True or False",
            id="enabled-not-bool",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": 42},
            "EDGE_PERSONALIZE",
            "must be a Personalizer, the dotted path of one",
            id="wrong-type",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": "testproject.nowhere.personalizer"},
            "EDGE_PERSONALIZE = 'testproject.nowhere.personalizer'",
            "cannot be imported",
            id="bad-path",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": "testproject.personalization.ITEM"},
            "EDGE_PERSONALIZE = 'testproject.personalization.ITEM'",
            "not a Personalizer",
            id="path-to-other-object",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": "testproject.personalization.invalid_personalizer"},
            "EDGE_PERSONALIZE = 'testproject.personalization.invalid_personalizer'",
            "deadline must be more than 0",
            id="factory-raises",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": {"providers": [PROVIDER_PATH]}},
            "EDGE_PERSONALIZE has no 'routes'",
            "'routes': ['/products/:slug']",
            id="no-routes",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": {"routes": ["/a"], "provider": [PROVIDER_PATH]}},
            "EDGE_PERSONALIZE has unknown keys ['provider']",
            "'providers'",
            id="unknown-key",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": {"routes": ["/a"], "providers": PROVIDER_PATH}},
            "EDGE_PERSONALIZE['providers']",
            "must be a list of providers",
            id="providers-not-list",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "providers": ["testproject.personalization.ITEM"],
                }
            },
            "EDGE_PERSONALIZE['providers'][0]",
            "has no recommend() method",
            id="not-a-provider",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "providers": ["testproject.personalization.NeedsArguments"],
                }
            },
            "EDGE_PERSONALIZE['providers'][0]",
            "cannot be called without arguments",
            id="class-needs-arguments",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "providers": [PROVIDER_PATH],
                    "deadline": -1,
                }
            },
            "EDGE_PERSONALIZE is invalid",
            "deadline must be more than 0",
            id="bad-deadline",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": {"routes": ["/a"], "slots": {"recs": PROVIDER_PATH}}},
            "EDGE_PERSONALIZE['slots']['recs']",
            "must be a Slot or a dict",
            id="slot-not-dict",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "slots": {"recs": {"providers": [PROVIDER_PATH], "limits": 2}},
                }
            },
            "EDGE_PERSONALIZE['slots']['recs'] has unknown keys ['limits']",
            "'limit'",
            id="slot-unknown-key",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": {"routes": ["/a"], "slots": {"recs": {"limit": 2}}}},
            "EDGE_PERSONALIZE['slots']['recs'] has no 'providers'",
            "List the slot's providers",
            id="slot-no-providers",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "slots": {"recs": {"providers": [PROVIDER_PATH], "limit": 0}},
                }
            },
            "EDGE_PERSONALIZE['slots']['recs'] is invalid",
            "limit must be between 1 and",
            id="slot-bad-limit",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "slots": {"Recs!": {"providers": [PROVIDER_PATH]}},
                }
            },
            "EDGE_PERSONALIZE is invalid",
            "'Recs!' is invalid",
            id="bad-slot-name",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "providers": [PROVIDER_PATH],
                    "context_options": {"max_interests": -1},
                }
            },
            "EDGE_PERSONALIZE['context_options'] is invalid",
            "max_interests=-1 is invalid",
            id="bad-context-options",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE": {"routes": ["/a/:"], "providers": [PROVIDER_PATH]}},
            "EDGE_PERSONALIZE is invalid",
            "/a/:",
            id="bad-route",
        ),
        pytest.param(
            {
                "EDGE_PERSONALIZE": {
                    "routes": ["/a"],
                    "providers": [PROVIDER_PATH],
                    "cache": "testproject.personalization.ITEM",
                }
            },
            "EDGE_PERSONALIZE is invalid",
            "cache must be a MemoryCache",
            id="not-a-cache",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE_CONTEXT_HOOK": 42},
            "EDGE_PERSONALIZE_CONTEXT_HOOK = 42 is not callable",
            "hook(request, context)",
            id="hook-not-callable",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE_CONTEXT_HOOK": "testproject.nowhere.hook"},
            "EDGE_PERSONALIZE_CONTEXT_HOOK = 'testproject.nowhere.hook'",
            "cannot be imported",
            id="hook-bad-path",
        ),
        pytest.param(
            {"EDGE_PERSONALIZE_CONTEXT_HOOK": personalization.async_hook},
            "EDGE_PERSONALIZE_CONTEXT_HOOK",
            "Use a plain function",
            id="hook-coroutine",
        ),
    ],
)
def test_invalid_settings(overrides: dict[str, Any], setting: str, fix: str) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        build(**overrides)
    message = str(raised.value)
    assert setting in message
    assert fix in message


def test_missing_setting(without_setting: None) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        build()
    assert "EDGE_PERSONALIZE is not set" in str(raised.value)
    assert "EDGE_PERSONALIZE_ENABLED = False" in str(raised.value)


def test_handler_fails_at_start_up() -> None:
    with override_settings(EDGE_PERSONALIZE=42), pytest.raises(ImproperlyConfigured):
        WSGIHandler()
