"""WSGI adapter: PEP 3333 details that have no ASGI counterpart."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from adapter_harness import BROWSER, _environ
from edge_personalize._loop import LOOP_MARGIN, LoopThread
from edge_personalize.wsgi import PersonalizeMiddleware
from test_adapters import FRAGMENT, MARK, RecordingProvider, make

HTML = [("Content-Type", "text/html; charset=utf-8")]


class Server:
    """A minimal WSGI server side: records start_response calls and chunks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], Any]] = []
        self.chunks: list[bytes] = []

    def start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        if self.calls and exc_info is None:
            raise AssertionError("start_response called twice without exc_info")
        if self.calls and exc_info is not None and self.chunks:
            raise exc_info[1].with_traceback(exc_info[2])
        self.calls.append((status, list(headers), exc_info))
        return self.chunks.append

    def run(self, app: Any, path: str = "/shop/mug") -> bytes:
        middleware = PersonalizeMiddleware(app, make())
        iterable = middleware(_environ(path, "GET", [BROWSER]), self.start_response)
        try:
            for chunk in iterable:
                if chunk:
                    assert self.calls, "a chunk came before start_response"
                self.chunks.append(chunk)
        finally:
            getattr(iterable, "close", lambda: None)()
        return b"".join(self.chunks)


def test_late_start_response() -> None:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", HTML)
        yield b"<html><body>"
        yield MARK
        yield b"</body></html>"

    server = Server()
    body = server.run(app)
    assert body == b"<html><body>" + FRAGMENT.encode() + b"</body></html>"
    assert len(server.calls) == 1


def test_empty_first_chunk() -> None:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        yield b""
        start_response("200 OK", HTML)
        yield b"<html><body>"
        yield MARK
        yield b"</body></html>"

    server = Server()
    body = server.run(app)
    assert body == b"<html><body>" + FRAGMENT.encode() + b"</body></html>"


def test_write_callable_kept() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", HTML)
        write(b"<html><body>")
        return [MARK, b"</body></html>"]

    server = Server()
    body = server.run(app)
    assert body == b"<html><body>" + FRAGMENT.encode() + b"</body></html>"


def test_error_page_before_body() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", HTML)
        try:
            raise ValueError("boom")
        except ValueError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                sys.exc_info(),
            )
        return [b"oops"]

    server = Server()
    body = server.run(app)
    assert body == b"oops"
    assert server.calls[-1][0] == "500 Internal Server Error"
    assert len(server.calls) == 1


def test_error_page_after_held_body() -> None:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", HTML)
        yield b"<html><body>"
        try:
            raise ValueError("boom")
        except ValueError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                sys.exc_info(),
            )
        yield b"oops"

    server = Server()
    body = server.run(app)
    # The held HTML never reached the server, so the error page replaces it.
    assert body == b"oops"
    assert [call[0] for call in server.calls] == ["500 Internal Server Error"]


def test_second_start_response_raises() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", HTML)
        start_response("200 OK", HTML)
        return [b"<p>x</p>"]

    with pytest.raises(RuntimeError, match="second time"):
        Server().run(app)


def test_app_error_propagates() -> None:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", HTML)
        yield b"<html>"
        raise KeyError("app bug")

    with pytest.raises(KeyError, match="app bug"):
        Server().run(app)


def test_app_iterable_closed_once() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"<html><body>" + MARK + b"</body></html>"

        def close(self) -> None:
            closed.append(True)

    def app(environ: Any, start_response: Any) -> Body:
        start_response("200 OK", HTML)
        return Body()

    Server().run(app)
    assert closed == [True]


def test_no_start_response_raises() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        return [b"<p>x</p>"]

    with pytest.raises(RuntimeError, match="without calling start_response"):
        Server().run(app)


def test_passthrough_keeps_chunks() -> None:
    chunks = [b"a" * 10, b"", b"b" * 10]

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return chunks

    server = Server()
    server.run(app)
    assert server.chunks == chunks


def test_provider_cancelled_on_ineligible() -> None:
    provider = RecordingProvider(delay=5)

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"plain"]

    middleware = PersonalizeMiddleware(app, make(provider))
    server = Server()
    list(middleware(_environ("/shop/mug", "GET", [BROWSER]), server.start_response))
    # Let the loop thread run a few steps: a task that was not cancelled
    # would now have started and be sleeping.
    middleware.loop_thread.run(asyncio.sleep(0.05), 5)
    assert provider.started == provider.cancelled
    assert provider.completed == 0


def test_loop_thread_restarts_after_fork() -> None:
    runner = LoopThread()
    first = runner.loop()
    assert runner.loop() is first
    runner._pid = -1  # what a forked child sees: the parent's pid
    second = runner.loop()
    assert second is not first
    assert runner.run(asyncio.sleep(0, result=7), 5) == 7


def test_render_slower_than_deadline_and_margin() -> None:
    # The slot finished long before the body did; reading its result after
    # deadline + LOOP_MARGIN must still work.
    def app(environ: Any, start_response: Any) -> list[bytes]:
        time.sleep(LOOP_MARGIN + 0.2)
        start_response("200 OK", HTML)
        return [b"<main>", MARK, b"</main>"]

    middleware = PersonalizeMiddleware(app, make(deadline=0.05))
    server = Server()
    iterable = middleware(
        _environ("/shop/mug", "GET", [BROWSER]), server.start_response
    )
    body = b"".join(iterable)
    assert body == b"<main>" + FRAGMENT.encode() + b"</main>"
