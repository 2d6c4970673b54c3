"""The HTTP client that remote providers share, and the call they all make.

Remote providers send one JSON ``POST`` per recommendation and read one
JSON response. :class:`ClientPool` keeps one ``httpx.AsyncClient`` per event
loop, because a client's connections belong to the loop that opened them:
an ASGI server's loop and the WSGI adapter's loop thread each get their
own. :func:`post_json` bounds the whole exchange in time and size, and
turns every ``httpx`` failure into a
:class:`~edge_personalize.exceptions.ProviderError` whose message never
contains a secret.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..exceptions import (
    ConfigurationError,
    ProviderConnectionError,
    ProviderResponseError,
    ProviderTimeout,
)

logger = logging.getLogger(__name__)

USER_AGENT = "edge-personalize"

# Per event loop: at most 64 connections, 16 of them kept idle for reuse.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=64, max_keepalive_connections=16, keepalive_expiry=30.0
)

#: Bytes of a response that a provider reads at most. A longer one fails.
MAX_RESPONSE_BYTES = 1024 * 1024

# Characters of a remote error message that go into an exception message.
MAX_ERROR_TEXT = 200

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class Secret:
    """A token or key whose repr and str never show the value.

    Call :meth:`reveal` where the value is sent, and nowhere else.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


class Redactor:
    """Replace each secret value in a text with ``********``.

    Applied to every message built from what a remote service sent,
    because a misbehaving service or proxy may echo a request's headers.
    """

    def __init__(self, secrets: Iterable[Secret]) -> None:
        # Longest first, so that a secret containing another is replaced whole.
        values = {secret.reveal() for secret in secrets if secret.reveal()}
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "********")
        return text


def resolve_secret(
    value: str | None, env_name: str | None, option: str, provider: str
) -> Secret | None:
    """Return ``value``, or the environment variable ``env_name``, as a secret.

    :raises ConfigurationError: if the value is not a non-empty string of
        printable ASCII, since it has to fit in an HTTP header.
    """
    source = f"{option}="
    if value is None and env_name:
        value = os.environ.get(env_name) or None
        source = f"the environment variable {env_name}"
    if value is None:
        return None
    if not isinstance(value, str) or not value or not _is_header_safe(value):
        # The value itself stays out of the message: it may be a real token.
        raise ConfigurationError(
            f"{provider}: {source} must be a non-empty string of printable ASCII "
            "characters without spaces; check the token you configured."
        )
    return Secret(value)


def _is_header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value


def describe_url(url: str) -> str:
    """Return ``url`` without user info, query and fragment, for messages.

    Those parts may carry credentials (``https://user:key@host`` or
    ``?key=...``), and a message needs only the host and path.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_base_url(
    url: object, option: str, provider: str, *, strip_slash: bool = True
) -> str:
    """Return ``url`` after checking that it is an absolute http(s) URL.

    With ``strip_slash``, trailing slashes are removed, so that paths can
    be appended to a base URL.

    :raises ConfigurationError: if it is not an absolute http or https URL.
    """
    if isinstance(url, str):
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is not None and parts.scheme in ("http", "https") and parts.netloc:
            return url.rstrip("/") if strip_slash else url
    raise ConfigurationError(
        f"{provider}: {option}={url!r} is not an absolute http(s) URL; use a URL "
        "such as 'http://127.0.0.1:8080/v1'."
    )


def remote_text(value: object, redact: Redactor, limit: int = MAX_ERROR_TEXT) -> str:
    """Return a remote value as one short line, secrets replaced, for messages."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = _CONTROL_CHARS.sub(" ", redact(text)).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _rejecting_cookie_jar() -> http.cookiejar.CookieJar:
    # A remote service's cookies would otherwise be kept in the shared client
    # and sent back with the requests of every later visitor.
    policy = http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
    return http.cookiejar.CookieJar(policy)


