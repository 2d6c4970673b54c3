"""Views of the Django test project."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

# The response the running test describes: a ``Downstream`` of
# tests/conftest.py, set by its Django runners around each request.
DOWNSTREAM: ContextVar[Any] = ContextVar("DOWNSTREAM")


def downstream(request: HttpRequest) -> HttpResponse:
    """Return the status, headers and body of the current ``Downstream``.

    Django gives every ``HttpResponse`` a Content-Type, so it is removed
    first and only the described headers remain, in their order.
    ``Set-Cookie`` headers become cookies, because Django keeps those
    apart from the other headers.
    """
    spec = DOWNSTREAM.get()
    response = HttpResponse(b"".join(spec.chunks), status=spec.status)
    del response.headers["Content-Type"]
    for name, value in spec.headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)
        else:
            response.headers[name] = value
    return response
