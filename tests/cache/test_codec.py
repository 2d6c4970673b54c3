"""The JSON form of cache entries: round trips and every kind of bad value."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_personalize import Recommendation
from edge_personalize.cache import CacheEntry, CacheEntryError
from edge_personalize.cache._codec import (
    FORMAT_VERSION,
    MAX_VALUE_BYTES,
    decode_entry,
    encode_entry,
)

FULL = Recommendation(
    id="42",
    title='Mug "Ünïcode" <b>',
    url="/products/mug",
    image_url="/thumbs/42.svg",
    price=9.5,
    currency="EUR",
    reason="Because you like kitchen",
    html="<em>new</em>",
)
MINIMAL = Recommendation(id="7", title="Plate", url="/products/plate")
ENTRY = CacheEntry((FULL, MINIMAL), 100.0, 160.0, 460.0)


def test_round_trip_full_entry() -> None:
    assert decode_entry(encode_entry(ENTRY)) == ENTRY


def test_round_trip_negative_entry() -> None:
    entry = CacheEntry((), 100.0, 105.0, 105.0, negative=True)
    assert decode_entry(encode_entry(entry)) == entry


def test_encoded_has_version_field() -> None:
    document = json.loads(encode_entry(ENTRY))
    assert document["v"] == FORMAT_VERSION


def test_encoded_leaves_out_none_fields() -> None:
    document = json.loads(encode_entry(ENTRY))
    assert document["items"][1] == {
        "id": "7",
        "title": "Plate",
        "url": "/products/plate",
    }


def _document(**changes: object) -> bytes:
    document = json.loads(encode_entry(ENTRY))
    document.update(changes)
    return json.dumps(document).encode()


def _item(**changes: object) -> bytes:
    item = {"id": "1", "title": "Mug", "url": "/m", **changes}
    return _document(items=[item])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"not json", "not JSON", id="not-json"),
        pytest.param(b"\xff\xfe\x00", "not JSON", id="not-utf8"),
        pytest.param(b"[1, 2]", "not an object", id="array"),
        pytest.param(b'"text"', "not an object", id="string"),
        pytest.param(_document(v=2), "format version 2", id="newer-version"),
        pytest.param(_document(v="1"), "format version '1'", id="version-text"),
        pytest.param(
            json.dumps({"items": []}).encode(), "format version None", id="no-version"
        ),
        pytest.param(_document(created="now"), "'created'", id="time-text"),
        pytest.param(_document(fresh_until=True), "'fresh_until'", id="time-bool"),
        pytest.param(_document(created=float("nan")), "not finite", id="time-nan"),
        pytest.param(_document(created=500.0), "created <= fresh_until", id="order"),
        pytest.param(_document(negative="no"), "'negative'", id="negative-text"),
        pytest.param(_document(items={"a": 1}), "'items'", id="items-object"),
        pytest.param(_document(items=[1]), "Item 0", id="item-number"),
        pytest.param(_item(title=5), "Item 0 of the value is invalid", id="title-int"),
        pytest.param(_item(price=-1), "Item 0 of the value is invalid", id="price"),
        pytest.param(_item(onclick="x"), "not a recommendation", id="unknown-field"),
        pytest.param(_document(items=[{"id": "1"}]), "invalid", id="missing-field"),
        pytest.param(
            _document(negative=True), "negative cache entry", id="negative-with-items"
        ),
        pytest.param(
            _document(
                items=[{"id": str(n), "title": "t", "url": "/"} for n in range(101)]
            ),
            "over the limit",
            id="too-many-items",
        ),
        pytest.param(b" " * (MAX_VALUE_BYTES + 1), "byte limit", id="too-large"),
    ],
)
def test_decode_rejects(raw: bytes, message: str) -> None:
    with pytest.raises(CacheEntryError, match=message):
        decode_entry(raw)


_text = st.text(max_size=40)
_recommendations = st.builds(
    Recommendation,
    id=_text,
    title=_text,
    url=_text,
    image_url=st.none() | _text,
    price=st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False),
    currency=st.none() | _text,
    reason=st.none() | _text,
    html=st.none() | _text,
)


@given(st.lists(_recommendations, max_size=8), st.floats(0, 1e10), st.floats(0, 1e4))
def test_round_trip_any_items(
    items: list[Recommendation], created: float, ttl: float
) -> None:
    entry = CacheEntry(tuple(items), created, created + ttl, created + 2 * ttl)
    assert decode_entry(encode_entry(entry)) == entry
