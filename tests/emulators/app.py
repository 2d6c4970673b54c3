"""An ASGI app that speaks the Workers AI, OpenAI and HTTPProvider JSON shapes.

Routes:

- ``POST /client/v4/accounts/{account_id}/ai/run/{model}``: Workers AI.
  Text models respond in the Cloudflare envelope with ``result.response``,
  an object in JSON mode and a string otherwise. Models whose name
  contains ``bge`` or ``embed`` return ``result.data``, one vector per
  input text.
- ``POST /v1/chat/completions``: an OpenAI-compatible server.
- ``POST /recommend``: a site's own service in ``HTTPProvider``'s format.

By default a text model chooses the candidates of the prompt in reverse
order, so that its choice differs from the catalog recommender's, and the
HTTP service returns ``service_items``. The switches of :class:`Emulator`
inject latency and faults; every request is recorded in ``received``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]

#: Faults the emulator can inject, by name.
FAULTS = frozenset(
    {
        "429",  # HTTP 429 with Retry-After: <retry_after>
        "429-no-hint",  # HTTP 429 without Retry-After
        "3040",  # Workers AI's "out of capacity" (HTTP 429, code 3040)
        "500",
        "503",
        "malformed",  # HTTP 200 with a body that is not valid JSON
        "truncated",  # Content-Length promises more bytes than are sent
        "error-200",  # an error body sent with HTTP 200
        "wrong-shape",  # HTTP 200 with valid JSON of an unexpected shape
        "refusal",  # OpenAI: message.refusal instead of content
        "drip",  # the normal response, one byte every drip_interval seconds
        "hang",  # no response until the client goes away
    }
)

ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "cf-emulator-token-7f3a9c"
API_KEY = "sk-emulator-key-4b8e21"
DEFAULT_REASON = "Picked by the emulator"
VECTOR_DIMENSIONS = 64

_WORKERS_PATH = re.compile(
    r"/client/v4/accounts/(?P<account>[^/]+)/ai/run/(?P<model>.+)"
)
_LIMIT = re.compile(r"up to (\d+)")


@dataclass(frozen=True)
class Received:
    """One request as the emulator received it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Emulator:
    """The state and switches of the emulated services, and the ASGI app."""

    def __init__(self) -> None:
        self.account_id = ACCOUNT_ID
        self.token = TOKEN
        self.api_key = API_KEY
        self.reset()

    def reset(self) -> None:
        """Turn every switch off and forget what was received."""
        #: Seconds to wait before responding.
        self.latency = 0.0
        #: A name from FAULTS, or None.
        self.fault: str | None = None
        #: How many of the next requests get the fault; None for all.
        self.fault_times: int | None = None
        #: The Retry-After value of the "429" fault.
        self.retry_after = "0"
        #: OpenAI error bodies: "object", "string" (Ollama) or "vllm".
        self.error_shape = "object"
        #: Error messages repeat the request's Authorization header.
        self.echo_auth = False
        #: A scripted model response (an object, or text sent as it is).
        self.answer: Any = None
        #: How a model response is written: "json", "fenced", "prose", "names".
        self.answer_style = "json"
        #: The items the HTTP service returns.
        self.service_items: list[Any] = []
        self.drip_interval = 0.05
        self.received: list[Received] = []
        #: Requests whose client went away before the response was sent.
        self.disconnects = 0

    # --- ASGI ----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return

        body = await _read_body(receive)
        headers = _headers(scope)
        self.received.append(Received(scope["path"], headers, body))
        fault = self._take_fault()

        if self.latency and await self._client_left(receive, self.latency):
            return
        if fault == "hang":
            await self._client_left(receive, 3600.0)
            return

        shape, status, answer = self._route(scope["path"], headers, body)
        if fault not in (None, "drip", "truncated") and status == 200:
            status, extra, answer = self._fault_answer(fault, shape, headers, answer)
        else:
            extra = []
        await self._send(send, receive, status, answer, extra, fault)

    def _take_fault(self) -> str | None:
        if self.fault is None:
            return None
        if self.fault_times is not None:
            if self.fault_times <= 0:
                return None
            self.fault_times -= 1
        return self.fault

    async def _client_left(self, receive: Any, seconds: float) -> bool:
        """Wait ``seconds``; return True (and count it) if the client went away."""
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
        listener = asyncio.ensure_future(_wait_disconnect(receive))
        done, pending = await asyncio.wait(
            {sleeper, listener}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if listener in done:
            self.disconnects += 1
            return True
        return False

    async def _send(
        self,
        send: Any,
        receive: Any,
        status: int,
        answer: Any,
        extra: list[tuple[bytes, bytes]],
        fault: str | None,
    ) -> None:
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        declared = len(data) + 100 if fault == "truncated" else len(data)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(declared).encode()),
            *extra,
        ]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        if fault == "truncated":
            await send({"type": "http.response.body", "body": data, "more_body": True})
            # Ending the response here breaks the Content-Length promise, so
            # the server closes the connection with the body incomplete.
            raise ConnectionAbortedError("truncated on purpose")
        if fault != "drip":
            await send({"type": "http.response.body", "body": data})
            return
        for index in range(len(data)):
            last = index == len(data) - 1
            chunk = {"type": "http.response.body", "body": data[index : index + 1]}
            await send({**chunk, "more_body": not last})
            if not last and await self._client_left(receive, self.drip_interval):
                return

    # --- routes ----------------------------------------------------------------

    def _route(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[str, int, Any]:
        try:
            payload = json.loads(body)
        except ValueError:
            return "service", 400, {"error": "the request body is not JSON"}

        match = _WORKERS_PATH.fullmatch(path)
        if match is not None:
            return "workers", *self._workers(match, headers, payload)
        if path == "/v1/chat/completions":
            return "openai", *self._openai(headers, payload)
        if path == "/recommend":
            return "service", 200, {"items": list(self.service_items)}
        return "service", 404, {"error": f"no route {path}"}

    def _workers(
        self, match: re.Match[str], headers: dict[str, str], payload: Any
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, _cloudflare_error(10000, "Authentication error")
        if match["account"] != self.account_id:
            return 404, _cloudflare_error(7003, "Could not route to the account")

        model = match["model"]
        if "bge" in model or "embed" in model:
            texts = payload.get("text")
            texts = [texts] if isinstance(texts, str) else texts
            vectors = [embed(text) for text in texts]
            result: dict[str, Any] = {
                "shape": [len(vectors), VECTOR_DIMENSIONS],
                "data": vectors,
                "pooling": "mean",
            }
        else:
            content = self._model_answer(payload)
            json_mode = "response_format" in payload and self.answer_style == "json"
            if json_mode and not isinstance(content, str):
                response: Any = content
            else:
                response = self._written(content)
            result = {"response": response, "usage": {"prompt_tokens": 1}}
        return 200, {"result": result, "success": True, "errors": [], "messages": []}

    def _openai(self, headers: dict[str, str], payload: Any) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            error = _openai_error("Incorrect API key provided", "invalid_api_key")
            return 401, error
        content = self._model_answer(payload)
        message = {
            "role": "assistant",
            "content": self._written(content),
            "refusal": None,
        }
        return 200, {
            "id": "chatcmpl-emulator",
            "object": "chat.completion",
            "created": 0,
            "model": payload.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _model_answer(self, payload: Any) -> Any:
        if self.answer is not None:
            return self.answer
        user = [m["content"] for m in payload["messages"] if m["role"] == "user"][-1]
        limit_match = _LIMIT.search(user)
        limit = int(limit_match.group(1)) if limit_match else 4
        data = json.loads(user.split("Data:\n", 1)[1])
        candidates = data.get("candidates", [])
        if not candidates:
            items = [
                {"title": f"Emulated idea {n}", "reason": DEFAULT_REASON}
                for n in range(1, limit + 1)
            ]
        else:
            chosen = list(reversed(candidates))[:limit]
            items = [{"id": c["id"], "reason": DEFAULT_REASON} for c in chosen]
            if self.answer_style == "names":
                # A list of names carries titles, not ids.
                items = [
                    {"title": c["title"], "reason": DEFAULT_REASON} for c in chosen
                ]
        return {"items": items}

    def _written(self, content: Any) -> str:
        """Write a model response as text, in the style the switch sets."""
        if isinstance(content, str):
            return content
        text = json.dumps(content)
        if self.answer_style == "fenced":
            return f"Here are my picks:\n```json\n{text}\n```\n"
        if self.answer_style == "prose":
            return f"Sure! Based on the visitor, I suggest {text} Enjoy."
        if self.answer_style == "names":
            lines = [
                f"{n}. {item.get('title') or item.get('id')} - {item.get('reason')}"
                for n, item in enumerate(content.get("items", []), start=1)
            ]
            return "My suggestions:\n" + "\n".join(lines)
        return text

    # --- faults ------------------------------------------------------------------

    def _fault_answer(
        self, fault: str, shape: str, headers: dict[str, str], answer: Any
    ) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        message = f"Emulated fault {fault}"
        if self.echo_auth:
            message += f" for {headers.get('authorization', '')}"

        if fault == "malformed":
            return 200, [], b'{"result": {"response": "unfinished'
        if fault == "wrong-shape":
            return 200, [], {"unexpected": ["shape"]}
        if fault == "refusal":
            refused = json.loads(json.dumps(answer))
            refused["choices"][0]["message"].update(content=None, refusal=message)
            return 200, [], refused
        if fault == "429":
            extra = [(b"retry-after", self.retry_after.encode())]
            return 429, extra, self._error(shape, 429, "rate_limit_exceeded", message)
        if fault == "429-no-hint":
            return 429, [], self._error(shape, 429, "rate_limit_exceeded", message)
        if fault == "3040":
            return 429, [], self._error(shape, 429, 3040, message)
        if fault in ("500", "503"):
            return (
                int(fault),
                [],
                self._error(shape, int(fault), "server_error", message),
            )
        if fault == "error-200":
            return 200, [], self._error(shape, 200, "server_error", message)
        raise ValueError(f"unknown fault {fault!r}; use one of {sorted(FAULTS)}")

    def _error(self, shape: str, status: int, code: str | int, message: str) -> Any:
        if shape == "workers":
            return _cloudflare_error(code if isinstance(code, int) else 3000, message)
        if shape == "openai":
            if self.error_shape == "string":
                return {"error": message}
            if self.error_shape == "vllm":
                return {
                    "object": "error",
                    "message": message,
                    "type": "InternalServerError",
                    "param": None,
                    "code": status,
                }
            return _openai_error(message, code)
        return {"error": message}


def embed(text: str) -> list[float]:
    """Return a deterministic unit vector of ``text``: its words, hashed."""
    vector = [0.0] * VECTOR_DIMENSIONS
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % VECTOR_DIMENSIONS] += 1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def _cloudflare_error(code: int, message: str) -> dict[str, Any]:
    return {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }


def _openai_error(message: str, code: str | int) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "server_error",
            "param": None,
            "code": code,
        }
    }


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _wait_disconnect(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
