"""Render recommendations as HTML fragments that are safe to splice into a page.

Every text that comes from a provider is cleaned by :func:`normalize_text`,
bounded and escaped by :func:`escape_html`. Every URL passes
:func:`safe_url`, and a provider's ``html`` snippet passes the allow-list
sanitizer :func:`sanitize_html`. The fragment contains no script, no
``style`` element or attribute and no event handler, so it needs no CSP
nonce. Whatever the item texts are, the fragment parses to the element tree
of its template.
"""

from __future__ import annotations

import decimal
import logging
import math
import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal

import nh3

from .context import Context
from .recommendation import Recommendation

__all__ = [
    "IMAGE_HEIGHT",
    "IMAGE_WIDTH",
    "MAX_HTML_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_REASON_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_URL_LENGTH",
    "SANITIZER_TAGS",
    "Renderer",
    "escape_html",
    "format_price",
    "normalize_text",
    "render_recommendations",
    "safe_url",
    "sanitize_html",
]

logger = logging.getLogger(__name__)

Renderer = Callable[[str, Sequence[Recommendation], Context], str]
"""A slot renderer: ``(slot, items, context) -> HTML``."""

MAX_TITLE_LENGTH = 200
"""Maximum characters of an item's title. A longer title is cut and ends in "…"."""

MAX_REASON_LENGTH = 200
"""Maximum characters of an item's reason. A longer reason is cut and ends in "…"."""

MAX_ID_LENGTH = 128
"""Maximum characters of the ``data-id`` attribute. A longer id is left out."""

MAX_URL_LENGTH = 2048
"""Maximum characters of a link or image URL; :func:`safe_url` rejects longer ones."""

MAX_HTML_LENGTH = 4000
"""Maximum characters of a provider's ``html`` snippet read before sanitizing."""

IMAGE_WIDTH = 160
"""Intrinsic width in CSS pixels given to every image, as for :data:`IMAGE_HEIGHT`."""

IMAGE_HEIGHT = 160
"""Intrinsic size in CSS pixels given to every image, so the layout does not shift
while images load; style sheets may scale the image."""

SANITIZER_TAGS = frozenset(
    {"b", "br", "em", "i", "mark", "s", "small", "span", "strong", "sub", "sup"}
)
"""Elements that :func:`sanitize_html` keeps, without any attribute."""

# Elements whose content is dropped with them, not kept as text: scripts,
# styles, raw-text elements and foreign content (SVG, MathML).
_DROPPED_CONTENT_TAGS = frozenset(
    {
        "embed",
        "iframe",
        "math",
        "noembed",
        "noframes",
        "noscript",
        "object",
        "plaintext",
        "script",
        "select",
        "style",
        "svg",
        "template",
        "textarea",
        "title",
        "xmp",
    }
)

# The arguments of nh3.clean(), built once. nh3 reads them on every call
# and never changes them.
_NH3_TAGS = set(SANITIZER_TAGS)
_NH3_DROPPED_CONTENT_TAGS = set(_DROPPED_CONTENT_TAGS)
_NH3_NO_ATTRIBUTES: dict[str, set[str]] = {"*": set()}

_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        # Harmless in HTML, but JavaScript before ES2019 ends a string
        # literal at them. As references they parse back to the same text
        # and never reach code that embeds the fragment in a script raw.
        "\u2028": "&#x2028;",
        "\u2029": "&#x2029;",
    }
)

# C0 and C1 controls, DEL, lone surrogates and noncharacters. Parsers turn
# some into U+FFFD, drop others, or (libxml2) reject them, so they cannot
# round-trip. ASCII whitespace is handled separately.
_NONCHARACTERS = "".join(
    chr(plane * 0x10000 + low) for plane in range(17) for low in (0xFFFE, 0xFFFF)
)
_UNWANTED_CHARS = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + _NONCHARACTERS + "]"
)
_HTML_WHITESPACE = re.compile("[ \t\n\f\r]+")

# Characters a browser strips before it reads a URL: leading and trailing
# C0 controls and spaces, then every ASCII tab, LF and CR anywhere.
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_AND_NEWLINES = str.maketrans("", "", "\t\n\r")
_URL_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SAFE_SCHEMES = frozenset({"http", "https"})

