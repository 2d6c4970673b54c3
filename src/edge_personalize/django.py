"""Django middleware: personalize the pages of a Django project.

Add the middleware to ``MIDDLEWARE``, inside ``GZipMiddleware`` and
``ConditionalGetMiddleware`` (that is, listed after them), and describe the
personalizer in settings::

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.gzip.GZipMiddleware",
        "django.middleware.http.ConditionalGetMiddleware",
        "edge_personalize.django.PersonalizeMiddleware",
        # ... sessions, common, CSRF, auth, messages ...
    ]
    EDGE_PERSONALIZE = "myshop.personalization.personalizer"

Settings:

``EDGE_PERSONALIZE``
    A :class:`~edge_personalize.Personalizer`, or the dotted path of one
    or of a function that builds one without arguments. Or a dict of the
    ``Personalizer`` keyword arguments, in which providers and renderers
    may be dotted paths and slots may be dicts of the ``Slot`` fields.
``EDGE_PERSONALIZE_ENABLED``
    ``False`` removes the middleware from the stack (Django's
    ``MiddlewareNotUsed``). The default is ``True``.
``EDGE_PERSONALIZE_CONTEXT_HOOK``
    A callable, or its dotted path, called as ``hook(request, context)``
    that returns a :class:`~edge_personalize.Context`, usually
    ``dataclasses.replace(context, ...)``. It lets a project add signals of
    its own, such as a signed-in customer's favourite categories. The
    library itself never reads ``request.user``.

Invalid settings raise ``ImproperlyConfigured`` when Django builds its
middleware stack, naming the setting and the fix.

The middleware is sync and async capable and takes the mode of the
``get_response`` below it. In sync mode the slot tasks run on the event
loop thread that the WSGI adapter uses too; in async mode they run in the
request's own loop, so an async stack never drops to a thread for the
middleware. The one exception is the context hook: in async mode it runs
through ``sync_to_async``, so that it may use the ORM and ``request.user``.

Response kinds:

- ``HttpResponse`` on an eligible request (200, ``text/html``, no content
  coding, at most ``max_body_size`` bytes) is rewritten and gets the
  personalized headers, as in the WSGI and ASGI adapters.
- ``StreamingHttpResponse`` is rewritten lazily: bytes before a
  placeholder go out at once, and at a placeholder the stream waits for
  that slot until the deadline. A sync iterator stays sync and an async
  one stays async. Its headers leave before the body is read, so an
  eligible stream always gets the personalized header policy, and loses
  ``Content-Length``, even if no placeholder turns up.
- ``FileResponse`` passes through untouched: it serves a file as it is,
  possibly through the server's ``wsgi.file_wrapper``.
- Every other response (204, 304, errors, non-HTML, compressed) passes
  through untouched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import sys
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.module_loading import import_string

from ._charset import encode_fragment
from ._loop import LOOP_MARGIN, on_shutdown, shared_loop_thread
from ._response import (
    BodyBuffer,
    Headers,
    PendingRewrite,
    charset_codec,
    complete_rewrite,
    personalized_headers,
    prepare_rewrite,
    skip_reason,
    varied_headers,
)
from .cache.base import CacheBackend
from .context import Context, ContextOptions, RequestView
from .exceptions import ConfigurationError
from .personalizer import Personalizer, Plan, Slot
from .rewriting import Placeholder, Rewriter

__all__ = [
    "CONTEXT_HOOK_SETTING",
    "ENABLED_SETTING",
    "SETTING",
    "ContextHook",
    "PersonalizeMiddleware",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

SETTING = "EDGE_PERSONALIZE"
ENABLED_SETTING = "EDGE_PERSONALIZE_ENABLED"
CONTEXT_HOOK_SETTING = "EDGE_PERSONALIZE_CONTEXT_HOOK"

ContextHook = Callable[[HttpRequest, Context], Context]
"""The type of the context hook: ``hook(request, context) -> Context``."""

# Bytes of a stream kept for the charset sniffing of a <meta> tag, as many
# as BodyBuffer.head() returns for a buffered body.
_HEAD_SIZE = 1024


def _keyword_names(function: Callable[..., Any]) -> frozenset[str]:
    parameters = inspect.signature(function).parameters.values()
    return frozenset(
        parameter.name
        for parameter in parameters
        if parameter.kind
        in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


# The keys of the EDGE_PERSONALIZE dict: the keyword arguments of
# Personalizer, and the ContextOptions fields it takes as shorthands.
_PERSONALIZER_KEYS = _keyword_names(Personalizer) | frozenset(
    ContextOptions.__dataclass_fields__
)
_SLOT_KEYS = frozenset({"providers", "limit", "heading", "renderer"})


class PersonalizeMiddleware:
    """Personalize the pages that the ``EDGE_PERSONALIZE`` setting selects.

    Django builds it once per handler with the ``get_response`` of the
    layer below. It reads the settings then, so a misconfiguration fails at
    start-up with ``ImproperlyConfigured``, and ``EDGE_PERSONALIZE_ENABLED =
    False`` removes it with ``MiddlewareNotUsed``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.personalizer, self.context_hook = _load_settings()
        self.get_response = get_response
        self.loop_thread = shared_loop_thread()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            # Django awaits an instance marked as a coroutine function, so
            # the async stack stays in its event loop.
            markcoroutinefunction(self)
            # NOTE: Django's ASGI handler has no lifespan events, so nothing
            # closes the providers' and the cache's connection pools, which
            # belong to the server's loop, when the server stops.
        else:
            on_shutdown(self.personalizer.aclose)

    def __repr__(self) -> str:
        mode = "async" if self.is_async else "sync"
        return f"<PersonalizeMiddleware {mode} {self.personalizer!r}>"

    def __call__(
        self, request: HttpRequest
    ) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)

        if not self.personalizer.may_personalize(
            request.method or "", request.path_info
        ):
            return self.get_response(request)
        plan = self._plan(request)
        if plan is None:
            return self.get_response(request)

        # NOTE: no ThreadSensitiveContext wraps these tasks, so asgiref runs
        # the sync_to_async calls of every request's providers (the async
        # ORM's among them) on one shared thread. docs/django.md documents it.
        self.loop_thread.call_soon(plan.start)
        waiter = _Waiter(plan, self.loop_thread.loop())
        try:
            response = self.get_response(request)
        except BaseException:
            waiter.cancel()
            raise

        buffered = self._prepare(plan, waiter, response)
        if buffered is not None:
            fragments = waiter.fragments(buffered.slots)
            _finish_body(response, buffered, fragments, plan.personalized)
            waiter.cancel()
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        if not self.personalizer.may_personalize(
            request.method or "", request.path_info
        ):
            return await self.get_response(request)
        if self.context_hook is None:
            plan = self._plan(request)
        else:
            # The hook may touch the ORM (request.user, sessions in the
            # database), which Django forbids inside an event loop.
            plan = await sync_to_async(self._plan, thread_sensitive=True)(request)
        if plan is None:
            return await self.get_response(request)

        plan.start()
        waiter = _Waiter(plan, asyncio.get_running_loop())
        try:
            response = await self.get_response(request)
        except BaseException:
            plan.cancel()
            raise

        buffered = self._prepare(plan, waiter, response)
        if buffered is not None:
            fragments = await plan.fragments(buffered.slots)
            _finish_body(response, buffered, fragments, plan.personalized)
            plan.cancel()
        return response

    def _plan(self, request: HttpRequest) -> Plan | None:
        adjust = None
        if self.context_hook is not None:
            adjust = functools.partial(_adjust_context, self.context_hook, request)
        return self.personalizer.plan(_request_view(request), adjust_context=adjust)

    def _prepare(
        self, plan: Plan, waiter: _Waiter, response: HttpResponseBase
    ) -> PendingRewrite | None:
        """Set ``response`` up for rewriting and return a body that needs fragments.

        The return value is ``None`` when nothing is left to do here: for a
        response that passes through, for a body with nothing to replace,
        and for a stream, which is rewritten as it is read. The plan is
        cancelled in each of these cases but the stream's.
        """
        headers: Headers = list(response.items())
        reason = _skip_reason(self.personalizer, response, headers)
        if reason is not None:
            logger.debug("Not personalizing %s: %s", plan.context.path, reason)
            waiter.cancel()
            return None

        if response.streaming:
            _stream(self.personalizer, plan, waiter, response, headers)
            return None

        buffered = _buffer_body(self.personalizer, plan, response, headers)
        if buffered is None:
            waiter.cancel()
        return buffered


