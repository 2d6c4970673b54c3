"""The JSON form of a cache entry in a shared store.

A stored value is a JSON object with a format version, so that a process
running another release of the library skips values it cannot read::

    {"v": 1, "created": 1733300000.0, "fresh_until": 1733300060.0,
     "stale_until": 1733300360.0, "negative": false,
     "items": [{"id": "5", "title": "Mug", "url": "/products/mug", ...}]}

Decoding trusts nothing: a value that is not that shape raises
:class:`~edge_personalize.cache.base.CacheEntryError`, and each item goes
through the :class:`~edge_personalize.recommendation.Recommendation`
checks again. The renderer escapes every text either way.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any

from ..recommendation import Recommendation
from .base import CacheEntry, CacheEntryError

FORMAT_VERSION = 1

# A slot has at most 50 items; 256 KiB leaves room for provider HTML and
# bounds what a corrupted or hostile value can make a worker parse.
MAX_VALUE_BYTES = 256 * 1024
MAX_ITEMS = 100

_ITEM_FIELDS = frozenset(item.name for item in fields(Recommendation))


def encode_entry(entry: CacheEntry) -> bytes:
    """Return the JSON bytes that store ``entry``."""
    document = {
        "v": FORMAT_VERSION,
        "created": entry.created,
        "fresh_until": entry.fresh_until,
        "stale_until": entry.stale_until,
        "negative": entry.negative,
        "items": [_encode_item(item) for item in entry.items],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def _encode_item(item: Recommendation) -> dict[str, Any]:
    # None fields are left out, which keeps values small.
    return {name: value for name, value in asdict(item).items() if value is not None}


def decode_entry(raw: bytes) -> CacheEntry:
    """Return the entry stored as ``raw``.

    :raises CacheEntryError: if ``raw`` is too large, not JSON, of another
        format version, or not a valid entry.
    """
    if len(raw) > MAX_VALUE_BYTES:
        raise CacheEntryError(
            f"The value is {len(raw)} bytes, over the {MAX_VALUE_BYTES}-byte limit."
        )
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CacheEntryError(f"The value is not JSON: {exc}.") from exc
    if not isinstance(document, dict):
        raise CacheEntryError(
            f"The value is a JSON {type(document).__name__}, not an object."
        )

    version = document.get("v")
    if version != FORMAT_VERSION:
        raise CacheEntryError(
            f"The value has format version {_short(version)}; this release reads "
            f"version {FORMAT_VERSION}."
        )
    negative = document.get("negative")
    if not isinstance(negative, bool):
        raise CacheEntryError(
            f"The value's 'negative' is {_short(negative)}, not a bool."
        )

    items = _decode_items(document.get("items"))
    try:
        return CacheEntry(
            items,
            created=_decode_time(document, "created"),
            fresh_until=_decode_time(document, "fresh_until"),
            stale_until=_decode_time(document, "stale_until"),
            negative=negative,
        )
    except ValueError as exc:
        raise CacheEntryError(f"The value is not a valid entry: {exc}") from exc


def _decode_time(document: dict[str, Any], name: str) -> float:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CacheEntryError(f"The value's {name!r} is {_short(value)}, not a number.")
    if not math.isfinite(value):
        raise CacheEntryError(f"The value's {name!r} is {value!r}, not finite.")
    return float(value)


def _decode_items(items: object) -> tuple[Recommendation, ...]:
    if not isinstance(items, list):
        raise CacheEntryError(f"The value's 'items' is {_short(items)}, not a list.")
    if len(items) > MAX_ITEMS:
        raise CacheEntryError(
            f"The value has {len(items)} items, over the limit of {MAX_ITEMS}."
        )

    decoded: list[Recommendation] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not _ITEM_FIELDS.issuperset(item):
            raise CacheEntryError(
                f"Item {index} of the value is not a recommendation object."
            )
        try:
            decoded.append(Recommendation(**item))
        except (TypeError, ValueError) as exc:
            raise CacheEntryError(
                f"Item {index} of the value is invalid: {exc}"
            ) from exc
    return tuple(decoded)


def _short(value: object) -> str:
    """Return the repr of ``value`` cut to 60 characters, for messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
