"""Behaviour every adapter shares, from reports about response-rewriting bugs.

Every test here runs through the WSGI adapter, the ASGI adapter and the
Django adapter in both its modes (the ``run`` fixture). The page ``PAGE``
carries one placeholder; the renderer returns the fixed fragment
``FRAGMENT`` so that lengths can be checked exactly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from adapter_harness import BROWSER, Downstream, Runner
from edge_personalize import (
    Context,
    Personalizer,
    Recommendation,
    RecommendationRequest,
    Slot,
    StaticProvider,
)

MARK = b"<!-- personalize:recs -->"
PAGE = b"<html><body><h1>Mug</h1>" + MARK + b"</body></html>"
FRAGMENT = '<aside class="recs"><a href="/p/42">Mug &amp; Saucer</a></aside>'
PERSONALIZED = PAGE.replace(MARK, FRAGMENT.encode())
HTML = ("Content-Type", "text/html; charset=utf-8")
ITEM = Recommendation(id="42", title="Mug & Saucer", url="/p/42")


def fixed_renderer(slot: str, items: Sequence[Recommendation], context: Context) -> str:
    return FRAGMENT


class RecordingProvider:
    """A provider that sleeps, then returns one item, and records how it ended."""

    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.delay = delay
        self.error = error
        self.started = 0
        self.completed = 0
        self.cancelled = 0

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        self.started += 1
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error is not None:
            raise self.error
        self.completed += 1
        return [ITEM]


def make(
    provider: object | None = None, *, deadline: float = 0.5, **options: object
) -> Personalizer:
    providers = [provider if provider is not None else StaticProvider([ITEM])]
    return Personalizer(
        routes=["/shop/:rest*"],
        slots={"recs": Slot(providers=providers, renderer=fixed_renderer)},  # type: ignore[list-item]
        deadline=deadline,
        **options,  # type: ignore[arg-type]
    )


def lowered(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header names in lower case: ASGI sends them so."""
    return [(name.lower(), value) for name, value in headers]


def html_response(*chunks: bytes, length: bool = True) -> Downstream:
    headers = [HTML]
    if length:
        headers.append(("Content-Length", str(sum(map(len, chunks)))))
    return Downstream(chunks=chunks, headers=headers)


# Framing: Content-Length, several chunks, bodiless statuses


def test_content_length_after_rewrite(run: Runner) -> None:
    result = run(make(), html_response(PAGE))
    assert result.body == PERSONALIZED
    assert result.header("Content-Length") == str(len(PERSONALIZED))


def test_content_length_on_fallback(run: Runner) -> None:
    provider = RecordingProvider(error=RuntimeError("model down"))
    result = run(make(provider), html_response(PAGE))
    assert result.body == PAGE
    assert result.header("Content-Length") == str(len(PAGE))


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(
            [
                b"<html><head><title>Docs</title></head>",
                b"<body><div id=app></div>" + MARK,
                b"</body></html>",
            ],
            id="middle",
        ),
        pytest.param(
            [MARK + b"<html><body>", b"<p>x</p>", b"</body></html>"], id="first"
        ),
        pytest.param(
            [b"<html><body>", b"<p>x</p>", b"</body></html>" + MARK], id="last"
        ),
    ],
)
def test_several_chunks_all_kept(run: Runner, chunks: list[bytes]) -> None:
    result = run(make(), html_response(*chunks))
    expected = b"".join(chunks).replace(MARK, FRAGMENT.encode())
    assert result.body == expected
    assert result.header("Content-Length") == str(len(expected))


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        pytest.param(304, [("ETag", '"v1"')], id="304-no-type"),
        pytest.param(204, [HTML], id="204-html"),
        pytest.param(304, [HTML, ("Content-Length", "49")], id="304-html-length"),
        pytest.param(404, [HTML], id="404-html"),
        pytest.param(500, [HTML], id="500-html"),
    ],
)
def test_other_statuses_untouched(
    run: Runner, status: int, headers: list[tuple[str, str]]
) -> None:
    provider = RecordingProvider(delay=5)
    body = PAGE if status >= 400 else b""
    result = run(
        make(provider), Downstream(chunks=[body], status=status, headers=headers)
    )
    assert result.status == status
    assert lowered(result.headers) == lowered(headers)
    assert result.body == body
    assert provider.completed == 0