# --- Settings ------------------------------------------------------------


def _load_settings() -> tuple[Personalizer, ContextHook | None]:
    enabled = getattr(settings, ENABLED_SETTING, True)
    if not isinstance(enabled, bool):
        raise ImproperlyConfigured(
            f"{ENABLED_SETTING} must be True or False, got {enabled!r}."
        )
    if not enabled:
        raise MiddlewareNotUsed(f"{ENABLED_SETTING} is False")

    if not hasattr(settings, SETTING):
        raise ImproperlyConfigured(
            f"{SETTING} is not set. Set it to a Personalizer, the dotted path "
            "of one, or a dict such as {'routes': ['/products/:slug'], "
            "'providers': ['myshop.recommend.provider']}; or set "
            f"{ENABLED_SETTING} = False to turn the middleware off."
        )
    personalizer = _personalizer(getattr(settings, SETTING))
    hook = _context_hook(getattr(settings, CONTEXT_HOOK_SETTING, None))
    return personalizer, hook


def _personalizer(value: object) -> Personalizer:
    if isinstance(value, Personalizer):
        return value
    if isinstance(value, Mapping):
        return _personalizer_from_dict(value)
    if not isinstance(value, str):
        raise ImproperlyConfigured(
            f"{SETTING} must be a Personalizer, the dotted path of one or a "
            f"dict of Personalizer arguments, got {value!r}."
        )

    found = _import(value, SETTING)
    if not isinstance(found, Personalizer) and callable(found):
        found = _call_factory(found, f"{SETTING} = {value!r}")
    if not isinstance(found, Personalizer):
        raise ImproperlyConfigured(
            f"{SETTING} = {value!r} names {found!r}, not a Personalizer. Name a "
            "Personalizer object, or a function that returns one."
        )
    return found


