"""Route patterns in the syntax of Next.js middleware matchers.

A pattern such as ``/products/:slug`` or ``/blog/:path*`` is parsed once,
compiled to a regular expression and matched against the request path that
the adapter has already percent-decoded. A route may also carry ``has`` and
``missing`` conditions on a header, cookie, query parameter or the host.

The syntax is that of path-to-regexp 6, which Next.js uses for its
``matcher`` setting. This module is an independent implementation of it,
and the places where it differs on purpose are listed in ``docs/routes.md``:
matching is case-sensitive, a default parameter matches any characters but
``/``, and a repeated parameter needs a separator before it.

A :class:`Router` combines all its routes into one alternation, so a path
that matches none of them costs one regular-expression search (two when it
ends in a slash) and allocates nothing per route.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NoReturn

from ._context_extract import (
    CONDITION_HEADER_LIMIT,
    COOKIE_HEADER_LIMIT,
    is_token,
    joined_header,
    parse_cookies,
    parse_query,
)
from .context import RequestView
from .exceptions import ConfigurationError, RoutePatternError

__all__ = ["Condition", "ParamValue", "Route", "RouteMatch", "Router"]

ParamValue = str | tuple[str, ...]
ConditionType = Literal["header", "cookie", "query", "host"]

_CONDITION_TYPES: tuple[str, ...] = ("header", "cookie", "query", "host")
_CONDITION_KEYS = frozenset({"type", "key", "value"})
_ROUTE_KEYS = frozenset({"source", "has", "missing"})

# A parameter without a custom pattern matches one path segment. The path is
# already percent-decoded and carries no query, so only "/" delimits it.
_DEFAULT_PATTERN = "[^/]+?"
_NAME = re.compile(r"[A-Za-z0-9_]+")
# The JavaScript spelling of a named group, "(?<name>", outside a character
# class and not escaped. Python spells it "(?P<name>".
_JS_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
# Route regexes behave like JavaScript's: \d, \w and \s match ASCII only.
_FLAGS = re.ASCII


@dataclass(frozen=True)
class _Param:
    """One parameter, or one optional ``{...}`` group without a parameter.

    ``name`` is None and ``pattern`` is None for a literal group such as
    ``{/old}?``. ``prefix`` and ``suffix`` are literal text around the
    captured value. Repeats of a ``*`` or ``+`` parameter are separated by
    suffix + prefix.
    """

    name: str | None
    pattern: str | None
    prefix: str
    suffix: str
    modifier: str

    @property
    def repeats(self) -> bool:
        return self.modifier in ("*", "+")


_Token = str | _Param


class _PatternParser:
    """Split a route pattern into literal text and parameters."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.tokens: list[_Token] = []
        self.text: list[str] = []
        # Only an unescaped "/" or "." directly before a parameter becomes its
        # prefix, which "?" and "*" make optional along with the value.
        self.last_char_is_plain = False
        self.unnamed_count = 0
        self.names: set[str] = set()

    def fail(self, reason: str, pos: int | None = None) -> NoReturn:
        where = self.pos if pos is None else pos
        raise RoutePatternError(
            f"Invalid route pattern {self.source!r} at position {where}: {reason}."
        )

    def parse(self) -> list[_Token]:
        if not self.source.startswith("/"):
            self.fail("a pattern must start with '/', for example '/products/:slug'")

        while self.pos < len(self.source):
            char = self.source[self.pos]
            if char == "\\":
                self.text.append(self.read_escape())
                self.last_char_is_plain = False
            elif char == ":" or char == "(":
                self.read_parameter()
            elif char == "{":
                self.read_group()
            elif char in "?*+":
                self.fail(
                    f"{char!r} must follow a parameter. To match the rest of the "
                    "path write ':path*' or '(.*)', or escape it as '\\\\" + char + "'"
                )
            elif char in ")}":
                self.fail(f"unbalanced {char!r}")
            else:
                self.text.append(char)
                self.last_char_is_plain = True
                self.pos += 1

        self.flush_text()
        return self.tokens

    def flush_text(self) -> None:
        if self.text:
            self.tokens.append("".join(self.text))
            self.text.clear()
        self.last_char_is_plain = False

    def read_escape(self) -> str:
        if self.pos + 1 >= len(self.source):
            self.fail("the pattern ends with a lone backslash")
        char = self.source[self.pos + 1]
        self.pos += 2
        return char

    def read_parameter(self) -> None:
        start = self.pos
        name, pattern = self.read_name_and_pattern()
        modifier = self.read_modifier()

        prefix = ""
        if self.last_char_is_plain and self.text and self.text[-1] in "/.":
            prefix = self.text.pop()
        self.flush_text()

        param = _Param(name, pattern, prefix, "", modifier)
        self.check_repeat(param, start)
        self.tokens.append(param)

    def read_group(self) -> None:
        start = self.pos
        self.pos += 1
        prefix = self.read_group_text()

        name: str | None = None
        pattern: str | None = None
        if self.pos < len(self.source) and self.source[self.pos] in ":(":
            name, pattern = self.read_name_and_pattern()
        suffix = self.read_group_text()
        if self.pos >= len(self.source) or self.source[self.pos] != "}":
            self.fail("unbalanced '{': close the group with '}'", start)
        self.pos += 1
        modifier = self.read_modifier()

        self.flush_text()
        param = _Param(name, pattern, prefix, suffix, modifier)
        self.check_repeat(param, start)
        self.tokens.append(param)

    def read_group_text(self) -> str:
        text: list[str] = []
        while self.pos < len(self.source):
            char = self.source[self.pos]
            if char == "\\":
                text.append(self.read_escape())
            elif char in ":()}":
                break
            elif char in "{?*+":
                self.fail(f"{char!r} inside '{{...}}' must be escaped with '\\\\'")
            else:
                text.append(char)
                self.pos += 1
        return "".join(text)

    def read_name_and_pattern(self) -> tuple[str, str]:
        """Read ``:name``, ``:name(pattern)`` or ``(pattern)`` at ``pos``."""
        if self.source[self.pos] == "(":
            name = str(self.unnamed_count)
            self.unnamed_count += 1
            return name, self.read_pattern()

        start = self.pos
        match = _NAME.match(self.source, self.pos + 1)
        if match is None:
            self.fail(
                "':' is not followed by a parameter name. Names use letters, "
                "digits and '_', and a literal colon is written '\\\\:'"
            )
        name = match.group()
        if name[0].isdigit():
            self.fail(f"parameter name {name!r} must start with a letter or '_'", start)
        if name in self.names:
            self.fail(f"parameter name {name!r} is used twice", start)
        self.names.add(name)
        self.pos = match.end()

        if self.pos < len(self.source) and self.source[self.pos] == "(":
            return name, self.read_pattern()
        return name, _DEFAULT_PATTERN

    def read_pattern(self) -> str:
        """Read a custom pattern ``(...)`` at ``pos`` and check that it compiles."""
        start = self.pos
        end = _find_closing_paren(self.source, start)
        if end is None:
            self.fail("unbalanced '(': close the custom pattern with ')'", start)
        pattern = self.source[start + 1 : end]
        self.pos = end + 1

        if not pattern:
            self.fail("empty custom pattern '()'", start)
        if pattern.startswith("?"):
            self.fail(
                "a custom pattern cannot start with '?'. Wrap a non-capturing "
                "group in parentheses, as in '((?:a|b))'",
                start,
            )
        try:
            compiled = _compile(pattern)
        except re.error as exc:
            self.fail(
                f"custom pattern {pattern!r} is not a valid regular expression "
                f"({exc.msg})",
                start,
            )
        if compiled.flags & ~(_FLAGS | re.UNICODE):
            self.fail(
                f"custom pattern {pattern!r} sets a global flag, which would "
                "apply to the whole route. Use a scoped flag such as '(?i:y)'",
                start,
            )
        if compiled.groups:
            self.fail(
                f"custom pattern {pattern!r} contains a capturing group. "
                "Use a non-capturing group '(?:...)' instead",
                start,
            )
        return pattern

    def read_modifier(self) -> str:
        if self.pos < len(self.source) and self.source[self.pos] in "?*+":
            self.pos += 1
            return self.source[self.pos - 1]
        return ""

    def check_repeat(self, param: _Param, pos: int) -> None:
        if param.repeats and param.pattern is not None:
            if not (param.prefix or param.suffix):
                self.fail(
                    f"repeated parameter {param.name!r} needs a separator. Put "
                    "'/' before it, as in '/:path*'",
                    pos,
                )


