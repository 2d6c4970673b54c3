"""Response-side decisions shared by the adapters, free of I/O.

Which responses may be rewritten, how a buffered body becomes the
personalized one, and which headers change when it does. Headers cross
this module as ``(name, value)`` string pairs in the app's order; the ASGI
adapter decodes its byte pairs as Latin-1 and encodes them back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from werkzeug.http import parse_options_header

from ._charset import choose_charset, encode_fragment, wide_charset
from .rewriting import Placeholder, Rewriter, may_contain_placeholder

logger = logging.getLogger("edge_personalize.response")

Headers = list[tuple[str, str]]

HTML_TYPES = frozenset({"text/html"})

# Request headers the context reads. A personalized response varies on
# them, so a cache that ignores Cache-Control: private still keys on them.
VARY_ON = ("Cookie", "Accept-Language", "User-Agent")

# Headers a personalized response loses: validators and digests that
# describe the app's bytes, and caching directives aimed at CDNs.
DROP_WHEN_CHANGED = frozenset(
    {
        "content-length",
        "content-md5",
        "digest",
        "content-digest",
        "repr-digest",
        "accept-ranges",
        "last-modified",
        # Directives for CDNs that take precedence over Cache-Control there
        # (RFC 9213 and vendor forms): left in place, they would let a CDN
        # store the page despite Cache-Control: private.
        "cdn-cache-control",
        "cloudflare-cdn-cache-control",
        "surrogate-control",
        "fastly-surrogate-control",
    }
)


def skip_reason(
    status: int, headers: Sequence[tuple[str, str]], cap: int
) -> str | None:
    """Return why a response must pass through untouched, or ``None``.

    Only a complete 200 HTML response with no content coding may be
    rewritten: partial content, compressed bytes and other media types are
    not text this library may change.
    """
    if status != 200:
        return f"status {status}"

    content_type = _first(headers, "content-type")
    if content_type is None:
        return "no Content-Type"
    media_type, _ = parse_options_header(content_type)
    if media_type.lower() not in HTML_TYPES:
        return f"Content-Type {media_type!r} is not HTML"

    encoding = _first(headers, "content-encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        return f"Content-Encoding {encoding!r}"
    if _first(headers, "content-range") is not None:
        return "Content-Range present"
    if "no-transform" in _directives(headers):
        return "Cache-Control: no-transform"
    disposition = _first(headers, "content-disposition")
    if disposition is not None and disposition.lower().startswith("attachment"):
        return "Content-Disposition: attachment"

    length = _first(headers, "content-length")
    if length is not None and length.strip().isdigit() and int(length) > cap:
        return f"Content-Length {length} is over max_body_size {cap}"
    return None


class BodyBuffer:
    """The body of one eligible response, buffered until it is complete.

    ``chunks`` keeps the app's chunks as they were, so that a response that
    turns out not to be rewritable is sent exactly as the app sent it. The
    whole body is scanned at the end: a page with no comment that could be
    a placeholder, which a fast search rules out, is not tokenized at all.
    """

    def __init__(self, slots: Collection[str], cap: int) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.cap = cap
        self._slots = slots

    def feed(self, chunk: bytes) -> bool:
        """Buffer ``chunk``; return ``False`` once the body is over the cap."""
        if not chunk:
            return True
        self.chunks.append(chunk)
        self.size += len(chunk)
        return self.size <= self.cap

    def head(self, size: int = 1024) -> bytes:
        """Return the first ``size`` bytes of the body, for charset sniffing."""
        parts: list[bytes] = []
        taken = 0
        for chunk in self.chunks:
            if taken >= size:
                break
            parts.append(chunk)
            taken += len(chunk)
        return b"".join(parts)[:size]

    def finish(self) -> list[bytes | Placeholder]:
        """Scan the whole body and return every event in document order."""
        body = b"".join(self.chunks)
        if not may_contain_placeholder(body):
            return [body]
        rewriter = Rewriter(self._slots)
        return rewriter.feed(body) + rewriter.close()


def needed_slots(events: Sequence[bytes | Placeholder]) -> list[str]:
    """Return the slots that have a placeholder, in order of appearance."""
    slots: dict[str, None] = {}
    for event in events:
        if isinstance(event, Placeholder):
            slots[event.slot] = None
    return list(slots)


def charset_codec(headers: Sequence[tuple[str, str]], head: bytes) -> str | None:
    """Return the codec to encode fragments with, or ``None`` to pass through."""
    decision = choose_charset(_first(headers, "content-type"), head)
    if decision.codec is None:
        logger.warning(
            "Not personalizing a response in charset %r: %s",
            decision.label,
            decision.reason,
        )
    return decision.codec


def assemble(
    events: Sequence[bytes | Placeholder],
    fragments: Mapping[str, str | None],
    codec: str,
) -> bytes | None:
    """Join the events, replacing placeholders whose slot has HTML.

    Return ``None`` when no placeholder was replaced, so the caller sends
    the app's bytes.
    """
    encoded = {
        slot: encode_fragment(html, codec)
        for slot, html in fragments.items()
        if html is not None
    }
    if not encoded:
        return None

    parts: list[bytes] = []
    for event in events:
        if isinstance(event, Placeholder):
            parts.append(encoded.get(event.slot, event.raw))
        else:
            parts.append(event)
    return b"".join(parts)


def fragments_tag(fragments: Mapping[str, str | None]) -> str:
    """Return a short digest of the fragments that went into a body.

    Together with the app's ETag it identifies the personalized bytes: the
    same app body with the same fragments is the same response.
    """
    digest = hashlib.blake2b(digest_size=8)
    for slot in sorted(fragments):
        html = fragments[slot]
        if html is not None:
            digest.update(slot.encode() + b"\0")
            digest.update(html.encode("utf-8", "replace") + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class PendingRewrite:
    """A complete body with placeholders, waiting for its fragments."""

    events: list[bytes | Placeholder]
    slots: list[str]
    codec: str
    headers: list[tuple[str, str]]


def prepare_rewrite(
    buffer: BodyBuffer, headers: Sequence[tuple[str, str]], path: str
) -> PendingRewrite | None:
    """Scan a complete body; return what it needs, or ``None`` to send it as is.

    ``None`` means the body has no placeholder of a configured slot, or a
    charset the rewriter cannot handle safely (logged as a warning).
    """
    events = buffer.finish()
    slots = needed_slots(events)
    if not slots:
        wide = wide_charset(_first(headers, "content-type"), buffer.head())
        if wide is not None:
            logger.warning(
                "Not personalizing %s: its charset %r is not ASCII-compatible, "
                "so placeholders cannot be found in it",
                path,
                wide,
            )
        else:
            logger.debug("No placeholder in %s; sent unchanged", path)
        return None
    codec = charset_codec(headers, buffer.head())
    if codec is None:
        return None
    return PendingRewrite(events, slots, codec, list(headers))


def complete_rewrite(
    pending: PendingRewrite,
    fragments: Mapping[str, str | None],
    personalized: bool = True,
) -> tuple[bytes, Headers]:
    """Return the personalized body and headers.

    When no placeholder gets HTML, the body is the app's. For a crawler
    (``personalized`` false) only Vary changes, because the visitor's
    headers chose this page. When every slot of a personalized request kept
    its fallback (a failure, a missed deadline), the headers get the private
    policy without validators. A shared cache must not serve that copy to
    the next visitors, and a browser that revalidates it must get a fresh
    attempt, not a 304 for the app's ETag.
    """
    body = assemble(pending.events, fragments, pending.codec)
    if body is not None:
        tag = fragments_tag(fragments)
        return body, personalized_headers(pending.headers, len(body), tag)

    original = b"".join(
        event.raw if isinstance(event, Placeholder) else event
        for event in pending.events
    )
    if personalized:
        return original, personalized_headers(pending.headers, len(original))
    return original, varied_headers(pending.headers)


def varied_headers(
    headers: Sequence[tuple[str, str]], vary: Sequence[str] = VARY_ON
) -> Headers:
    """Return the app's headers with the visitor's headers added to Vary.

    It applies to a page with placeholders that goes out unpersonalized. A
    shared cache may keep it, but only for visitors who send the same
    headers, so a crawler's copy is not served to browsers.
    """
    result: Headers = [(n, v) for n, v in headers if n.lower() != "vary"]
    result.append(("Vary", _merge_vary(_values(headers, "vary"), vary)))
    return result


def personalized_headers(
    headers: Sequence[tuple[str, str]],
    length: int | None,
    tag: str | None = None,
    vary: Sequence[str] = VARY_ON,
) -> Headers:
    """Return the app's headers fixed for a personalized body.

    The body now belongs to one visitor, so shared caches must not store
    it, and digests and ranges of the app's bytes are dropped. Validators
    of the app's page would match every visitor's copy, so
    ``Last-Modified`` is dropped and ``tag`` (from :func:`fragments_tag`)
    is appended to the app's ETag. Without a tag (a stream, whose
    fragments are not known yet) the ETag is dropped too. ``length`` is
    the new Content-Length, or ``None`` to send none.
    """
    result: Headers = []
    for name, value in headers:
        lower = name.lower()
        if lower in DROP_WHEN_CHANGED or lower in ("cache-control", "vary"):
            continue
        if lower == "etag":
            if tag is None:
                continue
            value = _tagged(value, tag)
        result.append((name, value))

    result.append(("Cache-Control", _private_cache_control(headers)))
    result.append(("Vary", _merge_vary(_values(headers, "vary"), vary)))
    if length is not None:
        result.append(("Content-Length", str(length)))
    return result


def _tagged(etag: str, tag: str) -> str:
    """Append ``tag`` inside the quotes of ``etag``, keeping weak as weak."""
    etag = etag.strip()
    weak = etag.startswith("W/")
    opaque = etag[2:] if weak else etag
    if len(opaque) >= 2 and opaque[0] == opaque[-1] == '"':
        opaque = opaque[1:-1]
    return f'{"W/" if weak else ""}"{opaque}-ep.{tag}"'


def _private_cache_control(headers: Sequence[tuple[str, str]]) -> str:
    kept: list[str] = []
    for directive in _directive_list(headers):
        name = directive.split("=", 1)[0].strip().lower()
        # public and s-maxage invite shared caches; private is added below.
        if name in ("public", "s-maxage", "private", "proxy-revalidate"):
            continue
        kept.append(directive)
    return ", ".join(["private", *kept])


def _merge_vary(existing: Sequence[str], extra: Sequence[str]) -> str:
    names: list[str] = []
    seen: set[str] = set()
    for value in [*existing, ", ".join(extra)]:
        for name in value.split(","):
            name = name.strip()
            if name and name.lower() not in seen:
                seen.add(name.lower())
                names.append(name)
    if "*" in seen:
        return "*"
    return ", ".join(names)


def _values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Return the values of every header called ``name`` (lower case), in order."""
    return [value for key, value in headers if key.lower() == name]


def _first(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _directive_list(headers: Sequence[tuple[str, str]]) -> list[str]:
    directives: list[str] = []
    for key, value in headers:
        if key.lower() == "cache-control":
            directives.extend(d.strip() for d in value.split(",") if d.strip())
    return directives


def _directives(headers: Sequence[tuple[str, str]]) -> set[str]:
    return {d.split("=", 1)[0].strip().lower() for d in _directive_list(headers)}