def _personalizer_from_dict(options: Mapping[Any, Any]) -> Personalizer:
    unknown = sorted(str(key) for key in options if key not in _PERSONALIZER_KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING} has unknown keys {unknown!r}. The keys are "
            f"{sorted(_PERSONALIZER_KEYS)!r}."
        )
    if "routes" not in options:
        raise ImproperlyConfigured(
            f"{SETTING} has no 'routes'. List the paths to personalize, such "
            "as 'routes': ['/products/:slug']."
        )

    arguments = dict(options)
    if "providers" in arguments:
        where = f"{SETTING}['providers']"
        arguments["providers"] = _providers(arguments["providers"], where)
    if "slots" in arguments:
        arguments["slots"] = _slots(arguments["slots"])
    if "renderer" in arguments:
        arguments["renderer"] = _resolve(
            arguments["renderer"], f"{SETTING}['renderer']"
        )
    if isinstance(arguments.get("cache"), str):
        arguments["cache"] = _cache(arguments["cache"])
    context_options = arguments.get("context_options")
    if isinstance(context_options, Mapping):
        where = f"{SETTING}['context_options']"
        arguments["context_options"] = _build(ContextOptions, context_options, where)
    return _build(Personalizer, arguments, SETTING)


def _slots(value: object) -> dict[str, Slot]:
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"{SETTING}['slots'] must be a dict of slot names to Slot objects "
            f"or dicts, got {value!r}."
        )
    slots: dict[str, Slot] = {}
    for name, slot in value.items():
        where = f"{SETTING}['slots'][{name!r}]"
        if isinstance(slot, Slot):
            slots[name] = slot
        elif isinstance(slot, Mapping):
            slots[name] = _slot_from_dict(slot, where)
        else:
            raise ImproperlyConfigured(
                f"{where} must be a Slot or a dict such as {{'providers': [...], "
                f"'limit': 4}}, got {slot!r}."
            )
    return slots


