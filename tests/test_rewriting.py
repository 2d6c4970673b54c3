"""Unit tests of the placeholder rewriter: syntax, tokenizer states, pairs, bounds."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import pytest

from edge_personalize.exceptions import ConfigurationError
from edge_personalize.rewriting import (
    SLOT_NAME_RE,
    Placeholder,
    Rewriter,
    find_placeholders,
    rewrite,
)

# Every test runs with the C scanner and with the regex scanner.
pytestmark = pytest.mark.usefixtures("scanner")

Event = bytes | Placeholder
PAGE = b"<html><body><h1>Mug</h1><!-- personalize:recs --></body></html>"
FRAGMENT = b'<aside class="recs"><a href="/p/42">Mug &amp; Saucer</a></aside>'


def run(
    pieces: Sequence[bytes],
    slots: Sequence[str] = ("recs",),
    max_region: int = 65536,
) -> list[Event]:
    rewriter = Rewriter(slots, max_region=max_region)
    events: list[Event] = []
    for piece in pieces:
        events.extend(rewriter.feed(piece))
    events.extend(rewriter.close())
    return events


def joined(events: Sequence[Event]) -> bytes:
    return b"".join(e if isinstance(e, bytes) else e.raw for e in events)


def merged(events: Sequence[Event]) -> list[Event]:
    """Merge adjacent bytes events, which chunking may split anywhere."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += event
        elif event != b"":
            out.append(event)
    return out


def found(events: Sequence[Event]) -> list[Placeholder]:
    return [e for e in events if isinstance(e, Placeholder)]


def one_byte_chunks(html: bytes) -> list[bytes]:
    return [html[i : i + 1] for i in range(len(html))]


def count(html: bytes, slots: Sequence[str] = ("recs",)) -> int:
    """Count placeholders, checking that one-byte chunks find the same."""
    whole = find_placeholders(html, slots)
    split = found(run(one_byte_chunks(html), slots))
    assert split == whole
    return len(whole)


# --- Configuration --------------------------------------------------------


@pytest.mark.parametrize(
    "slots",
    [
        pytest.param(["Recs"], id="upper-case"),
        pytest.param([""], id="empty"),
        pytest.param(["-recs"], id="leading-dash"),
        pytest.param(["_recs"], id="leading-underscore"),
        pytest.param(["my recs"], id="space"),
        pytest.param(["recs:x"], id="colon"),
        pytest.param(["a" * 65], id="too-long"),
        pytest.param([b"recs"], id="bytes-name"),
        pytest.param([42], id="int-name"),
        pytest.param("recs", id="single-string"),
        pytest.param(b"recs", id="single-bytes"),
    ],
)
def test_rewriter_rejects_bad_slots(slots: object) -> None:
    with pytest.raises(ConfigurationError, match="slot|Slot"):
        Rewriter(slots)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "max_region",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(True, id="bool"),
        pytest.param(1.5, id="float"),
        pytest.param("64", id="string"),
    ],
)
def test_rewriter_rejects_bad_max_region(max_region: object) -> None:
    with pytest.raises(ConfigurationError, match="max_region"):
        Rewriter(["recs"], max_region=max_region)  # type: ignore[arg-type]


def test_rewriter_accepts_longest_slot_name() -> None:
    name = "a" * 64
    html = b"<!-- personalize:" + name.encode() + b" -->"
    assert find_placeholders(html, [name]) == [Placeholder(name, html)]


def test_rewriter_accepts_any_collection() -> None:
    html = b"<!-- personalize:a --><!-- personalize:b -->"
    for slots in ({"a", "b"}, ["a", "b"], ("a", "b"), {"a": 1, "b": 2}.keys()):
        assert len(find_placeholders(html, slots)) == 2


def test_slot_name_re_is_the_grammar() -> None:
    assert SLOT_NAME_RE.fullmatch("recommendations-2_b")
    assert not SLOT_NAME_RE.fullmatch("Recs")


def test_rewrite_rejects_bad_fragment_slot() -> None:
    with pytest.raises(ConfigurationError):
        rewrite(PAGE, {"Bad Slot": b"x"})


# --- Placeholder syntax ---------------------------------------------------


