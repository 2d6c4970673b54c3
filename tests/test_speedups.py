"""Tests of the C scanner in ``edge_personalize._speedups``.

The rewriting test modules run whole with both scanners (see the ``scanner``
fixture). Here the C function is tested on its own, and random markup is fed
through both scanners to check that they report the same events.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_personalize import rewriting
from edge_personalize.rewriting import _TAG_RE, Placeholder, Rewriter
from scanner_switch import COMPILED_RUN, require_compiled, scanner_in_use
from test_rewriting_properties import chunkings, joined, merged

if COMPILED_RUN is None:
    require_compiled(module=True)

assert COMPILED_RUN is not None  # the module is skipped above otherwise
markup_run = COMPILED_RUN
P = b"<!-- personalize:recs -->"


# --- markup_run on its own -------------------------------------------------

CONSUMED_WHOLE = [
    b"plain text, no markup",
    b"<p class=a>x</p><br/><img src=\"a.png\" alt='b'>",
    b'<a title="x>y">t</a>',
    b"<a title='\"'>",
    b"<a b=\"1\"c=2 d = '>'>",
    b"<a =x>",
    b'<a x"y=">">',
    b'<a x=y"z>',
    b"<a / b / >",
    b"<a x= >",
    b"<script>if (a<b && c>d) {}</script>",
    b"<SCRIPT type=module>x</script >",
    b"<script></scriptx></script/>",
    b"<script><!--</script>",
    b"<script><!-- a --></script>",
    b"<script><!--->x</script>",
    b"<script><!--<script>x</script>y--></script>",
    b"<script><!--<SCRIPT>--></script>",
    b"<script><!--<scriptx></script>",
    b"<script>a--><!-- <script></script>--></script>",
    b"<script><!--<script></script></script>",
    b"<script><!--><script></script>",
    b"<style>" + P + b"</style>",
    b"<title>" + P + b"</TITLE>",
    b"<textarea></textareax>" + P + b"</textarea>",
    b"<noscript>" + P + b"</noscript>",
    b"<xmp><b></xmp>",
    b"<iframe><!--</iframe>",
    b"<!DOCTYPE html>",
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "x">',
    b"<!-->",
    b"<!--->",
    b"<!---->",
    b"<!-- a -- b --!>",
    b"<!-- <!-- -->",
    b"<!-- personal -->",
    b"</>",
    b"</ x>",
    b"<?php echo 1; ?>",
    b"<!x>",
    b"< 3>",
    b"<<p>>",
    b"</svg></math></plaintext>",
]


@pytest.mark.parametrize("html", CONSUMED_WHOLE)
def test_run_consumes_whole(html: bytes) -> None:
    assert markup_run(html, 0, len(html)) == len(html)


HANDED_OVER = [
    (P, 0),
    (b"<p>" + P, 3),
    (b"<!--personalize:RECS-->", 0),
    (b"<!--\n /PERSONALIZE:recs -->", 0),
    (b"<!-- PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->", 0),
    (b"<b>x</b><svg><title>", 8),
    (b"<MATH>", 0),
    (b"<plaintext>x", 0),
    (b"<p><script><!--<script></script>", 3),
    (b"<script>x</script", 0),
    (b"<style>", 0),
    (b'<a title="x>y', 0),
    (b"<a", 0),
    (b"x<!--", 1),
    (b"x<!-- unfinished", 1),
    (b"x<!-", 1),
]


@pytest.mark.parametrize(("html", "stop"), HANDED_OVER)
def test_run_hands_over(html: bytes, stop: int) -> None:
    assert markup_run(html, 0, len(html)) == stop


def test_compiled_scanner_flag() -> None:
    assert rewriting.COMPILED_SCANNER


def test_run_respects_pos_and_endpos() -> None:
    html = b"<p>a</p>" + P + b"<p>b</p>"
    after = len(b"<p>a</p>") + len(P)
    assert markup_run(html, 0, 4) == 4
    assert markup_run(html, 0, 6) == 4  # "</p" is cut off at endpos
    assert markup_run(html, after, len(html)) == len(html)
    assert markup_run(html, after, after) == after


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("<p>", 0, 3), TypeError),
        ((bytearray(b"<p>"), 0, 3), TypeError),
        ((b"<p>", 0), TypeError),
        ((b"<p>", -1, 3), ValueError),
        ((b"<p>", 2, 1), ValueError),
        ((b"<p>", 0, 4), ValueError),
        ((b"<p>", 0, "3"), TypeError),
    ],
)
def test_run_rejects_bad_arguments(args: tuple[object, ...], error: type) -> None:
    with pytest.raises(error):
        markup_run(*args)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(html=st.binary(max_size=200), data=st.data())
def test_run_stops_at_lt_or_end(html: bytes, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, len(html)))
    end = data.draw(st.integers(pos, len(html)))
    stop = markup_run(html, pos, end)
    assert pos <= stop <= end
    assert stop == end or html[stop : stop + 1] == b"<"


# Quoted values that hold ">" or the other quote, and "=" with spaces, make
# every attribute state likely to matter within a few tokens.
tag_token = st.sampled_from(
    [b" ", b"\t", b"a", b"B", b"=", b" =", b"= ", b'"', b"'", b'">"', b"'>'",
     b"\"'\"", b"'\"'", b"/", b"/>", b">", b"x=y", b"\x0b", b"-"]
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(body=st.lists(tag_token, max_size=20).map(b"".join), closing=st.booleans())
def test_run_ends_tag_as_regex(body: bytes, closing: bool) -> None:
    html = (b"</x" if closing else b"<x") + body + b">"
    match = _TAG_RE.match(html)

    # A tag cut off at endpos is handed over (0); a whole one and the text
    # after it are consumed. So the first endpos that is consumed is the end.
    ends = [k for k in range(1, len(html) + 1) if markup_run(html, 0, k) == k]
    if match is None:
        assert ends == []  # an open quoted value: the tag never ends
    else:
        assert ends[0] == match.end()


# --- Both scanners on random markup ------------------------------------------

token = st.sampled_from(
    [b"<", b">", b"/", b"!", b"-", b"--", b"=", b'"', b"'", b" ", b"\n", b"\t",
     b"x", b"?", b"<p", b"<b", b"</p", b"<a href=", b" title='", b' alt="',
     b'">"', b"'>'", b" =", b"/>",
     b"<script", b"</script", b"<SCRIPT", b"<style", b"</style", b"<title",
     b"</title", b"<textarea", b"</textarea", b"<xmp", b"</xmp", b"<iframe",
     b"</iframe", b"<noscript", b"</noscript", b"<noembed", b"</noembed",
     b"<noframes", b"</noframes", b"<plaintext", b"<svg", b"</svg", b"<math",
     b"</math", b"<foreignObject", b"<mi", b"<!--", b"-->", b"--!>", b"<!-->",
     b"<!DOCTYPE", b"<![CDATA[", b"]]>", b"<?", b"</>", P, P,
     b"<!-- /personalize:recs -->", b"<!--PERSONALIZE:other-->"]
)  # fmt: skip
# A placeholder after about every third token, so that a tokenizer state
# read wrongly almost always moves a placeholder in or out of a real comment.
piece = st.tuples(token, st.sampled_from([b"", b"", P]))
soups = st.lists(piece, max_size=40).map(lambda pieces: b"".join(map(b"".join, pieces)))


def events_with(
    markup_run_: Callable[[bytes, int, int], int] | None, pieces: list[bytes]
) -> list[bytes | Placeholder]:
    with scanner_in_use(markup_run_):
        rewriter = Rewriter(["recs", "other"], max_region=64)
        events: list[bytes | Placeholder] = []
        for piece in pieces:
            events.extend(rewriter.feed(piece))
        events.extend(rewriter.close())
    return events


@settings(max_examples=1000, deadline=None)
@given(soup=soups, data=st.data())
def test_scanners_agree(soup: bytes, data: st.DataObject) -> None:
    pieces = data.draw(chunkings(soup))

    compiled = events_with(COMPILED_RUN, pieces)
    regex = events_with(None, pieces)

    assert merged(compiled) == merged(regex)
    assert joined(compiled) == soup