def _slot_from_dict(options: Mapping[Any, Any], where: str) -> Slot:
    unknown = sorted(str(key) for key in options if key not in _SLOT_KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"{where} has unknown keys {unknown!r}. The keys are "
            f"{sorted(_SLOT_KEYS)!r}."
        )
    if "providers" not in options:
        raise ImproperlyConfigured(
            f"{where} has no 'providers'. List the slot's providers in order."
        )

    arguments = dict(options)
    arguments["providers"] = _providers(options["providers"], f"{where}['providers']")
    if "renderer" in arguments:
        arguments["renderer"] = _resolve(arguments["renderer"], f"{where}['renderer']")
    return _build(Slot, arguments, where)


def _providers(value: object, where: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ImproperlyConfigured(
            f"{where} must be a list of providers or their dotted paths, got {value!r}."
        )
    return [_provider(item, f"{where}[{index}]") for index, item in enumerate(value)]


def _provider(value: object, where: str) -> object:
    """Resolve one provider entry: an object, a class, a factory or a dotted path.

    A class or a function is called without arguments to build the
    provider; an object with a ``recommend`` method is used as it is.
    """
    found = _resolve(value, where)
    if isinstance(found, type) or (not hasattr(found, "recommend") and callable(found)):
        found = _call_factory(found, f"{where} = {value!r}")
    if not callable(getattr(found, "recommend", None)):
        raise ImproperlyConfigured(
            f"{where} = {value!r} is not a provider: {found!r} has no "
            "recommend() method. Name a provider object, or a class or "
            "function that builds one without arguments."
        )
    return found


def _cache(path: str) -> object:
    """Import the cache named by ``path``, and call it when it is a class or factory."""
    where = f"{SETTING}['cache']"
    found = _import(path, where)
    if not isinstance(found, CacheBackend) and callable(found):
        found = _call_factory(found, f"{where} = {path!r}")
    return found


def _context_hook(value: object) -> ContextHook | None:
    if value is None:
        return None
    hook: object = _resolve(value, CONTEXT_HOOK_SETTING)
    if not callable(hook):
        raise ImproperlyConfigured(
            f"{CONTEXT_HOOK_SETTING} = {value!r} is not callable. Name a function "
            "called as hook(request, context) that returns a Context."
        )
    if iscoroutinefunction(hook):
        raise ImproperlyConfigured(
            f"{CONTEXT_HOOK_SETTING} = {value!r} is a coroutine function. Use a "
            "plain function: under ASGI it runs in a worker thread, where it "
            "may use the ORM."
        )
    return hook


def _resolve(value: object, where: str) -> Any:
    """Import ``value`` when it is a dotted path; return other values as they are."""
    if isinstance(value, str):
        return _import(value, where)
    return value


def _import(path: str, where: str) -> Any:
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"{where} = {path!r} cannot be imported: {exc}. Use the dotted "
            "path of a module attribute, such as 'myshop.personalization.provider'."
        ) from exc


def _call_factory(factory: Callable[[], Any], where: str) -> Any:
    try:
        inspect.signature(factory).bind()
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"{where} cannot be called without arguments ({exc}). Name an "
            "object, or a function that builds it without arguments."
        ) from exc
    except ValueError:
        # Some built-ins have no signature, so the call below is the check.
        pass

    try:
        return factory()
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"{where} is invalid: {exc}") from exc


def _build(factory: Callable[..., T], arguments: Mapping[Any, Any], where: str) -> T:
    try:
        return factory(**arguments)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"{where} is invalid: {exc}") from exc
    except TypeError as exc:
        # An unknown key of a context_options dict, for example.
        raise ImproperlyConfigured(f"{where} is invalid: {exc}.") from exc