class ClientPool:
    """One ``httpx.AsyncClient`` per running event loop, created on first use.

    Clients have bounded connection pools (:data:`DEFAULT_LIMITS`), keep
    no cookies, follow no redirects and ignore proxy settings from the
    environment (``trust_env=False``), so that requests go only where a
    provider's URL points. After a fork the parent's clients are
    forgotten, since their connections belong to the parent.

    :param transport: an ``httpx`` transport for every client, for tests
        (``httpx.MockTransport``) or special routing; ``None`` uses the
        default network transport.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"<ClientPool of {len(self._clients)} clients>"

    def client(self) -> httpx.AsyncClient:
        """Return the client of the running event loop, creating it if needed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._forget_stale()
            client = self._clients.get(loop)
            if client is None or client.is_closed:
                client = httpx.AsyncClient(
                    headers={"User-Agent": USER_AGENT},
                    cookies=_rejecting_cookie_jar(),
                    limits=DEFAULT_LIMITS,
                    follow_redirects=False,
                    trust_env=False,
                    transport=self.transport,
                )
                self._clients[loop] = client
            return client

    async def aclose(self) -> None:
        """Close the client of the running event loop and its connections.

        Clients of other loops are left to those loops, since a client can
        be closed only in the loop it belongs to. A later request creates a
        new client.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    def _forget_stale(self) -> None:
        pid = os.getpid()
        if pid != self._pid:
            self._clients.clear()
            self._pid = pid
        # A closed loop cannot run its client's close; dropping it lets the
        # loop and the client be collected.
        for loop in [loop for loop in self._clients if loop.is_closed()]:
            del self._clients[loop]


_SHARED_POOL = ClientPool()


def shared_pool() -> ClientPool:
    """Return the pool that every remote provider without a transport uses."""
    return _SHARED_POOL


@dataclass(frozen=True)
class ServiceResponse:
    """A remote service's response: status, headers and the whole body."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self, where: str) -> object:
        """Return the body parsed as JSON.

        :raises ProviderResponseError: if the body is not UTF-8 JSON.
        """
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ProviderResponseError(
                f"{where} returned HTTP {self.status} with a body that is not valid "
                f"JSON ({reason}).",
                status=self.status,
            ) from None


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    payload: object,
    *,
    headers: Mapping[str, str],
    timeout: float,
    where: str,
    redact: Redactor,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> ServiceResponse:
    """POST ``payload`` as JSON to ``url`` and read the whole response.

    ``timeout`` bounds the whole exchange, from connecting to the last
    byte, so a service that sends its response a byte at a time cannot hold
    a request past it. ``where`` names the service in error messages, and
    ``redact`` removes secrets from the text of ``httpx`` errors.

    :raises ProviderTimeout: if the response is not complete in time.
    :raises ProviderConnectionError: if no connection can be made, or the
        connection breaks before the whole response arrives.
    :raises ProviderResponseError: if the response is longer than ``max_bytes``.
    """
    if timeout <= 0:
        raise ProviderTimeout(f"{where} was not called: no time was left.")

    started = time.monotonic()
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        response = await asyncio.wait_for(
            _exchange(client, url, body.encode("utf-8"), headers, timeout, max_bytes),
            timeout,
        )
    except (asyncio.TimeoutError, httpx.TimeoutException):
        raise ProviderTimeout(
            f"{where} did not respond within {timeout:.3f} s."
        ) from None
    except httpx.ConnectError as exc:
        raise ProviderConnectionError(
            f"Could not connect to {where} at {describe_url(url)} "
            f"({_describe_error(exc, redact)})."
        ) from None
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        # The connection was reset or closed early: a new one may work.
        raise ProviderConnectionError(
            f"The connection to {where} broke before the whole response arrived "
            f"({_describe_error(exc, redact)}).",
            retryable=True,
        ) from None
    except httpx.HTTPError as exc:
        raise ProviderConnectionError(
            f"The request to {where} failed ({_describe_error(exc, redact)})."
        ) from None

    logger.debug(
        "%s returned HTTP %d with %d bytes in %.1f ms",
        where,
        response.status,
        len(response.body),
        (time.monotonic() - started) * 1000,
    )
    return response


def _describe_error(exc: httpx.HTTPError, redact: Redactor) -> str:
    # Chaining the httpx error would put its text in tracebacks unredacted,
    # so its type and redacted text go into the message instead.
    text = remote_text(str(exc), redact)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _exchange(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    max_bytes: int,
) -> ServiceResponse:
    request_headers = {"Content-Type": "application/json", **headers}
    async with client.stream(
        "POST",
        url,
        content=body,
        headers=request_headers,
        timeout=httpx.Timeout(timeout),
    ) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(response.status_code, max_bytes)
        chunks: list[bytes] = []
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > max_bytes:
                raise _too_large(response.status_code, max_bytes)
            chunks.append(chunk)
        return ServiceResponse(response.status_code, response.headers, b"".join(chunks))


def _too_large(status: int, max_bytes: int) -> ProviderResponseError:
    return ProviderResponseError(
        f"The response is longer than {max_bytes} bytes, the limit a provider reads.",
        status=status,
    )


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Return the seconds a service asked the caller to wait, or ``None``.

    Reads ``retry-after-ms`` (milliseconds, sent by OpenAI), then
    ``Retry-After`` as seconds or as an HTTP date. ``now`` is the current
    Unix time, for tests.
    """
    milliseconds = _number(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000

    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number