def _skip_class(source: str, pos: int) -> int:
    """Return the index just past the character class that opens at ``pos``.

    A ``]`` right after ``[`` or ``[^`` is a member, not the end, and an
    escaped character never ends the class. An unclosed class runs to the end.
    """
    pos += 2 if source.startswith("^", pos + 1) else 1
    if source.startswith("]", pos):
        pos += 1
    while pos < len(source):
        char = source[pos]
        if char == "\\":
            pos += 2
        elif char == "]":
            return pos + 1
        else:
            pos += 1
    return len(source)


def _find_closing_paren(source: str, start: int) -> int | None:
    """Return the index of the ``)`` that closes the ``(`` at ``start``.

    Escapes and character classes are skipped, so ``[)]`` and ``\\)`` do not
    close the group.
    """
    depth = 0
    pos = start
    while pos < len(source):
        char = source[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "[":
            pos = _skip_class(source, pos)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return None


def _drop_trailing_slash(tokens: list[_Token]) -> list[_Token]:
    """Remove a final literal ``/`` so ``/shop/`` compiles like ``/shop``."""
    if tokens and isinstance(tokens[-1], str) and tokens[-1].endswith("/"):
        last = tokens[-1][:-1]
        if last or len(tokens) > 1:
            return [*tokens[:-1], last] if last else tokens[:-1]
    return tokens


def _param_regex(param: _Param, capture: bool) -> str:
    prefix = re.escape(param.prefix)
    suffix = re.escape(param.suffix)
    if param.pattern is None:
        return f"(?:{prefix}{suffix}){param.modifier}"

    group = "(" if capture else "(?:"
    pattern = param.pattern
    if param.repeats:
        repeated = f"(?:{pattern})(?:{suffix}{prefix}(?:{pattern}))*"
        optional = "?" if param.modifier == "*" else ""
        return f"(?:{prefix}{group}{repeated}){suffix}){optional}"
    return f"(?:{prefix}{group}{pattern}){suffix}){param.modifier}"


def _tokens_regex(tokens: Sequence[_Token], capture: bool) -> str:
    parts = []
    for token in tokens:
        if isinstance(token, str):
            parts.append(re.escape(token))
        else:
            parts.append(_param_regex(token, capture))
    return "".join(parts)


def _match_path(regex: re.Pattern[str], path: str) -> re.Match[str] | None:
    """Match ``path``, first without one trailing slash, then as it is.

    Trying the shorter form first keeps a trailing slash out of the params
    (``/files/(.*)`` on ``/files/a/`` gives ``"a"``), and trying the full
    form second still lets ``/files/`` match it. ``endpos`` avoids a copy.
    """
    if len(path) > 1 and path[-1] == "/":
        match = regex.fullmatch(path, 0, len(path) - 1)
        if match is not None:
            return match
    return regex.fullmatch(path)


def _compile(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` with the same result on every supported Python.

    Python 3.10 only warns about a global flag such as ``(?i)`` that is not
    at the start, then applies it to the whole pattern. Python 3.11 and later
    raise ``re.error``, so this does on 3.10 too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return re.compile(pattern, _FLAGS)
        except DeprecationWarning as exc:
            raise re.error(str(exc)) from exc


def _translate_named_groups(value: str) -> str:
    """Rewrite JavaScript ``(?<name>...)`` groups to Python ``(?P<name>...)``.

    Escaped parentheses and character classes are left alone.
    """
    out: list[str] = []
    pos = 0
    while pos < len(value):
        char = value[pos]
        if char == "\\":
            end = pos + 2
        elif char == "[":
            end = _skip_class(value, pos)
        elif _JS_NAMED_GROUP.match(value, pos):
            out.append("(?P<")
            pos += 3
            continue
        else:
            end = pos + 1
        out.append(value[pos:end])
        pos = end
    return "".join(out)


@dataclass(frozen=True)
class Condition:
    """A ``has`` or ``missing`` condition of a route, as Next.js writes it.

    ``type`` is ``"header"``, ``"cookie"``, ``"query"`` or ``"host"``. ``key``
    names the header (case-insensitive), cookie or query parameter, and a
    host condition takes no key. ``value`` is an optional regular expression
    that must match the whole value. In a ``has`` condition, its named
    groups add params to the match. They are written ``(?P<name>...)`` or
    in the JavaScript form ``(?<name>...)``.

    A value that is present but empty counts as absent, as in Next.js.
    Raises :class:`RoutePatternError` for an unknown type, a bad key or a
    value that does not compile.
    """

    type: ConditionType
    key: str = ""
    value: str | None = None
    _regex: re.Pattern[str] | None = field(
        init=False, repr=False, compare=False, default=None
    )
    _header_name: bytes = field(init=False, repr=False, compare=False, default=b"")

    def __post_init__(self) -> None:
        if self.type not in _CONDITION_TYPES:
            raise RoutePatternError(
                f"Condition type {self.type!r} is not supported. Use one of "
                "'header', 'cookie', 'query' or 'host'."
            )
        self._check_key()
        if self.value is not None:
            object.__setattr__(self, "_regex", self._compile_value())
        if self.type == "header":
            object.__setattr__(self, "_header_name", self.key.lower().encode())

    def _check_key(self) -> None:
        key = self.key
        if not isinstance(key, str):
            raise RoutePatternError(
                f"Condition key {key!r} must be a str, in {self!r}."
            )
        if self.type == "host":
            if key:
                raise RoutePatternError(
                    f"Host conditions take no key, got key={key!r}. Put the "
                    "host name pattern in value, for example "
                    "{'type': 'host', 'value': r'shop\\.example\\.com'}."
                )
            if self.value is None:
                raise RoutePatternError(
                    "A host condition needs a value: a regular expression "
                    "for the host name, such as r'shop\\.example\\.com'."
                )
        elif not key:
            raise RoutePatternError(
                f"A {self.type} condition needs a non-empty key, in {self!r}."
            )
        elif self.type in ("header", "cookie") and not is_token(key):
            raise RoutePatternError(
                f"Condition key {key!r} is not a valid {self.type} name. "
                "Use letters, digits and !#$%&'*+.^_`|~-."
            )

    def _compile_value(self) -> re.Pattern[str]:
        value = self.value
        if not isinstance(value, str):
            raise RoutePatternError(
                f"Condition value {value!r} must be a str (a regular "
                "expression) or None."
            )
        try:
            return _compile(_translate_named_groups(value))
        except re.error as exc:
            raise RoutePatternError(
                f"Condition value {value!r} of {self.type} condition "
                f"{self.key!r} is not a valid regular expression ({exc.msg})."
            ) from exc

    @property
    def group_names(self) -> tuple[str, ...]:
        """The named groups of ``value``, which become params when it matches."""
        if self._regex is None:
            return ()
        return tuple(self._regex.groupindex)

    def read(self, values: _RequestValues) -> str | None:
        """Return the value this condition tests, or None when it is absent."""
        if self.type == "header":
            found = values.header(self._header_name)
        elif self.type == "cookie":
            found = values.cookie(self.key)
        elif self.type == "query":
            found = values.query(self.key)
        else:
            found = values.host()
        return found or None

    def test(self, values: _RequestValues, params: dict[str, ParamValue]) -> bool:
        """Test the condition, and on a match add its named groups to ``params``."""
        found = self.read(values)
        if found is None:
            return False
        if self._regex is None:
            return True

        match = self._regex.fullmatch(found)
        if match is None:
            return False
        for name, group in match.groupdict().items():
            if group is not None:
                params[name] = group
        return True


class _RequestValues:
    """The request data that conditions read, parsed once and only if needed."""

    def __init__(self, request: RequestView) -> None:
        self.request = request
        self._cookies: Mapping[str, str] | None = None
        self._query: dict[str, str] | None = None

    def header(self, name: bytes) -> str | None:
        # Repeated fields are combined with ", " as RFC 9110 section 5.3
        # allows, so a condition tests the same text however a client splits it.
        headers = self.request.headers
        raw = joined_header(headers, name, b", ", CONDITION_HEADER_LIMIT)
        return None if raw is None else raw[:CONDITION_HEADER_LIMIT].decode("latin-1")

    def cookie(self, name: str) -> str | None:
        if self._cookies is None:
            headers = self.request.headers
            raw = joined_header(headers, b"cookie", b"; ", COOKIE_HEADER_LIMIT)
            self._cookies = parse_cookies(raw)
        return self._cookies.get(name)

    def query(self, name: str) -> str | None:
        if self._query is None:
            # dict() keeps the last value of a repeated parameter, as Next.js
            # does for query conditions.
            self._query = dict(parse_query(self.request.query_string))
        return self._query.get(name)

    def host(self) -> str | None:
        raw = self.request.header(b"host")
        if raw is None:
            return None
        host = raw.decode("latin-1").strip().lower()
        if host.startswith("["):
            end = host.find("]")
            return host[: end + 1] if end >= 0 else host
        return host.partition(":")[0].removesuffix(".")


def _to_condition(item: Condition | Mapping[str, Any], source: str) -> Condition:
    if isinstance(item, Condition):
        return item
    if not isinstance(item, Mapping):
        raise RoutePatternError(
            f"Condition {item!r} of route {source!r} must be a Condition or a "
            "mapping such as {'type': 'cookie', 'key': 'session'}."
        )
    unknown = sorted(set(item) - _CONDITION_KEYS, key=str)
    if unknown:
        raise RoutePatternError(
            f"Condition {dict(item)!r} of route {source!r} has unknown keys "
            f"{unknown!r}. Use only 'type', 'key' and 'value'."
        )
    if "type" not in item:
        raise RoutePatternError(
            f"Condition {dict(item)!r} of route {source!r} is missing 'type'."
        )
    return Condition(item["type"], item.get("key", ""), item.get("value"))


def _to_conditions(
    items: Sequence[Condition | Mapping[str, Any]], name: str, source: str
) -> tuple[Condition, ...]:
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise RoutePatternError(
            f"{name}={items!r} of route {source!r} must be a list of "
            f"conditions. Wrap a single condition in a list: {name}=[...]."
        )
    return tuple(_to_condition(item, source) for item in items)


# "{name}" or "{name:type}" with no modifier after it: a Starlette, FastAPI
# or Flask-like path parameter. In this syntax it is a group of literal
# text, so it would match only the word itself.
_FRAMEWORK_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}(?![?*+])")
_FLASK_PARAM = re.compile(r"<(?:[A-Za-z_]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


def _reject_framework_syntax(source: str) -> None:
    match = _FRAMEWORK_PARAM.search(source) or _FLASK_PARAM.search(source)
    if match is not None:
        raise RoutePatternError(
            f"Route pattern {source!r}: {match.group(0)!r} is a framework's "
            f"path parameter syntax, which these Next.js-style patterns read "
            f"as literal text. Write ':{match.group(1)}' instead."
        )


class Route:
    """One route pattern with optional ``has`` and ``missing`` conditions.

    The pattern is compiled when the route is built, and an invalid one
    raises :class:`RoutePatternError` naming it. :meth:`match` returns the
    params of a matching request: a ``str`` for a plain or ``?`` parameter
    (absent when ``?`` matched nothing) and a tuple of ``str`` for a ``*``
    or ``+`` parameter (empty when ``*`` matched nothing).
    """

    __slots__ = ("_bare_regex", "_params", "_regex", "has", "missing", "source")

    def __init__(
        self,
        source: str,
        *,
        has: Sequence[Condition | Mapping[str, Any]] = (),
        missing: Sequence[Condition | Mapping[str, Any]] = (),
    ) -> None:
        if not isinstance(source, str):
            raise RoutePatternError(
                f"Route pattern {source!r} must be a str such as '/products/:slug'."
            )
        self.source = source
        self.has = _to_conditions(has, "has", source)
        self.missing = _to_conditions(missing, "missing", source)

        tokens = _drop_trailing_slash(_PatternParser(source).parse())
        _reject_framework_syntax(source)
        self._params = tuple(
            (t.name, t) for t in tokens if isinstance(t, _Param) and t.name
        )
        # The same regex without capturing groups, for Router's combined
        # alternation, where only the group around each route may capture.
        self._bare_regex = _tokens_regex(tokens, capture=False)
        try:
            self._regex = _compile(_tokens_regex(tokens, capture=True))
        except re.error as exc:
            raise RoutePatternError(
                f"Invalid route pattern {source!r}: it does not compile to a "
                f"regular expression ({exc.msg})."
            ) from exc
        self._check_group_names()

    def _check_group_names(self) -> None:
        seen = set(self.param_names)
        for condition in self.has:
            for name in condition.group_names:
                if name in seen:
                    raise RoutePatternError(
                        f"Route {self.source!r}: the named group {name!r} in "
                        f"condition {condition!r} reuses a param name. Rename "
                        "the group."
                    )
                seen.add(name)

    @property
    def param_names(self) -> tuple[str, ...]:
        """The names of the path parameters, in pattern order."""
        return tuple(name for name, _ in self._params)

    def match(self, request: RequestView) -> dict[str, ParamValue] | None:
        """Return the params if ``request`` matches this route, else None."""
        match = _match_path(self._regex, request.path)
        if match is None:
            return None

        params = self._path_params(match)
        if self.has or self.missing:
            values = _RequestValues(request)
            if not all(c.test(values, params) for c in self.has):
                return None
            if any(c.test(values, {}) for c in self.missing):
                return None
        return params

    def _path_params(self, match: re.Match[str]) -> dict[str, ParamValue]:
        params: dict[str, ParamValue] = {}
        for index, (name, param) in enumerate(self._params, start=1):
            value = match.group(index)
            if param.repeats:
                separator = param.suffix + param.prefix
                params[name] = () if value is None else tuple(value.split(separator))
            elif value is not None:
                params[name] = value
        return params

    def _key(self) -> tuple[str, tuple[Condition, ...], tuple[Condition, ...]]:
        return (self.source, self.has, self.missing)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Route):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        extra = ""
        if self.has:
            extra += f", has={list(self.has)!r}"
        if self.missing:
            extra += f", missing={list(self.missing)!r}"
        return f"Route({self.source!r}{extra})"