_ID_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def escape_html(text: str) -> str:
    """Escape ``& < > " '`` so that ``text`` stays text in HTML content and
    in quoted attribute values.

    U+2028 and U+2029 become character references too. Other characters,
    controls included, pass unchanged: clean them first with
    :func:`normalize_text`.
    """
    return text.translate(_ESCAPES)


def normalize_text(text: str, max_length: int | None = None) -> str:
    """Clean a provider's text for display and cut it to ``max_length``.

    Removes control characters, lone surrogates and noncharacters, turns
    each run of HTML whitespace into one space and strips both ends. A
    text longer than ``max_length`` characters is cut to ``max_length - 1``
    characters plus "…". The result is still unescaped text.
    """
    cleaned = _UNWANTED_CHARS.sub("", text)
    cleaned = _HTML_WHITESPACE.sub(" ", cleaned).strip(" ")
    if max_length is None or len(cleaned) <= max_length:
        return cleaned
    if max_length < 1:
        return ""
    return cleaned[: max_length - 1].rstrip(" ") + "…"


def safe_url(url: str, *, image: bool = False) -> str | None:
    """Return ``url`` as a browser would read it, or ``None`` when it is unsafe.

    Only ``http:``, ``https:`` and relative URLs (a path, ``?query``,
    ``#fragment`` or ``//host``) pass. The URL is cleaned the way a browser
    cleans it before it reads the scheme, so `` JaVaScRiPt:`` and
    ``java\\tscript:`` are recognised and rejected, as are ``data:``,
    ``vbscript:``, ``file:`` and every other scheme. Empty URLs, URLs longer
    than :data:`MAX_URL_LENGTH`, URLs that contain control characters and
    URLs that start with a non-ASCII space are rejected too. With
    ``image=True``, a URL that starts with ``?`` or ``#`` is rejected as
    well, because the browser would fetch the page itself as the image.
    """
    if not isinstance(url, str):
        return None

    cleaned = url.strip(_C0_AND_SPACE).translate(_TAB_AND_NEWLINES)
    if not cleaned or len(cleaned) > MAX_URL_LENGTH:
        return None
    if _URL_CONTROLS.search(cleaned):
        return None
    # Browsers read "javascript:" after a leading U+00A0 or U+3000 as a
    # relative path, but no real URL starts with such a space, so reject it.
    if cleaned[0].isspace():
        return None

    scheme = _URL_SCHEME.match(cleaned)
    if scheme is not None:
        if scheme.group()[:-1].lower() not in _SAFE_SCHEMES:
            return None
    elif image and cleaned[0] in "?#":
        return None
    return cleaned


def sanitize_html(markup: str) -> str:
    """Clean a provider's HTML snippet with nh3 and a strict allow-list.

    Keeps only the inline elements in :data:`SANITIZER_TAGS`, with no
    attributes. Drops comments, and drops scripts, styles, raw-text
    elements, SVG and MathML together with their content. Control
    characters are removed first, and U+2028/U+2029 leave as character
    references, as in :func:`escape_html`.
    """
    cleaned = _UNWANTED_CHARS.sub("", markup)
    sanitized = nh3.clean(
        cleaned,
        tags=_NH3_TAGS,
        clean_content_tags=_NH3_DROPPED_CONTENT_TAGS,
        # The "*" entry empties nh3's generic attributes (title, lang),
        # which an empty mapping alone would keep.
        attributes=_NH3_NO_ATTRIBUTES,
        strip_comments=True,
        link_rel=None,
        url_schemes=set(),
    )
    return sanitized.replace("\u2028", "&#x2028;").replace("\u2029", "&#x2029;")


def format_price(
    price: float, currency: str | None, languages: Sequence[str] = ()
) -> str:
    """Format ``price`` in ``currency`` for the visitor's preferred language.

    ``currency`` is an ISO 4217 code. ``None`` or a value that is not
    three letters gives the number alone, and a code without a known
    symbol is written as the code. ``languages`` are language tags in
    order of preference (``"de-DE"``, ``"en"``). The first one whose
    primary subtag has an entry in a small built-in table picks the
    separators and the symbol position; English is the default. Amounts
    are rounded half up to the currency's minor unit.

    :raises ValueError: if ``price`` is not a finite number.
    """
    # NOTE: the table covers common languages and currencies only. It is
    # not CLDR: it has no grouping exceptions and no per-region symbols
    # such as US$.
    code = _currency_code(currency)
    decimals = _CURRENCY_DECIMALS.get(code or "", 2)
    decimal_separator, group_separator, position = _number_format(languages)
    number = _format_number(price, decimals, decimal_separator, group_separator)
    if code is None:
        return number

    symbol = _CURRENCY_SYMBOLS.get(code, code)
    if position == "after":
        return f"{number}\xa0{symbol}"
    if position == "before_space" or symbol[-1].isalpha():
        return f"{symbol}\xa0{number}"
    return f"{symbol}{number}"