@pytest.mark.parametrize(
    ("html", "slots"),
    [
        pytest.param(b"<!-- personalize:recs -->", ["recs"], id="spaces"),
        pytest.param(b"<!--personalize:recs-->", ["recs"], id="no-space"),
        pytest.param(b"<!--   personalize:recs\n-->", ["recs"], id="newline"),
        pytest.param(b"<!--\t\f\r\npersonalize:recs \t-->", ["recs"], id="all-space"),
        pytest.param(b"<!-- PERSONALIZE:RECS -->", ["recs"], id="upper-case"),
        pytest.param(b"<!-- Personalize:Recs -->", ["recs"], id="mixed-case"),
        pytest.param(b"<!-- personalize:a-b_9 -->", ["a-b_9"], id="dash-underscore"),
        pytest.param(
            b"<!-- PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->",
            ["recommendations"],
            id="alias",
        ),
        pytest.param(
            b"<!--personalized_recommendations_placeholder-->",
            ["recommendations"],
            id="alias-lower-case",
        ),
    ],
)
def test_placeholder_syntax_accepted(html: bytes, slots: list[str]) -> None:
    page = b"<p>a</p>" + html + b"<p>b</p>"
    assert find_placeholders(page, slots) == [Placeholder(slots[0], html)]


@pytest.mark.parametrize(
    "html",
    [
        pytest.param(b"<!-- personalize: recs -->", id="space-after-colon"),
        pytest.param(b"<!-- personalize :recs -->", id="space-before-colon"),
        pytest.param(b"<!-- personalize:recs extra -->", id="extra-word"),
        pytest.param(b"<!-- personalize:recs --!>", id="bang-end"),
        pytest.param(b"<!-- personalize:recs- -->", id="other-slot"),
        pytest.param(b"<!--personalize:recs--->", id="dash-in-slot"),
        pytest.param(b"<!-- \x0bpersonalize:recs -->", id="vertical-tab"),
        pytest.param(b"<!-- personalize:recs", id="unterminated"),
        pytest.param(b"<!-- personalize recs -->", id="no-colon"),
        pytest.param(b"<!-- personalise:recs -->", id="spelling"),
        pytest.param(b"<!-- personalize:other -->", id="unknown-slot"),
        pytest.param(b"<!-- / personalize:recs -->", id="space-after-slash"),
        pytest.param(b"<!--" + b" " * 250 + b"personalize:recs -->", id="over-256"),
        pytest.param(b"&lt;!-- personalize:recs --&gt;", id="escaped-text"),
    ],
)
def test_placeholder_syntax_rejected(html: bytes) -> None:
    page = b"<p>a</p>" + html + b"<p>b</p>"
    events = run([page])
    assert found(events) == []
    assert joined(events) == page


def test_placeholder_unknown_slot_left_in_page() -> None:
    page = b"<p><!-- personalize:other --><!-- personalize:recs --></p>"
    assert rewrite(page, {"recs": b"X"}) == b"<p><!-- personalize:other -->X</p>"


def test_placeholder_alias_needs_its_slot() -> None:
    page = b"<!-- PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->"
    assert find_placeholders(page, ["recs"]) == []


def test_placeholder_every_occurrence_reported() -> None:
    page = (
        b"<main><!-- personalize:recs --></main>"
        b"<footer><!--personalize:RECS--></footer>"
    )
    expected = b"<main>X</main><footer>X</footer>"
    assert rewrite(page, {"recs": b"X"}) == expected


# --- What counts as a real comment ----------------------------------------
#
# Each case gives the number of real comments equal to the placeholder, as
# an HTML5 tokenizer with scripting enabled finds them. The same table runs
# against html5lib in test_rewriting_corpus.py.

P = b"<!-- personalize:recs -->"

