"""Django adapter: StreamingHttpResponse and FileResponse.

A stream is rewritten lazily. Each source chunk is scanned when the server
reads the next bytes, bytes before a placeholder leave at once, and at a
placeholder the stream waits for that slot until the deadline. The tests
prove laziness by order, not by time: a source that yields a chunk and
then waits for the test shows that its first chunk went out before the
rest of the stream was read.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import testproject
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import (
    FileResponse,
    HttpRequest,
    StreamingHttpResponse,
)
from django.test import RequestFactory
from django.test.utils import override_settings
from django.urls import path
from testproject.helpers import (
    BROWSER_UA,
    EVENT_TIMEOUT,
    FRAGMENT,
    HEAD,
    HTML,
    MARK,
    PAGE,
    PERSONALIZED,
    TAIL,
    RecordingProvider,
    make_personalizer,
)

from edge_personalize import Personalizer
from edge_personalize.django import PersonalizeMiddleware

testproject.setup()

# A source chunk yielded after a gate that the test never opened.
GATE_TIMED_OUT = b"<!-- the test never opened the gate -->"


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def request_for(path: str = "/shop/mug", user_agent: str = BROWSER_UA) -> HttpRequest:
    return RequestFactory(headers={"User-Agent": user_agent}).get(path)


class Source:
    """Chunks for a streaming view, sync or async, that count their reads."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulled = 0

    def sync(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk

    async def async_(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


def stream_response(source: Source, kind: str, **headers: str) -> StreamingHttpResponse:
    content = source.sync() if kind == "sync" else source.async_()
    response = StreamingHttpResponse(content, content_type=HTML)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def build(
    personalizer: Personalizer, response: Any, *, is_async: bool
) -> PersonalizeMiddleware:
    """Build the middleware in one mode over a view that returns ``response``."""

    def view(request: HttpRequest) -> Any:
        return response

    async def async_view(request: HttpRequest) -> Any:
        return response

    with override_settings(EDGE_PERSONALIZE=personalizer):
        return PersonalizeMiddleware(async_view if is_async else view)


def run_stream(
    personalizer: Personalizer,
    source: Source,
    mode: str,
    kind: str,
    user_agent: str = BROWSER_UA,
    **headers: str,
) -> tuple[StreamingHttpResponse, list[bytes]]:
    """Run the middleware in ``mode`` over a ``kind`` stream and read it all.

    Each stream is read where Django reads it. In sync mode, a sync stream
    is read in the request thread and an async one in a loop of its own, as
    ``async_to_sync`` does. In async mode, an async stream is read in the
    request's loop and a sync one in a worker thread, as
    ``sync_to_async(list)`` does.
    """
    response = stream_response(source, kind, **headers)
    if mode == "sync":
        middleware = build(personalizer, response, is_async=False)
        result = middleware(request_for(user_agent=user_agent))
        if kind == "sync":
            return result, list(result.streaming_content)
        return result, asyncio.run(read_async(result.streaming_content))

    middleware = build(personalizer, response, is_async=True)

    async def call() -> tuple[StreamingHttpResponse, list[bytes]]:
        result = await middleware(request_for(user_agent=user_agent))
        if kind == "async":
            return result, await read_async(result.streaming_content)
        return result, await asyncio.to_thread(list, result.streaming_content)

    return asyncio.run(call())


async def read_async(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


COMBINATIONS = [
    pytest.param("sync", "sync", id="sync-mode-sync-stream"),
    pytest.param("sync", "async", id="sync-mode-async-stream"),
    pytest.param("async", "async", id="async-mode-async-stream"),
    pytest.param("async", "sync", id="async-mode-sync-stream"),
]


# Rewriting, in every mode and stream kind


@pytest.mark.parametrize(("mode", "kind"), COMBINATIONS)
def test_stream_rewritten(mode: str, kind: str) -> None:
    source = Source(split_every(PAGE, 1))
    response, chunks = run_stream(make_personalizer(), source, mode, kind)
    assert b"".join(chunks) == PERSONALIZED
    assert response.is_async is (kind == "async")


@pytest.mark.parametrize(("mode", "kind"), COMBINATIONS)
def test_stream_headers(mode: str, kind: str) -> None:
    source = Source([PAGE])
    response, _ = run_stream(
        make_personalizer(),
        source,
        mode,
        kind,
        Content_Length=str(len(PAGE)),
        ETag='"v1"',
        Cache_Control="public, max-age=60",
        Vary="Accept-Encoding",
    )
    assert "Content-Length" not in response
    assert "ETag" not in response
    assert response["Cache-Control"] == "private, max-age=60"
    assert response["Vary"] == "Accept-Encoding, Cookie, Accept-Language, User-Agent"


@pytest.mark.parametrize(("mode", "kind"), COMBINATIONS)
def test_crawler_stream_only_varies(mode: str, kind: str) -> None:
    source = Source(split_every(PAGE, 7))
    response, chunks = run_stream(
        make_personalizer(),
        source,
        mode,
        kind,
        user_agent="Googlebot/2.1",
        Content_Length=str(len(PAGE)),
        ETag='"v1"',
        Cache_Control="public, max-age=60",
    )
    assert b"".join(chunks) == PAGE
    assert response["Content-Length"] == str(len(PAGE))
    assert response["ETag"] == '"v1"'
    assert response["Cache-Control"] == "public, max-age=60"
    assert response["Vary"] == "Cookie, Accept-Language, User-Agent"


@pytest.mark.parametrize(("mode", "kind"), COMBINATIONS)
def test_stream_deadline_keeps_fallback(mode: str, kind: str) -> None:
    provider = RecordingProvider(delay=EVENT_TIMEOUT)
    source = Source([HEAD, MARK, TAIL])
    personalizer = make_personalizer(provider, deadline=0.05)
    _, chunks = run_stream(personalizer, source, mode, kind)
    assert b"".join(chunks) == PAGE
    assert provider.completed == 0


@pytest.mark.parametrize(("mode", "kind"), COMBINATIONS)
def test_stream_pair_replaced(mode: str, kind: str) -> None:
    page = b"<main>" + MARK + b"<p>Popular</p><!-- /personalize:recs --></main>"
    _, chunks = run_stream(make_personalizer(), Source([page]), mode, kind)
    assert b"".join(chunks) == b"<main>" + FRAGMENT.encode() + b"</main>"


@pytest.mark.parametrize(("mode", "kind"), COMBINATIONS)
def test_stream_slot_requested_once(mode: str, kind: str) -> None:
    provider = RecordingProvider()
    source = Source([b"<main>", MARK, b"</main><footer>", MARK, b"</footer>"])
    _, chunks = run_stream(make_personalizer(provider), source, mode, kind)
    fragment = FRAGMENT.encode()
    assert b"".join(chunks) == (
        b"<main>" + fragment + b"</main><footer>" + fragment + b"</footer>"
    )
    assert provider.started == 1


@pytest.mark.parametrize(("mode", "kind"), COMBINATIONS)
def test_stream_without_placeholder(mode: str, kind: str) -> None:
    page = b"<html><body><p>No slot here</p></body></html>"
    _, chunks = run_stream(make_personalizer(), Source([page]), mode, kind)
    assert b"".join(chunks) == page


def test_stream_invalid_charset_kept(caplog: pytest.LogCaptureFixture) -> None:
    source = Source([PAGE])
    response = StreamingHttpResponse(
        source.sync(), content_type="text/html; charset=1250"
    )
    middleware = build(make_personalizer(), response, is_async=False)
    with caplog.at_level(logging.WARNING, logger="edge_personalize"):
        result = middleware(request_for())
        body = b"".join(result.streaming_content)
    assert body == PAGE
    assert "1250" in caplog.text
    # The headers left before the body was read, so they are private anyway.
    assert result["Cache-Control"] == "private"


def test_stream_read_in_loop_thread(caplog: pytest.LogCaptureFixture) -> None:
    # A sync stream that the request's own loop reads cannot wait for its
    # slots without stopping that loop, so it keeps the fallback.
    source = Source([PAGE])
    middleware = build(
        make_personalizer(), stream_response(source, "sync"), is_async=True
    )

    async def call() -> bytes:
        result = await middleware(request_for())
        return b"".join(result.streaming_content)

    with caplog.at_level(logging.WARNING, logger="edge_personalize.django"):
        body = asyncio.run(call())
    assert body == PAGE
    assert "keeping the fallback" in caplog.text


# Laziness


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sync_stream_read_lazily(mode: str) -> None:
    source = Source([HEAD, MARK, TAIL])
    middleware = build(
        make_personalizer(), stream_response(source, "sync"), is_async=mode == "async"
    )
    if mode == "sync":
        response = middleware(request_for())
    else:

        async def call() -> Any:
            return await middleware(request_for())

        response = asyncio.run(call())
    chunks = iter(response.streaming_content)
    first = next(chunks)
    assert first == HEAD
    assert source.pulled == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_async_stream_read_lazily(mode: str) -> None:
    source = Source([HEAD, MARK, TAIL])
    middleware = build(
        make_personalizer(), stream_response(source, "async"), is_async=mode == "async"
    )

    async def call() -> tuple[bytes, int]:
        response = middleware(request_for())
        if mode == "async":
            response = await response
        chunks = response.streaming_content
        first = await chunks.__anext__()
        pulled = source.pulled
        await chunks.aclose()
        return first, pulled

    first, pulled = asyncio.run(call())
    assert first == HEAD
    assert pulled == 1


def test_partial_placeholder_held_back() -> None:
    source = Source([HEAD + b"<!-- pers", b"onalize:recs -->" + TAIL])
    middleware = build(
        make_personalizer(), stream_response(source, "sync"), is_async=False
    )
    chunks = iter(middleware(request_for()).streaming_content)
    assert next(chunks) == HEAD
    assert b"".join(chunks) == FRAGMENT.encode() + TAIL


def test_bytes_before_slot_sent_first() -> None:
    gate = threading.Event()
    provider = RecordingProvider(gate=gate)
    source = Source([PAGE])
    middleware = build(
        make_personalizer(provider, deadline=EVENT_TIMEOUT),
        stream_response(source, "sync"),
        is_async=False,
    )
    try:
        chunks = iter(middleware(request_for()).streaming_content)
        first = next(chunks)
        completed_before = provider.completed
    finally:
        gate.set()
    rest = b"".join(chunks)
    assert first == HEAD
    assert completed_before == 0
    assert rest == FRAGMENT.encode() + TAIL


def test_async_bytes_before_slot_sent_first() -> None:
    gate = threading.Event()
    provider = RecordingProvider(gate=gate)
    source = Source([PAGE])
    middleware = build(
        make_personalizer(provider, deadline=EVENT_TIMEOUT),
        stream_response(source, "async"),
        is_async=True,
    )

    async def call() -> tuple[bytes, int, bytes]:
        response = await middleware(request_for())
        chunks = response.streaming_content
        first = await chunks.__anext__()
        completed_before = provider.completed
        gate.set()
        rest = b"".join([chunk async for chunk in chunks])
        return first, completed_before, rest

    try:
        first, completed_before, rest = asyncio.run(call())
    finally:
        gate.set()
    assert first == HEAD
    assert completed_before == 0
    assert rest == FRAGMENT.encode() + TAIL


# Closing


def test_closed_sync_stream_cancels_slots() -> None:
    provider = RecordingProvider(delay=EVENT_TIMEOUT)
    source = Source([PAGE])
    middleware = build(
        make_personalizer(provider), stream_response(source, "sync"), is_async=False
    )
    response = middleware(request_for())
    assert provider.entered.wait(EVENT_TIMEOUT)
    response.close()
    assert provider.finished.wait(EVENT_TIMEOUT)
    assert provider.cancelled == 1
    assert source.pulled == 0


def test_closed_async_stream_cancels_slots() -> None:
    provider = RecordingProvider(delay=EVENT_TIMEOUT)
    source = Source([PAGE])
    middleware = build(
        make_personalizer(provider), stream_response(source, "async"), is_async=True
    )

    async def call() -> None:
        response = await middleware(request_for())
        while not provider.entered.is_set():
            await asyncio.sleep(0)
        response.close()
        # Let the cancelled slot task run to its end.
        while not provider.finished.is_set():
            await asyncio.sleep(0)

    asyncio.run(asyncio.wait_for(call(), EVENT_TIMEOUT))
    assert provider.cancelled == 1


# Through Django's handlers


class Gate:
    """What the streaming views of this module wait for and serve."""

    def __init__(self) -> None:
        self.thread_gate = threading.Event()
        self.async_gate: asyncio.Event | None = None
        self.file: Path | None = None


STATE = Gate()


def gated_sync_view(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield HEAD
        if not STATE.thread_gate.wait(EVENT_TIMEOUT):
            yield GATE_TIMED_OUT
        yield MARK + TAIL

    response = StreamingHttpResponse(chunks(), content_type=HTML)
    response["Content-Length"] = "9999"
    return response


def gated_async_view(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield HEAD
        assert STATE.async_gate is not None
        try:
            await asyncio.wait_for(STATE.async_gate.wait(), EVENT_TIMEOUT)
        except asyncio.TimeoutError:
            yield GATE_TIMED_OUT
        yield MARK + TAIL

    return StreamingHttpResponse(chunks(), content_type=HTML)


def plain_sync_view(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([HEAD, MARK, TAIL]), content_type=HTML)


def plain_async_view(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(Source([HEAD, MARK, TAIL]).async_(), content_type=HTML)


def events_view(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"data: 1\n\n"
        if not STATE.thread_gate.wait(EVENT_TIMEOUT):
            yield GATE_TIMED_OUT
        yield b"data: " + MARK + b"\n\n"

    return StreamingHttpResponse(chunks(), content_type="text/event-stream")


def file_view(request: HttpRequest) -> FileResponse:
    assert STATE.file is not None
    return FileResponse(STATE.file.open("rb"), content_type=HTML)


urlpatterns = [
    path("shop/gated-sync", gated_sync_view),
    path("shop/gated-async", gated_async_view),
    path("shop/plain-sync", plain_sync_view),
    path("shop/plain-async", plain_async_view),
    path("shop/events", events_view),
    path("shop/file", file_view),
]


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[Gate]:
    """Give each test new gates and route requests to this module's views."""
    global STATE
    STATE = Gate()
    with override_settings(ROOT_URLCONF=__name__):
        yield STATE
    STATE.thread_gate.set()


def environ_for(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": BROWSER_UA,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }


class WSGICall:
    """One request through Django's WSGI handler, read chunk by chunk."""

    def __init__(self, path: str, personalizer: Personalizer | None = None) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        with override_settings(EDGE_PERSONALIZE=personalizer or make_personalizer()):
            handler = WSGIHandler()
        self.response = handler(environ_for(path), self._start_response)
        self.chunks = iter(self.response)

    def _start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        self.status = status
        self.headers = list(headers)
        return lambda data: None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def rest(self) -> bytes:
        try:
            return b"".join(self.chunks)
        finally:
            self.response.close()


async def asgi_call(
    path: str,
    personalizer: Personalizer | None = None,
    on_body: Any = None,
) -> list[dict[str, Any]]:
    """Send one request through Django's ASGI handler; return the messages."""
    with override_settings(EDGE_PERSONALIZE=personalizer or make_personalizer()):
        handler = ASGIHandler()
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if on_body is not None and message["type"] == "http.response.body":
            on_body(message)

    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"user-agent", BROWSER_UA.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await handler(scope, receive, send)
    return messages


def body_of(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages[1:])


def test_wsgi_first_chunk_before_rest() -> None:
    call = WSGICall("/shop/gated-sync")
    first = next(call.chunks)
    STATE.thread_gate.set()
    rest = call.rest()
    assert first == HEAD
    assert rest == FRAGMENT.encode() + TAIL
    assert call.header("Content-Length") is None


def test_asgi_first_chunk_before_rest(recwarn: pytest.WarningsRecorder) -> None:
    async def scenario() -> list[dict[str, Any]]:
        gate = asyncio.Event()
        STATE.async_gate = gate

        def on_body(message: dict[str, Any]) -> None:
            if message.get("body"):
                gate.set()

        return await asgi_call("/shop/gated-async", on_body=on_body)

    messages = asyncio.run(scenario())
    bodies = [m["body"] for m in messages[1:] if m.get("body")]
    assert bodies[0] == HEAD
    assert b"".join(bodies[1:]) == FRAGMENT.encode() + TAIL
    assert [str(w.message) for w in recwarn if "must consume" in str(w.message)] == []


def test_event_stream_passes_lazily() -> None:
    call = WSGICall("/shop/events")
    first = next(call.chunks)
    STATE.thread_gate.set()
    rest = call.rest()
    assert first == b"data: 1\n\n"
    assert rest == b"data: " + MARK + b"\n\n"
    assert call.header("Cache-Control") is None


def test_wsgi_async_stream_consumed_by_django() -> None:
    # Django serves an async stream under WSGI by reading all of it first,
    # and warns; the middleware's part stays correct.
    with pytest.warns(Warning, match="must consume asynchronous iterators"):
        call = WSGICall("/shop/plain-async")
    assert call.rest() == PERSONALIZED


def test_asgi_sync_stream_consumed_by_django() -> None:
    # Django serves a sync stream under ASGI by reading all of it in a
    # worker thread, and warns; the slots are awaited from that thread.
    with pytest.warns(Warning, match="must consume synchronous iterators"):
        messages = asyncio.run(asgi_call("/shop/plain-sync"))
    assert body_of(messages) == PERSONALIZED


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
def test_file_response_passes(server: str, tmp_path: Path) -> None:
    STATE.file = tmp_path / "page.html"
    STATE.file.write_bytes(PAGE)
    provider = RecordingProvider(delay=EVENT_TIMEOUT)
    personalizer = make_personalizer(provider)
    if server == "wsgi":
        call = WSGICall("/shop/file", personalizer)
        body = call.rest()
        headers = call.headers
    else:
        # Django reads a file's sync iterator in a worker thread under ASGI,
        # and warns about it, with or without this middleware.
        with pytest.warns(Warning, match="must consume synchronous iterators"):
            messages = asyncio.run(asgi_call("/shop/file", personalizer))
        body = body_of(messages)
        headers = [(k.decode(), v.decode()) for k, v in messages[0]["headers"]]
    assert body == PAGE
    assert ("Content-Length", str(len(PAGE))) in headers
    assert "Cache-Control" not in dict(headers)
    assert provider.completed == 0