# Decimal separator, group separator and symbol position by primary
# language subtag.
_NUMBER_FORMATS: dict[str, tuple[str, str, str]] = {
    "en": (".", ",", "before"),
    "ja": (".", ",", "before"),
    "ko": (".", ",", "before"),
    "zh": (".", ",", "before"),
    "nl": (",", ".", "before_space"),
    "da": (",", ".", "after"),
    "de": (",", ".", "after"),
    "es": (",", ".", "after"),
    "it": (",", ".", "after"),
    "pt": (",", ".", "after"),
    "cs": (",", "\xa0", "after"),
    "fi": (",", "\xa0", "after"),
    "fr": (",", "\u202f", "after"),
    "nb": (",", "\xa0", "after"),
    "nn": (",", "\xa0", "after"),
    "no": (",", "\xa0", "after"),
    "pl": (",", "\xa0", "after"),
    "ru": (",", "\xa0", "after"),
    "sv": (",", "\xa0", "after"),
    "uk": (",", "\xa0", "after"),
}

_CURRENCY_SYMBOLS = {
    "AUD": "A$",
    "BRL": "R$",
    "CAD": "CA$",
    "CNY": "CN¥",
    "EUR": "€",
    "GBP": "£",
    "HKD": "HK$",
    "ILS": "₪",
    "INR": "₹",
    "JPY": "¥",
    "KRW": "₩",
    "MXN": "MX$",
    "NZD": "NZ$",
    "TWD": "NT$",
    "USD": "$",
}

# Minor units that differ from the usual two decimals (ISO 4217).
_CURRENCY_DECIMALS = {
    "BHD": 3,
    "CLP": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
    "XAF": 0,
    "XOF": 0,
}

_CURRENCY_CODE_RE = re.compile(r"[A-Za-z]{3}")

# Room for the largest float (309 integer digits) plus 3 decimals. With the
# default precision of 28 digits, quantize() raises from 1e26 (2 decimals).
_DECIMALS = decimal.Context(prec=320)


def _currency_code(currency: str | None) -> str | None:
    if isinstance(currency, str) and _CURRENCY_CODE_RE.fullmatch(currency):
        return currency.upper()
    return None


def _number_format(languages: Sequence[str]) -> tuple[str, str, str]:
    for tag in languages:
        primary = tag.replace("_", "-").split("-", 1)[0].lower()
        found = _NUMBER_FORMATS.get(primary)
        if found is not None:
            return found
    return _NUMBER_FORMATS["en"]


def _format_number(
    price: float, decimals: int, decimal_separator: str, group_separator: str
) -> str:
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        raise ValueError(f"price must be a number, got {price!r}.")
    try:
        value = float(price)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"price must be a finite number, got {price!r}.")

    exact = Decimal(repr(value))
    rounded = exact.quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=_DECIMALS
    )
    integer, _, fraction = f"{rounded:,.{decimals}f}".partition(".")
    integer = integer.replace(",", group_separator)
    if not fraction:
        return integer
    return f"{integer}{decimal_separator}{fraction}"