TOKENIZER_CASES = [
    # Attribute values and attribute-like text
    pytest.param(b'<div title="a>b">' + P + b"</div>", 1, id="quoted-gt"),
    pytest.param(b"<div title='a\"b' data-x=\"c'd\">" + P, 1, id="mixed-quotes"),
    pytest.param(b"<div title=<!--personalize:recs-->>", 0, id="unquoted-value"),
    pytest.param(b'<div a"b="' + P + b'">', 0, id="quote-in-name"),
    pytest.param(b'<div ="' + P + b'">', 0, id="equals-starts-name"),
    pytest.param(b'<div a = "' + P + b'">', 0, id="spaces-around-equals"),
    pytest.param(b'<div a="x"b="' + P + b'">', 0, id="no-space-between"),
    pytest.param(b'<div a="x"="' + P + b'">', 0, id="equals-after-value"),
    pytest.param(b'<div a/="' + P + b'">', 0, id="slash-equals"),
    pytest.param(b"<div a=b=c>" + P, 1, id="equals-in-unquoted"),
    pytest.param(b"<div title=x/>" + P, 1, id="unquoted-slash"),
    pytest.param(b'<a"b>' + P, 1, id="quote-in-tag-name"),
    pytest.param(b"< div>" + P, 1, id="lt-space"),
    pytest.param(b"<3 <<" + P, 1, id="lone-lt"),
    pytest.param(b"</div title='>'>" + P, 1, id="end-tag-attribute"),
    # Comments and bogus comments
    pytest.param(b"<!-- a --!>" + P, 1, id="bang-closed-comment"),
    pytest.param(b"<!---->" + P, 1, id="empty-comment"),
    pytest.param(b"<!----->" + P, 1, id="dash-comment"),
    pytest.param(b"<!-- <!-- personalize:recs -->", 0, id="opener-in-comment"),
    pytest.param(b"<!-- personalize:recs <!-- x -->", 0, id="placeholder-prefix"),
    pytest.param(b"</ foo>" + P, 1, id="end-tag-space-bogus"),
    pytest.param(b"</>" + P, 1, id="empty-end-tag"),
    pytest.param(b'<?xml version="1.0"?>' + P, 1, id="processing-instruction"),
    pytest.param(b'<!doctype html "' + P + b'">', 0, id="doctype-ends-early"),
    pytest.param(b"<div><![CDATA[ a ]]>" + P + b"</div>", 1, id="html-cdata-ends"),
    pytest.param(b"<!->" + P, 1, id="bogus-dash"),
    # Raw text and escapable raw text
    pytest.param(b"<textarea></textareax>" + P + b"</textarea>", 0, id="textarea-near"),
    pytest.param(b"<title>a</title >" + P, 1, id="title-end-space"),
    pytest.param(b"<TiTlE>" + P + b"</tItLe>" + P, 1, id="title-mixed-case"),
    pytest.param(b"<plaintext></plaintext>" + P, 0, id="plaintext-no-end"),
    pytest.param(b'<style></style title=">">' + P, 1, id="style-end-attr"),
    pytest.param(b'<style></style title="' + P + b'">', 0, id="style-end-attr-hides"),
    pytest.param(b"<noframes>" + P + b"</noframes>" + P, 1, id="noframes"),
    pytest.param(b"<style/>" + P + b"</style>", 0, id="self-closing-style"),
    # Scripts and their escape states
    pytest.param(b"<script>a</script\t>" + P, 1, id="script-end-tab"),
    pytest.param(b'<script>"</script"</script>' + P, 1, id="script-end-quote"),
    pytest.param(b"<script><!--<script>--></script>" + P, 1, id="double-unescape"),
    pytest.param(
        b"<script><!--<script></script>--></script>" + P, 1, id="double-then-escaped"
    ),
    pytest.param(
        b"<script><!--<script></script></script>" + P, 1, id="escaped-end-tag"
    ),
    pytest.param(
        b"<script><!--<script>" + P + b"</script></script>", 0, id="double-dashes"
    ),
    pytest.param(b"<script><!-->" + P + b"</script>", 0, id="escape-reopened"),
    pytest.param(b"<script>--></script>" + P, 1, id="script-stray-end"),
    pytest.param(b"<script><!--->" + P + b"</script>", 0, id="escape-three-dashes"),
    pytest.param(b"<script><!--<SCRIPT/>" + P + b"</script>", 0, id="double-slash"),
    # Foreign content
    pytest.param(b"<svg><title>" + P + b"</title></svg>", 1, id="svg-title"),
    pytest.param(b"<svg><script>" + P + b"</script></svg>", 1, id="svg-script"),
    pytest.param(b"<svg><style/>" + P + b"</svg>", 1, id="svg-self-closing-style"),
    pytest.param(b"<svg/><style>" + P + b"</style>", 0, id="self-closing-svg"),
    pytest.param(b"<svg><![CDATA[ x ]]>" + P + b"</svg>", 1, id="svg-cdata-ends"),
    pytest.param(
        b"<svg><foreignObject><style>" + P + b"</style></foreignObject></svg>",
        0,
        id="foreign-object-style",
    ),
    pytest.param(
        b"<svg><desc><textarea>" + P + b"</textarea></desc></svg>",
        0,
        id="desc-textarea",
    ),
    pytest.param(
        b"<svg><title><style>" + P + b"</style></title></svg>", 0, id="title-style"
    ),
    pytest.param(
        b"<svg><foreignObject><svg><style>" + P + b"</style></svg></foreignObject>",
        1,
        id="svg-in-foreign-object",
    ),
    pytest.param(
        b"<svg><foreignObject><div></div></foreignObject><style>" + P + b"</style>",
        1,
        id="back-from-foreign-object",
    ),
    pytest.param(b"<svg><g></svg><style>" + P + b"</style>", 0, id="svg-closed"),
    pytest.param(b"<svg><p><style>" + P + b"</style>", 0, id="breakout-p"),
    pytest.param(
        b"<svg><font color=red><style>" + P + b"</style>", 0, id="breakout-font"
    ),
    pytest.param(b"<svg><font><style>" + P + b"</style>", 1, id="plain-font"),
    pytest.param(b"<div><svg><g></div><style>" + P + b"</style>", 0, id="div-closes"),
    pytest.param(b"<math><mi><style>" + P + b"</style></mi></math>", 0, id="mi-style"),
    pytest.param(b"<math><mtext><xmp>" + P + b"</xmp></mtext>", 0, id="mtext-xmp"),
    pytest.param(b"<math><mi></mi><style>" + P + b"</style>", 1, id="math-style"),
    pytest.param(
        b'<math><annotation-xml encoding="text/html"><style>' + P + b"</style>",
        0,
        id="annotation-xml-html",
    ),
    pytest.param(
        b"<math><annotation-xml><style>" + P + b"</style>",
        1,
        id="annotation-xml-plain",
    ),
    pytest.param(
        b"<math><mi><mglyph><style>" + P + b"</style>", 1, id="mglyph-foreign"
    ),
    pytest.param(b"<math><svg><style>" + P + b"</style>", 1, id="svg-in-math"),
    pytest.param(b"<math><![CDATA[" + P + b"]]></math>", 0, id="math-cdata"),
]