# Chunk boundaries


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([PAGE[:30], PAGE[30:]], id="inside-comment"),
        pytest.param(
            [
                PAGE[: PAGE.index(MARK) + 3],
                PAGE[PAGE.index(MARK) + 3 : PAGE.index(MARK) + 12],
                PAGE[PAGE.index(MARK) + 12 :],
            ],
            id="three-way",
        ),
        pytest.param(split_every(PAGE, 1), id="one-byte"),
        pytest.param(split_every(PAGE, 7), id="seven-bytes"),
    ],
)
def test_placeholder_split_across_chunks(run: Runner, chunks: list[bytes]) -> None:
    result = run(make(), html_response(*chunks))
    assert result.body == PERSONALIZED


def test_near_miss_prefix_kept(run: Runner) -> None:
    # A placeholder of an unknown slot that shares the prefix, split right
    # where a streaming matcher would have to decide.
    page = b"<p><!-- personalize:rec --><!-- personalize:recs --></p>"
    cut = page.index(b"rec") + 3
    result = run(make(), html_response(page[:cut], page[cut:]))
    assert result.body == b"<p><!-- personalize:rec -->" + FRAGMENT.encode() + b"</p>"


@pytest.mark.parametrize("cut", range(1, 30, 4))
def test_placeholder_inside_open_comment_kept(run: Runner, cut: int) -> None:
    # "<!-- person" opens a comment that the first "-->" closes, so the
    # placeholder text is comment data, as an HTML tokenizer sees it.
    page = b"<p><!-- person<!-- personalize:recs --></p>"
    result = run(make(), html_response(page[:cut], page[cut:]))
    assert result.body == page


# Charsets and content types


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/html; charset=windows-1252", id="windows-1252"),
        pytest.param("text/html; charset=ISO-8859-1", id="iso-8859-1-upper"),
    ],
)
def test_legacy_charset_gets_references(run: Runner, content_type: str) -> None:
    page = b"<html><body><p>Caf\xe9 \x80</p>" + MARK + b"</body></html>"
    item = Recommendation(id="1", title="Arrow \u2192 \u6f22", url="/p/1")
    personalizer = Personalizer(
        routes=["/shop/:rest*"], slots={"recs": Slot([StaticProvider([item])])}
    )
    result = run(
        personalizer,
        Downstream(chunks=[page], headers=[("Content-Type", content_type)]),
    )
    assert result.body.startswith(b"<html><body><p>Caf\xe9 \x80</p>")
    assert b"&#8594;" in result.body
    assert b"&#28450;" in result.body
    assert result.header("Content-Type") == content_type
    assert result.header("Content-Length") == str(len(result.body))


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param('text/html; charset="utf-8"', id="quoted"),
        pytest.param('Text/HTML ; Charset="UTF-8"', id="mixed-case"),
        pytest.param("text/html", id="no-charset"),
    ],
)
def test_html_types_rewritten(run: Runner, content_type: str) -> None:
    result = run(
        make(), Downstream(chunks=[PAGE], headers=[("Content-Type", content_type)])
    )
    assert result.body == PERSONALIZED


def test_invalid_charset_passes_through(
    run: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    headers = [("Content-Type", "text/html; charset=1250")]
    with caplog.at_level(logging.WARNING, logger="edge_personalize"):
        result = run(make(), Downstream(chunks=[PAGE], headers=headers))
    assert result.body == PAGE
    assert lowered(result.headers) == lowered(headers)
    assert "1250" in caplog.text


def test_utf16_page_warns(run: Runner, caplog: pytest.LogCaptureFixture) -> None:
    page = "\ufeff<p>Mug</p><!-- personalize:recs -->".encode("utf-16-le")
    headers = [("Content-Type", "text/html; charset=utf-16")]
    with caplog.at_level(logging.WARNING, logger="edge_personalize"):
        result = run(make(), Downstream(chunks=[page], headers=headers))
    assert result.body == page
    assert lowered(result.headers) == lowered(headers)
    assert "'UTF-16LE' is not ASCII-compatible" in caplog.text


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param(
            [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n" + MARK, id="png"
        ),
        pytest.param(
            [("Content-Type", "application/json")], b'{"a": "' + MARK + b'"}', id="json"
        ),
        pytest.param([], PAGE, id="no-type"),
        pytest.param([("Content-Type", "application/xhtml+xml")], PAGE, id="xhtml"),
        pytest.param([HTML, ("Content-Encoding", "gzip")], PAGE, id="gzip"),
        pytest.param([HTML, ("Content-Range", "bytes 0-10/99")], PAGE, id="range"),
        pytest.param(
            [HTML, ("Cache-Control", "no-transform")], PAGE, id="no-transform"
        ),
        pytest.param(
            [HTML, ("Content-Disposition", "attachment; filename=a.html")],
            PAGE,
            id="attachment",
        ),
    ],
)
def test_ineligible_response_untouched(
    run: Runner, headers: list[tuple[str, str]], body: bytes
) -> None:
    provider = RecordingProvider(delay=5)
    result = run(make(provider), Downstream(chunks=[body], headers=headers))
    assert result.body == body
    assert lowered(result.headers) == lowered(headers)
    assert provider.completed == 0