def render_recommendations(
    slot: str,
    items: Sequence[Recommendation],
    context: Context,
    *,
    heading: str | None = "Recommended for you",
) -> str:
    """Render the default fragment of ``slot`` for ``items``, as the default renderer.

    The fragment is a ``<section class="ep-recs">`` with a ``<h2>`` heading
    that labels it (none when ``heading`` is ``None``) and a ``<ul>`` with
    one ``<li>`` per item. An item whose link URL fails :func:`safe_url` or
    whose title is empty after :func:`normalize_text` is dropped. An item
    whose URL is ``""`` is shown as text with no link, and an unsafe image
    URL drops only the image. Returns ``""`` when no item is left, so
    the caller can keep the placeholder's fallback. Prices are formatted
    for ``context.languages``.
    """
    rendered: list[str] = []
    for item in items:
        markup = _render_item(item, context)
        if markup is None:
            _log_dropped(slot, item)
            continue
        rendered.append(markup)
    if not rendered:
        return ""

    slot_attribute = escape_html(normalize_text(slot))
    title = normalize_text(heading, MAX_TITLE_LENGTH) if heading is not None else ""
    if not title:
        opening = f'<section class="ep-recs" data-slot="{slot_attribute}">'
    else:
        heading_id = f"ep-recs-{_id_token(slot)}-heading"
        opening = (
            f'<section class="ep-recs" data-slot="{slot_attribute}" '
            f'aria-labelledby="{heading_id}">'
            f'<h2 class="ep-recs__heading" id="{heading_id}">{escape_html(title)}</h2>'
        )
    return f'{opening}<ul class="ep-recs__list">{"".join(rendered)}</ul></section>'


def _log_dropped(slot: str, item: object) -> None:
    """Log why an item was left out: a warning the first time, then debug.

    A provider that returns a bad item usually returns it on every request,
    so only the first of each (slot, item, URL) in a bounded memory warns.
    """
    if not isinstance(item, Recommendation):
        reason, key = f"not a Recommendation but {type(item).__name__}", ""
    elif not normalize_text(item.title, MAX_TITLE_LENGTH):
        reason, key = "its title is empty", item.id
    else:
        reason, key = f"its URL {item.url[:200]!r} is not http(s) or relative", item.id

    seen = (slot, key, reason)
    if seen in _REPORTED:
        logger.debug("Dropped item %r of slot %r: %s", key, slot, reason)
        return
    _REPORTED[seen] = None
    if len(_REPORTED) > _MAX_REPORTED:
        del _REPORTED[next(iter(_REPORTED))]
    logger.warning("Dropped item %r of slot %r: %s", key, slot, reason)


# The dropped items already warned about, oldest first.
_REPORTED: dict[tuple[str, str, str], None] = {}
_MAX_REPORTED = 256


def _render_item(item: Recommendation, context: Context) -> str | None:
    if not isinstance(item, Recommendation):
        return None
    # An empty URL means the item has no page, such as model text that no
    # catalog grounds, so it is shown as text. Any other URL must be safe.
    linked = item.url != ""
    href = safe_url(item.url) if linked else None
    title = normalize_text(item.title, MAX_TITLE_LENGTH)
    if (linked and href is None) or not title:
        return None

    parts = ['<li class="ep-recs__item"']
    item_id = normalize_text(item.id)
    if item_id and len(item_id) <= MAX_ID_LENGTH:
        parts.append(f' data-id="{escape_html(item_id)}"')
    if href is not None:
        parts.append(f'><a class="ep-recs__link" href="{escape_html(href)}">')
    else:
        parts.append('><span class="ep-recs__link">')

    image = None if item.image_url is None else safe_url(item.image_url, image=True)
    if image is not None:
        parts.append(
            f'<img class="ep-recs__image" src="{escape_html(image)}" '
            f'alt="{escape_html(title)}" width="{IMAGE_WIDTH}" '
            f'height="{IMAGE_HEIGHT}" loading="lazy" decoding="async">'
        )
    parts.append(f'<span class="ep-recs__title" dir="auto">{escape_html(title)}</span>')
    if item.price is not None:
        price = format_price(item.price, item.currency, context.languages)
        parts.append(f'<span class="ep-recs__price">{escape_html(price)}</span>')
    parts.append("</a>" if href is not None else "</span>")

    reason = normalize_text(item.reason or "", MAX_REASON_LENGTH)
    if reason:
        parts.append(f'<p class="ep-recs__reason" dir="auto">{escape_html(reason)}</p>')
    snippet = sanitize_html(item.html[:MAX_HTML_LENGTH]) if item.html else ""
    if snippet.strip():
        parts.append(f'<div class="ep-recs__note">{snippet}</div>')
    parts.append("</li>")
    return "".join(parts)


def _id_token(slot: str) -> str:
    # Slot names are validated by the personalizer, but a custom caller may
    # pass anything: an id token must not contain spaces or quotes.
    return _ID_TOKEN_UNSAFE.sub("-", slot).strip("-")[:64] or "slot"
