"""ASGI middleware: personalize the HTML of a Starlette, FastAPI or any ASGI app.

Use it where the app is built::

    app.add_middleware(PersonalizeMiddleware, personalizer=personalizer)

or wrap any ASGI callable: ``app = PersonalizeMiddleware(app, personalizer)``.

For a matched GET request the slot tasks start before the app is called,
so the providers work while the app renders. An eligible response (200,
``text/html``, no content coding, at most ``max_body_size`` bytes) is held
back until its last body message, rewritten, and sent as one start message
and one body message with a correct ``Content-Length``. Every other
response is passed on message by message as the app sends it.

Limitations: a streamed HTML response on a matched route is buffered, so
the visitor receives nothing until the app has finished it. Leave such
routes out of ``routes``.
"""

from __future__ import annotations

import logging

from ._response import (
    BodyBuffer,
    Headers,
    complete_rewrite,
    prepare_rewrite,
    skip_reason,
)
from ._types import ASGIApp, Message, Receive, Scope, Send
from .context import RequestView
from .personalizer import Personalizer, Plan

__all__ = ["PersonalizeMiddleware"]

logger = logging.getLogger(__name__)


class PersonalizeMiddleware:
    """Wrap an ASGI ``app`` and personalize the pages ``personalizer`` selects."""

    def __init__(self, app: ASGIApp, personalizer: Personalizer) -> None:
        if not isinstance(personalizer, Personalizer):
            raise TypeError(
                "PersonalizeMiddleware needs a Personalizer, got "
                f"{personalizer!r}; pass personalizer=Personalizer(...)."
            )
        self.app = app
        self.personalizer = personalizer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http" or not self.personalizer.may_personalize(
            scope["method"], scope["path"]
        ):
            await self.app(scope, receive, send)
            return

        request = RequestView(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b""),
            headers=scope.get("headers", []),
        )
        plan = self.personalizer.plan(request)
        if plan is None:
            await self.app(scope, receive, send)
            return

        plan.start()
        responder = _Responder(self.personalizer, plan, send)

        async def watch_receive() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                # No client will read the page, so stop the provider calls.
                plan.cancel()
            return message

        try:
            await self.app(scope, watch_receive, responder.send)
        finally:
            plan.cancel()

    def _lifespan_send(self, send: Send) -> Send:
        personalizer = self.personalizer

        async def lifespan_send(message: Message) -> None:
            if message["type"] in (
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed",
            ):
                # Close provider connection pools before the server stops.
                await personalizer.aclose()
            await send(message)

        return lifespan_send


class _Responder:
    """The send wrapper and the state of one response."""

    def __init__(self, personalizer: Personalizer, plan: Plan, send: Send) -> None:
        self.personalizer = personalizer
        self.plan = plan
        self.downstream = send
        self.start: Message | None = None
        self.headers: Headers = []
        self.buffer: BodyBuffer | None = None
        # Once set, every message goes to the server as the app sent it:
        # after a pass-through decision, and after the final body.
        self.passing = False

    async def send(self, message: Message) -> None:
        if self.passing:
            # After the end, the server receives what the app sent and reports
            # any protocol error, as it would without the middleware.
            await self.downstream(message)
        elif message["type"] == "http.response.debug" and self.start is None:
            # Test clients' debug extension (the template and its context)
            # comes before the start message; it is no body, so pass it on.
            await self.downstream(message)
        elif message["type"] == "http.response.start" and self.start is None:
            await self._on_start(message)
        elif message["type"] == "http.response.body" and self.buffer is not None:
            await self._on_body(message)
        else:
            # Anything else (a path send, early hints...) cannot be rewritten.
            await self._pass_through(message)

    async def _on_start(self, message: Message) -> None:
        headers = _decode_headers(message.get("headers", []))
        reason = skip_reason(
            message["status"], headers, self.personalizer.max_body_size
        )
        if reason is None and message.get("trailers", False):
            reason = "HTTP trailers announced"
        if reason is not None:
            logger.debug("Not personalizing %s: %s", self.plan.context.path, reason)
            await self._pass_through(message)
            return

        self.start = message
        self.headers = headers
        self.buffer = BodyBuffer(
            self.personalizer.slot_names, self.personalizer.max_body_size
        )

    async def _on_body(self, message: Message) -> None:
        assert self.buffer is not None
        within_cap = self.buffer.feed(message.get("body", b""))
        more_body = message.get("more_body", False)
        if not within_cap:
            logger.warning(
                "Not personalizing %s: the body is over max_body_size (%d bytes)",
                self.plan.context.path,
                self.personalizer.max_body_size,
            )
            await self._flush_original(more_body)
            return
        if more_body:
            return

        self.passing = True
        await self._send_final()

    async def _send_final(self) -> None:
        assert self.start is not None and self.buffer is not None
        pending = prepare_rewrite(self.buffer, self.headers, self.plan.context.path)
        result = None
        if pending is not None:
            fragments = await self.plan.fragments(pending.slots)
            result = complete_rewrite(pending, fragments, self.plan.personalized)
        self.plan.cancel()
        if result is None:
            await self._send_unchanged()
            return

        body, headers = result
        start = {**self.start, "headers": _encode_headers(headers)}
        await self._send_quietly(start, body)

    async def _send_unchanged(self) -> None:
        assert self.start is not None and self.buffer is not None
        await self._send_quietly(self.start, b"".join(self.buffer.chunks))

    async def _send_quietly(self, start: Message, body: bytes) -> None:
        try:
            await self.downstream(start)
            await self.downstream(
                {"type": "http.response.body", "body": body, "more_body": False}
            )
        except OSError:
            # The client left while the response was held back. The app has
            # finished already, so there is no caller to report it to.
            logger.debug("Client gone before %s was sent", self.plan.context.path)

    async def _flush_original(self, more_body: bool) -> None:
        assert self.start is not None and self.buffer is not None
        self.plan.cancel()
        self.passing = True
        await self.downstream(self.start)
        if self.buffer.chunks or not more_body:
            await self.downstream(
                {
                    "type": "http.response.body",
                    "body": b"".join(self.buffer.chunks),
                    "more_body": more_body,
                }
            )

    async def _pass_through(self, message: Message) -> None:
        self.plan.cancel()
        if self.start is not None and self.buffer is not None:
            await self._flush_original(True)
        self.passing = True
        await self.downstream(message)


def _decode_headers(raw: list[tuple[bytes, bytes]]) -> Headers:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


def _encode_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers
    ]
