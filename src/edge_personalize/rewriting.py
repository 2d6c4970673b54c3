"""Find placeholder comments in HTML bytes that arrive in chunks.

:class:`Rewriter` is a sans-I/O state machine. It takes the bytes of one HTML
document in chunks of any size, split at any byte, and returns events in
document order: ``bytes`` to copy unchanged and :class:`Placeholder` records
for the regions to replace. It never decodes the document and never
re-serializes it, so every byte outside a placeholder comes out exactly as it
went in. :func:`rewrite` and :func:`find_placeholders` are one-shot helpers
built on it.

Placeholder syntax
------------------

``<!-- personalize:SLOT -->``
    A single placeholder. SLOT matches ``[a-z0-9][a-z0-9_-]*`` and has at
    most 64 characters. The keyword and SLOT are matched ASCII
    case-insensitively, and SLOT is reported in lower case. Any run of ASCII
    whitespace (space, tab, LF, FF, CR), or none, may separate ``<!--`` from
    the keyword and SLOT from ``-->``, so ``<!--personalize:recs-->`` and
    ``<!--   Personalize:RECS\\n-->`` are placeholders of slot ``recs``.
    ``personalize:SLOT`` itself contains no whitespace, and a comment longer
    than 256 bytes is never a placeholder.

``<!-- personalize:SLOT -->fallback markup<!-- /personalize:SLOT -->``
    A pair. The whole region, from the opening comment to the end of the
    closing comment, is one placeholder whose ``raw`` is the region's bytes.
    The closing comment must be a real comment too. An opening is paired with
    the first real closing comment of the same slot that follows it, if the
    region is at most ``max_region`` bytes long. Otherwise, and when the
    input ends first, the opening is a single placeholder and the bytes after
    it are scanned as usual. While a pair is undecided, the rewriter holds
    back up to ``max_region`` bytes.

``<!-- PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->``
    An alias of ``<!-- personalize:recommendations -->``, with the same
    case and whitespace tolerance. The closing comment of a pair is
    ``<!-- /PERSONALIZED_RECOMMENDATIONS_PLACEHOLDER -->`` or
    ``<!-- /personalize:recommendations -->``.

Only slots named when the rewriter is built are reported. Placeholders of
other slots, closing comments without an opening and comments that only look
like placeholders are ordinary bytes. Every real placeholder of a slot is
reported, so a caller fills each occurrence. A pair region swallows whatever
it contains, including openings of its own or other slots: with
``<!-- personalize:a -->x<!-- personalize:a -->y<!-- /personalize:a -->``
the region ends at the first closing comment, and the inner opening is part
of the fallback.

What counts as a real comment
-----------------------------

A placeholder counts only where an HTML5 tokenizer (WHATWG HTML, section
"Tokenization", with scripting enabled as in browsers) emits a comment token
for it. So a placeholder is ignored inside attribute values, quoted or not.
It is ignored in ``script``, including the script data escaped and double
escaped states, in the raw text of ``style``, ``xmp``, ``iframe``,
``noembed``, ``noframes`` and ``noscript``, in the escapable raw text of
``title`` and ``textarea``, and after ``<plaintext>``. It is ignored inside
another comment and inside bogus comments: ``<?...>``, ``</`` followed by a
non-letter, and ``<!`` followed by anything but ``--`` (or, in foreign
content, ``[CDATA[``). A comment ends at the first ``-->`` or ``--!>``, and
``<!-->`` and ``<!--->`` are complete empty comments.

Tokenizer states depend on tree construction in one place: inside ``<svg>``
and ``<math>`` (foreign content) ``script``, ``style``, ``title`` and the
other raw text names are ordinary elements, and ``<![CDATA[...]]>`` is a
CDATA section whose text is not a comment. The rewriter keeps a stack of the
open elements of foreign content only, with these approximations:

* HTML integration points (SVG ``foreignObject``, ``desc`` and ``title``,
  MathML ``annotation-xml`` with an HTML ``encoding``) and MathML text
  integration points (``mi``, ``mo``, ``mn``, ``ms``, ``mtext``) switch back
  to HTML rules as the standard specifies, and the HTML elements opened inside
  them are tracked by name only.
* The start tags that break out of foreign content (``div``, ``p``, ``span``
  and the other names the standard lists, and ``font`` with ``color``,
  ``face`` or ``size``) and the end tags ``</p>`` and ``</br>`` close the
  foreign elements, as the standard specifies.
* An end tag closes the nearest open element of that name. An end tag that
  matches none and names a common HTML element (``</div>``, ``</a>``...) is
  taken to close an HTML element that encloses the foreign content, so the
  foreign content ends. Implied end tags, scope rules and the ``select``,
  ``table`` and ``frameset`` insertion modes are not modelled.
* Outside foreign content, raw text elements switch the tokenizer wherever
  they occur, as they do in every insertion mode but ``in select`` and
  ``in frameset``, where the standard ignores some of those start tags.

Bounds
------

The rewriter holds back bytes only while it cannot yet tell what they are: a
comment that may still become a placeholder (at most 256 bytes), a tag of up
to 4 KiB (longer tags are tokenized incrementally and passed on), up to 10
bytes at the end of a chunk of raw text, comment or CDATA section, where an
end marker may begin, and a pair region of up to ``max_region`` bytes. It
also holds back an ``svg`` or ``math`` element that the end of a chunk cuts
short, up to 64 KiB, because reading it whole is many times faster than
tracking its elements one tag at a time.

Speed
-----

Python code runs only where the tokenizer changes state or a placeholder may
be. In between, the C extension ``edge_personalize._speedups`` consumes
text, tags, comments and whole raw text and script elements (with their
escape states) byte by byte,
and compiled regular expressions consume whole ``svg`` and ``math``
elements. When the extension is not built (the install found no C
compiler), regular expressions do all of that work with the same results,
and :data:`COMPILED_SCANNER` tells which is in use. The project's benchmark
(``benchmarks/bench_rewriter.py``) prints the throughput of both on the
machine it runs on.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from .exceptions import ConfigurationError

_markup_run: Callable[[bytes, int, int], int] | None
try:
    from ._speedups import markup_run as _markup_run
except ImportError:  # built without a C compiler: the regexes do the work
    _markup_run = None

COMPILED_SCANNER = _markup_run is not None
"""Whether the C extension ``edge_personalize._speedups`` was imported.

Without it the scanner gives the same results with regular expressions
alone, a few times more slowly.
"""

__all__ = [
    "COMPILED_SCANNER",
    "SLOT_NAME_RE",
    "Placeholder",
    "Rewriter",
    "find_placeholders",
    "may_contain_placeholder",
    "rewrite",
]

SLOT_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""The grammar of a slot name, for use with ``fullmatch``."""

