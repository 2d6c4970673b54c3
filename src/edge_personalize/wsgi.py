"""WSGI middleware: personalize the HTML of a Flask, Bottle or any WSGI app.

Wrap the app's WSGI callable::

    app.wsgi_app = PersonalizeMiddleware(app.wsgi_app, personalizer)

Providers are coroutines, and a WSGI server runs each request in a thread
of its own, so the middleware runs one event loop in a daemon thread per
process. A matched request schedules its slot tasks on that loop before
the app is called, and the app renders in the request thread meanwhile.
The request thread waits for the fragments only after the app's last
chunk, bounded by the deadline. The loop is started on first use and
again in a forked worker (for example under gunicorn with ``--preload``).

An eligible response (200, ``text/html``, no content coding, at most
``max_body_size`` bytes) is buffered, rewritten and sent as one chunk with
a correct ``Content-Length``. Every other response is passed on as the
app produces it, including the legacy ``write()`` callable.

Limitations: a streamed HTML response on a matched route is buffered, so
the visitor receives nothing until the app has finished it. Leave such
routes out of ``routes``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from ._loop import LOOP_MARGIN, on_shutdown, shared_loop_thread
from ._response import (
    BodyBuffer,
    Headers,
    complete_rewrite,
    prepare_rewrite,
    skip_reason,
)
from ._types import OptExcInfo, StartResponse, WSGIApp, WSGIEnviron
from .context import RequestView
from .personalizer import Personalizer, Plan

__all__ = ["PersonalizeMiddleware"]

logger = logging.getLogger(__name__)


class PersonalizeMiddleware:
    """Wrap a WSGI ``app`` and personalize the pages ``personalizer`` selects."""

    def __init__(self, app: WSGIApp, personalizer: Personalizer) -> None:
        if not isinstance(personalizer, Personalizer):
            raise TypeError(
                "PersonalizeMiddleware needs a Personalizer, got "
                f"{personalizer!r}; pass PersonalizeMiddleware(app, Personalizer(...))."
            )
        self.app = app
        self.personalizer = personalizer
        self.loop_thread = shared_loop_thread()
        on_shutdown(personalizer.aclose)

    def __call__(
        self, environ: WSGIEnviron, start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if method != "GET":
            return self.app(environ, start_response)

        # PEP 3333 hands the path over as Latin-1 text of the raw bytes.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if not self.personalizer.may_personalize(method, path or "/"):
            return self.app(environ, start_response)

        plan = self.personalizer.plan(_request_view(environ, path or "/"))
        if plan is None:
            return self.app(environ, start_response)

        self.loop_thread.call_soon(plan.start)
        return _respond(self, plan, environ, start_response)


def _request_view(environ: WSGIEnviron, path: str) -> RequestView:
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.lower().replace("_", "-")
        else:
            continue
        headers.append((name.encode("latin-1"), str(value).encode("latin-1")))

    return RequestView(
        method="GET",
        path=path,
        query_string=environ.get("QUERY_STRING", "").encode("latin-1"),
        headers=headers,
    )


class _Start:
    """The app's ``start_response`` calls, held until the middleware decides."""

    def __init__(self, start_response: StartResponse) -> None:
        self.downstream = start_response
        self.status: str | None = None
        self.headers: Headers = []
        self.exc_info: OptExcInfo | None = None
        self.passing = False
        self.written: list[bytes] = []
        self.server_write: Callable[[bytes], object] | None = None

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
        /,
    ) -> Callable[[bytes], object]:
        if self.passing:
            # The server has the headers; it applies PEP 3333's rules.
            self.server_write = self.downstream(status, headers, exc_info)
            return self.write
        if self.status is not None and not exc_info:
            raise RuntimeError(
                "start_response() was called a second time without exc_info."
            )
        # Nothing has reached the server yet, so an error page simply
        # replaces the held response.
        self.status, self.headers, self.exc_info = status, list(headers), exc_info
        return self.write

    def write(self, data: bytes) -> None:
        if self.passing:
            assert self.server_write is not None
            self.server_write(data)
        else:
            self.written.append(data)

    def pass_on(self) -> None:
        assert self.status is not None
        self.passing = True
        self.server_write = self.downstream(self.status, self.headers, self.exc_info)

    @property
    def status_code(self) -> int:
        assert self.status is not None
        code = self.status.split(" ", 1)[0]
        return int(code) if code.isdigit() else 0


