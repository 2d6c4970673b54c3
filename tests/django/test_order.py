"""Django adapter: order in MIDDLEWARE next to Django's own middleware.

Each test runs through Django's test ``Client`` (WSGI handler, the
middleware in sync mode) and ``AsyncClient`` (ASGI handler, async mode),
with the middleware placed on either side of the Django middleware under
test. Two visitors differ only in their interest cookie, and the provider
recommends one item named after the interest, so a page that reaches the
wrong visitor shows the wrong name.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
import testproject
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.test import AsyncClient, Client
from django.test.utils import override_settings
from django.urls import path
from django.views.decorators.cache import cache_page
from testproject.helpers import (
    BROWSER_UA,
    HTML,
    InterestProvider,
    make_personalizer,
    title_renderer,
)

testproject.setup()

OURS = "edge_personalize.django.PersonalizeMiddleware"
GZIP = "django.middleware.gzip.GZipMiddleware"
CONDITIONAL = "django.middleware.http.ConditionalGetMiddleware"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
CSRF = "django.middleware.csrf.CsrfViewMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"
UPDATE_CACHE = "django.middleware.cache.UpdateCacheMiddleware"
FETCH_CACHE = "django.middleware.cache.FetchFromCacheMiddleware"

# Long enough for GZipMiddleware, which leaves bodies under 200 bytes alone.
FILLER = "<p>" + "Stoneware mug, dishwasher safe, holds 350 ml. " * 8 + "</p>"
PLACEHOLDER = "<!-- personalize:recs -->"


def page(extra: str = "") -> bytes:
    return (
        f"<html><body><h1>Mug</h1>{FILLER}{extra}{PLACEHOLDER}</body></html>"
    ).encode()


def personalized(interest: str, extra: str = "") -> bytes:
    fragment = f'<aside class="recs"><b>Pick for {interest}</b></aside>'
    return page(extra).replace(PLACEHOLDER.encode(), fragment.encode())


# --- Views ---------------------------------------------------------------

VIEW_CALLS: dict[str, int] = {}


def count(name: str) -> None:
    VIEW_CALLS[name] = VIEW_CALLS.get(name, 0) + 1


def plain_view(request: HttpRequest) -> HttpResponse:
    count("plain")
    return HttpResponse(page(), content_type=HTML)


def etag_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(page(), content_type=HTML)
    response["ETag"] = '"abc123"'
    return response


def modified_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(page(), content_type=HTML)
    response["Last-Modified"] = "Mon, 01 Jan 2024 00:00:00 GMT"
    return response


def form_view(request: HttpRequest) -> HttpResponse:
    token = get_token(request)
    request.session["visits"] = request.session.get("visits", 0) + 1
    form = f'<form method="post"><input type="hidden" value="{token}"></form>'
    response = HttpResponse(page(form), content_type=HTML)
    response.set_cookie("ep_viewed", "42")
    return response


@cache_page(60)
def cached_view(request: HttpRequest) -> HttpResponse:
    count("cached")
    return HttpResponse(page(), content_type=HTML)


def stream_view(request: HttpRequest) -> StreamingHttpResponse:
    body = page()
    chunks = [body[:100], body[100:]]
    if request.headers.get("X-Stream") == "async":

        async def async_chunks() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return StreamingHttpResponse(async_chunks(), content_type=HTML)
    return StreamingHttpResponse(iter(chunks), content_type=HTML)


urlpatterns = [
    path("shop/plain", plain_view),
    path("shop/etag", etag_view),
    path("shop/modified", modified_view),
    path("shop/form", form_view),
    path("shop/cached", cached_view),
    path("shop/stream", stream_view),
]


# --- Clients -------------------------------------------------------------


@dataclass
class Fetched:
    """What a client received."""

    status: int
    headers: Any
    cookies: SimpleCookie
    body: bytes

    def header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        return value


class Visitor:
    """Requests from one visitor, through Client or AsyncClient."""

    def __init__(self, kind: str, middleware: Sequence[str]) -> None:
        self.kind = kind
        self.middleware = list(middleware)

    def get(self, path: str, interest: str, **headers: str) -> Fetched:
        request_headers = {
            "User-Agent": BROWSER_UA,
            "Cookie": f"ep_interests={interest}",
            **{name.replace("_", "-"): value for name, value in headers.items()},
        }
        with override_settings(
            MIDDLEWARE=self.middleware,
            ROOT_URLCONF=__name__,
            EDGE_PERSONALIZE=make_personalizer(
                InterestProvider(), renderer=title_renderer
            ),
        ):
            if self.kind == "wsgi":
                response = Client().get(path, headers=request_headers)
                body = read_sync(response)
            else:
                response, body = asyncio.run(self._aget(path, request_headers))
        return Fetched(response.status_code, response.headers, response.cookies, body)

    async def _aget(self, path: str, headers: dict[str, str]) -> tuple[Any, bytes]:
        # Read the body in the loop that served it: a stream waits for its
        # slots there.
        response = await AsyncClient().get(path, headers=headers)
        if not response.streaming:
            return response, response.content
        return response, b"".join([chunk async for chunk in response.streaming_content])


def read_sync(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    content: bytes = response.content
    return content


@pytest.fixture(params=["wsgi", "asgi"])
def kind(request: pytest.FixtureRequest) -> str:
    """The Django handler the clients go through."""
    kind: str = request.param
    return kind


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    VIEW_CALLS.clear()
    caches["default"].clear()
    yield
    caches["default"].clear()


# --- GZipMiddleware ------------------------------------------------------


def test_gzip_outside_compresses_page(kind: str) -> None:
    visitor = Visitor(kind, [GZIP, OURS])
    fetched = visitor.get("/shop/plain", "tea", Accept_Encoding="gzip")
    assert fetched.header("Content-Encoding") == "gzip"
    assert gzip.decompress(fetched.body) == personalized("tea")
    assert fetched.header("Content-Length") == str(len(fetched.body))
    assert fetched.header("Vary") == (
        "Cookie, Accept-Language, User-Agent, Accept-Encoding"
    )


def test_gzip_outside_compresses_stream(kind: str) -> None:
    visitor = Visitor(kind, [GZIP, OURS])
    stream = "async" if kind == "asgi" else "sync"
    fetched = visitor.get(
        "/shop/stream", "tea", Accept_Encoding="gzip", X_Stream=stream
    )
    assert fetched.header("Content-Encoding") == "gzip"
    assert gzip.decompress(fetched.body) == personalized("tea")


def test_gzip_inside_passes_compressed(kind: str) -> None:
    # A compressed body is never treated as text: it passes unchanged.
    visitor = Visitor(kind, [OURS, GZIP])
    fetched = visitor.get("/shop/plain", "tea", Accept_Encoding="gzip")
    assert fetched.header("Content-Encoding") == "gzip"
    assert gzip.decompress(fetched.body) == page()
    assert fetched.header("Cache-Control") is None


def test_gzip_inside_identity_client(kind: str) -> None:
    visitor = Visitor(kind, [OURS, GZIP])
    fetched = visitor.get("/shop/plain", "tea")
    assert fetched.body == personalized("tea")
    assert fetched.header("Content-Encoding") is None


# --- ConditionalGetMiddleware and validators -------------------------------


def revalidation_headers(fetched: Fetched, validator: str) -> dict[str, str]:
    """The conditional headers a cache sends to revalidate ``fetched``."""
    headers: dict[str, str] = {}
    etag = fetched.header("ETag")
    last_modified = fetched.header("Last-Modified")
    if validator == "etag" and etag is not None:
        headers["If_None_Match"] = etag
    if validator == "last-modified" and last_modified is not None:
        headers["If_Modified_Since"] = last_modified
    return headers


@pytest.mark.parametrize(
    ("middleware", "path", "validator"),
    [
        pytest.param(
            [CONDITIONAL, OURS], "/shop/plain", "etag", id="outside-computed-etag"
        ),
        pytest.param([CONDITIONAL, OURS], "/shop/etag", "etag", id="outside-app-etag"),
        pytest.param(
            [OURS, CONDITIONAL], "/shop/plain", "etag", id="inside-computed-etag"
        ),
        pytest.param([OURS, CONDITIONAL], "/shop/etag", "etag", id="inside-app-etag"),
    ],
)
def test_304_never_for_other_visitor(
    kind: str, middleware: list[str], path: str, validator: str
) -> None:
    visitor = Visitor(kind, middleware)
    first = visitor.get(path, "tea")
    headers = revalidation_headers(first, validator)
    assert headers, f"the first response carries no {validator} validator"

    other = visitor.get(path, "coffee", **headers)
    assert other.status == 200
    assert other.body == personalized("coffee")


@pytest.mark.parametrize(
    "middleware",
    [
        pytest.param([CONDITIONAL, OURS], id="outside"),
        pytest.param([OURS, CONDITIONAL], id="inside"),
    ],
)
def test_last_modified_dropped(kind: str, middleware: list[str]) -> None:
    # The app's Last-Modified is the same for every visitor, so a
    # personalized copy must not offer it for revalidation.
    first = Visitor(kind, middleware).get("/shop/modified", "tea")
    assert first.body == personalized("tea")
    assert first.header("Last-Modified") is None


def test_conditional_outside_hashes_page(kind: str) -> None:
    visitor = Visitor(kind, [CONDITIONAL, OURS])
    first = visitor.get("/shop/plain", "tea")
    again = visitor.get("/shop/plain", "tea", If_None_Match=first.header("ETag") or "")
    assert first.body == personalized("tea")
    assert again.status == 304
    assert again.body == b""


def test_conditional_inside_etag_tagged(kind: str) -> None:
    visitor = Visitor(kind, [OURS, CONDITIONAL])
    fetched = visitor.get("/shop/plain", "tea")
    etag = fetched.header("ETag")
    assert fetched.body == personalized("tea")
    assert etag is not None
    assert "-ep." in etag


# --- Sessions and CSRF: every Set-Cookie survives ---------------------------


@pytest.mark.parametrize(
    "middleware",
    [
        pytest.param([SESSION, CSRF, OURS], id="inside"),
        pytest.param([OURS, SESSION, CSRF], id="outside"),
    ],
)
def test_cookies_survive(kind: str, middleware: list[str]) -> None:
    fetched = Visitor(kind, middleware).get("/shop/form", "tea")
    assert sorted(fetched.cookies) == ["csrftoken", "ep_viewed", "sessionid"]
    assert b'<input type="hidden" value="' in fetched.body
    assert b"Pick for tea" in fetched.body
    assert "Cookie" in (fetched.header("Vary") or "")
    assert fetched.header("Cache-Control") == "private"


# --- CacheMiddleware and cache_page: never stored for others ------------------


@pytest.mark.parametrize(
    ("middleware", "view_calls"),
    [
        # The generic page is cached inside the personalizer, which
        # personalizes the cached copy for each visitor.
        pytest.param([OURS, UPDATE_CACHE, FETCH_CACHE], 1, id="cache-inside"),
        # The cache receives only private pages, so it stores nothing.
        pytest.param([UPDATE_CACHE, OURS, FETCH_CACHE], 2, id="cache-around"),
        pytest.param([UPDATE_CACHE, FETCH_CACHE, OURS], 2, id="cache-outside"),
    ],
)
def test_cache_middleware_per_visitor(
    kind: str, middleware: list[str], view_calls: int
) -> None:
    visitor = Visitor(kind, middleware)
    tea = visitor.get("/shop/plain", "tea")
    coffee = visitor.get("/shop/plain", "coffee")
    assert tea.body == personalized("tea")
    assert coffee.body == personalized("coffee")
    assert VIEW_CALLS["plain"] == view_calls


def test_cache_page_per_visitor(kind: str) -> None:
    visitor = Visitor(kind, [OURS])
    tea = visitor.get("/shop/cached", "tea")
    coffee = visitor.get("/shop/cached", "coffee")
    assert tea.body == personalized("tea")
    assert coffee.body == personalized("coffee")
    assert VIEW_CALLS["cached"] == 1
    assert coffee.header("Cache-Control") == "private, max-age=60"


# --- SecurityMiddleware ----------------------------------------------------


@pytest.mark.parametrize(
    "middleware",
    [
        pytest.param([SECURITY, OURS], id="outside"),
        pytest.param([OURS, SECURITY], id="inside"),
    ],
)
def test_security_headers_kept(kind: str, middleware: list[str]) -> None:
    fetched = Visitor(kind, middleware).get("/shop/plain", "tea")
    assert fetched.body == personalized("tea")
    assert fetched.header("X-Content-Type-Options") == "nosniff"
    assert fetched.header("Referrer-Policy") == "same-origin"
    assert fetched.header("Cross-Origin-Opener-Policy") == "same-origin"


# --- CommonMiddleware --------------------------------------------------------


@pytest.mark.parametrize(
    "middleware",
    [
        pytest.param([COMMON, OURS], id="outside"),
        pytest.param([OURS, COMMON], id="inside"),
    ],
)
def test_common_content_length(kind: str, middleware: list[str]) -> None:
    fetched = Visitor(kind, middleware).get("/shop/plain", "tea")
    assert fetched.body == personalized("tea")
    assert fetched.header("Content-Length") == str(len(fetched.body))