_ALIAS_SLOT = "recommendations"
_MAX_COMMENT = 256
_TAG_HOLD = 4096
# A whole svg or math element is one regex match, while tracking its open
# elements costs Python code per tag. So an element whose end tag has not
# arrived is held back up to this size, for the next chunks to complete it.
_FOREIGN_HOLD = 65536
_MAX_FOREIGN_DEPTH = 512

# Tokenizer modes. _MARKUP is the data state between tokens. The others are
# inside one construct that may span chunks.
_MARKUP = 0
_TAG = 1
_COMMENT = 2
_BOGUS = 3
_CDATA = 4
_RAWTEXT = 5
_RAW_END_TAG = 6
_SCRIPT = 7
_SCRIPT_ESCAPED = 8
_SCRIPT_DOUBLE_ESCAPED = 9
_PLAINTEXT = 10

_HTML = 0
_SVG = 1
_MATHML = 2

_LT = 0x3C
_SPACES = frozenset(b"\t\n\f\r ")

# --- Regular expressions ---------------------------------------------------
#
# All patterns work on bytes and are assembled with %-templates. Tag names and
# keywords are matched with scoped (?i:...) groups, which are ASCII-only for
# bytes patterns, as the tokenizer's lower-casing is.


def _other_than(excluded: bytes) -> bytes:
    """Return a character class of every byte not in ``excluded``.

    CPython's re compiles a class like [^>"'=] to a negated bitmap, which it
    tests about half as fast per byte as the plain bitmap of the complement
    (measured with Python 3.11). The runs inside tags are long enough for
    that to show in the total.
    """
    ranges: list[bytes] = []
    start: int | None = None
    for byte in range(257):
        inside = byte < 256 and byte not in excluded
        if inside and start is None:
            start = byte
        elif not inside and start is not None:
            ranges.append(b"\\x%02x-\\x%02x" % (start, byte - 1))
            start = None
    return b"[" + b"".join(ranges) + b"]"


def _alternatives(*patterns: bytes) -> bytes:
    return b"(?:" + b"|".join(patterns) + b")"


_WS = rb"[\t\n\f\r ]"
_NAME_CHAR = _other_than(b"\t\n\f\r />")  # a tag name character
_ATTR_NAME_CHAR = _other_than(b"\t\n\f\r />=")
_NAME_END = _other_than(b"\t\n\f\r />=\"'")  # the name character before "="
_UNQUOTED_CHAR = _other_than(b"\t\n\f\r >")
_UNQUOTED_START = _other_than(b"\t\n\f\r >\"'")
_NO_QUOTE = _other_than(b">\"'")
_SEGMENT = _other_than(b">\"'=") + b"*"  # attribute names and spaces
_QUOTED = rb"(?:\"[^\"]*\"|'[^']*')"

_TAG_NAME = rb"[A-Za-z]%b*(?=[\t\n\f\r />])" % _NAME_CHAR
_VALUE = _alternatives(
    _QUOTED, rb"%b%b*(?=[\t\n\f\r >])" % (_UNQUOTED_START, _UNQUOTED_CHAR), rb"(?=>)"
)
# One attribute exactly as the tokenizer's attribute states read it. The
# lookaheads keep every split unambiguous, so a failed match on an incomplete
# tag cannot backtrack into a shorter, wrong tag.
_ATTR = rb"[\t\n\f\r /]*%b%b*(?:%b*=%b*%b|(?!%b*=)(?=[\t\n\f\r />]))" % (
    _NAME_CHAR,
    _ATTR_NAME_CHAR,
    _WS,
    _WS,
    _VALUE,
    _WS,
)
_ATTRS_END = rb"(?:%b)*[\t\n\f\r /]*>" % _ATTR
# A fast form of _ATTRS_END for the usual shape: quoted values right after
# "name=" and no quote anywhere else. It matches a subset of what
# _ATTRS_END matches, with the same end.
_QUOTED_ATTRS_END = rb"(?:%b%b%b*=%b*%b)*%b*>" % (
    _SEGMENT,
    _NAME_END,
    _WS,
    _WS,
    _QUOTED,
    _NO_QUOTE,
)
_ANY_ATTRS_END = _alternatives(_QUOTED_ATTRS_END, _ATTRS_END)
_OPEN_ATTRS_END = rb"(?:%b)*(?:[\t\n\f\r /]*%b)?>" % (_ATTR, _WS)  # not "/>"
_TAG_RE = re.compile(rb"<(/?)(%b)(?:%b)*([\t\n\f\r /]*)>" % (_TAG_NAME, _ATTR))

# Start tags that change the tokenizer state or open foreign content.
_SPECIAL = (
    rb"(?=[SsTtXxIiNnPpMm])(?i:s(?:cript|tyle|vg)|t(?:itle|extarea)|xmp|iframe"
    rb"|no(?:embed|frames|script)|plaintext|math)[\t\n\f\r />]"
)
_BREAKOUT_ELEMENTS = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 "
    b"h6 head hr i img li listing menu meta nobr ol p pre ruby s small span "
    b"strike strong sub sup table tt u ul var".split()
)
# HTML elements that often enclose inline SVG or MathML and share no name
# with an SVG or MathML element. Their stray end tags end foreign content.
_ENCLOSING_ELEMENTS = frozenset(
    b"a abbr address article aside b bdi bdo blockquote button caption center "
    b"cite code dd details dfn dialog div dl dt em fieldset figcaption figure "
    b"footer form h1 h2 h3 h4 h5 h6 header hgroup i kbd label legend li main "
    b"mark nav nobr ol pre q ruby s samp section small span strike strong sub "
    b"summary sup table tbody td template tfoot th thead tr tt u ul var".split()
)
# "font" breaks out only with some attributes, so the regexes leave it to
# the Python code, which reads them.
_BREAKOUT_NAMES = b"|".join(sorted(_BREAKOUT_ELEMENTS | {b"font"}))
_ENCLOSING_NAMES = b"|".join(sorted(_ENCLOSING_ELEMENTS))

_CANDIDATE = rb"%b*/?(?i:personalize)" % _WS
_COMMENT_TOKEN = rb"<!--(?!%b)(?:>|->|[^-]*(?:-(?!-!?>)[^-]*)*--!?>)" % _CANDIDATE
_BOGUS_TOKEN = rb"<!(?!--)[^>]*>|<\?[^>]*>|</(?![A-Za-z])[^>]*>"
_FOREIGN_BOGUS_TOKEN = rb"<!(?!--|\[CDATA\[)[^>]*>|<\?[^>]*>|</(?![A-Za-z])[^>]*>"
_CDATA_TOKEN = rb"<!\[CDATA\[[^\]]*(?:\](?!\]>)[^\]]*)*\]\]>"
_LONE_LT = rb"<(?=[^A-Za-z!/?])"

# The element patterns below are followed by more pattern, so a failed
# match backtracks into them. Every part of them can match a given input in
# one way only (text runs are maximal, and tags use the exact _ATTRS_END
# alone), which keeps that backtracking linear.


