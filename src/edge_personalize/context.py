"""The visitor's context, built from a framework-neutral view of the request.

:func:`build_context` reads a :class:`RequestView` and the params of the
matched route, and returns a frozen :class:`Context` whose every field is
cleaned and bounded. How each field is read is described in
``docs/context.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from . import _context_extract as extract
from ._types import RawHeaders
from .exceptions import ConfigurationError

__all__ = [
    "COUNTRY_HEADER_PRESETS",
    "Context",
    "ContextOptions",
    "RequestView",
    "build_context",
]


@dataclass(frozen=True)
class RequestView:
    """The parts of an HTTP request the core reads, in one neutral shape.

    Adapters build it from a WSGI environ, an ASGI scope or a Django
    request. ``path`` is the decoded path without the query string,
    ``query_string`` is the raw query, and header names are lower-case bytes.
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
    """The facts about one request that personalization may use, bounded and cleaned.

    Instances are immutable and safe to share with providers: they contain
    no IP address, raw cookie or raw user agent. They compare by value but
    are not hashable, because ``params`` is a mapping, so a cache key is
    built from the fields it needs.

    ``device`` is one of ``"mobile"``, ``"tablet"``, ``"desktop"`` and
    ``"unknown"``. ``gpc`` is true when the browser sent the Global Privacy
    Control signal (``Sec-GPC: 1``), and what to do about it is the
    personalizer's decision.
    """

    path: str = "/"
    # A factory, because Python before 3.12 rejects an unhashable
    # mappingproxy as a dataclass default.
    params: Mapping[str, str | tuple[str, ...]] = field(
        default_factory=lambda: _EMPTY_PARAMS
    )
    interests: tuple[str, ...] = ()
    viewed: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    country: str | None = None
    device: str = "unknown"
    bot: bool = False
    gpc: bool = False

    def __post_init__(self) -> None:
        # A plain dict passed in would let a provider change the params
        # that other providers and the cache key read.
        if not isinstance(self.params, MappingProxyType):
            object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


# Header presets for the country of the visitor, keyed by CDN or platform.
COUNTRY_HEADER_PRESETS: Mapping[str, str] = MappingProxyType(
    {
        "cloudflare": "cf-ipcountry",
        "vercel": "x-vercel-ip-country",
        "cloudfront": "cloudfront-viewer-country",
    }
)