# Where placeholders count


def test_only_real_comments_replaced(run: Runner) -> None:
    page = (
        b'<html><head><script>var t="' + MARK + b'";</script></head>'
        b"<body><textarea>" + MARK + b'</textarea><p title="' + MARK + b'">x</p>'
        b"<p>&lt;!-- personalize:recs --&gt;</p><main>" + MARK + b"</main>"
        b"<footer>" + MARK + b"</footer></body></html>"
    )
    result = run(make(), html_response(page))
    head, _, rest = page.partition(b"<main>")
    assert result.body.startswith(head)
    # Policy: every real placeholder of a slot is replaced.
    assert result.body.endswith(
        b"<main>"
        + FRAGMENT.encode()
        + b"</main><footer>"
        + FRAGMENT.encode()
        + b"</footer></body></html>"
    )


def test_missing_placeholder_unchanged(
    run: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    provider = RecordingProvider(delay=5)
    page = b"<html><body><p>No slot here</p></body></html>"
    with caplog.at_level(logging.DEBUG, logger="edge_personalize"):
        result = run(make(provider), html_response(page))
    assert result.body == page
    assert result.header("Content-Length") == str(len(page))
    assert result.header("Cache-Control") is None
    assert provider.completed == 0
    assert "No placeholder" in caplog.text


@pytest.mark.parametrize(
    "mark",
    [
        pytest.param(b"<!--personalize:recs-->", id="no-spaces"),
        pytest.param(b"<!--   personalize:recs  \n-->", id="more-whitespace"),
        pytest.param(b"<!-- PERSONALIZE:RECS -->", id="upper-case"),
    ],
)
def test_placeholder_tolerance(run: Runner, mark: bytes) -> None:
    result = run(make(), html_response(b"<main>" + mark + b"</main>"))
    assert result.body == b"<main>" + FRAGMENT.encode() + b"</main>"


def test_partial_without_placeholder_untouched(run: Runner) -> None:
    result = run(
        make(),
        html_response(b"<li>item</li>"),
        headers=[BROWSER, ("HX-Request", "true")],
    )
    assert result.body == b"<li>item</li>"


def test_pair_fallback_replaced(run: Runner) -> None:
    page = (
        b"<main><!-- personalize:recs --><p>Popular</p>"
        b"<!-- /personalize:recs --></main>"
    )
    result = run(make(), html_response(page))
    assert result.body == b"<main>" + FRAGMENT.encode() + b"</main>"


def test_pair_fallback_kept_on_timeout(run: Runner) -> None:
    page = (
        b"<main><!-- personalize:recs --><p>Popular</p>"
        b"<!-- /personalize:recs --></main>"
    )
    provider = RecordingProvider(delay=5)
    result = run(make(provider, deadline=0.05), html_response(page))
    assert result.body == page
    assert provider.completed == 0


def test_alias_placeholder(run: Runner) -> None:
    personalizer = Personalizer(
        routes=["/shop/:rest*"],
        slots={
            "recommendations": Slot([StaticProvider([ITEM])], renderer=fixed_renderer)
        },
    )
    page = b"<main><!-- PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER --></main>"
    result = run(personalizer, html_response(page))
    assert result.body == b"<main>" + FRAGMENT.encode() + b"</main>"


def test_hostile_items_escaped(run: Runner) -> None:
    items = [
        Recommendation(
            id="x",
            title="</script><img src=x onerror=alert(1)>",
            url="/p/x",
            image_url="data:text/html,<script>alert(1)</script>",
            reason='"><svg onload=alert(1)> <!-- --!>',
        ),
        Recommendation(id="y", title="a\u2028b", url=" JaVaScRiPt:alert(1)"),
        Recommendation(id="z", title="ok", url="javascript:alert(1)"),
    ]
    personalizer = Personalizer(
        routes=["/shop/:rest*"], slots={"recs": Slot([StaticProvider(items)])}
    )
    result = run(personalizer, html_response(PAGE))
    assert result.body != PAGE
    assert b"<img src=x" not in result.body
    assert b"<svg" not in result.body
    assert b"javascript:" not in result.body.lower()
    assert b"data:text/html" not in result.body
    assert b"<script" not in result.body
    assert b"&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in result.body


# Request selection


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        pytest.param("/about", "GET", [BROWSER], id="unmatched-route"),
        pytest.param("/shop/mug", "POST", [BROWSER], id="post"),
        pytest.param("/shop/mug", "HEAD", [BROWSER], id="head"),
    ],
)
def test_unselected_requests_untouched(
    run: Runner, path: str, method: str, headers: list[tuple[str, str]]
) -> None:
    provider = RecordingProvider()
    response = html_response(PAGE)
    result = run(make(provider), response, path=path, method=method, headers=headers)
    assert result.body == PAGE
    assert lowered(result.headers) == lowered(response.headers)
    assert provider.started == 0