def _start_tag(name: bytes, attrs_end: bytes = _ATTRS_END) -> bytes:
    return rb"<(?i:%b)(?=[\t\n\f\r />])%b" % (name, attrs_end)


def _end_tag(name: bytes) -> bytes:
    return rb"</(?i:%b)(?=[\t\n\f\r />])%b" % (name, _ATTRS_END)


def _raw_text_element(name: bytes, escape: bytes = b"") -> bytes:
    # A whole raw text element whose text has no "</name" (and, for
    # script, no "<!--") before its end tag: nothing inside can change the
    # tokenizer state, so it is one token.
    text = rb"[^<]*(?:<(?!%b/(?i:%b)[\t\n\f\r />])[^<]*)*" % (escape, name)
    return _start_tag(name) + text + _end_tag(name)


def _leaf_element(name: bytes) -> bytes:
    # An element with only text and comments in it; even an integration
    # point changes nothing then.
    text = rb"[^<]*(?:%b[^<]*)*" % _COMMENT_TOKEN
    return _start_tag(name) + text + _end_tag(name)


def _foreign_subtree(
    root: bytes,
    excluded_start: bytes,
    excluded_end: bytes,
    leaves: list[bytes],
    closed: bool = True,
) -> bytes:
    # A whole <svg> or <math> element that has only elements of its own
    # kind in it: no start tag that breaks out, no integration point except
    # as a text-only leaf, no nested root, and no end tag that the general
    # rules would let close an enclosing HTML element. Its end tag is then
    # the first end tag with the root's name, as the general rules find.
    # Without ``closed``, the pattern stops before that end tag, so it can
    # tell an element that is only cut short from one that is not simple.
    item = _alternatives(
        _COMMENT_TOKEN,
        _CDATA_TOKEN,
        _FOREIGN_BOGUS_TOKEN,
        _LONE_LT,
        *(_leaf_element(leaf) for leaf in leaves),
        rb"<(?!(?i:%b)[\t\n\f\r />])%b%b" % (excluded_start, _TAG_NAME, _ATTRS_END),
        rb"</(?!(?i:%b)[\t\n\f\r />])%b%b" % (excluded_end, _TAG_NAME, _ATTRS_END),
    )
    content = rb"[^<]*(?:%b[^<]*)*" % item
    end = _end_tag(root) if closed else b""
    return _start_tag(root, _OPEN_ATTRS_END) + content + end


_SVG_RULES = (
    b"svg",
    _BREAKOUT_NAMES + rb"|svg|math|title|desc|foreignobject",
    _ENCLOSING_NAMES + rb"|p|br|svg",
    [b"title", b"desc", b"foreignobject"],
)
_MATH_RULES = (
    b"math",
    _BREAKOUT_NAMES + rb"|svg|math|annotation-xml|m[ions]|mtext",
    _ENCLOSING_NAMES + rb"|p|br|math",
    [b"mi", b"mo", b"mn", b"ms", b"mtext"],
)
_SVG_SUBTREE = _foreign_subtree(*_SVG_RULES)
_MATH_SUBTREE = _foreign_subtree(*_MATH_RULES)
_WHOLE_ELEMENT = _alternatives(
    _raw_text_element(b"script", rb"!--|"),
    _raw_text_element(b"style"),
    _raw_text_element(b"title"),
    _raw_text_element(b"textarea"),
    _raw_text_element(b"noscript"),
    _SVG_SUBTREE,
    _MATH_SUBTREE,
)

# The hot loop of HTML content. Each alternative is one token of a flat
# sequence, so the regex engine runs one level of repetition, which measured
# fastest. The tokens are:
#   - the end of a tag with the text after it, and the next tag's start
#     (the most common sequence) or not;
#   - a quoted or unquoted attribute value with the names after it;
#   - the start of a tag up to its first "=", quote or ">";
#   - whole elements, comments or bogus comments with the text after them.
# The lookbehind admits a value only right after an attribute name
# character, where the tokenizer is in the attribute name state. A tag that
# needs more than this stops the loop at "=" or a quote, and _NESTED_RUN then
# reads the span again with exact tag rules.
# _FLAT_RUN always runs up to a ">" (see _scan_markup), where every name and
# unquoted value run stops anyway, so its tokens skip the lookaheads that
# check that a run is complete.
_TAG_START = rb"<(?!%b)/?[A-Za-z]%b*%b" % (_SPECIAL, _NAME_CHAR, _SEGMENT)
# The "=" comes before the lookbehind because the regex engine skips an
# alternative that starts with a literal byte at a glance.
_AFTER_NAME = rb"=(?<=%b=)" % _NAME_END
_FLAT_RUN = re.compile(
    rb"[^<]*%b*"
    % _alternatives(
        rb">[^<]*" + _TAG_START,
        rb"%b\"[^\"]*\"%b" % (_AFTER_NAME, _SEGMENT),
        rb">[^<]*",
        rb"%b'[^']*'%b" % (_AFTER_NAME, _SEGMENT),
        _TAG_START,
        _AFTER_NAME + _UNQUOTED_START + _UNQUOTED_CHAR + b"*" + _SEGMENT,
        _alternatives(_COMMENT_TOKEN, _BOGUS_TOKEN, _LONE_LT, _WHOLE_ELEMENT)
        + rb"[^<]*",
    )
)
_NESTED_RUN = re.compile(
    _alternatives(
        rb"[^<]+",
        rb"<(?!%b)/?%b%b" % (_SPECIAL, _TAG_NAME, _ANY_ATTRS_END),
        _COMMENT_TOKEN,
        _BOGUS_TOKEN,
        _LONE_LT,
        _WHOLE_ELEMENT,
    )
    + b"*"
)
_FOREIGN_SUBTREE_RE = re.compile(_alternatives(_SVG_SUBTREE, _MATH_SUBTREE))
# The start of a simple svg or math element, up to where its end tag or
# something else must come.
_FOREIGN_OPENING_RE = re.compile(
    _alternatives(
        _foreign_subtree(*_SVG_RULES, closed=False),
        _foreign_subtree(*_MATH_RULES, closed=False),
    )
)
_TEXT_RUN = re.compile(rb"(?:[^<]+|%b)*" % _LONE_LT)
# Inside foreign content. Self-closing start tags that do not break out
# change nothing, so _FOREIGN_RUN consumes them.
_FOREIGN_RUN = re.compile(
    _alternatives(
        rb"[^<]+",
        _COMMENT_TOKEN,
        _CDATA_TOKEN,
        _FOREIGN_BOGUS_TOKEN,
        _LONE_LT,
        rb"<(?!(?i:%b)[\t\n\f\r />])%b(?:%b)*[\t\n\f\r /]*/>"
        % (_BREAKOUT_NAMES, _TAG_NAME, _ATTR),
    )
    + b"*"
)
_INTEGRATION_RUN = re.compile(
    _alternatives(
        rb"[^<]+", _COMMENT_TOKEN, _CDATA_TOKEN, _FOREIGN_BOGUS_TOKEN, _LONE_LT
    )
    + b"*"
)
_HTML_IN_FOREIGN_RUN = re.compile(
    _alternatives(rb"[^<]+", _COMMENT_TOKEN, _BOGUS_TOKEN, _LONE_LT) + b"*"
)

