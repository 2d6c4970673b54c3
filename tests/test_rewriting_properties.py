"""Property tests of the rewriter with random documents and random chunking.

Two generators feed them. ``documents`` joins self-contained pieces (text,
tags, attributes, comments, raw text, scripts, SVG and MathML) whose real
placeholders are known by construction, so the rewritten output can be
checked byte for byte. ``soups`` strings markup fragments together at random
and takes html5lib's word for what is real.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_personalize.rewriting import (
    _TAG_RE,
    Placeholder,
    Rewriter,
    _TagScanner,
    find_placeholders,
    rewrite,
)
from html5_oracle import html5lib_slots

# Every test runs with the C scanner and with the regex scanner.
pytestmark = pytest.mark.usefixtures("scanner")

Event = bytes | Placeholder
REAL = None  # marks a real placeholder among the parts of a piece
TEXT_P = b"<!-- personalize:recs -->"  # placeholder text in a place it is not real
SPELLINGS = [
    b"<!-- personalize:recs -->",
    b"<!--personalize:RECS-->",
    b"<!--\n\tPersonalize:recs \r\n-->",
]
FRAGMENT = b"<aside>\xe2\x86\x92 recs</aside>"

Part = bytes | None

text_token = st.sampled_from(
    [b"a", b"b c", b"&amp;", b"=", b'"', b"'", b"/", b">", b"-", b"--", b"!",
     b"\n", b"< ", b"<3", b"x=y", b"\xc3\xa9"]
)  # fmt: skip
texts = st.lists(text_token, max_size=6).map(b"".join)
names = st.sampled_from([b"div", b"p", b"span", b"a", b"B", b"td", b"img", b"br"])
value_token = st.sampled_from([b"v", b" ", b">", b"<", b"=", b"/", TEXT_P, b"&#34;"])


@st.composite
def attribute(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from([b"class", b"title", b"data-x", b"HREF", b"on"]))
    value = b"".join(draw(st.lists(value_token, max_size=4)))
    quote = draw(st.sampled_from([b'"', b"'", b""]))
    if quote:
        value = value.replace(quote, b"")
    else:
        value = b"".join(b"." if c in b"\t\n\f\r >\"'" else bytes([c]) for c in value)
        if not value:
            return b" " + name
    space = draw(st.sampled_from([b"", b" ", b"\n "]))
    return b" " + name + space + b"=" + space + quote + value + quote


@st.composite
def tag(draw: st.DrawFn) -> list[Part]:
    name = draw(names)
    if draw(st.booleans()):
        return [b"</" + name + b">"]
    attrs = b"".join(draw(st.lists(attribute(), max_size=3)))
    end = draw(st.sampled_from([b">", b"/>", b" >"]))
    return [b"<" + name + attrs + end]


comment_token = st.sampled_from(
    [b"a", b" ", b"<!-- personalize:recs ", b"<!", b"-", b"personalize:recs",
     b"<script>", b"</script>", b"<", b"!"]
)  # fmt: skip


@st.composite
def comment(draw: st.DrawFn) -> list[Part]:
    kind = draw(st.sampled_from(["plain", "empty", "dash", "bang"]))
    if kind == "empty":
        return [b"<!-->"]
    if kind == "dash":
        return [b"<!--->"]
    # The leading "c" keeps the comment from being a placeholder itself.
    data = b"c" + b"".join(draw(st.lists(comment_token, max_size=5)))
    end = b"--!>" if kind == "bang" else b"-->"
    return [b"<!--" + data + end]


raw_token = st.sampled_from(
    [b"x", b" ", TEXT_P, b"<!--", b"-->", b"<", b"</", b"</x>", b"<b>", b"=", b'"']
)


@st.composite
def raw_text(draw: st.DrawFn) -> list[Part]:
    name = draw(
        st.sampled_from(
            [b"style", b"title", b"textarea", b"xmp", b"iframe", b"noembed",
             b"noframes", b"noscript"]
        )
    )  # fmt: skip
    body = b"".join(draw(st.lists(raw_token, max_size=5)))
    start = draw(st.sampled_from([b"<%s>", b"<%s class='a'>", b"<%s/>"])) % name
    end = draw(st.sampled_from([b"</%s>", b"</%s >", b"</%s\t/>", b'</%s a=">">']))
    return [start + body + end % name.upper()]


# Script body tokens, each with the state changes it causes: "d" is script
# data, "e" escaped and "x" double escaped. A state not listed is unchanged.
SCRIPT_TOKENS: list[tuple[bytes, dict[str, str]]] = [
    (b"x = 1; ", {}),
    (b"if (a < b) {}", {}),
    (b'"</scripts>"', {}),
    (b"-", {}),
    (b"<!--", {"d": "e"}),
    (b"-->", {"e": "d", "x": "d"}),
    (b"<script>", {"e": "x"}),
    (b"<SCRIPT ", {"e": "x"}),
    (TEXT_P, {"d": "d", "e": "d", "x": "d"}),
]


@st.composite
def script(draw: st.DrawFn) -> list[Part]:
    state = "d"
    body = b""
    for _ in range(draw(st.integers(0, 8))):
        options = list(SCRIPT_TOKENS)
        if state == "x":
            options.append((b"</script>", {"x": "e"}))
        token, moves = draw(st.sampled_from(options))
        body += token
        state = moves.get(state, state)
    if state == "x":
        body += b"-->"
    start = draw(st.sampled_from([b"<script>", b'<script type="x">', b"<SCRIPT>"]))
    end = draw(st.sampled_from([b"</script>", b"</SCRIPT >", b"</script\n>"]))
    return [start + body + end]


FOREIGN_PIECES: list[list[Part]] = [
    [REAL],
    [b"<style>", REAL, b"</style>"],
    [b"<script>", REAL, b"</script>"],
    [b"<![CDATA[" + TEXT_P + b"]]>"],
    [b"<path d='M0 0'/>"],
    [b"<g>", REAL, b"</g>"],
    [b"<title>t</title>"],
    [b"<title><style>" + TEXT_P + b"</style></title>"],
    [b"<foreignObject><style>" + TEXT_P + b"</style></foreignObject>"],
    [b"<desc><textarea>" + TEXT_P + b"</textarea></desc>"],
    [b"<g/><style/>", REAL],
]
MATH_PIECES: list[list[Part]] = [
    [REAL],
    [b"<mi>x</mi>"],
    [b"<mo>", REAL, b"</mo>"],
    [b"<mi><style>" + TEXT_P + b"</style></mi>"],
    [b"<mrow><style>", REAL, b"</style></mrow>"],
    [b"<annotation-xml encoding='text/html'><style>" + TEXT_P + b"</style>"
     b"</annotation-xml>"],
    [b"<mrow><![CDATA[" + TEXT_P + b"]]></mrow>"],
]  # fmt: skip


@st.composite
def foreign(draw: st.DrawFn) -> list[Part]:
    if draw(st.booleans()):
        root, pieces = b"svg", FOREIGN_PIECES
    else:
        root, pieces = b"math", MATH_PIECES
    parts: list[Part] = [b"<" + root + b' class="icon">']
    for piece in draw(st.lists(st.sampled_from(pieces), max_size=4)):
        parts.extend(piece)
    parts.append(b"</" + root + b">")
    return parts


bogus = st.sampled_from(
    [[b"<?php echo 1; ?>"], [b"</ x>"], [b"<!x>"], [b"<![CDATA[x]]>"], [b"</>"],
     [b"<!DOCTYPE html>"]]
)  # fmt: skip

pieces = st.one_of(
    texts.map(lambda text: [text]),
    st.just([REAL]),
    tag(),
    comment(),
    raw_text(),
    script(),
    foreign(),
    bogus,
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, bytes, int]:
    """Return a document, its expected rewrite and its real placeholder count."""
    source = b""
    expected = b""
    real = 0
    for piece in draw(st.lists(pieces, max_size=12)):
        for part in piece:
            if part is REAL:
                spelling = draw(st.sampled_from(SPELLINGS))
                source += spelling
                expected += FRAGMENT
                real += 1
            else:
                source += part
                expected += part
    return source, expected, real


@st.composite
def chunkings(draw: st.DrawFn, html: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(html)), max_size=8)))
    bounds = [0, *cuts, len(html)]
    return [html[a:b] for a, b in pairwise(bounds)]


def run(pieces_: Sequence[bytes], slots: Sequence[str] = ("recs",)) -> list[Event]:
    rewriter = Rewriter(slots)
    events: list[Event] = []
    for piece in pieces_:
        events.extend(rewriter.feed(piece))
    events.extend(rewriter.close())
    return events


def merged(events: Sequence[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        if isinstance(event, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += event
        elif event != b"":
            out.append(event)
    return out


def joined(events: Sequence[Event]) -> bytes:
    return b"".join(e if isinstance(e, bytes) else e.raw for e in events)


PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(data=st.data(), document=documents())
def test_documents_round_trip(data: st.DataObject, document: tuple) -> None:
    source, _, _ = document
    events = run(data.draw(chunkings(source)))
    assert joined(events) == source


@PROPERTY
@given(data=st.data(), document=documents())
def test_documents_chunking_invariant(data: st.DataObject, document: tuple) -> None:
    source, _, _ = document
    chunked = merged(run(data.draw(chunkings(source))))
    assert chunked == merged(run([source]))


@PROPERTY
@given(data=st.data(), document=documents())
def test_documents_rewrite_exact(data: st.DataObject, document: tuple) -> None:
    source, expected, real = document
    events = run(data.draw(chunkings(source)))
    output = b"".join(FRAGMENT if isinstance(e, Placeholder) else e for e in events)
    assert output == expected
    assert rewrite(source, {"recs": FRAGMENT}) == expected
    assert len(find_placeholders(source, ["recs"])) == real


@PROPERTY
@given(document=documents())
def test_documents_agree_with_html5lib(document: tuple) -> None:
    source, _, real = document
    assert len(html5lib_slots(source)) == real


# --- Markup soup ------------------------------------------------------------

# Fragments from which any markup can be built. "</p>" and "</br>" are left
# out: html5lib 1.1 predates the rule that they end foreign content.
soup_token = st.sampled_from(
    [b"<", b">", b"/", b"!", b"-", b"--", b"=", b'"', b"'", b" ", b"\n", b"x",
     b"<div", b"<p", b"<b", b"<span ", b"</div>", b"<a href=", b"<script",
     b"</script", b"<style", b"</style", b"<title", b"</title", b"<textarea",
     b"<svg", b"</svg", b"<math", b"</math", b"<mi", b"<foreignObject",
     b"</foreignObject", b"<font color=red", b"<!--", b"-->", b"<![CDATA[",
     b"]]>", b"<?", TEXT_P, TEXT_P, TEXT_P]
)  # fmt: skip
soups = st.lists(soup_token, max_size=30).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(data=st.data(), soup=soups)
def test_soup_agrees_with_html5lib(data: st.DataObject, soup: bytes) -> None:
    events = run(data.draw(chunkings(soup)))
    assert joined(events) == soup
    assert merged(events) == merged(run([soup]))
    found = [e for e in events if isinstance(e, Placeholder)]
    assert len(found) == len(html5lib_slots(soup))


# --- Pairs ------------------------------------------------------------------


@PROPERTY
@given(data=st.data(), document=documents(), fallback=documents())
def test_pair_region_whole(
    data: st.DataObject, document: tuple, fallback: tuple
) -> None:
    before, _, real_before = document
    inner, _, _ = fallback
    region = b"<!-- personalize:pair -->" + inner + b"<!-- /personalize:pair -->"
    source = before + region + b"<p>after</p>"
    events = run(data.draw(chunkings(source)), slots=("recs", "pair"))
    assert joined(events) == source
    found = [e for e in events if isinstance(e, Placeholder)]
    assert found[-1] == Placeholder("pair", region)
    assert len(found) == real_before + 1


# --- Tags read whole and in pieces --------------------------------------------

tag_token = st.sampled_from(
    [b"a", b"B", b" ", b"\t", b"/", b"=", b'"', b"'", b">", b"<", b"x", b"\x0b"]
)


@settings(max_examples=500, deadline=None)
@given(body=st.lists(tag_token, max_size=20).map(b"".join), closing=st.booleans())
def test_tag_scanner_matches_tag_regex(body: bytes, closing: bool) -> None:
    html = (b"</x" if closing else b"<x") + body + b"> tail"
    match = _TAG_RE.match(html)
    scanner = _TagScanner(apply=True)
    end = scanner.advance(html, 0)
    if match is None:
        assert end == -1
        return
    assert end == match.end()
    assert scanner.closing == closing
    assert scanner.tag_name == match.group(2).lower()
    assert scanner.self_closing == match.group(3).endswith(b"/")