@pytest.mark.parametrize(("html", "expected"), TOKENIZER_CASES)
def test_tokenizer_state(html: bytes, expected: int) -> None:
    assert count(html) == expected


# --- Pairs ----------------------------------------------------------------

OPEN = b"<!-- personalize:recs -->"
CLOSE = b"<!-- /personalize:recs -->"


def test_pair_is_one_region() -> None:
    region = OPEN + b"<p>fallback</p>" + CLOSE
    events = run([b"A" + region + b"B"])
    assert events == [b"A", Placeholder("recs", region), b"B"]


def test_pair_alias_closing() -> None:
    region = (
        b"<!-- PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->x"
        b"<!-- /PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->"
    )
    assert find_placeholders(region, ["recommendations"]) == [
        Placeholder("recommendations", region)
    ]


def test_pair_mixed_alias_closing() -> None:
    region = (
        b"<!-- PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->x"
        b"<!-- /personalize:recommendations -->"
    )
    assert len(find_placeholders(region, ["recommendations"])) == 1


def test_pair_rewrite_replaces_fallback() -> None:
    page = b"<div>" + OPEN + b"<p>Popular</p>" + CLOSE + b"</div>"
    assert rewrite(page, {"recs": b"X"}) == b"<div>X</div>"


def test_pair_closing_of_other_slot() -> None:
    page = OPEN + b"x<!-- /personalize:other -->"
    events = run([page], slots=["recs", "other"])
    assert events == [Placeholder("recs", OPEN), b"x<!-- /personalize:other -->"]


def test_pair_stray_closing_is_bytes() -> None:
    page = b"a" + CLOSE + b"b"
    assert run([page]) == [page]


def test_pair_closing_must_be_real() -> None:
    fallback = b'<script>"' + CLOSE + b'"</script>'
    region = OPEN + fallback + CLOSE
    assert find_placeholders(region, ["recs"]) == [Placeholder("recs", region)]


def test_pair_unclosed_at_end_is_single() -> None:
    page = OPEN + b"<p>rest of the page</p>"
    assert run([page]) == [Placeholder("recs", OPEN), b"<p>rest of the page</p>"]


def test_pair_longer_than_max_region() -> None:
    page = OPEN + b"x" * 100 + CLOSE
    events = run([page], max_region=100)
    assert events == [Placeholder("recs", OPEN), b"x" * 100 + CLOSE]