_CANDIDATE_SEARCH = re.compile(rb"<!--" + _CANDIDATE)
_COMMENT_END = re.compile(rb"--!?>")
_MAYBE_PLACEHOLDER = re.compile(rb"<!--[\t\n\f\r /A-Za-z0-9_:-]*")
_PLACEHOLDER = re.compile(
    rb"<!--[\t\n\f\r ]*(/?)(?i:personalize:([a-z0-9][a-z0-9_-]{0,63})"
    rb"|(personalized_recommendations_placeholder))[\t\n\f\r ]*-->"
)
_SCRIPT_DATA_STOP = re.compile(rb"<(?:!--|/(?i:script)[\t\n\f\r />])")
_SCRIPT_ESCAPED_STOP = re.compile(rb"-->|<(/?)(?i:script)[\t\n\f\r />]")
_SCRIPT_DOUBLE_ESCAPED_STOP = re.compile(rb"-->|</(?i:script)[\t\n\f\r />]")
_SCRIPT_OVERLAP = len(b"</script")

_RAW_TEXT_NAMES = frozenset(
    {
        b"style",
        b"xmp",
        b"iframe",
        b"noembed",
        b"noframes",
        b"noscript",
        b"title",
        b"textarea",
    }
)
_RAW_TEXT_END = {
    name: re.compile(rb"</(?i:" + name + rb")[\t\n\f\r />]") for name in _RAW_TEXT_NAMES
}
_VOID_ELEMENTS = frozenset(
    b"area base basefont bgsound br col embed frame hr image img input keygen "
    b"link meta param source track wbr".split()
)
_SVG_HTML_INTEGRATION = frozenset({b"foreignobject", b"desc", b"title"})
_MATHML_TEXT_INTEGRATION = frozenset({b"mi", b"mo", b"mn", b"ms", b"mtext"})
_HTML_ENCODINGS = frozenset({b"text/html", b"application/xhtml+xml"})
_FONT_BREAKOUT_ATTRS = frozenset({b"color", b"face", b"size"})


@dataclass(frozen=True)
class Placeholder:
    """A placeholder found in the document.

    ``slot`` is the normalized (lower-case) slot name. ``raw`` is the
    original bytes of the whole region: the single comment, or a pair's
    opening comment, fallback markup and closing comment.
    """

    slot: str
    raw: bytes


@dataclass(frozen=True)
class _Marker:
    """A real opening or closing comment of a configured slot."""

    slot: str
    closing: bool
    raw: bytes


class _Element(NamedTuple):
    """An open element of foreign content, or an HTML element inside it."""

    name: bytes
    namespace: int
    html_integration: bool
    text_integration: bool