# --- Requests ------------------------------------------------------------


def _request_view(request: HttpRequest) -> RequestView:
    """Build the neutral request view from ``request.headers``.

    Django builds ``request.headers`` from the ``HTTP_*`` keys of
    ``request.META`` under WSGI and ASGI alike, and caches it on the request.
    """
    headers: list[tuple[bytes, bytes]] = []
    for name, value in request.headers.items():
        if isinstance(value, str):
            raw_name = name.lower().encode("latin-1", "replace")
            headers.append((raw_name, value.encode("latin-1", "replace")))

    return RequestView(
        method=request.method or "",
        path=request.path_info,
        query_string=_query_string(request),
        headers=headers,
    )


def _query_string(request: HttpRequest) -> bytes:
    # Under ASGI, Django decodes the query as UTF-8 into META, so the raw
    # bytes come from the scope. Under WSGI, META contains them as Latin-1.
    scope = getattr(request, "scope", None)
    if isinstance(scope, Mapping):
        raw = scope.get("query_string", b"")
        if isinstance(raw, bytes):
            return raw
    query = request.META.get("QUERY_STRING", "")
    return query.encode("latin-1", "replace") if isinstance(query, str) else b""


def _adjust_context(
    hook: ContextHook, request: HttpRequest, context: Context
) -> Context:
    """Run the project's context hook, and keep ``context`` when the hook fails.

    The page must not fail because a hook did, so an error is logged and
    the request is personalized from the context without the hook.
    """
    try:
        adjusted = hook(request, context)
    except Exception:
        logger.exception(
            "The context hook %r failed on %s; using the context without it",
            hook,
            context.path,
        )
        return context
    if not isinstance(adjusted, Context):
        logger.error(
            "The context hook %r returned %s, not a Context, on %s; using the "
            "context without it",
            hook,
            type(adjusted).__name__,
            context.path,
        )
        return context
    return adjusted


# --- Responses -----------------------------------------------------------


def _skip_reason(
    personalizer: Personalizer, response: HttpResponseBase, headers: Headers
) -> str | None:
    if isinstance(response, FileResponse):
        return "a FileResponse passes through"
    # A stream is rewritten as it goes, never buffered, so the body size cap
    # does not apply to it.
    cap = sys.maxsize if response.streaming else personalizer.max_body_size
    return skip_reason(response.status_code, headers, cap)


def _replace_headers(response: HttpResponseBase, headers: Headers) -> None:
    # Django keeps Set-Cookie apart, in response.cookies, so the cookies are
    # untouched by this.
    for name in list(response.headers):
        del response.headers[name]
    for name, value in headers:
        response.headers[name] = value


def _buffer_body(
    personalizer: Personalizer, plan: Plan, response: HttpResponseBase, headers: Headers
) -> PendingRewrite | None:
    """Scan the body of ``response``, or return ``None`` to send it unchanged."""
    buffer = BodyBuffer(personalizer.slot_names, personalizer.max_body_size)
    if not buffer.feed(response.content):
        logger.warning(
            "Not personalizing %s: the body is over max_body_size (%d bytes)",
            plan.context.path,
            personalizer.max_body_size,
        )
        return None
    return prepare_rewrite(buffer, headers, plan.context.path)


def _finish_body(
    response: HttpResponseBase,
    pending: PendingRewrite,
    fragments: Mapping[str, str | None],
    personalized: bool,
) -> None:
    """Put the fragments into ``response`` and fix its headers."""
    response.content, headers = complete_rewrite(pending, fragments, personalized)
    _replace_headers(response, headers)