def test_pair_exactly_max_region() -> None:
    region = OPEN + b"x" * 10 + CLOSE
    events = run([region], max_region=len(region))
    assert events == [Placeholder("recs", region)]


def test_pair_max_region_one_byte() -> None:
    page = OPEN + CLOSE
    assert run([page], max_region=1) == [Placeholder("recs", OPEN), CLOSE]


def test_pair_nested_same_slot_policy() -> None:
    # The first closing ends the region; the inner opening is fallback and
    # the second closing is ordinary bytes.
    region = OPEN + b"a" + OPEN + b"b" + CLOSE
    page = region + b"c" + CLOSE
    assert run([page]) == [Placeholder("recs", region), b"c" + CLOSE]


def test_pair_overlapping_slots() -> None:
    open_b = b"<!-- personalize:b -->"
    close_b = b"<!-- /personalize:b -->"
    region = OPEN + b"x" + open_b + b"y" + CLOSE
    page = region + b"z" + close_b
    assert run([page], slots=["recs", "b"]) == [
        Placeholder("recs", region),
        b"z" + close_b,
    ]


def test_pair_failed_region_releases_inner_placeholders() -> None:
    open_b = b"<!-- personalize:b -->"
    page = OPEN + b"x" + open_b + b"y"
    assert run([page], slots=["recs", "b"]) == [
        Placeholder("recs", OPEN),
        b"x",
        Placeholder("b", open_b),
        b"y",
    ]


def test_pair_second_opening_pairs_after_first_fails() -> None:
    second = OPEN + b"near" + CLOSE
    page = OPEN + b"y" * 60 + second
    events = run([page], max_region=len(second) + 10)
    assert events == [Placeholder("recs", OPEN), b"y" * 60, Placeholder("recs", second)]


def test_pair_held_until_decided() -> None:
    rewriter = Rewriter(["recs"])
    assert rewriter.feed(b"a" + OPEN) == [b"a"]
    assert rewriter.feed(b"<p>fallback</p>") == []
    assert rewriter.feed(CLOSE + b"b") == [
        Placeholder("recs", OPEN + b"<p>fallback</p>" + CLOSE),
        b"b",
    ]


def test_pair_hold_is_bounded() -> None:
    rewriter = Rewriter(["recs"], max_region=1000)
    assert rewriter.feed(OPEN) == []
    assert rewriter.feed(b"x" * 500) == []
    events = rewriter.feed(b"y" * 600)
    assert events == [Placeholder("recs", OPEN), b"x" * 500 + b"y" * 600]


def test_pair_region_swallows_unknown_placeholders() -> None:
    region = OPEN + b"<!-- personalize:other -->" + CLOSE
    assert run([region]) == [Placeholder("recs", region)]


# --- Chunk boundaries -----------------------------------------------------


def replaced_once(pieces: Sequence[bytes], page: bytes = PAGE) -> None:
    events = run(pieces)
    assert joined(events) == page
    assert found(events) == [Placeholder("recs", P)]
    out = b"".join(FRAGMENT if isinstance(e, Placeholder) else e for e in events)
    assert out == rewrite(page, {"recs": FRAGMENT})


def test_chunks_split_inside_comment() -> None:
    cut = PAGE.index(b"personalize") + 4
    replaced_once([PAGE[:cut], PAGE[cut:]])


def test_chunks_split_three_ways() -> None:
    start = PAGE.index(b"<!--")
    pieces = [
        PAGE[: start + 3],
        b"- person",
        b"alize:recs -->",
        PAGE[start + len(P) :],
    ]
    assert b"".join(pieces) == PAGE
    replaced_once(pieces)


def test_chunks_one_byte_each() -> None:
    replaced_once(one_byte_chunks(PAGE))


def test_chunks_near_miss_opening_swallows() -> None:
    # "<!-- person<!-- personalize:recs -->" is one comment to a tokenizer:
    # it starts at the first "<!--" and ends at the first "-->", so its
    # data is " person<!-- personalize:recs " and nothing is replaced.
    page = PAGE.replace(P, b"<!-- person" + P)
    cut = page.index(P)
    events = run([page[:cut], page[cut:]])
    assert merged(events) == run([page])
    assert found(events) == []