class Rewriter:
    """Incremental finder of the placeholders of ``slots`` in one document.

    Call :meth:`feed` with each chunk of the document and :meth:`close` at
    its end. Each call returns events in document order: ``bytes`` to copy
    unchanged and :class:`Placeholder` records. Joining every event's bytes
    (a placeholder's ``raw``) over all calls gives back the input exactly,
    and the placeholders reported do not depend on how the input was split.
    A rewriter serves one document; build a new one for the next.

    :param slots: the slot names to report, each matching
        :data:`SLOT_NAME_RE`.
    :param max_region: the longest pair region, in bytes, from the start of
        the opening comment to the end of the closing comment.
    :raises ConfigurationError: on an invalid slot name or ``max_region``.
    """

    def __init__(self, slots: Collection[str], *, max_region: int = 65536) -> None:
        self._slots = _check_slots(slots)
        if (
            isinstance(max_region, bool)
            or not isinstance(max_region, int)
            or max_region < 1
        ):
            raise ConfigurationError(
                f"max_region={max_region!r} is invalid: pass a positive number "
                "of bytes, such as the default 65536."
            )
        self._regions = _Regions(max_region)
        self._tail = b""
        # Chunks that arrived while a held element waits for _next_scan
        # bytes in all, kept apart so that small chunks are joined once.
        self._waiting: list[bytes] = []
        self._waiting_size = 0
        self._next_scan = 0
        self._closed = False

        self._mode = _MARKUP
        self._stack: list[_Element] = []
        self._raw_end: re.Pattern[bytes] = _SCRIPT_DATA_STOP
        self._raw_overlap = 0
        self._tag_scanner: _TagScanner | None = None

        # Per-buffer scan state.
        self._emitted = 0
        self._keep = 0
        self._cut = 0

    def feed(self, data: bytes) -> list[bytes | Placeholder]:
        """Scan the next chunk and return the events decided so far."""
        if self._closed:
            raise RuntimeError(
                "Rewriter.feed() was called after close(); build a new "
                "Rewriter for each document."
            )
        if not data:
            return []
        if self._next_scan:
            self._waiting.append(bytes(data))
            self._waiting_size += len(data)
            if len(self._tail) + self._waiting_size < self._next_scan:
                return []
            buf = self._take_waiting()
        else:
            buf = self._tail + data if self._tail else bytes(data)
        self._scan(buf, final=False)
        return self._regions.take()

    def close(self) -> list[bytes | Placeholder]:
        """Scan the held-back bytes as the end of the document, return the rest.

        Calling it again returns an empty list.
        """
        if self._closed:
            return []
        self._closed = True
        if self._next_scan:
            self._tail = self._take_waiting()
        if self._tail:
            self._scan(self._tail, final=True)
            self._tail = b""
        self._regions.finish()
        return self._regions.take()

    # --- Scanning loop ---------------------------------------------------

    def _scan(self, buf: bytes, final: bool) -> None:
        self._emitted = 0
        self._cut = buf.rfind(b">") + 1
        size = len(buf)
        pos = 0
        keep = size
        while pos < size:
            pos = self._step(buf, pos, final)
            if pos < 0:
                keep = self._keep
                break
        self._flush(buf, keep)
        self._tail = buf[keep:]

    def _step(self, buf: bytes, pos: int, final: bool) -> int:
        """Advance from ``pos`` in the current mode.

        Return the new position, or -1 after setting ``_keep`` to the
        position from which the rest must wait for more input.
        """
        mode = self._mode
        if mode == _MARKUP:
            if self._stack:
                return self._scan_foreign_markup(buf, pos, final)
            return self._scan_markup(buf, pos, final)
        if mode == _SCRIPT:
            return self._scan_script_data(buf, pos, final)
        if mode == _RAWTEXT:
            return self._scan_raw_text(buf, pos, final)
        if mode == _RAW_END_TAG:
            return self._scan_tag(buf, pos, final, apply=False)
        if mode == _COMMENT:
            return self._scan_until(buf, pos, final, _COMMENT_END, 3)
        if mode == _BOGUS:
            return self._scan_until(buf, pos, final, None, 0)
        if mode == _CDATA:
            return self._scan_until(buf, pos, final, None, 2)
        if mode == _TAG:
            return self._continue_tag(buf, pos)
        if mode == _SCRIPT_ESCAPED:
            return self._scan_script_escaped(buf, pos, final)
        if mode == _SCRIPT_DOUBLE_ESCAPED:
            return self._scan_script_double_escaped(buf, pos, final)
        return len(buf)  # _PLAINTEXT: the rest of the document is text

    def _wait(self, pos: int, final: bool, size: int) -> int:
        # At the end of the input nothing is left to wait for: whatever is
        # unfinished (a lone "<", an open tag or comment) is ordinary bytes.
        if final:
            return size
        self._keep = pos
        return -1

    def _flush(self, buf: bytes, end: int) -> None:
        start = self._emitted
        if end > start:
            if start == 0 and end == len(buf):
                self._regions.add_bytes(buf)
            else:
                self._regions.add_bytes(buf[start:end])
            self._emitted = end

    # --- HTML content ----------------------------------------------------

    def _scan_markup(self, buf: bytes, pos: int, final: bool) -> int:
        cut = self._cut
        if cut > pos:
            if _markup_run is not None:
                end = _compiled_run(_markup_run, buf, pos, cut)
            else:
                end = _regex_run(buf, pos, cut)
            if end < cut:
                if not final and self._hold_foreign_element(buf, end, cut):
                    self._keep = end
                    return -1
                return self._scan_construct(buf, end, final)
            pos = end
        pos = _run_end(_TEXT_RUN, buf, pos)
        if pos == len(buf):
            return pos
        return self._scan_construct(buf, pos, final)

    def _take_waiting(self) -> bytes:
        buf = b"".join([self._tail, *self._waiting])
        self._waiting = []
        self._waiting_size = 0
        self._next_scan = 0
        return buf

    def _hold_foreign_element(self, buf: bytes, pos: int, cut: int) -> bool:
        """Return whether to wait for the end of the svg or math element at pos.

        The element is waited for only when it is simple enough to be read
        whole and nothing but the end of the buffer stops it. So its start
        tag is not self-closing, and everything after it up to the buffer's
        last ">" is content it may have. It must also be shorter than
        _FOREIGN_HOLD. The next scan waits until the held bytes have doubled,
        so that many small chunks cost linear time.
        """
        held_size = len(buf) - pos
        if held_size >= _FOREIGN_HOLD:
            return False
        opening = _FOREIGN_OPENING_RE.match(buf, pos, cut)
        if opening is None or opening.end() != cut:
            return False
        self._next_scan = min(2 * held_size, _FOREIGN_HOLD)
        return True

    def _scan_foreign_markup(self, buf: bytes, pos: int, final: bool) -> int:
        top = self._stack[-1]
        if top.namespace == _HTML:
            run = _HTML_IN_FOREIGN_RUN
        elif top.html_integration or top.text_integration:
            run = _INTEGRATION_RUN
        else:
            run = _FOREIGN_RUN
        pos = _run_end(run, buf, pos)
        if pos == len(buf):
            return pos
        return self._scan_construct(buf, pos, final)

    def _scan_construct(self, buf: bytes, pos: int, final: bool) -> int:
        """Read the markup that starts with the "<" at ``pos``."""
        size = len(buf)
        if pos + 1 >= size:
            return self._wait(pos, final, size)
        second = buf[pos + 1 : pos + 2]
        if second.isalpha():
            return self._scan_tag(buf, pos, final, apply=True)
        if second == b"/":
            if pos + 2 >= size:
                return self._wait(pos, final, size)
            third = buf[pos + 2 : pos + 3]
            if third.isalpha():
                return self._scan_tag(buf, pos, final, apply=True)
            if third == b">":
                return pos + 3
            return self._scan_bogus(buf, pos + 2)
        if second == b"!":
            return self._scan_declaration(buf, pos, final)
        if second == b"?":
            return self._scan_bogus(buf, pos + 1)
        return pos + 1

    def _scan_declaration(self, buf: bytes, pos: int, final: bool) -> int:
        size = len(buf)
        dashes = buf[pos + 2 : pos + 4]
        if dashes == b"--":
            return self._scan_comment(buf, pos, final)
        if len(dashes) < 2 and b"--".startswith(dashes):
            return self._wait(pos, final, size)

        top = self._stack[-1] if self._stack else None
        if top is not None and top.namespace != _HTML:
            if buf.startswith(b"[CDATA[", pos + 2):
                return self._scan_until(buf, pos + 9, final, None, 2, enter=_CDATA)
            if size - pos < 9 and b"[CDATA[".startswith(buf[pos + 2 :]):
                return self._wait(pos, final, size)
        return self._scan_bogus(buf, pos + 2)

    def _scan_bogus(self, buf: bytes, pos: int) -> int:
        end = buf.find(b">", pos)
        if end >= 0:
            return end + 1
        self._mode = _BOGUS
        return len(buf)

    def _scan_until(
        self,
        buf: bytes,
        pos: int,
        final: bool,
        pattern: re.Pattern[bytes] | None,
        overlap: int,
        enter: int | None = None,
    ) -> int:
        """Find the end of a comment, bogus comment or CDATA section.

        ``overlap`` bytes at the end are scanned again with the next chunk,
        so an end marker split between chunks is still found.
        """
        if pattern is not None:
            match = pattern.search(buf, pos)
            end = match.end() if match else -1
        elif overlap:
            end = buf.find(b"]]>", pos)
            end = end + 3 if end >= 0 else -1
        else:
            end = buf.find(b">", pos)
            end = end + 1 if end >= 0 else -1
        if end >= 0:
            self._mode = _MARKUP
            return end
        if enter is not None:
            self._mode = enter
        size = len(buf)
        return self._wait(max(pos, size - overlap), final, size)

    def _scan_comment(self, buf: bytes, pos: int, final: bool) -> int:
        size = len(buf)
        body = pos + 4
        if body >= size or (body + 1 == size and buf[body] == 0x2D):
            return self._wait(pos, final, size)
        if buf[body] == 0x3E:  # "<!-->"
            end = body + 1
        elif buf.startswith(b"->", body):  # "<!--->"
            end = body + 2
        else:
            match = _COMMENT_END.search(buf, body)
            if match is None:
                return self._open_comment(buf, pos, final)
            end = match.end()

        if end - pos <= _MAX_COMMENT:
            placeholder = _PLACEHOLDER.fullmatch(buf, pos, end)
            if placeholder is not None:
                self._mark(buf, pos, end, placeholder)
        return end

    def _open_comment(self, buf: bytes, pos: int, final: bool) -> int:
        """Handle a comment whose end is not in the buffer yet."""
        size = len(buf)
        if final:
            return size
        if size - pos < _MAX_COMMENT and _MAYBE_PLACEHOLDER.fullmatch(buf, pos):
            self._keep = pos
            return -1
        # Not a placeholder, whatever follows: pass it on while looking for
        # its end. The last 3 bytes may begin "--!>".
        self._mode = _COMMENT
        self._keep = max(pos + 4, size - 3)
        return -1

    def _mark(self, buf: bytes, start: int, end: int, match: re.Match[bytes]) -> None:
        name = match.group(2)
        slot = name.decode("ascii").lower() if name is not None else _ALIAS_SLOT
        if slot not in self._slots:
            return
        self._flush(buf, start)
        self._regions.add_marker(_Marker(slot, bool(match.group(1)), buf[start:end]))
        self._emitted = end

    # --- Tags ------------------------------------------------------------

    def _scan_tag(self, buf: bytes, pos: int, final: bool, *, apply: bool) -> int:
        """Read the tag at ``pos``; with ``apply``, let it change the state.

        The end tag that closes raw text is read with ``apply`` false: its
        element was never pushed on the foreign content stack.
        """
        match = _TAG_RE.match(buf, pos)
        size = len(buf)
        if match is None:
            if final:
                return size  # a tag cut off by the end of input is dropped
            if size - pos < _TAG_HOLD:
                self._keep = pos
                return -1
            self._tag_scanner = _TagScanner(apply)
            self._mode = _TAG
            return self._continue_tag(buf, pos)

        self._mode = _MARKUP
        if apply:
            name = match.group(2).lower()
            attrs: dict[bytes, bytes] = {}
            if name == b"font" or name == b"annotation-xml":
                scanner = _TagScanner(apply)
                scanner.advance(buf, pos)
                attrs = scanner.attrs
            closing = match.group(1) == b"/"
            self._apply_tag(closing, name, match.group(3).endswith(b"/"), attrs)
        return match.end()

    def _continue_tag(self, buf: bytes, pos: int) -> int:
        scanner = self._tag_scanner
        assert scanner is not None
        end = scanner.advance(buf, pos)
        if end < 0:
            return len(buf)
        self._tag_scanner = None
        self._mode = _MARKUP
        if scanner.apply:
            self._apply_tag(
                scanner.closing, scanner.tag_name, scanner.self_closing, scanner.attrs
            )
        return end

    def _apply_tag(
        self, closing: bool, name: bytes, self_closing: bool, attrs: dict[bytes, bytes]
    ) -> None:
        """Update the mode and the foreign content stack for one tag."""
        stack = self._stack
        if not stack:
            if not closing:
                self._start_html_element(name, self_closing)
            return
        if closing:
            self._end_tag_in_foreign_content(name)
            return

        top = stack[-1]
        if (
            top.namespace == _HTML
            or top.html_integration
            or (top.text_integration and name not in (b"mglyph", b"malignmark"))
            or (top.name == b"annotation-xml" and name == b"svg")
        ):
            self._start_html_element(name, self_closing)
            return

        if name in _BREAKOUT_ELEMENTS or (
            name == b"font" and not _FONT_BREAKOUT_ATTRS.isdisjoint(attrs)
        ):
            while stack and not (
                stack[-1].namespace == _HTML
                or stack[-1].html_integration
                or stack[-1].text_integration
            ):
                stack.pop()
            self._apply_tag(False, name, self_closing, attrs)
            return
        if not self_closing:
            self._push(name, top.namespace, attrs)

    def _start_html_element(self, name: bytes, self_closing: bool) -> None:
        if name == b"script":
            self._mode = _SCRIPT
        elif name in _RAW_TEXT_NAMES:
            self._mode = _RAWTEXT
            self._raw_end = _RAW_TEXT_END[name]
            self._raw_overlap = len(name) + 2
        elif name == b"plaintext":
            self._mode = _PLAINTEXT
        elif name == b"svg":
            if not self_closing:
                self._push(name, _SVG, {})
        elif name == b"math":
            if not self_closing:
                self._push(name, _MATHML, {})
        elif self._stack and name not in _VOID_ELEMENTS:
            # The HTML elements inside an integration point are tracked so
            # that their end tags do not close the foreign elements.
            self._push(name, _HTML, {})

    def _push(self, name: bytes, namespace: int, attrs: dict[bytes, bytes]) -> None:
        if len(self._stack) >= _MAX_FOREIGN_DEPTH:
            # NOTE: deeper elements are not tracked, so their end tags may
            # close an outer element of the same name too early.
            return
        html_integration = False
        text_integration = False
        if namespace == _SVG:
            html_integration = name in _SVG_HTML_INTEGRATION
        elif namespace == _MATHML:
            text_integration = name in _MATHML_TEXT_INTEGRATION
            html_integration = (
                name == b"annotation-xml"
                and attrs.get(b"encoding", b"").lower() in _HTML_ENCODINGS
            )
        self._stack.append(
            _Element(name, namespace, html_integration, text_integration)
        )

    def _end_tag_in_foreign_content(self, name: bytes) -> None:
        stack = self._stack
        top = stack[-1]
        if name in (b"p", b"br") and top.namespace != _HTML:
            while stack and not (
                stack[-1].namespace == _HTML
                or stack[-1].html_integration
                or stack[-1].text_integration
            ):
                stack.pop()
            return

        crossed_html = False
        for index in range(len(stack) - 1, -1, -1):
            element = stack[index]
            if element.name == name and not (
                crossed_html and element.namespace != _HTML
            ):
                del stack[index:]
                return
            if element.namespace == _HTML:
                crossed_html = True
            elif crossed_html and (
                element.html_integration or element.text_integration
            ):
                # HTML end tags do not reach past an integration point.
                return
        if not crossed_html and name in _ENCLOSING_ELEMENTS:
            stack.clear()

    # --- Raw text and scripts -------------------------------------------

    def _scan_raw_text(self, buf: bytes, pos: int, final: bool) -> int:
        match = self._raw_end.search(buf, pos)
        if match is None:
            size = len(buf)
            return self._wait(max(pos, size - self._raw_overlap), final, size)
        self._mode = _RAW_END_TAG
        return match.start()

    def _scan_script_data(self, buf: bytes, pos: int, final: bool) -> int:
        match = _SCRIPT_DATA_STOP.search(buf, pos)
        if match is None:
            size = len(buf)
            return self._wait(max(pos, size - _SCRIPT_OVERLAP), final, size)
        start = match.start()
        if buf[start + 1] == 0x21:  # "<!--"
            # The dashes of "<!--" count towards a "-->" that ends the
            # escape, so scanning resumes on them.
            self._mode = _SCRIPT_ESCAPED
            return start + 2
        self._mode = _RAW_END_TAG
        return start

    def _scan_script_escaped(self, buf: bytes, pos: int, final: bool) -> int:
        match = _SCRIPT_ESCAPED_STOP.search(buf, pos)
        if match is None:
            size = len(buf)
            return self._wait(max(pos, size - _SCRIPT_OVERLAP), final, size)
        if buf[match.start()] == 0x2D:  # "-->"
            self._mode = _SCRIPT
            return match.end()
        if match.group(1):  # "</script"
            self._mode = _RAW_END_TAG
            return match.start()
        self._mode = _SCRIPT_DOUBLE_ESCAPED
        return match.end()

    def _scan_script_double_escaped(self, buf: bytes, pos: int, final: bool) -> int:
        match = _SCRIPT_DOUBLE_ESCAPED_STOP.search(buf, pos)
        if match is None:
            size = len(buf)
            return self._wait(max(pos, size - _SCRIPT_OVERLAP), final, size)
        if buf[match.start()] == 0x2D:  # "-->"
            self._mode = _SCRIPT
        else:
            self._mode = _SCRIPT_ESCAPED
        return match.end()