class _Waiter:
    """Fetch the fragments of one plan from any thread or event loop.

    The slot tasks live in ``loop``. Django may read a stream somewhere
    else: a sync iterator under ASGI in a worker thread, an async iterator
    under WSGI in a loop of its own that ``async_to_sync`` starts.
    """

    def __init__(self, plan: Plan, loop: asyncio.AbstractEventLoop) -> None:
        self.plan = plan
        self.loop = loop

    def fragments(self, slots: Sequence[str]) -> dict[str, str | None]:
        """Block until the fragments of ``slots`` are ready or the deadline passed."""
        if _running_loop() is self.loop:
            # Blocking here would stop the very loop that runs the tasks.
            logger.warning(
                "Not waiting for %s in the event loop that runs its slots, "
                "keeping the fallback",
                self.plan.context.path,
            )
            return {}

        future = self._submit(slots)
        if future is None:
            return {}
        try:
            return future.result(self._timeout())
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            future.cancel()
            logger.warning(
                "Timed out waiting for the slots of %s, keeping the fallback",
                self.plan.context.path,
            )
            return {}

    async def afragments(self, slots: Sequence[str]) -> dict[str, str | None]:
        """Await the fragments of ``slots`` until the deadline, from any loop."""
        if _running_loop() is self.loop:
            return await self.plan.fragments(slots)

        future = self._submit(slots)
        if future is None:
            return {}
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self._timeout())
        except (asyncio.TimeoutError, concurrent.futures.CancelledError):
            logger.warning(
                "Timed out waiting for the slots of %s, keeping the fallback",
                self.plan.context.path,
            )
            return {}

    def cancel(self) -> None:
        """Cancel the slot tasks that are still running, from any thread."""
        if _running_loop() is self.loop:
            self.plan.cancel()
            return
        try:
            self.loop.call_soon_threadsafe(self.plan.cancel)
        except RuntimeError:
            # The loop is closed, and its tasks ended with it.
            pass

    def _submit(
        self, slots: Sequence[str]
    ) -> concurrent.futures.Future[dict[str, str | None]] | None:
        coroutine = self.plan.fragments(slots)
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        except RuntimeError:
            coroutine.close()
            logger.warning(
                "The event loop of %s is closed, keeping the fallback",
                self.plan.context.path,
            )
            return None

    def _timeout(self) -> float:
        # The margin applies even after the deadline: the slots are done by
        # then, but reading their results still takes a trip to the loop.
        return max(self.plan.deadline - time.monotonic(), 0.0) + LOOP_MARGIN


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# --- Streams -------------------------------------------------------------


def _stream(
    personalizer: Personalizer,
    plan: Plan,
    waiter: _Waiter,
    response: HttpResponseBase,
    headers: Headers,
) -> None:
    """Replace the stream of ``response`` with a lazily rewritten one."""
    # The headers go out before the first placeholder is seen, so they get
    # the personalized policy now, and Content-Length goes because the body
    # may change. A crawler's stream keeps its bytes and only gets Vary.
    if plan.personalized:
        _replace_headers(response, personalized_headers(headers, None))
    else:
        _replace_headers(response, varied_headers(headers))

    state = _StreamState(personalizer.slot_names, headers, plan.context.path)
    source = response.streaming_content
    if response.is_async:
        response.streaming_content = _AsyncStream(
            _rewrite_async(source, state, waiter), waiter.cancel
        )
    else:
        response.streaming_content = _SyncStream(
            _rewrite_sync(source, state, waiter), waiter.cancel
        )


