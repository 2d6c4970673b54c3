"""Django adapter: modes, requests, the context hook and HttpResponse bodies.

The behaviour every adapter shares runs in ``tests/test_adapters.py``
through Django's WSGI and ASGI handlers; these tests cover what only the
Django adapter has. ``mode`` runs a test once with a sync ``get_response``
(the middleware's sync mode) and once with an async one.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
import testproject
from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.response import SimpleTemplateResponse
from django.test import Client, RequestFactory
from django.test.utils import override_settings
from django.urls import path
from django.utils.functional import SimpleLazyObject
from testproject.helpers import (
    BROWSER_UA,
    EVENT_TIMEOUT,
    FRAGMENT,
    HTML,
    MARK,
    PAGE,
    PERSONALIZED,
    RecordingProvider,
    make_personalizer,
)

from edge_personalize import Context, Personalizer
from edge_personalize.django import PersonalizeMiddleware

testproject.setup()

View = Callable[[HttpRequest], HttpResponse]


def page_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE, content_type=HTML)


def template_view(request: HttpRequest) -> SimpleTemplateResponse:
    template = engines["django"].from_string(
        "<html><body><h1>{{ name }}</h1><!-- personalize:recs --></body></html>"
    )
    return SimpleTemplateResponse(template, {"name": "Mug"})


urlpatterns = [path("shop/template", template_view)]


def request_for(path: str = "/shop/mug", **headers: str) -> HttpRequest:
    factory = RequestFactory(headers={"User-Agent": BROWSER_UA, **headers})
    return factory.get(path)


class Mode:
    """Build and call the middleware in sync or in async mode."""

    def __init__(self, name: str) -> None:
        self.name = name

    def build(
        self, personalizer: Personalizer, view: View = page_view, **overrides: Any
    ) -> PersonalizeMiddleware:
        get_response: Callable[[HttpRequest], Any] = view
        if self.name == "async":

            async def get_response(request: HttpRequest) -> HttpResponse:
                # As Django runs a sync view below an async stack: in a thread.
                return await asyncio.to_thread(view, request)

        with override_settings(EDGE_PERSONALIZE=personalizer, **overrides):
            return PersonalizeMiddleware(get_response)

    def call(self, middleware: PersonalizeMiddleware, request: HttpRequest) -> Any:
        result = middleware(request)
        if self.name == "async":
            assert isinstance(result, Awaitable)
            return asyncio.run(_await(result))
        return result


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    return Mode(request.param)


# Modes


def test_sync_mode_not_coroutine() -> None:
    middleware = Mode("sync").build(make_personalizer())
    assert not iscoroutinefunction(middleware)
    assert middleware.is_async is False


def test_async_mode_is_coroutine() -> None:
    middleware = Mode("async").build(make_personalizer())
    assert iscoroutinefunction(middleware)
    assert middleware.is_async is True


def test_page_rewritten(mode: Mode) -> None:
    middleware = mode.build(make_personalizer())
    response = mode.call(middleware, request_for())
    assert response.content == PERSONALIZED
    assert response["Content-Length"] == str(len(PERSONALIZED))
    assert response["Cache-Control"] == "private"


def test_template_response_rendered_first() -> None:
    with override_settings(EDGE_PERSONALIZE=make_personalizer(), ROOT_URLCONF=__name__):
        response = Client(headers={"User-Agent": BROWSER_UA}).get("/shop/template")
    assert response.content == (
        b"<html><body><h1>Mug</h1>" + FRAGMENT.encode() + b"</body></html>"
    )


# The request view that the core reads


def test_request_view_query_and_headers(mode: Mode) -> None:
    provider = RecordingProvider()
    middleware = mode.build(make_personalizer(provider))
    request = request_for(
        "/shop/mug?interest=tea",
        **{"Accept-Language": "fr-CH, de;q=0.5", "Cookie": "ep_viewed=7,9"},
    )
    mode.call(middleware, request)
    context = provider.contexts[0]
    assert context.path == "/shop/mug"
    assert context.interests == ("tea",)
    assert context.languages[0] == "fr-CH"
    assert context.viewed == ("7", "9")
    assert context.device == "desktop"


def test_request_view_under_asgi_scope() -> None:
    provider = RecordingProvider()
    middleware = Mode("async").build(make_personalizer(provider))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/shop/mug",
        "query_string": b"interest=caf%C3%A9",
        "headers": [(b"user-agent", BROWSER_UA.encode())],
    }
    request = ASGIRequest(scope, io.BytesIO())
    Mode("async").call(middleware, request)
    assert provider.contexts[0].interests == ("café",)


def test_user_never_evaluated(mode: Mode) -> None:
    def evaluate_user() -> object:
        pytest.fail("the middleware evaluated request.user")

    middleware = mode.build(make_personalizer())
    request = request_for()
    request.user = SimpleLazyObject(evaluate_user)  # type: ignore[attr-defined]
    response = mode.call(middleware, request)
    assert response.content == PERSONALIZED


def test_view_error_cancels_slots(mode: Mode) -> None:
    provider = RecordingProvider(delay=EVENT_TIMEOUT)

    def failing_view(request: HttpRequest) -> HttpResponse:
        # Fail once the slot's provider is running, so that it is cancelled
        # rather than never started.
        assert provider.entered.wait(EVENT_TIMEOUT)
        raise RuntimeError("view failed")

    middleware = mode.build(make_personalizer(provider), failing_view)
    with pytest.raises(RuntimeError, match="view failed"):
        mode.call(middleware, request_for())
    assert provider.finished.wait(EVENT_TIMEOUT)
    assert provider.cancelled == 1


def test_unselected_request_skips_plan(mode: Mode) -> None:
    provider = RecordingProvider()
    middleware = mode.build(make_personalizer(provider))
    response = mode.call(middleware, request_for("/about"))
    assert response.content == PAGE
    assert provider.started == 0


# The context hook


def add_tea(request: HttpRequest, context: Context) -> Context:
    return replace(context, interests=("tea", *context.interests))


def test_hook_adds_signals(mode: Mode) -> None:
    provider = RecordingProvider()
    middleware = mode.build(
        make_personalizer(provider), EDGE_PERSONALIZE_CONTEXT_HOOK=add_tea
    )
    response = mode.call(middleware, request_for("/shop/mug?interest=cocoa"))
    assert response.content == PERSONALIZED
    assert provider.contexts[0].interests == ("tea", "cocoa")


def test_hook_gets_request(mode: Mode) -> None:
    seen: list[HttpRequest] = []

    def hook(request: HttpRequest, context: Context) -> Context:
        seen.append(request)
        return context

    middleware = mode.build(make_personalizer(), EDGE_PERSONALIZE_CONTEXT_HOOK=hook)
    request = request_for()
    mode.call(middleware, request)
    assert seen == [request]


def test_hook_runs_outside_event_loop(mode: Mode) -> None:
    # Outside a running loop the hook may use the ORM and request.user.
    loops: list[asyncio.AbstractEventLoop | None] = []

    def hook(request: HttpRequest, context: Context) -> Context:
        try:
            loops.append(asyncio.get_running_loop())
        except RuntimeError:
            loops.append(None)
        return context

    middleware = mode.build(make_personalizer(), EDGE_PERSONALIZE_CONTEXT_HOOK=hook)
    mode.call(middleware, request_for())
    assert loops == [None]


def test_hook_error_keeps_page(mode: Mode, caplog: pytest.LogCaptureFixture) -> None:
    def hook(request: HttpRequest, context: Context) -> Context:
        raise LookupError("no customer")

    provider = RecordingProvider()
    middleware = mode.build(
        make_personalizer(provider), EDGE_PERSONALIZE_CONTEXT_HOOK=hook
    )
    with caplog.at_level(logging.ERROR, logger="edge_personalize.django"):
        response = mode.call(middleware, request_for("/shop/mug?interest=tea"))
    assert response.content == PERSONALIZED
    assert provider.contexts[0].interests == ("tea",)
    assert "The context hook" in caplog.text
    assert "no customer" in caplog.text


def test_hook_wrong_return_keeps_context(
    mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(request: HttpRequest, context: Context) -> Any:
        return {"interests": ["tea"]}

    provider = RecordingProvider()
    middleware = mode.build(
        make_personalizer(provider), EDGE_PERSONALIZE_CONTEXT_HOOK=hook
    )
    with caplog.at_level(logging.ERROR, logger="edge_personalize.django"):
        response = mode.call(middleware, request_for())
    assert response.content == PERSONALIZED
    assert provider.contexts[0].interests == ()
    assert "returned dict, not a Context" in caplog.text


def test_hook_can_mark_bot(mode: Mode) -> None:
    def hook(request: HttpRequest, context: Context) -> Context:
        return replace(context, bot=True)

    provider = RecordingProvider()
    middleware = mode.build(
        make_personalizer(provider), EDGE_PERSONALIZE_CONTEXT_HOOK=hook
    )
    response = mode.call(middleware, request_for())
    assert response.content == PAGE
    assert provider.started == 0


# HttpResponse bodies


def test_str_content_with_charset(mode: Mode) -> None:
    def latin_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            "<p>Caf\xe9</p><!-- personalize:recs -->",
            content_type="text/html; charset=iso-8859-1",
        )

    middleware = mode.build(make_personalizer(), latin_view)
    response = mode.call(middleware, request_for())
    assert response.content == b"<p>Caf\xe9</p>" + FRAGMENT.encode()
    assert response["Content-Type"] == "text/html; charset=iso-8859-1"


def test_cookies_kept(mode: Mode) -> None:
    def cookie_view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(PAGE, content_type=HTML)
        response.set_cookie("a", "1")
        response.set_cookie("b", "2", httponly=True)
        return response

    middleware = mode.build(make_personalizer(), cookie_view)
    response = mode.call(middleware, request_for())
    assert response.content == PERSONALIZED
    assert sorted(response.cookies) == ["a", "b"]
    assert response.cookies["b"]["httponly"] is True


def test_header_order_kept(mode: Mode) -> None:
    def headers_view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(PAGE, content_type=HTML)
        response["X-First"] = "1"
        response["Content-Language"] = "en"
        return response

    middleware = mode.build(make_personalizer(), headers_view)
    response = mode.call(middleware, request_for())
    names = [name for name, _ in response.items()]
    assert names[:3] == ["Content-Type", "X-First", "Content-Language"]


def test_placeholder_in_body_only(mode: Mode) -> None:
    def attribute_view(request: HttpRequest) -> HttpResponse:
        body = b'<p title="' + MARK + b'">x</p>'
        return HttpResponse(body, content_type=HTML)

    provider = RecordingProvider()
    middleware = mode.build(make_personalizer(provider), attribute_view)
    response = mode.call(middleware, request_for())
    assert response.content == b'<p title="' + MARK + b'">x</p>'
    assert "Cache-Control" not in response