def _regex_run(buf: bytes, pos: int, cut: int) -> int:
    """Consume HTML content up to ``cut`` with the regular expressions.

    Up to the last ">" of the buffer, the flat loop cannot stop inside a
    token unless a tag needs the exact rules.
    """
    end = _run_end(_FLAT_RUN, buf, pos, cut)
    if end < cut and buf[end] != _LT:
        end = _run_end(_NESTED_RUN, buf, pos, cut)
    return end


def _compiled_run(
    markup_run: Callable[[bytes, int, int], int], buf: bytes, pos: int, cut: int
) -> int:
    """Consume HTML content up to ``cut`` with the C extension.

    The extension hands over ``svg`` and ``math`` elements. The regular
    expressions for whole foreign elements still consume most of them in one
    match, before the extension goes on.
    """
    end = markup_run(buf, pos, cut)
    while end < cut:
        match = _FOREIGN_SUBTREE_RE.match(buf, end, cut)
        if match is None:
            break
        end = markup_run(buf, match.end(), cut)
    return end


def _run_end(
    pattern: re.Pattern[bytes], buf: bytes, pos: int, endpos: int | None = None
) -> int:
    """Return where a match of ``pattern``, which may be empty, ends."""
    if endpos is None:
        match = pattern.match(buf, pos)
    else:
        match = pattern.match(buf, pos, endpos)
    return pos if match is None else match.end()