class _StreamState:
    """The rewriter of one streamed body and the fragments found so far."""

    def __init__(self, slots: Collection[str], headers: Headers, path: str) -> None:
        self.rewriter = Rewriter(slots)
        self.headers = headers
        self.path = path
        self.head = b""
        self.codec: str | None = None
        self.codec_decided = False
        self.resolved: set[str] = set()
        self.encoded: dict[str, bytes] = {}

    def feed(self, chunk: bytes) -> list[bytes | Placeholder]:
        """Scan the next chunk and return the events that are decided."""
        if len(self.head) < _HEAD_SIZE:
            self.head = (self.head + chunk)[:_HEAD_SIZE]
        return self.rewriter.feed(chunk)

    def close(self) -> list[bytes | Placeholder]:
        """Scan the bytes the rewriter kept back as the end of the body."""
        return self.rewriter.close()

    def segments(
        self, events: Sequence[bytes | Placeholder]
    ) -> Generator[bytes | str, None, None]:
        """Yield the bytes to send, and a slot name where a fragment is due.

        After a slot name the caller passes the slot's fragment to
        :meth:`resolve` before it resumes the generator, so bytes up to a
        placeholder are sent before its slot is awaited.
        """
        ready: list[bytes] = []
        for event in events:
            if not isinstance(event, Placeholder):
                ready.append(event)
                continue
            if event.slot not in self.resolved and self._can_fill():
                if ready:
                    yield b"".join(ready)
                    ready = []
                yield event.slot
            ready.append(self.encoded.get(event.slot, event.raw))
        if ready:
            yield b"".join(ready)

    def resolve(self, slot: str, html: str | None) -> None:
        """Record the fragment of ``slot``, where ``None`` keeps its fallback."""
        self.resolved.add(slot)
        if html is not None and self.codec is not None:
            self.encoded[slot] = encode_fragment(html, self.codec)

    def _can_fill(self) -> bool:
        # NOTE: the charset is chosen at the first placeholder, from the
        # Content-Type header and the bytes seen so far, so a <meta charset>
        # that comes after a placeholder in the first 1024 bytes is missed.
        if not self.codec_decided:
            self.codec_decided = True
            self.codec = charset_codec(self.headers, self.head)
        return self.codec is not None


def _rewrite_sync(
    chunks: Iterable[bytes], state: _StreamState, waiter: _Waiter
) -> Generator[bytes, None, None]:
    try:
        for events in _events(chunks, state):
            for segment in state.segments(events):
                if isinstance(segment, str):
                    fragments = waiter.fragments([segment])
                    state.resolve(segment, fragments.get(segment))
                else:
                    yield segment
    finally:
        waiter.cancel()


def _events(
    chunks: Iterable[bytes], state: _StreamState
) -> Iterator[list[bytes | Placeholder]]:
    for chunk in chunks:
        yield state.feed(chunk)
    yield state.close()


async def _rewrite_async(
    chunks: AsyncIterator[bytes], state: _StreamState, waiter: _Waiter
) -> AsyncGenerator[bytes, None]:
    try:
        async for events in _aevents(chunks, state):
            for segment in state.segments(events):
                if isinstance(segment, str):
                    fragments = await waiter.afragments([segment])
                    state.resolve(segment, fragments.get(segment))
                else:
                    yield segment
    finally:
        waiter.cancel()


async def _aevents(
    chunks: AsyncIterator[bytes], state: _StreamState
) -> AsyncGenerator[list[bytes | Placeholder], None]:
    async for chunk in chunks:
        yield state.feed(chunk)
    yield state.close()


class _SyncStream:
    """A rewritten sync stream whose ``close()`` also ends the slot tasks.

    Django calls ``close()`` of the streaming content when the response is
    closed, including a stream that was never read, whose generator would
    not run its ``finally`` clause.
    """

    def __init__(
        self, chunks: Generator[bytes, None, None], on_close: Callable[[], None]
    ) -> None:
        self._chunks = chunks
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        """Close the rewriting generator and cancel the slot tasks."""
        try:
            self._chunks.close()
        finally:
            self._on_close()


class _AsyncStream:
    """A rewritten async stream whose ``close()`` also ends the slot tasks.

    Django registers ``close()`` of the streaming content, not
    ``aclose()``, so ``close()`` only cancels the slot tasks and the
    generator is finalized by its event loop.
    """

    def __init__(
        self, chunks: AsyncGenerator[bytes, None], on_close: Callable[[], None]
    ) -> None:
        self._chunks = chunks
        self._on_close = on_close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        return await anext(self._chunks)

    async def aclose(self) -> None:
        """Close the rewriting generator and cancel the slot tasks."""
        try:
            await self._chunks.aclose()
        finally:
            self._on_close()

    def close(self) -> None:
        """Cancel the slot tasks."""
        self._on_close()
