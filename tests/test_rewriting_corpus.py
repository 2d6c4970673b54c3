"""The rewriter against ground truth: tokenizer cases, html5lib and real pages.

html5lib (a WHATWG HTML5 parser in pure Python) is the oracle here. It is run
with scripting enabled, as browsers run, and every comment token it emits
becomes a comment node, so counting comment nodes counts comment tokens.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from edge_personalize.rewriting import Placeholder, Rewriter, find_placeholders
from html5_oracle import html5lib_slots
from shared_inputs import shared_path
from test_rewriting import TOKENIZER_CASES

# Every test runs with the C scanner and with the regex scanner.
pytestmark = pytest.mark.usefixtures("scanner")

CORPUS = shared_path("corpus")
CASES = json.loads((CORPUS / "tokenizer_cases.json").read_text())
PAGES = sorted((CORPUS / "pages").glob("*.html"))

Event = bytes | Placeholder


def random_chunks(html: bytes, seed: str, largest: int = 16384) -> list[bytes]:
    rng = random.Random(seed)
    pieces = []
    pos = 0
    while pos < len(html):
        size = rng.choice([1, 2, 3, 7, 64, 1000, rng.randint(1, largest)])
        pieces.append(html[pos : pos + size])
        pos += size
    return pieces


def run(pieces: Sequence[bytes], slots: Sequence[str]) -> list[Event]:
    rewriter = Rewriter(slots)
    events: list[Event] = []
    for piece in pieces:
        events.extend(rewriter.feed(piece))
    events.extend(rewriter.close())
    return events


# --- Tokenizer cases ------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_tokenizer_case(case: dict[str, object]) -> None:
    html = str(case["html"]).encode()
    expected = case["placeholders_expected"]
    whole = find_placeholders(html, ["recs"])
    assert len(whole) == expected
    one_byte = run([html[i : i + 1] for i in range(len(html))], ["recs"])
    assert [e for e in one_byte if isinstance(e, Placeholder)] == whole
    chunked = run(random_chunks(html, case["name"], 16), ["recs"])
    assert [e for e in chunked if isinstance(e, Placeholder)] == whole


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_tokenizer_case_html5lib(case: dict[str, object]) -> None:
    html = str(case["html"]).encode()
    assert len(html5lib_slots(html)) == case["placeholders_expected"]


@pytest.mark.parametrize(("html", "expected"), TOKENIZER_CASES)
def test_own_case_html5lib(html: bytes, expected: int) -> None:
    assert len(html5lib_slots(html)) == expected


# --- Real pages -----------------------------------------------------------

# Places to try: before end tags that usually close content, and places where
# a placeholder is usually not real: script, style and title bodies,
# attribute values and comments. html5lib decides in each case; a <title> or
# <style> inside inline SVG, for one, is an ordinary element.
_BEFORE_END_TAG = re.compile(rb"</(?:body|main|div|p|li|section)>", re.I)
_AFTER_SCRIPT = re.compile(rb"<script\b[^>]*>", re.I)
_AFTER_START = re.compile(rb"<(?:style|title|textarea)\b[^>]*>", re.I)
_IN_VALUE = re.compile(rb"""\b(?:class|href|content|alt)=["']""", re.I)
_IN_COMMENT = re.compile(rb"<!--")


def plant_positions(page: bytes, rng: random.Random) -> list[tuple[int, str]]:
    """Return (offset, kind) places to insert placeholders, in order."""
    places: list[tuple[int, str]] = []
    for pattern, kind, count in (
        (_BEFORE_END_TAG, "content", 5),
        (_AFTER_SCRIPT, "script", 2),
        (_AFTER_START, "raw", 2),
        (_IN_VALUE, "value", 2),
        (_IN_COMMENT, "comment", 1),
    ):
        matches = list(pattern.finditer(page))
        for match in rng.sample(matches, min(count, len(matches))):
            offset = match.start() if kind == "content" else match.end()
            if kind == "comment":
                offset += 1
            places.append((offset, kind))
    last_body = page.lower().rfind(b"</body>")
    places.append((last_body if last_body >= 0 else len(page), "content"))
    return sorted(set(places))


def plant(page: bytes, places: Sequence[tuple[int, str]]) -> bytes:
    """Insert the placeholder of slot s<i> at the i-th place."""
    parts: list[bytes] = []
    previous = 0
    for index, (offset, _) in enumerate(places):
        parts.append(page[previous:offset])
        parts.append(b"<!-- personalize:s%d -->" % index)
        previous = offset
    parts.append(page[previous:])
    return b"".join(parts)


@pytest.mark.parametrize("path", PAGES, ids=[path.name for path in PAGES])
def test_corpus_page(path: Path) -> None:
    page = path.read_bytes()
    rng = random.Random(path.name)
    places = plant_positions(page, rng)
    planted = plant(page, places)
    slots = [f"s{index}" for index in range(len(places))]

    real = html5lib_slots(planted)
    events = run(random_chunks(planted, path.name), slots)
    reported = [e.slot for e in events if isinstance(e, Placeholder)]
    assert reported == real

    fragments = {slot: b"<aside>%s</aside>" % slot.encode() for slot in slots}
    output = b"".join(
        fragments[e.slot] if isinstance(e, Placeholder) else e for e in events
    )
    expected = planted
    for slot in real:
        marker = b"<!-- personalize:%s -->" % slot.encode()
        expected = expected.replace(marker, fragments[slot], 1)
    assert output == expected

    kinds = dict(zip(slots, (kind for _, kind in places), strict=True))
    real_kinds = {kinds[slot] for slot in real}
    assert "content" in real_kinds
    assert "script" not in real_kinds
    assert "value" not in real_kinds