@dataclass(frozen=True)
class RouteMatch:
    """The route that matched a request and its read-only params."""

    route: Route
    params: Mapping[str, ParamValue]

    def __post_init__(self) -> None:
        if not isinstance(self.params, MappingProxyType):
            object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


def _to_route(item: str | Route | Mapping[str, Any]) -> Route:
    if isinstance(item, Route):
        return item
    if isinstance(item, str):
        return Route(item)
    if not isinstance(item, Mapping):
        raise ConfigurationError(
            f"Route {item!r} must be a pattern string, a Route or a mapping "
            "such as {'source': '/products/:slug'}."
        )

    unknown = sorted(set(item) - _ROUTE_KEYS, key=str)
    if unknown:
        raise ConfigurationError(
            f"Route {dict(item)!r} has unknown keys {unknown!r}. Use only "
            "'source', 'has' and 'missing'."
        )
    if "source" not in item:
        raise ConfigurationError(
            f"Route {dict(item)!r} is missing 'source', the path pattern."
        )
    return Route(
        item["source"], has=item.get("has", ()), missing=item.get("missing", ())
    )


class Router:
    """An ordered list of routes, of which :meth:`match` returns the first match.

    ``routes`` is a list whose items are pattern strings, :class:`Route`
    objects or Next.js matcher mappings (``{"source": ..., "has": [...],
    "missing": [...]}``). An empty list, or a bare string in place of a
    list, raises :class:`ConfigurationError`.
    """

    __slots__ = ("_combined", "_prefilter", "routes")

    def __init__(self, routes: Sequence[str | Route | Mapping[str, Any]]) -> None:
        if isinstance(routes, (str, bytes)):
            raise ConfigurationError(
                f"routes={routes!r} must be a list of patterns. Wrap the "
                f"pattern in a list: routes=[{routes!r}]."
            )
        if isinstance(routes, Mapping) or not isinstance(routes, Sequence):
            raise ConfigurationError(
                f"routes={routes!r} must be a list of patterns, Routes or "
                "matcher mappings. Routes are tried in order, so use a list."
            )
        if not routes:
            raise ConfigurationError(
                "routes=[] would never personalize a page. Give at least one "
                "pattern, such as routes=['/products/:slug']."
            )

        self.routes: tuple[Route, ...] = tuple(_to_route(item) for item in routes)
        # The prefilter has no capturing group, so a miss allocates no group
        # state however many routes there are. On a hit, the combined regex
        # has one group per route, and its lastindex names the first route
        # whose path pattern matches.
        bare = [r._bare_regex for r in self.routes]
        self._prefilter = re.compile("|".join(f"(?:{b})" for b in bare), _FLAGS)
        self._combined = re.compile("|".join(f"({b})" for b in bare), _FLAGS)

    def _first_candidate(self, path: str) -> int | None:
        """Return the index of the first route whose path pattern matches."""
        if _match_path(self._prefilter, path) is None:
            return None

        first: int | None = None
        if len(path) > 1 and path[-1] == "/":
            match = self._combined.fullmatch(path, 0, len(path) - 1)
            if match is not None and match.lastindex is not None:
                first = match.lastindex - 1

        match = self._combined.fullmatch(path)
        if match is not None and match.lastindex is not None:
            index = match.lastindex - 1
            first = index if first is None else min(first, index)
        return first

    def may_match(self, path: str) -> bool:
        """Return whether a route's path pattern matches ``path``.

        Conditions are not checked, so ``True`` only means that
        :meth:`match` is worth calling. Adapters call this first because it
        needs no headers.
        """
        return _match_path(self._prefilter, path) is not None

    def match(self, request: RequestView) -> RouteMatch | None:
        """Return the first route that matches ``request``, with its params."""
        first = self._first_candidate(request.path)
        if first is None:
            return None

        for route in self.routes[first:]:
            params = route.match(request)
            if params is not None:
                return RouteMatch(route, MappingProxyType(params))
        return None

    def __repr__(self) -> str:
        return f"Router({list(self.routes)!r})"
