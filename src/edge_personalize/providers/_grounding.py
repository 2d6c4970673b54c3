"""Read a model's or a service's response and ground it in the catalog.

:func:`parse_response` accepts what models really send: a JSON object as
requested, a JSON string, JSON inside a Markdown code fence or inside
prose, or a plain list of names. :class:`Grounder` maps each item of a
response to a catalog product, by id or by name, and drops what it
cannot map. It builds every
:class:`~edge_personalize.recommendation.Recommendation` from the
catalog's own fields, so a model or a service chooses which products to
show, but never their titles, links, images or prices.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..catalog import Catalog, Product, slugify, term_key
from ..recommendation import Recommendation
from ..rendering import (
    MAX_ID_LENGTH,
    MAX_REASON_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
)
from ._prompt import clean_value

#: Items of one response that are read at most; the rest are ignored.
MAX_RESPONSE_ITEMS = 50

#: Characters of a text response that are searched for JSON or names.
MAX_RESPONSE_TEXT = 65536

# JSON openings tried in a text response before giving up on JSON.
MAX_JSON_STARTS = 32

# A model's name for a product must have at least this many characters of
# index key to match a candidate by prefix, so that "a" matches nothing.
MIN_PREFIX_KEY = 4

#: Characters of a product name invented by a model without a catalog.
MAX_FREE_TITLE = 80

_ITEM_LISTS = ("items", "recommendations", "products", "results", "data")
_NAME_FIELDS = ("title", "name", "product", "product_name")
_ID_FIELDS = ("id", "product_id", "item_id", "sku")
_REASON_FIELDS = ("reason", "why", "explanation")
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.+?)\s*$")
_NAME_REASON_SEPARATOR = re.compile(r"\s+[-–—:]\s+|:\s+")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class ResponseItem:
    """One item as a response names it, before grounding, with raw fields."""

    id: str | None = None
    title: str | None = None
    reason: str | None = None
    url: str | None = None
    image_url: str | None = None
    price: float | None = None
    currency: str | None = None


def parse_response(value: object, *, lines: bool = True) -> list[ResponseItem]:
    """Return the items of a response, whatever its shape, or ``[]``.

    ``value`` may be an object with an ``items`` list (or
    ``recommendations``, ``products``, ``results``, ``data``), a list of
    objects, ids or names, or text that contains one of those as JSON.
    With ``lines``, text without JSON is read as a bulleted or numbered
    list of names, each optionally followed by `` - reason``.
    """
    if isinstance(value, str):
        text = value[:MAX_RESPONSE_TEXT]
        parsed = extract_json(text)
        if parsed is None:
            return _list_lines(text) if lines else []
        value = parsed

    if isinstance(value, Mapping):
        for key in _ITEM_LISTS:
            if isinstance(value.get(key), list):
                value = value[key]
                break
        else:
            value = [value]
    if not isinstance(value, list):
        return []

    items: list[ResponseItem] = []
    for entry in value[:MAX_RESPONSE_ITEMS]:
        item = _response_item(entry)
        if item is not None:
            items.append(item)
    return items


def extract_json(text: str) -> object | None:
    """Return the first JSON object or array in ``text``, or ``None``.

    Tries the whole text, then each Markdown code fence, then the text
    from each ``{`` or ``[`` on (at most :data:`MAX_JSON_STARTS` of them).
    """
    attempts = [
        text.strip(),
        *(match.group(1).strip() for match in _FENCE.finditer(text)),
    ]
    for attempt in attempts:
        value = _loads(attempt)
        if isinstance(value, (dict, list)):
            return value

    decoder = json.JSONDecoder()
    starts = [index for index, char in enumerate(text) if char in "{["]
    for start in starts[:MAX_JSON_STARTS]:
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, (dict, list)) and value:
            return value
    return None


def _loads(text: str) -> object | None:
    try:
        value: object = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value


def _list_lines(text: str) -> list[ResponseItem]:
    items: list[ResponseItem] = []
    for line in text.splitlines():
        match = _LIST_MARKER.match(line)
        if match is None:
            continue
        entry = match.group(1).replace("**", "").strip()
        name, reason = _split_reason(entry)
        items.append(ResponseItem(title=name, reason=reason or None))
        if len(items) >= MAX_RESPONSE_ITEMS:
            break
    return items


def _split_reason(entry: str) -> tuple[str, str]:
    match = _NAME_REASON_SEPARATOR.search(entry)
    if match is None:
        return entry, ""
    return entry[: match.start()], entry[match.end() :]


def _response_item(entry: object) -> ResponseItem | None:
    if isinstance(entry, str):
        return ResponseItem(title=entry)
    scalar_id = _id_text(entry)
    if scalar_id is not None:
        return ResponseItem(id=scalar_id)
    if not isinstance(entry, Mapping):
        return None

    item = ResponseItem(
        id=_first(entry, _ID_FIELDS, _id_text),
        title=_first(entry, _NAME_FIELDS, _text),
        reason=_first(entry, _REASON_FIELDS, _text),
        url=_text(entry.get("url")),
        image_url=_text(entry.get("image_url") or entry.get("image")),
        price=_price(entry.get("price")),
        currency=_currency(entry.get("currency")),
    )
    if item.id is None and item.title is None:
        return None
    return item


def _first(
    entry: Mapping[str, object],
    names: Sequence[str],
    read: Callable[[object], str | None],
) -> str | None:
    for name in names:
        value = read(entry.get(name))
        if value is not None:
            return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _id_text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _price(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _currency(value: object) -> str | None:
    if isinstance(value, str) and _CURRENCY.fullmatch(value):
        return value.upper()
    return None


def clean_reason(text: str | None) -> str | None:
    """Return a response item's reason as one bounded line of text, or ``None``."""
    if text is None:
        return None
    cleaned = clean_value(text, MAX_REASON_LENGTH)
    return cleaned or None


class Grounder:
    """Map the items of responses to the products of one catalog.

    An item matches the first of these that exists:

    1. the product whose id is the item's id;
    2. the product whose slug is the item's name or id, or the slug of
       the name;
    3. the one product whose title has the same index key as the name
       (see :func:`~edge_personalize.catalog.term_key`);
    4. the one candidate whose title key starts with the name's key, or
       is the start of it;
    5. for an item without an id, the product whose id is the name.

    A name that two products share, or that two candidates start with,
    matches nothing.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        titles: dict[str, Product | None] = {}
        for product in catalog:
            key = term_key(product.title)
            # None marks a title that several products share.
            titles[key] = None if key in titles else product
        self._titles = titles

    def match(
        self, item: ResponseItem, candidates: Sequence[Product]
    ) -> Product | None:
        """Return the product that ``item`` names, or ``None``."""
        if item.id is not None:
            product = self.catalog.get(item.id)
            if product is not None:
                return product

        for name in (item.title, item.id):
            if name is None:
                continue
            product = self._by_name(name[:MAX_TITLE_LENGTH], candidates)
            if product is not None:
                return product

        # A model writing a plain list may name products by their ids.
        if item.title is not None and item.id is None:
            return self.catalog.get(item.title.strip())
        return None

    def _by_name(self, name: str, candidates: Sequence[Product]) -> Product | None:
        cleaned = clean_value(name, MAX_TITLE_LENGTH)
        product = self.catalog.by_slug(cleaned) or self.catalog.by_slug(
            slugify(cleaned)
        )
        if product is not None:
            return product

        key = term_key(cleaned)
        if not key:
            return None
        exact = self._titles.get(key)
        if exact is not None or key in self._titles:
            return exact
        if len(key) < MIN_PREFIX_KEY:
            return None

        found = [
            candidate
            for candidate in candidates
            if _prefix_match(key, term_key(candidate.title))
        ]
        return found[0] if len(found) == 1 else None

    def ground(
        self,
        items: Sequence[ResponseItem],
        *,
        limit: int,
        candidates: Sequence[Product] = (),
        excluded: frozenset[str] = frozenset(),
        fallback_reasons: Mapping[str, str] | None = None,
        model_reasons: bool = True,
    ) -> list[Recommendation]:
        """Return up to ``limit`` recommendations of the products ``items`` name.

        Items that match no product, or a product in ``excluded`` (ids),
        are dropped, and so are repeats. The reason is the item's own,
        cleaned and bounded, when ``model_reasons`` is true; otherwise,
        or when it has none, it is the product's entry in
        ``fallback_reasons``.
        """
        grounded: list[Recommendation] = []
        seen: set[str] = set()
        for item in items:
            if len(grounded) >= limit:
                break
            product = self.match(item, candidates)
            if product is None or product.id in excluded or product.id in seen:
                continue
            seen.add(product.id)
            reason = clean_reason(item.reason) if model_reasons else None
            if reason is None and fallback_reasons is not None:
                reason = fallback_reasons.get(product.id)
            grounded.append(product_recommendation(product, reason))
        return grounded


def _prefix_match(key: str, title_key: str) -> bool:
    if title_key.startswith(key):
        return True
    return len(title_key) >= MIN_PREFIX_KEY and key.startswith(title_key)


def product_recommendation(product: Product, reason: str | None) -> Recommendation:
    """Return the recommendation of a catalog product, every field from the catalog."""
    return Recommendation(
        id=product.id,
        title=product.title,
        url=product.url,
        image_url=product.image_url,
        price=product.price,
        currency=product.currency,
        reason=reason,
    )


def free_recommendations(
    items: Sequence[ResponseItem], *, limit: int, links: bool
) -> list[Recommendation]:
    """Return recommendations of items that no catalog grounds.

    Titles are cleaned and cut to :data:`MAX_FREE_TITLE` characters.
    Each id is a digest of the title, so that repeats are dropped. With
    ``links``, for the responses of a site's own service, an item keeps
    its URL, image, price and currency, and the renderer checks them
    again. Without it, for a model's response, ``url`` is empty, so the
    item is text with no link.
    """
    recommendations: list[Recommendation] = []
    seen: set[str] = set()
    for item in items:
        if len(recommendations) >= limit:
            break
        title = clean_value(item.title or "", MAX_FREE_TITLE)
        if not title:
            continue
        digest = hashlib.blake2b(title.casefold().encode("utf-8"), digest_size=8)
        item_id = item.id[:MAX_ID_LENGTH] if links and item.id else None
        item_id = item_id or f"ai-{digest.hexdigest()}"
        if item_id in seen:
            continue
        seen.add(item_id)
        recommendations.append(_free_recommendation(item, item_id, title, links))
    return recommendations


def _free_recommendation(
    item: ResponseItem, item_id: str, title: str, links: bool
) -> Recommendation:
    if not links:
        return Recommendation(
            id=item_id, title=title, url="", reason=clean_reason(item.reason)
        )
    url = item.url if item.url and len(item.url) <= MAX_URL_LENGTH else ""
    image = item.image_url
    return Recommendation(
        id=item_id,
        title=title,
        url=url,
        image_url=image if image and len(image) <= MAX_URL_LENGTH else None,
        price=item.price,
        currency=item.currency,
        reason=clean_reason(item.reason),
    )
