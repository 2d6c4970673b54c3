"""Drive the WSGI, ASGI and Django adapters with one description.

A ``Downstream`` describes what the wrapped app sends; each runner here
passes it through one adapter and records what reaches the server, while
checking the protocol rules of that interface (one start before any body,
nothing after the end). Tests that use the ``run`` fixture of
``conftest.py`` therefore pin the same behaviour on every adapter. The
Django adapter runs twice: under Django's WSGI handler in sync mode and
under its ASGI handler in async mode, with the ``Downstream`` returned by
a view of the test project in ``tests/django/testproject``.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

from edge_personalize import Personalizer
from edge_personalize.asgi import PersonalizeMiddleware as ASGIMiddleware
from edge_personalize.wsgi import PersonalizeMiddleware as WSGIMiddleware

REPO = Path(__file__).resolve().parents[1]
# A browser's User-Agent: without one, a request counts as a crawler.
BROWSER = ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0")

# The Django test project is imported by name (``testproject``) from here.
# The directory has no __init__.py, so it never shadows the django package.
DJANGO_TESTS = REPO / "tests" / "django"
if str(DJANGO_TESTS) not in sys.path:
    sys.path.insert(0, str(DJANGO_TESTS))


@dataclass
class Downstream:
    """What the wrapped app sends: status, headers and body chunks."""

    chunks: Sequence[bytes] = (b"",)
    status: int = 200
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/html; charset=utf-8"),)
    # WSGI only: yield from a generator that calls start_response on its
    # first iteration instead of before returning.
    generator: bool = False
    # ASGI only: seconds to sleep before sending the start message.
    delay: float = 0.0


@dataclass
class Result:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    starts: int = 1
    app_finished: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


Runner = Callable[..., Result]


def run_wsgi(
    personalizer: Personalizer,
    downstream: Downstream,
    *,
    path: str = "/shop/mug",
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (BROWSER,),
) -> Result:
    """Run ``downstream`` as a WSGI app behind the WSGI middleware."""
    status_line = f"{downstream.status} X"

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if downstream.generator:
            return _generator_app(start_response)
        start_response(status_line, list(downstream.headers))
        return list(downstream.chunks)

    def _generator_app(start_response: Any) -> Iterator[bytes]:
        start_response(status_line, list(downstream.headers))
        yield from downstream.chunks

    calls: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        assert not calls or exc_info is not None, "start_response called twice"
        calls.append((status, list(response_headers)))
        return lambda data: pytest.fail("write() is not used by the middleware")

    environ = _environ(path, method, headers)
    middleware = WSGIMiddleware(app, personalizer)
    iterable = middleware(environ, start_response)
    body = b""
    try:
        for chunk in iterable:
            if chunk:
                assert calls, "a body chunk came before start_response"
            body += chunk
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    assert calls, "start_response was never called"
    status, response_headers = calls[-1]
    return Result(int(status.split()[0]), response_headers, body, starts=len(calls))


def _environ(
    path: str, method: str, headers: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    raw_path, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": raw_path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = value
    return environ


def run_asgi(
    personalizer: Personalizer,
    downstream: Downstream,
    *,
    path: str = "/shop/mug",
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (BROWSER,),
) -> Result:
    """Run ``downstream`` as an ASGI app behind the ASGI middleware."""
    return asyncio.run(
        _run_asgi(personalizer, downstream, path=path, method=method, headers=headers)
    )


async def _run_asgi(
    personalizer: Personalizer,
    downstream: Downstream,
    *,
    path: str,
    method: str,
    headers: Sequence[tuple[str, str]],
) -> Result:
    finished = False

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal finished
        if downstream.delay:
            await asyncio.sleep(downstream.delay)
        await send(
            {
                "type": "http.response.start",
                "status": downstream.status,
                "headers": [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in downstream.headers
                ],
            }
        )
        chunks = list(downstream.chunks) or [b""]
        for index, chunk in enumerate(chunks):
            await send(
                {
                    "type": "http.response.body",
                    "body": chunk,
                    "more_body": index < len(chunks) - 1,
                }
            )
        finished = True

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if messages and not messages[-1].get("more_body", True):
            pytest.fail(f"message {message['type']!r} sent after the final body")
        if message["type"] == "http.response.start":
            assert not messages, "http.response.start sent twice"
        else:
            assert messages, "body sent before http.response.start"
        messages.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await ASGIMiddleware(app, personalizer)(scope, receive, send)

    start = messages[0]
    body_messages = messages[1:]
    assert body_messages, "no body message was sent"
    assert body_messages[-1].get("more_body", False) is False
    return Result(
        status=start["status"],
        headers=[
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]
        ],
        body=b"".join(m.get("body", b"") for m in body_messages),
        app_finished=finished,
        messages=messages,
    )


def setup_django() -> None:
    """Configure Django with the settings of the test project, once."""
    import testproject

    testproject.setup()


def run_django(
    personalizer: Personalizer,
    downstream: Downstream,
    *,
    path: str = "/shop/mug",
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (BROWSER,),
) -> Result:
    """Run ``downstream`` as a Django view under Django's WSGI handler.

    The middleware runs in sync mode, as it does under runserver or
    gunicorn.
    """
    setup_django()
    from testproject.views import DOWNSTREAM

    calls: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        assert not calls, "start_response called twice"
        calls.append((status, list(response_headers)))
        return lambda data: pytest.fail("write() is not used by Django")

    environ = _environ(path, method, headers)
    environ["wsgi.input"] = io.BytesIO()
    token = DOWNSTREAM.set(downstream)
    try:
        with override_settings(EDGE_PERSONALIZE=personalizer):
            response = WSGIHandler()(environ, start_response)
            body = b""
            try:
                for chunk in response:
                    if chunk:
                        assert calls, "a body chunk came before start_response"
                    body += chunk
            finally:
                response.close()
    finally:
        DOWNSTREAM.reset(token)

    assert calls, "start_response was never called"
    status, response_headers = calls[-1]
    return Result(
        int(status.split()[0]), _strip_values(response_headers), body, starts=len(calls)
    )


def run_django_asgi(
    personalizer: Personalizer,
    downstream: Downstream,
    *,
    path: str = "/shop/mug",
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (BROWSER,),
) -> Result:
    """Run ``downstream`` as a Django view under Django's ASGI handler.

    The middleware runs in async mode, as it does under uvicorn.
    """
    setup_django()
    from testproject.views import DOWNSTREAM

    token = DOWNSTREAM.set(downstream)
    try:
        with override_settings(EDGE_PERSONALIZE=personalizer):
            handler = ASGIHandler()
            messages = asyncio.run(_call_django_asgi(handler, path, method, headers))
    finally:
        DOWNSTREAM.reset(token)

    start = messages[0]
    body_messages = messages[1:]
    assert body_messages, "no body message was sent"
    assert body_messages[-1].get("more_body", False) is False
    return Result(
        status=start["status"],
        headers=[
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]
        ],
        body=b"".join(m.get("body", b"") for m in body_messages),
        messages=messages,
    )


async def _call_django_asgi(
    handler: ASGIHandler, path: str, method: str, headers: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if messages and not messages[-1].get("more_body", True):
            pytest.fail(f"message {message['type']!r} sent after the final body")
        if message["type"] == "http.response.start":
            assert not messages, "http.response.start sent twice"
        else:
            assert messages, "body sent before http.response.start"
        messages.append(message)

    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Django listens for a disconnect while it responds; this client
        # stays until Django cancels the listener.
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await handler(scope, receive, send)
    return messages


def _strip_values(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    # Django's WSGI handler writes each Set-Cookie value with a leading
    # space; HTTP ignores whitespace around a field value.
    return [(name, value.strip()) for name, value in headers]


RUNNERS: dict[str, Runner] = {
    "wsgi": run_wsgi,
    "asgi": run_asgi,
    "django-wsgi": run_django,
    "django-asgi": run_django_asgi,
}