def _respond(
    middleware: PersonalizeMiddleware,
    plan: Plan,
    environ: WSGIEnviron,
    start_response: StartResponse,
) -> Iterator[bytes]:
    start = _Start(start_response)
    iterable = middleware.app(environ, start)
    try:
        yield from _drive(middleware, plan, start, iter(iterable))
    finally:
        middleware.loop_thread.call_soon(plan.cancel)
        close = getattr(iterable, "close", None)
        if close is not None:
            close()


def _drive(
    middleware: PersonalizeMiddleware,
    plan: Plan,
    start: _Start,
    chunks: Iterator[bytes],
) -> Iterator[bytes]:
    # A generator app calls start_response only when first iterated.
    early: list[bytes] = []
    while start.status is None:
        chunk = next(chunks, None)
        if chunk is None:
            raise RuntimeError(
                "The application returned without calling start_response()."
            )
        early.append(chunk)

    personalizer = middleware.personalizer
    reason = skip_reason(start.status_code, start.headers, personalizer.max_body_size)
    if reason is not None:
        logger.debug("Not personalizing %s: %s", plan.context.path, reason)
        middleware.loop_thread.call_soon(plan.cancel)
        yield from _pass(start, early, chunks)
        return

    buffer = BodyBuffer(personalizer.slot_names, personalizer.max_body_size)
    for chunk in _body(start, early, chunks):
        if start.status_code != 200:
            # An error page replaced the held response (start_response with
            # exc_info); drop the held bytes and send it as the app made it.
            yield from _pass(start, [chunk], chunks)
            return
        if not buffer.feed(chunk):
            logger.warning(
                "Not personalizing %s: the body is over max_body_size (%d bytes)",
                plan.context.path,
                personalizer.max_body_size,
            )
            middleware.loop_thread.call_soon(plan.cancel)
            yield from _pass(start, [b"".join(buffer.chunks)], chunks)
            return

    yield from _final(middleware, plan, start, buffer)


def _body(
    start: _Start, early: list[bytes], chunks: Iterator[bytes]
) -> Iterator[bytes]:
    """Yield the body in order: write() calls, early chunks, the rest."""
    yield from start.written
    start.written.clear()
    yield from early
    for chunk in chunks:
        if start.written:
            yield from start.written
            start.written.clear()
        yield chunk
    yield from start.written
    start.written.clear()


def _pass(start: _Start, held: list[bytes], chunks: Iterator[bytes]) -> Iterator[bytes]:
    written, start.written = start.written, []
    start.pass_on()
    for chunk in [*written, *held]:
        if chunk:
            yield chunk
    yield from chunks


def _final(
    middleware: PersonalizeMiddleware, plan: Plan, start: _Start, buffer: BodyBuffer
) -> Iterator[bytes]:
    pending = prepare_rewrite(buffer, start.headers, plan.context.path)
    result = None
    if pending is not None:
        fragments = middleware.loop_thread.run(
            plan.fragments(pending.slots),
            # After the deadline the slots are done, but reading their
            # results still takes a trip to the loop thread.
            max(plan.deadline - time.monotonic(), 0.0) + LOOP_MARGIN,
        )
        result = complete_rewrite(pending, fragments or {}, plan.personalized)

    if result is None:
        start.pass_on()
        yield b"".join(buffer.chunks)
        return

    body, start.headers = result
    start.pass_on()
    yield body