def _check_slots(slots: Collection[str]) -> frozenset[str]:
    if isinstance(slots, (str, bytes)):
        raise ConfigurationError(
            f"slots={slots!r} is a single string: pass a collection of slot "
            "names, such as {'recommendations'}."
        )
    checked = set()
    for slot in slots:
        if not isinstance(slot, str) or not SLOT_NAME_RE.fullmatch(slot):
            raise ConfigurationError(
                f"Slot name {slot!r} is invalid: use 1 to 64 lower-case letters, "
                "digits, '-' and '_', starting with a letter or digit."
            )
        checked.add(slot)
    return frozenset(checked)


class _TagScanner:
    """Tokenizer of one tag, fed in pieces.

    It reads a tag too long to hold back, and the attributes of the few tags
    whose attributes matter. It follows the tokenizer's tag and attribute
    states one by one, so it is slower than ``_TAG_RE`` but needs no
    complete tag.
    """

    _NAME = re.compile(rb"[^\t\n\f\r />]*")
    _ATTR_NAME = re.compile(rb"[^\t\n\f\r />=]*")
    _UNQUOTED = re.compile(rb"[^\t\n\f\r >]*")
    _SPACE = re.compile(rb"[\t\n\f\r ]*")
    _MAX_NAME = 64
    _MAX_VALUE = 64
    _STATES: dict[str, Callable[[_TagScanner, bytes, int], int]]

    def __init__(self, apply: bool) -> None:
        self.apply = apply
        self.closing = False
        self.self_closing = False
        self.tag_name = b""
        self.attrs: dict[bytes, bytes] = {}
        self._state = "open"
        self._name = bytearray()
        self._attr_name = bytearray()
        self._value = bytearray()
        self._value_target: bytes | None = None
        self._collect = False

    def advance(self, buf: bytes, pos: int) -> int:
        """Read from ``pos``. Return the position after ``>``, or -1."""
        size = len(buf)
        while pos < size:
            pos = self._STATES[self._state](self, buf, pos)
            if self._state == "done":
                return pos
        return -1

    def _open(self, buf: bytes, pos: int) -> int:
        # "<" or "</", then the first letter of the name.
        char = buf[pos]
        if char == 0x3C:
            return pos + 1
        if char == 0x2F:
            self.closing = True
            return pos + 1
        self._state = "name"
        return pos

    def _read_name(self, buf: bytes, pos: int) -> int:
        end = _run_end(self._NAME, buf, pos)
        self._name += buf[pos:end][: self._MAX_NAME - len(self._name)]
        if end == len(buf):
            return end
        self.tag_name = bytes(self._name).lower()
        self._collect = self.tag_name in (b"font", b"annotation-xml")
        return self._after_name(buf, end)

    def _between_attributes(self, buf: bytes, pos: int) -> int:
        # The "before attribute name" and "after attribute name" states:
        # they differ only in what "=" means.
        end = _run_end(self._SPACE, buf, pos)
        if end == len(buf):
            return end
        char = buf[end]
        if char == 0x2F:
            self._state = "self_closing"
            return end + 1
        if char == 0x3E:
            return self._finish(end)
        if char == 0x3D and self._state == "after_name":
            self._state = "before_value"
            return end + 1
        self._attr_name = bytearray(buf[end : end + 1])
        self._state = "attr_name"
        return end + 1

    def _read_attr_name(self, buf: bytes, pos: int) -> int:
        end = _run_end(self._ATTR_NAME, buf, pos)
        self._attr_name += buf[pos:end][: self._MAX_NAME - len(self._attr_name)]
        if end == len(buf):
            return end
        self._end_attr_name()
        if buf[end] == 0x3D:
            self._state = "before_value"
            return end + 1
        self._state = "after_name"
        return end

    def _before_value(self, buf: bytes, pos: int) -> int:
        end = _run_end(self._SPACE, buf, pos)
        if end == len(buf):
            return end
        char = buf[end]
        if char == 0x22 or char == 0x27:
            self._state = "double" if char == 0x22 else "single"
            return end + 1
        if char == 0x3E:
            return self._finish(end)
        self._state = "unquoted"
        return end

    def _read_quoted(self, buf: bytes, pos: int) -> int:
        quote = b'"' if self._state == "double" else b"'"
        end = buf.find(quote, pos)
        if end < 0:
            self._add_value(buf[pos:])
            return len(buf)
        self._add_value(buf[pos:end])
        self._state = "after_value"
        return end + 1

    def _read_unquoted(self, buf: bytes, pos: int) -> int:
        end = _run_end(self._UNQUOTED, buf, pos)
        self._add_value(buf[pos:end])
        if end == len(buf):
            return end
        if buf[end] == 0x3E:
            return self._finish(end)
        self._state = "before_name"
        return end + 1

    def _after_value(self, buf: bytes, pos: int) -> int:
        char = buf[pos]
        if char == 0x3E:
            return self._finish(pos)
        if char == 0x2F:
            self._state = "self_closing"
            return pos + 1
        # Anything else is reread as the start of an attribute name.
        self._state = "before_name"
        return pos + 1 if char in _SPACES else pos

    def _self_closing(self, buf: bytes, pos: int) -> int:
        if buf[pos] == 0x3E:
            self.self_closing = True
            return self._finish(pos)
        self._state = "before_name"
        return pos

    def _after_name(self, buf: bytes, end: int) -> int:
        char = buf[end : end + 1]
        if char == b">":
            return self._finish(end)
        self._state = "self_closing" if char == b"/" else "before_name"
        return end + 1

    def _end_attr_name(self) -> None:
        if self._collect:
            name = bytes(self._attr_name).lower()
            if name not in self.attrs:
                self.attrs[name] = b""
                self._value_target = name
            else:
                self._value_target = None
        self._value = bytearray()

    def _add_value(self, data: bytes) -> None:
        if not self._collect or self._value_target is None:
            return
        if len(self._value) <= self._MAX_VALUE:
            self._value += data[: self._MAX_VALUE + 1]
            self.attrs[self._value_target] = bytes(self._value)

    def _finish(self, pos: int) -> int:
        self._state = "done"
        return pos + 1


