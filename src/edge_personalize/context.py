"""The visitor's context, built from a framework-neutral view of the request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._types import RawHeaders

__all__ = ["Context", "RequestView"]


@dataclass(frozen=True)
class RequestView:
    """The parts of an HTTP request the core reads, in one neutral shape.

    Adapters build it from a WSGI environ, an ASGI scope or a Django
    request. ``path`` is the decoded path without the query string;
    ``query_string`` is the raw query; header names are lower-case bytes.
    """

    method: str
    path: str
    query_string: bytes = b""
    headers: RawHeaders = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        """Return the first value of header ``name`` (lower-case), if any."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


_EMPTY_PARAMS: Mapping[str, str | tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True)
class Context:
    """What personalization may know about one request, bounded and cleaned.

    Instances are immutable, hashable only by identity, and safe to share
    with providers: they contain no IP address, raw cookie or raw user
    agent.
    """

    path: str = "/"
    params: Mapping[str, str | tuple[str, ...]] = _EMPTY_PARAMS
    interests: tuple[str, ...] = ()
    viewed: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    country: str | None = None
    device: str = "unknown"
    bot: bool = False
