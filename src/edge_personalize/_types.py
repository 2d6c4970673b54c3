"""Type aliases for the ASGI and WSGI interfaces the adapters speak."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any, Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Header lists as they cross the sans-I/O core: ASGI's raw form, with names
# lower-cased by the adapters.
RawHeaders = list[tuple[bytes, bytes]]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
OptExcInfo = ExcInfo | tuple[None, None, None]
WSGIEnviron = dict[str, Any]


class StartResponse(Protocol):
    """The ``start_response`` callable of PEP 3333."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = ...,
        /,
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]