CRAWLER = ("User-Agent", "Googlebot/2.1")


def test_crawler_page_varies(run: Runner) -> None:
    # A crawler gets the fallback, and a shared cache must not hand that
    # copy to browsers, which would be personalized.
    provider = RecordingProvider()
    headers = [HTML, ("Content-Length", str(len(PAGE)))]
    headers.append(("Cache-Control", "public, max-age=300"))
    response = Downstream(chunks=[PAGE], headers=headers)
    result = run(make(provider), response, headers=[CRAWLER])
    assert result.body == PAGE
    assert result.header("Vary") == "Cookie, Accept-Language, User-Agent"
    assert result.header("Cache-Control") == "public, max-age=300"
    assert result.header("Content-Length") == str(len(PAGE))
    assert provider.started == 0


def test_crawler_page_without_placeholder_untouched(run: Runner) -> None:
    page = b"<html><body><h1>Mug</h1></body></html>"
    response = html_response(page)
    result = run(make(), response, headers=[CRAWLER])
    assert result.body == page
    assert lowered(result.headers) == lowered(response.headers)


def test_fallback_page_private(run: Runner) -> None:
    # The next visitor may be personalized, so no shared cache keeps this
    # copy, and a revalidating browser gets a new attempt instead of a 304.
    provider = RecordingProvider(error=RuntimeError("model down"))
    headers = [
        HTML,
        ("Vary", "Accept-Encoding"),
        ("ETag", '"v1"'),
        ("Last-Modified", "Wed, 02 Dec 2026 10:00:00 GMT"),
        ("Cache-Control", "public, s-maxage=600"),
        ("Surrogate-Control", "max-age=600"),
    ]
    result = run(make(provider), Downstream(chunks=[PAGE], headers=headers))
    assert result.body == PAGE
    assert result.header("Vary") == (
        "Accept-Encoding, Cookie, Accept-Language, User-Agent"
    )
    assert result.header("Cache-Control") == "private"
    assert result.header("ETag") is None
    assert result.header("Last-Modified") is None
    assert result.header("Surrogate-Control") is None
    assert result.header("Content-Length") == str(len(PAGE))


# Shared caches and validators