@pytest.mark.parametrize(
    "near_miss",
    [
        pytest.param(b"<!-- personalize:rec -->", id="shorter-slot"),
        pytest.param(b"<!-- person -->", id="keyword-prefix"),
        pytest.param(b"&lt;!-- person", id="escaped-text"),
    ],
)
def test_chunks_near_miss_kept(near_miss: bytes) -> None:
    page = PAGE.replace(P, near_miss + P)
    start = page.index(near_miss)
    for cut in (start + len(near_miss) - 4, start + len(near_miss)):
        events = run([page[:cut], page[cut:]])
        assert joined(events) == page
        assert found(events) == [Placeholder("recs", P)]
        assert rewrite(page, {"recs": b"X"}) == page.replace(P, b"X")


def test_chunks_every_split_point() -> None:
    page = b'<p title="a>b">' + OPEN + b"<b>x</b>" + CLOSE + b"<script>1</script>"
    expected = run([page])
    for cut in range(len(page) + 1):
        assert merged(run([page[:cut], page[cut:]])) == expected


def test_chunks_merge_adjacent_bytes() -> None:
    rewriter = Rewriter(["recs"])
    events = rewriter.feed(PAGE * 3)
    kinds = [type(event) for event in events]
    assert all(a is not b for a, b in pairwise(kinds))


# --- Close and feed -------------------------------------------------------


def test_close_flushes_unfinished_comment() -> None:
    rewriter = Rewriter(["recs"])
    assert rewriter.feed(b"a<!-- personalize:re") == [b"a"]
    assert rewriter.close() == [b"<!-- personalize:re"]


def test_close_flushes_unfinished_tag() -> None:
    rewriter = Rewriter(["recs"])
    assert rewriter.feed(b'a<div title="x') == [b"a"]
    assert rewriter.close() == [b'<div title="x']


def test_close_twice_returns_nothing() -> None:
    rewriter = Rewriter(["recs"])
    rewriter.feed(PAGE)
    rewriter.close()
    assert rewriter.close() == []


def test_feed_after_close_raises() -> None:
    rewriter = Rewriter(["recs"])
    rewriter.close()
    with pytest.raises(RuntimeError, match="after close"):
        rewriter.feed(b"x")


def test_feed_empty_returns_nothing() -> None:
    rewriter = Rewriter(["recs"])
    assert rewriter.feed(b"") == []


def test_feed_accepts_bytearray() -> None:
    rewriter = Rewriter(["recs"])
    events = rewriter.feed(bytearray(PAGE)) + rewriter.close()
    assert joined(events) == PAGE


# --- Bounded holding ------------------------------------------------------


def held_back_after_each(pieces: Sequence[bytes]) -> tuple[list[int], list[Event]]:
    rewriter = Rewriter(["recs"])
    fed = 0
    emitted = 0
    held_back: list[int] = []
    events: list[Event] = []
    for piece in pieces:
        fed += len(piece)
        new = rewriter.feed(piece)
        events.extend(new)
        emitted += len(joined(new))
        held_back.append(fed - emitted)
    events.extend(rewriter.close())
    return held_back, events


def chunked(data: bytes, size: int = 8192) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


TAG_BOUND = 4096 + 8192  # a held tag and the chunk that did not end it
FOREIGN_BOUND = 65536 + 8192  # a held svg or math element and one chunk