def _check_names(option: str, value: object, item: str) -> tuple[str, ...]:
    """Return ``value`` as a tuple after checking that it contains valid names."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigurationError(
            f"{option}={value!r} must be a tuple of {item}s. Wrap a single "
            f"name in a tuple: {option}=({value!r},)."
        )
    for name in value:
        if not isinstance(name, str) or not name or not name.isprintable():
            raise ConfigurationError(
                f"{option} contains {name!r}, which is not a valid {item}. "
                "Use non-empty printable strings."
            )
    return tuple(value)


def _check_cookie_name(option: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not extract.is_token(value):
        raise ConfigurationError(
            f"{option}={value!r} is not a valid cookie name. Use letters, "
            "digits and !#$%&'*+.^_`|~-, or None to ignore the cookie."
        )


def _check_count(option: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(
            f"{option}={value!r} is invalid. Use an int >= {minimum}."
        )


def _resolve_country_headers(trusted: tuple[str, ...]) -> tuple[bytes, ...]:
    names: list[bytes] = []
    for entry in trusted:
        header = COUNTRY_HEADER_PRESETS.get(entry.lower(), entry)
        if not extract.is_token(header):
            raise ConfigurationError(
                f"trusted_headers contains {entry!r}, which is neither a preset "
                f"({', '.join(COUNTRY_HEADER_PRESETS)}) nor a valid header name."
            )
        name = header.lower().encode("ascii")
        if name not in names:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class ContextOptions:
    """Options of :func:`build_context`: the source of each feature and its bounds.

    ``interest_params`` are query parameters whose values are interest
    terms. ``interests_cookie`` and ``viewed_cookie`` name the cookies with
    interests and recently viewed item ids, and None ignores the cookie.
    ``trusted_headers`` lists the headers that may set the country: the
    presets ``"cloudflare"``, ``"vercel"`` and ``"cloudfront"`` or raw
    header names, tried in order. None is trusted by default, because a
    client can send any header that no proxy in front of the app replaces.

    ``max_interests``, ``max_viewed`` and ``max_languages`` bound the
    lists, and ``max_value_length`` bounds each interest term, language
    tag and route param value, in characters. ``http_clients_are_bots``
    counts HTTP libraries, command-line clients such as curl, and requests
    without a User-Agent as bots.

    Invalid values raise :class:`ConfigurationError` when the options are
    built.
    """

    interest_params: tuple[str, ...] = ("interest", "userInterest")
    interests_cookie: str | None = "ep_interests"
    viewed_cookie: str | None = "ep_viewed"
    trusted_headers: tuple[str, ...] = ()
    max_interests: int = 8
    max_viewed: int = 20
    max_languages: int = 6
    max_value_length: int = 64
    http_clients_are_bots: bool = True

    def __post_init__(self) -> None:
        params = _check_names("interest_params", self.interest_params, "name")
        object.__setattr__(self, "interest_params", params)
        _check_cookie_name("interests_cookie", self.interests_cookie)
        _check_cookie_name("viewed_cookie", self.viewed_cookie)

        trusted = _check_names("trusted_headers", self.trusted_headers, "header")
        object.__setattr__(self, "trusted_headers", trusted)
        _resolve_country_headers(trusted)

        _check_count("max_interests", self.max_interests, 0)
        _check_count("max_viewed", self.max_viewed, 0)
        _check_count("max_languages", self.max_languages, 0)
        _check_count("max_value_length", self.max_value_length, 1)
        if not isinstance(self.http_clients_are_bots, bool):
            raise ConfigurationError(
                f"http_clients_are_bots={self.http_clients_are_bots!r} must be "
                "True or False."
            )

    @cached_property
    def country_headers(self) -> tuple[bytes, ...]:
        """The lower-case names of the trusted country headers, presets resolved."""
        return _resolve_country_headers(self.trusted_headers)


_BASE_HEADERS = (
    b"user-agent",
    b"accept-language",
    b"cookie",
    b"sec-gpc",
    b"sec-ch-ua-mobile",
)


def build_context(
    request: RequestView,
    params: Mapping[str, str | tuple[str, ...]],
    options: ContextOptions,
) -> Context:
    """Build the :class:`Context` of ``request`` from its headers and query.

    ``params`` are the params of the matched route. Malformed input never
    raises: a part that cannot be read is left out of the context.
    """
    headers = extract.collect_headers(
        request.headers, _BASE_HEADERS + options.country_headers
    )

    def first(name: bytes) -> bytes | None:
        values = headers.get(name)
        return values[0] if values else None

    cookies = extract.parse_cookies(
        extract.join_capped(
            headers.get(b"cookie", []), b"; ", extract.COOKIE_HEADER_LIMIT
        )
    )
    user_agent_raw = first(b"user-agent")
    user_agent = (
        None
        if user_agent_raw is None
        else user_agent_raw[: extract.USER_AGENT_LIMIT].decode("latin-1")
    )
    languages = extract.join_capped(
        headers.get(b"accept-language", []), b", ", extract.ACCEPT_LANGUAGE_LIMIT
    )
    gpc = first(b"sec-gpc")

    return Context(
        path=request.path,
        params=extract.limit_params(params, options.max_value_length),
        interests=extract.extract_interests(
            extract.query_values(request.query_string, options.interest_params),
            _cookie(cookies, options.interests_cookie),
            options.max_interests,
            options.max_value_length,
        ),
        viewed=extract.extract_viewed(
            _cookie(cookies, options.viewed_cookie), options.max_viewed
        ),
        languages=extract.extract_languages(
            languages, options.max_languages, options.max_value_length
        ),
        country=extract.extract_country(headers, options.country_headers),
        device=extract.classify_device(user_agent, first(b"sec-ch-ua-mobile")),
        bot=extract.is_bot(user_agent, options.http_clients_are_bots),
        gpc=gpc is not None and gpc[: extract.SHORT_HEADER_LIMIT].strip() == b"1",
    )


def _cookie(cookies: Mapping[str, str], name: str | None) -> str | None:
    return None if name is None else cookies.get(name)
