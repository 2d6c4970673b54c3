"""The response rules the adapters share: eligibility, buffering, headers."""

from __future__ import annotations

import pytest

from edge_personalize._response import (
    BodyBuffer,
    fragments_tag,
    personalized_headers,
    skip_reason,
)
from edge_personalize.rewriting import Placeholder

HTML = ("Content-Type", "text/html; charset=utf-8")


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        pytest.param(200, [HTML], None, id="html"),
        pytest.param(200, [("content-type", "TEXT/HTML")], None, id="upper-case"),
        pytest.param(
            200, [HTML, ("Content-Encoding", "identity")], None, id="identity"
        ),
        pytest.param(201, [HTML], "status 201", id="created"),
        pytest.param(200, [], "no Content-Type", id="no-type"),
        pytest.param(
            200, [HTML, ("Content-Encoding", "br")], "Content-Encoding", id="br"
        ),
        pytest.param(
            200, [HTML, ("Content-Length", "11")], "over max_body_size", id="cap"
        ),
    ],
)
def test_skip_reason(
    status: int, headers: list[tuple[str, str]], expected: str | None
) -> None:
    reason = skip_reason(status, headers, cap=10)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert expected in reason


def test_buffer_without_candidate_not_scanned() -> None:
    buffer = BodyBuffer({"recs"}, cap=1000)
    assert buffer.feed(b"<p>no comment ")
    assert buffer.feed(b"here</p>")
    assert buffer.finish() == [b"<p>no comment here</p>"]


def test_buffer_finds_split_placeholder() -> None:
    buffer = BodyBuffer({"recs"}, cap=1000)
    buffer.feed(b"<p><!-- person")
    buffer.feed(b"alize:recs --></p>")
    events = buffer.finish()
    assert Placeholder("recs", b"<!-- personalize:recs -->") in events
    assert b"".join(e if isinstance(e, bytes) else e.raw for e in events) == (
        b"<p><!-- personalize:recs --></p>"
    )


def test_buffer_over_cap() -> None:
    buffer = BodyBuffer({"recs"}, cap=5)
    assert buffer.feed(b"12345")
    assert not buffer.feed(b"6")


def test_fragments_tag_depends_on_fragments() -> None:
    first = fragments_tag({"recs": "<p>a</p>", "other": None})
    assert first == fragments_tag({"other": None, "recs": "<p>a</p>"})
    assert first != fragments_tag({"recs": "<p>b</p>"})


@pytest.mark.parametrize(
    ("etag", "expected"),
    [
        pytest.param('"v1"', '"v1-ep.abc"', id="strong"),
        pytest.param('W/"v1"', 'W/"v1-ep.abc"', id="weak"),
    ],
)
def test_etag_tagged(etag: str, expected: str) -> None:
    headers = personalized_headers([HTML, ("ETag", etag)], 10, "abc")
    assert ("ETag", expected) in headers


def test_stream_headers_drop_validators() -> None:
    headers = personalized_headers(
        [HTML, ("ETag", '"v1"'), ("Content-Length", "5"), ("Vary", "*")], None
    )
    names = [name.lower() for name, _ in headers]
    assert "etag" not in names
    assert "content-length" not in names
    assert ("Vary", "*") in headers
