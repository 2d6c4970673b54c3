"""Tests for route patterns, conditions and the router."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_personalize.context import RequestView
from edge_personalize.exceptions import ConfigurationError, RoutePatternError
from edge_personalize.routes import Condition, Route, RouteMatch, Router


def request(
    path: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> RequestView:
    return RequestView("GET", path, query, headers or [])


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        pytest.param("/about", "/about", {}, id="literal"),
        pytest.param("/about", "/about/", {}, id="literal-trailing-slash"),
        pytest.param("/about/", "/about", {}, id="pattern-trailing-slash"),
        pytest.param("/", "/", {}, id="root"),
        pytest.param("/a.b", "/a.b", {}, id="dot-is-literal"),
        pytest.param("/a\\:b", "/a:b", {}, id="escaped-colon"),
        pytest.param("/price\\(usd\\)", "/price(usd)", {}, id="escaped-parens"),
        pytest.param("/products/:slug", "/products/mug", {"slug": "mug"}, id="named"),
        pytest.param(
            "/products/:slug", "/products/mug/", {"slug": "mug"}, id="named-slash"
        ),
        pytest.param(
            "/products/:slug",
            "/products/café crème",
            {"slug": "café crème"},
            id="named-decoded-unicode",
        ),
        pytest.param("/blog/:path*", "/blog", {"path": ()}, id="star-zero"),
        pytest.param("/blog/:path*", "/blog/", {"path": ()}, id="star-zero-slash"),
        pytest.param("/blog/:path*", "/blog/a", {"path": ("a",)}, id="star-one"),
        pytest.param(
            "/blog/:path*", "/blog/a/b/c/", {"path": ("a", "b", "c")}, id="star-many"
        ),
        pytest.param("/a/:x+", "/a/b", {"x": ("b",)}, id="plus-one"),
        pytest.param("/a/:x+", "/a/b/c", {"x": ("b", "c")}, id="plus-many"),
        pytest.param("/b/:y?", "/b", {}, id="optional-absent"),
        pytest.param("/b/:y?", "/b/", {}, id="optional-absent-slash"),
        pytest.param("/b/:y?", "/b/z", {"y": "z"}, id="optional-present"),
        pytest.param("/post/:id(\\d+)", "/post/42", {"id": "42"}, id="custom"),
        pytest.param(
            "/n/:ids(\\d+)+", "/n/1/22", {"ids": ("1", "22")}, id="custom-repeated"
        ),
        pytest.param("/post/:id(\\d+)?", "/post", {}, id="custom-optional-absent"),
        pytest.param("/files/(.*)", "/files/a/b", {"0": "a/b"}, id="unnamed"),
        pytest.param("/files/(.*)", "/files/", {"0": ""}, id="unnamed-empty"),
        pytest.param(
            "/files/(.*)", "/files/a/b/", {"0": "a/b"}, id="unnamed-slash-stripped"
        ),
        pytest.param(
            "/(a|b)/(\\d+)", "/b/7", {"0": "b", "1": "7"}, id="unnamed-numbered"
        ),
        pytest.param(
            "/:kind(a|b)/(\\d+)",
            "/a/7",
            {"kind": "a", "0": "7"},
            id="named-and-unnamed",
        ),
        pytest.param(
            "/((?!api|_next/static|favicon.ico).*)",
            "/shop/mug",
            {"0": "shop/mug"},
            id="negative-lookahead",
        ),
        pytest.param(
            "/((?!api|_next/static|favicon.ico).*)",
            "/",
            {"0": ""},
            id="negative-lookahead-root",
        ),
        pytest.param(
            "/:file.:ext?", "/x.tar", {"file": "x", "ext": "tar"}, id="dot-prefix"
        ),
        pytest.param("/:file.:ext?", "/x", {"file": "x"}, id="dot-prefix-absent"),
        pytest.param("/:a-:b", "/x-y-z", {"a": "x", "b": "y-z"}, id="adjacent-lazy"),
        pytest.param(
            "/x{/v:version}?/docs", "/x/v3/docs", {"version": "3"}, id="braces"
        ),
        pytest.param("/x{/v:version}?/docs", "/x/docs", {}, id="braces-absent"),
        pytest.param("/old{/legacy}?", "/old/legacy", {}, id="literal-group"),
        pytest.param("/old{/legacy}?", "/old", {}, id="literal-group-absent"),
        pytest.param("/:a_1/:_b", "/x/y", {"a_1": "x", "_b": "y"}, id="name-chars"),
        pytest.param(
            "/s/:q([^/]+)", "/s/a?b#c", {"q": "a?b#c"}, id="decoded-query-chars"
        ),
        pytest.param("/c/:x([]a]+)", "/c/]a]", {"x": "]a]"}, id="class-bracket"),
        pytest.param("/d/:x([)]+)", "/d/))", {"x": "))"}, id="class-paren"),
    ],
)
def test_route_matches(pattern: str, path: str, params: dict[str, Any]) -> None:
    assert Route(pattern).match(request(path)) == params


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        pytest.param("/about", "/About", id="case-sensitive"),
        pytest.param("/about", "/about//", id="two-trailing-slashes"),
        pytest.param("/about", "/about\n", id="trailing-newline"),
        pytest.param("/about", "/aboutx", id="longer"),
        pytest.param("/a.b", "/axb", id="dot-is-not-any"),
        pytest.param("/", "/x", id="root-only"),
        pytest.param("/products/:slug", "/products", id="named-missing"),
        pytest.param("/products/:slug", "/products/a/b", id="named-two-segments"),
        pytest.param("/products/:slug", "/products//", id="named-empty"),
        pytest.param("/a/:x+", "/a", id="plus-zero"),
        pytest.param("/b/:y?", "/b/z/w", id="optional-two"),
        pytest.param("/post/:id(\\d+)", "/post/1a", id="custom-mismatch"),
        pytest.param("/post/:id(\\d+)", "/post/\u0661\u0662", id="custom-ascii-digits"),
        pytest.param("/files/(.*)", "/files", id="unnamed-needs-slash"),
        pytest.param(
            "/((?!api|_next/static).*)", "/api/users", id="negative-lookahead"
        ),
        pytest.param(
            "/((?!api|_next/static).*)", "/_next/static/a.js", id="negative-nested"
        ),
        pytest.param("/n/:ids(\\d+)+", "/n/1/x", id="custom-repeated-mismatch"),
    ],
)
def test_route_rejects(pattern: str, path: str) -> None:
    assert Route(pattern).match(request(path)) is None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param("products/:slug", "must start with '/'", id="no-slash"),
        pytest.param("", "must start with '/'", id="empty"),
        pytest.param("/a/(\\d+", "unbalanced '('", id="open-paren"),
        pytest.param("/a/:x((\\d+)", "unbalanced '('", id="open-nested"),
        pytest.param("/a)", "unbalanced ')'", id="close-paren"),
        pytest.param("/a/{x", "unbalanced '{'", id="open-brace"),
        pytest.param("/a}", "unbalanced '}'", id="close-brace"),
        pytest.param("/a/:", "not followed by a parameter name", id="no-name"),
        pytest.param("/a/:-x", "not followed by a parameter name", id="bad-name"),
        pytest.param("/a/:ñ", "not followed by a parameter name", id="non-ascii"),
        pytest.param("/a/:1x", "must start with a letter", id="digit-name"),
        pytest.param("/a/:x/:x", "used twice", id="duplicate-name"),
        pytest.param("/a/:x((\\d))", "capturing group", id="capturing"),
        pytest.param("/a/:x((?P<n>\\d))", "capturing group", id="named-capturing"),
        pytest.param("/a/([)", "unbalanced '('", id="class-hides-close"),
        pytest.param("/a/:x(a{2,1})", "not a valid regular expression", id="bad-re"),
        pytest.param("/a/:x(\\1)", "not a valid regular expression", id="backref"),
        pytest.param("/a/:x(?:y)", "cannot start with '?'", id="starts-with-q"),
        pytest.param("/a/()", "empty custom pattern", id="empty-custom"),
        pytest.param("/shop/*", "must follow a parameter", id="bare-star"),
        pytest.param("/a?", "must follow a parameter", id="bare-question"),
        pytest.param("/a/:x??", "must follow a parameter", id="double-modifier"),
        pytest.param("/a\\", "lone backslash", id="trailing-backslash"),
        pytest.param("/a-:b+", "needs a separator", id="repeat-no-separator"),
        pytest.param("/a/:x((?i)y)", "sets a global flag", id="inline-flag"),
        pytest.param("/a/((?s)y)", "sets a global flag", id="inline-flag-unnamed"),
        pytest.param("/a/{b{c}}", "must be escaped", id="nested-brace"),
    ],
)
def test_route_invalid_pattern(pattern: str, reason: str) -> None:
    with pytest.raises(RoutePatternError) as caught:
        Route(pattern)

    assert repr(pattern) in str(caught.value)
    assert reason in str(caught.value)


def test_route_pattern_not_str() -> None:
    with pytest.raises(RoutePatternError, match="must be a str"):
        Route(b"/a")  # type: ignore[arg-type]


def test_route_error_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Route("nope")


def test_route_param_names() -> None:
    route = Route("/:kind/(\\d+)/:rest*")

    assert route.param_names == ("kind", "0", "rest")


def test_route_equality_and_hash() -> None:
    first = Route("/a/:x", has=[{"type": "cookie", "key": "s"}])
    second = Route("/a/:x", has=[Condition("cookie", "s")])

    assert first == second
    assert hash(first) == hash(second)
    assert first != Route("/a/:x")


def test_route_repr() -> None:
    route = Route("/a", missing=[{"type": "query", "key": "q"}])

    assert repr(route) == (
        "Route('/a', missing=[Condition(type='query', key='q', value=None)])"
    )


HOST = (b"host", b"Shop.Example.COM:8443")


@pytest.mark.parametrize(
    ("condition", "query", "headers", "expected"),
    [
        pytest.param(
            {"type": "header", "key": "X-Flag"},
            b"",
            [(b"x-flag", b"on")],
            True,
            id="header-present",
        ),
        pytest.param(
            {"type": "header", "key": "x-flag"}, b"", [], False, id="header-absent"
        ),
        pytest.param(
            {"type": "header", "key": "x-flag"},
            b"",
            [(b"x-flag", b"")],
            False,
            id="header-empty-is-absent",
        ),
        pytest.param(
            {"type": "header", "key": "x-flag", "value": "on|yes"},
            b"",
            [(b"x-flag", b"yes")],
            True,
            id="header-value",
        ),
        pytest.param(
            {"type": "header", "key": "x-flag", "value": "on"},
            b"",
            [(b"x-flag", b"only")],
            False,
            id="header-value-whole",
        ),
        pytest.param(
            {"type": "header", "key": "accept", "value": "a, b"},
            b"",
            [(b"accept", b"a"), (b"accept", b"b")],
            True,
            id="header-repeated-joined",
        ),
        pytest.param(
            {"type": "cookie", "key": "session"},
            b"",
            [(b"cookie", b"theme=dark; session=abc")],
            True,
            id="cookie-present",
        ),
        pytest.param(
            {"type": "cookie", "key": "session"},
            b"",
            [(b"cookie", b"theme=dark")],
            False,
            id="cookie-absent",
        ),
        pytest.param(
            {"type": "cookie", "key": "session", "value": "[a-c]+"},
            b"",
            [(b"cookie", b"a=1"), (b"cookie", b"session=abc")],
            True,
            id="cookie-second-header",
        ),
        pytest.param(
            {"type": "cookie", "key": "session", "value": "abc"},
            b"",
            [(b"cookie", b"session=abc; session=zzz")],
            True,
            id="cookie-first-value",
        ),
        pytest.param(
            {"type": "cookie", "key": "Session"},
            b"",
            [(b"cookie", b"session=abc")],
            False,
            id="cookie-case-sensitive",
        ),
        pytest.param(
            {"type": "query", "key": "preview"},
            b"preview=1",
            [],
            True,
            id="query-present",
        ),
        pytest.param(
            {"type": "query", "key": "preview"},
            b"preview=",
            [],
            False,
            id="query-empty-is-absent",
        ),
        pytest.param(
            {"type": "query", "key": "v", "value": "2"},
            b"v=1&v=2",
            [],
            True,
            id="query-last-value",
        ),
        pytest.param(
            {"type": "query", "key": "v", "value": "1"},
            b"v=1&v=2",
            [],
            False,
            id="query-not-first-value",
        ),
        pytest.param(
            {"type": "query", "key": "q", "value": "a b"},
            b"q=a+b",
            [],
            True,
            id="query-decoded",
        ),
        pytest.param(
            {"type": "host", "value": "shop\\.example\\.com"},
            b"",
            [HOST],
            True,
            id="host-port-and-case",
        ),
        pytest.param(
            {"type": "host", "value": "example\\.com"},
            b"",
            [HOST],
            False,
            id="host-whole",
        ),
        pytest.param(
            {"type": "host", "value": "\\[::1\\]"},
            b"",
            [(b"host", b"[::1]:80")],
            True,
            id="host-ipv6",
        ),
        pytest.param(
            {"type": "host", "value": "a\\.test"},
            b"",
            [(b"host", b"a.test.")],
            True,
            id="host-trailing-dot",
        ),
        pytest.param({"type": "host", "value": ".*"}, b"", [], False, id="host-absent"),
    ],
)
def test_condition_has_and_missing(
    condition: Mapping[str, str],
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    expected: bool,
) -> None:
    has_route = Route("/p", has=[condition])
    missing_route = Route("/p", missing=[condition])
    req = request("/p", query, headers)

    assert (has_route.match(req) is not None) is expected
    assert (missing_route.match(req) is not None) is not expected


def test_condition_named_groups_add_params() -> None:
    route = Route(
        "/p/:slug",
        has=[
            {"type": "query", "key": "ref", "value": "(?<source>[a-z]+)-(?P<n>\\d+)"},
            {"type": "host", "value": "(?<sub>[a-z]+)\\.example\\.com"},
        ],
    )
    req = request("/p/mug", b"ref=mail-42", [(b"host", b"eu.example.com")])

    assert route.match(req) == {"slug": "mug", "source": "mail", "n": "42", "sub": "eu"}


def test_condition_unmatched_group_left_out() -> None:
    route = Route("/p", has=[{"type": "query", "key": "v", "value": "a(?<x>b)?"}])

    assert route.match(request("/p", b"v=a")) == {}


def test_condition_missing_groups_add_nothing() -> None:
    route = Route("/p", missing=[{"type": "query", "key": "v", "value": "(?<x>b)"}])

    assert route.match(request("/p", b"v=a")) == {}


def test_condition_all_has_required() -> None:
    route = Route(
        "/p", has=[{"type": "query", "key": "a"}, {"type": "query", "key": "b"}]
    )

    assert route.match(request("/p", b"a=1")) is None
    assert route.match(request("/p", b"a=1&b=2")) == {}


def test_condition_any_missing_rejects() -> None:
    route = Route(
        "/p", missing=[{"type": "query", "key": "a"}, {"type": "query", "key": "b"}]
    )

    assert route.match(request("/p", b"b=1")) is None
    assert route.match(request("/p", b"c=1")) == {}


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        pytest.param("(?<x>a)", ("x",), id="js-form"),
        pytest.param("(?P<x>a)", ("x",), id="python-form"),
        pytest.param("[(?<x>]+", (), id="in-class"),
        pytest.param("[]](?<y>a)", ("y",), id="after-bracket-class"),
        pytest.param("\\(?<x>", (), id="escaped-paren"),
        pytest.param("(?<=a)b(?<!c)", (), id="lookbehind"),
    ],
)
def test_condition_group_names(value: str, groups: tuple[str, ...]) -> None:
    assert Condition("query", "q", value).group_names == groups


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        pytest.param({"type": "ip", "key": "x"}, "not supported", id="bad-type"),
        pytest.param({"type": "header", "key": ""}, "non-empty key", id="empty-key"),
        pytest.param(
            {"type": "header", "key": "x flag"}, "not a valid header", id="bad-header"
        ),
        pytest.param(
            {"type": "cookie", "key": "a;b"}, "not a valid cookie", id="bad-cookie"
        ),
        pytest.param(
            {"type": "host", "key": "example.com", "value": "x"},
            "take no key",
            id="host-key",
        ),
        pytest.param({"type": "host"}, "needs a value", id="host-no-value"),
        pytest.param(
            {"type": "query", "key": "q", "value": "(unclosed"},
            "not a valid regular expression",
            id="bad-value",
        ),
        pytest.param(
            {"type": "query", "key": "q", "value": "a(?i)b"},
            "not a valid regular expression",
            id="late-global-flag",
        ),
        pytest.param(
            {"type": "query", "key": "q", "value": 3}, "must be a str", id="value-int"
        ),
        pytest.param({"type": "query", "key": 3}, "must be a str", id="key-int"),
    ],
)
def test_condition_invalid(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(RoutePatternError, match=reason):
        Condition(**kwargs)


def test_condition_leading_global_flag() -> None:
    route = Route("/p", has=[{"type": "header", "key": "x-plan", "value": "(?i)pro"}])

    assert route.match(request("/p", headers=[(b"x-plan", b"PRO")])) == {}
    assert route.match(request("/p", headers=[(b"x-plan", b"basic")])) is None


@pytest.mark.parametrize(
    ("has", "reason"),
    [
        pytest.param({"type": "query", "key": "q"}, "Wrap a single", id="single-map"),
        pytest.param("cookie", "Wrap a single", id="string"),
        pytest.param(
            [{"type": "query", "key": "q", "val": "x"}],
            "unknown keys",
            id="unknown-key",
        ),
        pytest.param([{"key": "q"}], "missing 'type'", id="no-type"),
        pytest.param([("query", "q")], "must be a Condition", id="tuple-item"),
        pytest.param(
            [{"type": "query", "key": "q", "value": "(?<slug>.*)"}],
            "reuses",
            id="group-shadows-param",
        ),
    ],
)
def test_route_invalid_conditions(has: Any, reason: str) -> None:
    with pytest.raises(RoutePatternError, match=reason) as caught:
        Route("/p/:slug", has=has)

    assert "'/p/:slug'" in str(caught.value)


def test_router_first_match_wins() -> None:
    router = Router(["/a/:x", "/a/b", "/:any*"])
    found = router.match(request("/a/b"))

    assert found is not None
    assert found.route.source == "/a/:x"
    assert found.params == {"x": "b"}


def test_router_falls_through_on_conditions() -> None:
    router = Router(
        [
            {"source": "/p/:id", "has": [{"type": "cookie", "key": "beta"}]},
            {"source": "/p/:id", "missing": [{"type": "query", "key": "raw"}]},
            "/p/(.*)",
        ]
    )

    with_cookie = router.match(request("/p/1", b"", [(b"cookie", b"beta=1")]))
    plain = router.match(request("/p/1"))
    raw = router.match(request("/p/1", b"raw=1"))

    assert with_cookie is not None and with_cookie.route is router.routes[0]
    assert plain is not None and plain.route is router.routes[1]
    assert raw is not None and raw.route is router.routes[2]
    assert raw.params == {"0": "1"}


def test_router_trailing_slash_order() -> None:
    # "/files/" matches the first route only as it is, and the second only
    # without its slash; the earlier route still wins.
    router = Router(["/files/(.*)", "/files"])
    found = router.match(request("/files/"))

    assert found is not None
    assert found.route.source == "/files/(.*)"


def test_router_miss_returns_none() -> None:
    router = Router(["/products/:slug", "/blog/:path*"])

    assert router.match(request("/cart")) is None


def test_router_accepts_route_objects() -> None:
    route = Route("/x")
    router = Router([route])

    assert router.routes == (route,)


def test_router_params_read_only() -> None:
    found = Router(["/a/:x"]).match(request("/a/1"))

    assert found is not None
    with pytest.raises(TypeError):
        found.params["x"] = "2"  # type: ignore[index]


def test_route_match_wraps_plain_dict() -> None:
    params = {"x": "1"}
    found = RouteMatch(Route("/a/:x"), params)
    params["x"] = "2"

    assert found.params == {"x": "1"}


@pytest.mark.parametrize(
    ("routes", "reason"),
    [
        pytest.param([], "at least one pattern", id="empty"),
        pytest.param("/products/:slug", "Wrap the pattern in a list", id="bare-str"),
        pytest.param(b"/x", "Wrap the pattern in a list", id="bare-bytes"),
        pytest.param({"source": "/x"}, "use a list", id="bare-mapping"),
        pytest.param({"/a", "/b"}, "use a list", id="set"),
        pytest.param([3], "must be a pattern string", id="bad-item"),
        pytest.param(
            [{"source": "/x", "locale": False}], "unknown keys", id="unknown-key"
        ),
        pytest.param([{"has": []}], "missing 'source'", id="no-source"),
    ],
)
def test_router_invalid(routes: Any, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        Router(routes)


def test_router_invalid_pattern_named() -> None:
    with pytest.raises(RoutePatternError, match="'/ok/:'"):
        Router(["/fine", "/ok/:"])


def test_router_miss_skips_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    router = Router([f"/section{i}/:slug" for i in range(200)])

    def fail(self: Route, request: RequestView) -> None:
        raise AssertionError("a miss must not reach Route.match")

    monkeypatch.setattr(Route, "match", fail)

    assert router.match(request("/elsewhere/x")) is None
    assert router.match(request("/elsewhere/x/")) is None


def miss_peak(router: Router, path: str) -> int:
    """Return the peak memory that 1000 misses of ``path`` add, in bytes.

    The least of three runs is taken, so that a garbage collection or an
    allocation of another thread during one run does not count.
    """
    return min(_one_miss_peak(router, path) for _ in range(3))


def _one_miss_peak(router: Router, path: str) -> int:
    miss = request(path)
    router.match(miss)
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            router.match(miss)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


@pytest.mark.parametrize(
    "path",
    [pytest.param("/static/app.js", id="plain"), pytest.param("/x/", id="slash")],
)
def test_router_miss_memory_flat(path: str) -> None:
    one = Router(["/section/:slug"])
    many = Router([f"/section{i}/:slug" for i in range(500)])

    # tracemalloc itself costs about 1 KiB here; what a miss costs must not
    # grow with the number of routes.
    assert miss_peak(many, path) - miss_peak(one, path) < 256


def test_router_many_routes_hit_last() -> None:
    router = Router([f"/section{i}/:slug" for i in range(500)])
    found = router.match(request("/section499/mug"))

    assert found is not None
    assert found.params == {"slug": "mug"}


PATTERNS = [
    "/",
    "/a",
    "/a/:x",
    "/a/:x?",
    "/a/:x*",
    "/a/:x+",
    "/b/(.*)",
    "/:x(\\d+)",
    "/:x.:y?",
    "/((?!a).*)",
]
PATHS = st.text(alphabet="/ab1.", max_size=12).map(lambda s: "/" + s)


@settings(max_examples=300, deadline=None)
@given(routes=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=5), path=PATHS)
def test_router_agrees_with_routes(routes: list[str], path: str) -> None:
    router = Router(routes)
    found = router.match(request(path))
    expected = next(
        (
            (route, params)
            for route in router.routes
            if (params := route.match(request(path))) is not None
        ),
        None,
    )

    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (found.route, dict(found.params)) == expected


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        pytest.param("/products/{slug}", "':slug'", id="starlette"),
        pytest.param("/items/{item_id:int}", "':item_id'", id="starlette-converter"),
        pytest.param("/products/<slug>", "':slug'", id="flask"),
        pytest.param("/products/<int:pid>", "':pid'", id="flask-converter"),
    ],
)
def test_framework_param_syntax_rejected(pattern: str, hint: str) -> None:
    with pytest.raises(RoutePatternError) as info:
        Route(pattern)
    assert repr(pattern) in str(info.value)
    assert hint in str(info.value)


def test_optional_group_still_allowed() -> None:
    route = Route("/shop{/:lang}?")
    assert route.match(RequestView("GET", "/shop/de")) == {"lang": "de"}
    assert route.match(RequestView("GET", "/shop")) == {}