def test_personalized_headers(run: Runner) -> None:
    headers = [
        HTML,
        ("Content-Length", str(len(PAGE))),
        ("Cache-Control", "public, max-age=60, s-maxage=600"),
        ("ETag", '"v1"'),
        ("Last-Modified", "Wed, 02 Dec 2026 10:00:00 GMT"),
        ("Vary", "Accept-Encoding"),
        ("Content-MD5", "abc"),
        ("Accept-Ranges", "bytes"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    result = run(make(), Downstream(chunks=[PAGE], headers=headers))
    assert result.body == PERSONALIZED
    assert result.header("Cache-Control") == "private, max-age=60"
    assert result.header("ETag") is not None
    assert result.header("ETag").startswith('"v1-ep.')
    assert (
        result.header("Vary") == "Accept-Encoding, Cookie, Accept-Language, User-Agent"
    )
    assert result.header("Last-Modified") is None
    assert result.header("Content-MD5") is None
    assert result.header("Accept-Ranges") is None
    cookies = [v for k, v in result.headers if k.lower() == "set-cookie"]
    assert cookies == ["a=1", "b=2"]


def test_over_cap_passes_through(run: Runner, caplog: pytest.LogCaptureFixture) -> None:
    chunks = [PAGE, b"x" * 100, b"y" * 100]
    provider = RecordingProvider(delay=5)
    with caplog.at_level(logging.WARNING, logger="edge_personalize"):
        result = run(
            make(provider, max_body_size=150), html_response(*chunks, length=False)
        )
    assert result.body == b"".join(chunks)
    assert result.header("Content-Length") is None
    assert provider.completed == 0
    assert "max_body_size" in caplog.text


def test_declared_length_over_cap_streams(run: Runner) -> None:
    result = run(make(max_body_size=10), html_response(PAGE))
    assert result.body == PAGE
    assert result.header("Content-Length") == str(len(PAGE))


def test_slow_provider_gives_fallback(run: Runner) -> None:
    provider = RecordingProvider(delay=5)
    result = run(make(provider, deadline=0.05), html_response(PAGE))
    assert result.body == PAGE
    assert provider.completed == 0


def test_provider_within_deadline_used(run: Runner) -> None:
    provider = RecordingProvider(delay=0.05)
    result = run(make(provider, deadline=2.0), html_response(PAGE))
    assert result.body == PERSONALIZED
    assert provider.completed == 1


class StrayBaseException(BaseException):
    """Not an Exception: what a careless provider or renderer might raise."""


class BaseExceptionProvider:
    features: frozenset[str] = frozenset()

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def recommend(self, request: RecommendationRequest) -> list[Recommendation]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(StrayBaseException("boom"), id="custom"),
        pytest.param(KeyboardInterrupt(), id="keyboard-interrupt"),
        pytest.param(SystemExit(3), id="system-exit"),
    ],
)
def test_provider_base_exception_falls_back(run: Runner, error: BaseException) -> None:
    result = run(make(BaseExceptionProvider(error)), html_response(PAGE))
    assert result.body == PAGE
    # The loop that ran the provider still serves the next request.
    again = run(make(), html_response(PAGE))
    assert again.body == PERSONALIZED


def raising_renderer(
    slot: str, items: Sequence[Recommendation], context: Context
) -> str:
    raise StrayBaseException("template bug")


def test_renderer_base_exception_falls_back(run: Runner) -> None:
    personalizer = Personalizer(
        routes=["/shop/:rest*"],
        slots={"recs": Slot([StaticProvider([ITEM])], renderer=raising_renderer)},
    )
    result = run(personalizer, html_response(PAGE))
    assert result.body == PAGE


class EndlessProvider:
    """Returns a sequence far too long to walk: a billion entries."""

    features: frozenset[str] = frozenset()

    async def recommend(self, request: RecommendationRequest) -> range:
        return range(10**9)


def test_huge_provider_result_bounded(run: Runner) -> None:
    # Walking every entry would take minutes and trip the test timeout.
    chain_first = [EndlessProvider(), StaticProvider([ITEM])]
    personalizer = Personalizer(
        routes=["/shop/:rest*"],
        slots={"recs": Slot(chain_first, renderer=fixed_renderer)},  # type: ignore[list-item]
    )
    result = run(personalizer, html_response(PAGE))
    assert result.body == PERSONALIZED


def test_cdn_directives_dropped(run: Runner) -> None:
    headers = [
        HTML,
        ("Cache-Control", "public, max-age=600"),
        ("CDN-Cache-Control", "public, max-age=600"),
        ("Cloudflare-CDN-Cache-Control", "max-age=600"),
        ("Surrogate-Control", "max-age=600"),
        ("Fastly-Surrogate-Control", "max-age=600"),
    ]
    result = run(make(), Downstream(chunks=[PAGE], headers=headers))
    assert result.body == PERSONALIZED
    assert result.header("Cache-Control") == "private, max-age=600"
    assert result.header("CDN-Cache-Control") is None
    assert result.header("Cloudflare-CDN-Cache-Control") is None
    assert result.header("Surrogate-Control") is None
    assert result.header("Fastly-Surrogate-Control") is None