@pytest.mark.parametrize(
    ("page", "expected", "bound"),
    [
        pytest.param(
            b'<div data-x="' + b"a" * 300_000 + b'">' + P,
            1,
            TAG_BOUND,
            id="huge-attribute",
        ),
        pytest.param(
            b"<script data-x=" + b"a" * 300_000 + b">" + P + b"</script>" + P,
            1,
            TAG_BOUND,
            id="huge-script-tag",
        ),
        pytest.param(
            b"<math data-x='" + b"a" * 300_000 + b"'><style>" + P + b"</style>",
            1,
            TAG_BOUND,
            id="huge-math-tag",
        ),
        pytest.param(
            b"<!--" + b"c" * 300_000 + b"-->" + P, 1, TAG_BOUND, id="huge-comment"
        ),
        pytest.param(
            b"<script>" + b"x<y;" * 75_000 + b"</script>" + P,
            1,
            TAG_BOUND,
            id="huge-script",
        ),
        pytest.param(
            b"<svg><![CDATA[" + b"d" * 300_000 + b"]]>" + P,
            1,
            FOREIGN_BOUND,
            id="huge-cdata",
        ),
        pytest.param(
            b"<svg>" + b"<path d='M0 0'/>" * 20_000 + b"</svg>" + P,
            1,
            FOREIGN_BOUND,
            id="huge-svg",
        ),
        pytest.param(b"<?" + b"p" * 300_000 + b">" + P, 1, TAG_BOUND, id="huge-bogus"),
        pytest.param(
            b"<!--" + b" " * 300_000 + P, 0, TAG_BOUND, id="huge-space-comment"
        ),
    ],
)
def test_hold_bounded(page: bytes, expected: int, bound: int) -> None:
    held_back, events = held_back_after_each(chunked(page))
    assert max(held_back) <= bound
    assert joined(events) == page
    assert len(found(events)) == expected


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b'<body><svg class="icon"/><h1>Shop</h1>', id="self-closing-svg"),
        pytest.param(b"<body><MATH/><h1>Shop</h1>", id="self-closing-math"),
        pytest.param(b"<body><svg><path/><p>Shop</p>", id="svg-broken-out"),
        pytest.param(b"<body><svg><foreignObject><b>x</b>", id="svg-html-inside"),
    ],
)
def test_foreign_element_not_held(head: bytes) -> None:
    # Nothing can make these one whole element, so waiting gains nothing.
    rewriter = Rewriter(["recs"])
    assert joined(rewriter.feed(head)) == head
    assert joined(rewriter.feed(b"<p>more</p>")) == b"<p>more</p>"


def test_foreign_element_held_until_end() -> None:
    rewriter = Rewriter(["recs"])
    assert joined(rewriter.feed(b'<body><svg><path d="x"/>')) == b"<body>"
    rest = b"<path/></svg><p>after</p>" + P
    events = rewriter.feed(rest) + rewriter.close()
    assert joined(events) == b'<svg><path d="x"/>' + rest
    assert found(events) == [Placeholder("recs", P)]


def test_self_closing_svgs_in_small_chunks() -> None:
    page = b"<body>" + b"<svg/><p>x</p>" * 5000 + P
    held_back, events = held_back_after_each(chunked(page, 16))
    assert max(held_back) < 64
    assert joined(events) == page
    assert len(found(events)) == 1


def test_held_svg_scanned_after_doubling(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 40 KB svg in 64-byte chunks: 600 chunks arrive while it is held, but
    # the buffer is scanned again only each time it has doubled.
    svg = b"<svg>" + b"<path d='M0 0'/>" * 2500 + b"</svg>"
    page = b"<p>intro</p>" + svg + P
    scans: list[int] = []
    scan = Rewriter._scan

    def counting_scan(self: Rewriter, buf: bytes, final: bool) -> None:
        scans.append(len(buf))
        scan(self, buf, final)

    monkeypatch.setattr(Rewriter, "_scan", counting_scan)
    held_back, events = held_back_after_each(chunked(page, 64))

    assert len(scans) < 20
    assert max(held_back) <= len(svg) + 64
    assert joined(events) == page
    assert found(events) == [Placeholder("recs", P)]


def test_hold_bounded_tag_never_ends() -> None:
    held_back, events = held_back_after_each(chunked(b'<div title="' + b"x" * 100_000))
    assert max(held_back) <= 4096 + 8192
    assert found(events) == []


def test_hold_candidate_comment_bounded() -> None:
    rewriter = Rewriter(["recs"])
    assert rewriter.feed(b"<!-- personalize:recs") == []
    events = rewriter.feed(b" " * 300)
    assert joined(events) == b"<!-- personalize:recs" + b" " * 297


# --- One-shot helpers -----------------------------------------------------


def test_rewrite_without_placeholder_is_unchanged() -> None:
    page = b"<p>no placeholders here</p>"
    assert rewrite(page, {"recs": b"X"}) == page


def test_rewrite_without_fragments_is_unchanged() -> None:
    assert rewrite(PAGE, {}) == PAGE


def test_rewrite_keeps_other_bytes() -> None:
    page = b"\xef\xbb\xbf<p>Caf\xe9 \x80</p>" + P + b"\r\n"
    assert rewrite(page, {"recs": b"X"}) == b"\xef\xbb\xbf<p>Caf\xe9 \x80</p>X\r\n"


def test_find_placeholders_in_order() -> None:
    page = b"<!-- personalize:b --><!-- personalize:a --><!-- personalize:b -->"
    slots = [p.slot for p in find_placeholders(page, ["a", "b"])]
    assert slots == ["b", "a", "b"]
