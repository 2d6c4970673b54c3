"""ASGI adapter: protocol details that have no WSGI counterpart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from edge_personalize.asgi import PersonalizeMiddleware
from test_adapters import FRAGMENT, MARK, PAGE, RecordingProvider, make

HTML = [(b"content-type", b"text/html; charset=utf-8")]


def scope(path: str = "/shop/mug", kind: str = "http") -> dict[str, Any]:
    return {
        "type": kind,
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")],
    }


class Recorder:
    """A server side that rejects ASGI flow errors."""

    def __init__(self, fail_after_disconnect: bool = False) -> None:
        self.messages: list[dict[str, Any]] = []
        self.gone = False
        self.fail_after_disconnect = fail_after_disconnect

    async def send(self, message: dict[str, Any]) -> None:
        if self.gone and self.fail_after_disconnect:
            raise OSError("client disconnected")
        if self.messages and not self.messages[-1].get("more_body", True):
            raise AssertionError("message after the final body")
        if message["type"] == "http.response.start" and self.messages:
            raise AssertionError("response already started")
        self.messages.append(message)


def test_one_start_and_one_final_body() -> None:
    chunks = [
        b"<html><body>" + b"a" * 9988,
        b"b" * 4000 + MARK + b"c" * 5975,
        b"d" * 10000,
    ]
    total = sum(map(len, chunks))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*HTML, (b"content-length", str(total).encode())],
            }
        )
        for index, chunk in enumerate(chunks):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": index < 2}
            )

    recorder = Recorder()
    asyncio.run(
        PersonalizeMiddleware(app, make())(scope(), _receive_forever, recorder.send)
    )
    starts = [m for m in recorder.messages if m["type"] == "http.response.start"]
    finals = [m for m in recorder.messages if not m.get("more_body", False)]
    body = b"".join(m.get("body", b"") for m in recorder.messages[1:])
    assert len(starts) == 1
    assert recorder.messages[0] is starts[0]
    assert len(finals) == 2  # the start message and the last body message
    assert body == b"".join(chunks).replace(MARK, FRAGMENT.encode())
    assert (b"content-length", str(len(body)).encode()) in starts[0]["headers"]


async def _receive_forever() -> dict[str, Any]:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


def test_non_http_scope_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(
        PersonalizeMiddleware(app, make())(
            scope(kind="lifespan"), _receive_forever, Recorder().send
        )
    )
    assert seen == ["lifespan"]


def test_disconnect_cancels_providers() -> None:
    provider = RecordingProvider(delay=3)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        await send({"type": "http.response.body", "body": PAGE})

    recorder = Recorder()

    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await PersonalizeMiddleware(app, make(provider, deadline=10))(
            scope(), receive, recorder.send
        )
        return loop.time() - started

    elapsed = asyncio.run(main())
    assert provider.cancelled == 1
    assert provider.completed == 0
    # The page went out with its fallback instead of waiting for the provider.
    assert b"".join(m.get("body", b"") for m in recorder.messages[1:]) == PAGE
    assert elapsed < 3


def test_send_error_after_disconnect_quiet() -> None:
    recorder = Recorder(fail_after_disconnect=True)
    recorder.gone = True
    finished: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        await send({"type": "http.response.body", "body": PAGE})
        finished.append(True)

    asyncio.run(
        PersonalizeMiddleware(app, make())(scope(), _receive_forever, recorder.send)
    )
    assert finished == [True]
    assert recorder.messages == []


def test_app_error_propagates() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        raise KeyError("app bug")

    recorder = Recorder()
    with pytest.raises(KeyError, match="app bug"):
        asyncio.run(
            PersonalizeMiddleware(app, make())(scope(), _receive_forever, recorder.send)
        )
    assert recorder.messages == []


def test_pathsend_passes_through() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        await send({"type": "http.response.pathsend", "path": "/tmp/page.html"})

    recorder = Recorder()
    asyncio.run(
        PersonalizeMiddleware(app, make())(scope(), _receive_forever, recorder.send)
    )
    assert [m["type"] for m in recorder.messages] == [
        "http.response.start",
        "http.response.pathsend",
    ]


def test_middleware_needs_personalizer() -> None:
    with pytest.raises(TypeError, match="Personalizer"):
        PersonalizeMiddleware(lambda *a: None, personalizer="nope")  # type: ignore[arg-type]


def test_second_start_reaches_server() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        await send(
            {"type": "http.response.body", "body": b"<h1>Mug</h1>", "more_body": True}
        )
        await send({"type": "http.response.start", "status": 200, "headers": HTML})

    recorder = Recorder()
    with pytest.raises(AssertionError, match="response already started"):
        asyncio.run(
            PersonalizeMiddleware(app, make())(scope(), _receive_forever, recorder.send)
        )
    # What the app sent before its mistake reached the server unchanged.
    assert recorder.messages[1]["body"] == b"<h1>Mug</h1>"


def test_message_after_end_reaches_server() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HTML})
        await send({"type": "http.response.body", "body": PAGE})
        await send({"type": "http.response.body", "body": b"extra"})

    recorder = Recorder()
    with pytest.raises(AssertionError, match="after the final body"):
        asyncio.run(
            PersonalizeMiddleware(app, make())(scope(), _receive_forever, recorder.send)
        )


def test_lifespan_shutdown_closes_personalizer() -> None:
    closed: list[bool] = []

    class Closable:
        features: frozenset[str] = frozenset()

        async def recommend(self, request: Any) -> list[Any]:
            return []

        async def aclose(self) -> None:
            closed.append(True)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.shutdown"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    personalizer = make(Closable())
    asyncio.run(
        PersonalizeMiddleware(app, personalizer)({"type": "lifespan"}, receive, send)
    )
    assert closed == [True]
    assert sent == [{"type": "lifespan.shutdown.complete"}]