_TagScanner._STATES = {
    "open": _TagScanner._open,
    "name": _TagScanner._read_name,
    "before_name": _TagScanner._between_attributes,
    "after_name": _TagScanner._between_attributes,
    "attr_name": _TagScanner._read_attr_name,
    "before_value": _TagScanner._before_value,
    "double": _TagScanner._read_quoted,
    "single": _TagScanner._read_quoted,
    "unquoted": _TagScanner._read_unquoted,
    "after_value": _TagScanner._after_value,
    "self_closing": _TagScanner._self_closing,
}


class _Regions:
    """Pairs openings with closings and collects the output events.

    The scanner reports ordinary bytes and the markers (real opening and
    closing comments of configured slots) in order. While an opening is
    undecided, everything after it waits here. Offsets count bytes from
    the start of the document.
    """

    def __init__(self, max_region: int) -> None:
        self._max_region = max_region
        self._pending: deque[tuple[int, bytes | _Marker]] = deque()
        self._end = 0
        self._closings: dict[str, deque[tuple[int, int]]] = {}
        self._out: list[bytes | Placeholder] = []

    def add_bytes(self, data: bytes) -> None:
        start = self._end
        self._end += len(data)
        if not self._pending:
            self._out.append(data)
            return
        self._pending.append((start, data))
        self._settle(eof=False)

    def add_marker(self, marker: _Marker) -> None:
        start = self._end
        self._end += len(marker.raw)
        if not self._pending:
            if marker.closing:
                self._out.append(marker.raw)  # no opening to close
                return
            self._pending.append((start, marker))
            self._settle(eof=False)
            return
        self._pending.append((start, marker))
        if marker.closing:
            self._closings.setdefault(marker.slot, deque()).append((start, self._end))
        self._settle(eof=False)

    def finish(self) -> None:
        self._settle(eof=True)

    def take(self) -> list[bytes | Placeholder]:
        """Return the decided events, adjacent bytes merged, and forget them."""
        out = self._out
        self._out = []
        if len(out) < 2:
            return out
        merged: list[bytes | Placeholder] = []
        run: list[bytes] = []
        for event in out:
            if isinstance(event, bytes):
                run.append(event)
                continue
            if run:
                merged.append(run[0] if len(run) == 1 else b"".join(run))
                run = []
            merged.append(event)
        if run:
            merged.append(run[0] if len(run) == 1 else b"".join(run))
        return merged

    def _settle(self, eof: bool) -> None:
        """Decide every opening at the front of the pending events that can be."""
        pending = self._pending
        while pending:
            start, head = pending[0]
            assert isinstance(head, _Marker) and not head.closing
            closings = self._closings.get(head.slot)
            if closings:
                closing_start, closing_end = closings[0]
                if closing_end - start <= self._max_region:
                    self._emit_region(head.slot, closing_start)
                    self._drain()
                    continue
            elif not eof and self._end - start < self._max_region:
                return  # the closing may still come

            pending.popleft()
            self._out.append(Placeholder(head.slot, head.raw))
            self._drain()

    def _emit_region(self, slot: str, closing_start: int) -> None:
        parts: list[bytes] = []
        while True:
            start, event = self._pending.popleft()
            if isinstance(event, bytes):
                parts.append(event)
                continue
            parts.append(event.raw)
            if event.closing:
                self._closings[event.slot].popleft()
                if start == closing_start:
                    break
        self._out.append(Placeholder(slot, b"".join(parts)))

    def _drain(self) -> None:
        """Output the pending events in front of the next opening."""
        pending = self._pending
        while pending:
            event = pending[0][1]
            if isinstance(event, bytes):
                self._out.append(event)
            elif event.closing:
                self._closings[event.slot].popleft()
                self._out.append(event.raw)
            else:
                return
            pending.popleft()


def may_contain_placeholder(html: bytes) -> bool:
    """Return whether ``html`` has a comment that could be a placeholder.

    ``False`` is certain: the document has no placeholder, so it needs no
    scan. The search jumps from one ``<!--`` to the next in C, many times
    faster than a full scan.
    """
    return _CANDIDATE_SEARCH.search(html) is not None


def find_placeholders(html: bytes, slots: Collection[str]) -> list[Placeholder]:
    """Return the placeholders of ``slots`` in a whole document, in order.

    :raises ConfigurationError: on an invalid slot name.
    """
    rewriter = Rewriter(slots)
    if not may_contain_placeholder(html):
        return []
    events = rewriter.feed(html) + rewriter.close()
    return [event for event in events if isinstance(event, Placeholder)]


def rewrite(html: bytes, fragments: Mapping[str, bytes]) -> bytes:
    """Replace every placeholder of a slot in ``fragments`` with its bytes.

    The keys of ``fragments`` are the slots to fill. Bytes outside the
    placeholders are returned unchanged, and a document without
    placeholders is returned as it is.

    :raises ConfigurationError: on an invalid slot name.
    """
    rewriter = Rewriter(fragments.keys())
    if not fragments or not may_contain_placeholder(html):
        return html
    events = rewriter.feed(html) + rewriter.close()
    parts = [
        fragments[event.slot] if isinstance(event, Placeholder) else event
        for event in events
    ]
    return b"".join(parts)
