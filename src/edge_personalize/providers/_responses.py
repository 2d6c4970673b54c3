"""Turn a remote service's HTTP response into its JSON body or a ProviderError.

Services report errors in several shapes, and some send them with HTTP
200. :func:`error_details` reads the common ones:

- OpenAI and most compatible servers: ``{"error": {"message", "type", "code"}}``
- Ollama and others: ``{"error": "message"}``
- vLLM: ``{"object": "error", "message": ..., "code": ...}``
- FastAPI-based services: ``{"detail": "message"}`` or a list of details
- Cloudflare's API: ``{"success": false, "errors": [{"code", "message"}]}``
"""

from __future__ import annotations

from collections.abc import Mapping

from ..exceptions import ProviderRateLimited, ProviderResponseError
from ._client import Redactor, ServiceResponse, remote_text, retry_after

# Workers AI's code for "no more data centers to forward the request to",
# sent with HTTP 429: a lack of capacity that passes, not a quota.
CLOUDFLARE_OUT_OF_CAPACITY = 3040

# HTTP statuses retried when the chain's policy allows: the service is
# overloaded or restarting, so a second attempt may reach it.
RETRYABLE_STATUSES = frozenset({503})


def error_details(body: object) -> tuple[str | None, str | int | None]:
    """Return the message and code of an error body, or ``(None, None)``."""
    if not isinstance(body, Mapping):
        return None, None

    error = body.get("error")
    if isinstance(error, Mapping):
        return _message(error), _code(error.get("code") or error.get("type"))
    if isinstance(error, str) and error:
        return error, _code(body.get("code"))

    if body.get("object") == "error":
        return _message(body) or "error", _code(body.get("code") or body.get("type"))

    errors = body.get("errors")
    if body.get("success") is False or (isinstance(errors, list) and errors):
        return _cloudflare_error(errors)

    detail = body.get("detail")
    if isinstance(detail, str) and detail:
        return detail, None
    if isinstance(detail, list) and detail:
        return remote_text(detail, Redactor(())), None
    return None, None


def _message(error: Mapping[str, object]) -> str | None:
    message = error.get("message")
    if isinstance(message, str) and message:
        return message
    return None


def _code(value: object) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return value
    return None


def _cloudflare_error(errors: object) -> tuple[str, str | int | None]:
    if not isinstance(errors, list) or not errors:
        return "the request failed and no error was given", None
    first = errors[0]
    if not isinstance(first, Mapping):
        return remote_text(first, Redactor(())), None
    code = _code(first.get("code"))
    return _message(first) or "no message", code


def read_response(response: ServiceResponse, where: str, redact: Redactor) -> object:
    """Return the JSON body of ``response`` if it reports success.

    :raises ProviderRateLimited: for HTTP 429 or Workers AI code 3040,
        retryable when the service sent a retry hint or lacks capacity.
    :raises ProviderResponseError: for another error status, an error
        body (whatever the status) or a body that is not JSON. HTTP 503
        is retryable.
    """
    try:
        body = response.json(where)
    except ProviderResponseError:
        if response.status < 400:
            raise
        text = response.body.decode("utf-8", "replace")
        raise _status_error(response, where, remote_text(text, redact), None) from None

    message, code = error_details(body)
    if message is None and response.status < 400:
        return body
    text = remote_text(message or "no error message", redact)
    raise _status_error(response, where, text, code)


def _status_error(
    response: ServiceResponse, where: str, text: str, code: str | int | None
) -> ProviderResponseError:
    status = response.status
    hint = retry_after(response.headers)
    described = f" (code {code!r})" if code is not None else ""
    message = f"{where} returned HTTP {status} with an error{described}: {text}"

    out_of_capacity = code in (
        CLOUDFLARE_OUT_OF_CAPACITY,
        str(CLOUDFLARE_OUT_OF_CAPACITY),
    )
    if status == 429 or out_of_capacity:
        return ProviderRateLimited(
            message,
            status=status,
            code=code,
            retryable=hint is not None or out_of_capacity,
            retry_after=hint,
        )
    return ProviderResponseError(
        message,
        status=status,
        code=code,
        retryable=status in RETRYABLE_STATUSES,
        retry_after=hint,
    )
