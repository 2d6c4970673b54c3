"""Parsers that turn raw request data into the cleaned fields of a Context.

Every function here reads untrusted input. Each caps the size of its input
before parsing it and drops malformed parts instead of raising, so a hostile
request costs at most a few tens of kilobytes of parsing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from itertools import islice
from urllib.parse import parse_qsl, unquote, unquote_plus

from werkzeug.sansio.http import parse_cookie

from ._types import RawHeaders

# Input caps, in bytes of the raw header or query string. COOKIE_VALUE_LIMIT
# counts characters of one decoded cookie value instead. Text past a cap is
# ignored, and the item the cap cuts through is dropped.
ACCEPT_LANGUAGE_LIMIT = 4096
COOKIE_HEADER_LIMIT = 16384
COOKIE_VALUE_LIMIT = 4096
QUERY_LIMIT = 8192
USER_AGENT_LIMIT = 1024
SHORT_HEADER_LIMIT = 16
# Route conditions test at most this much of a header value.
CONDITION_HEADER_LIMIT = 8192
# At most this many copies of one header field are read.
MAX_HEADER_COPIES = 64
MAX_PARAM_ITEMS = 32

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TERM_SEPARATORS = re.compile(r"[,|]")
_ITEM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
# RFC 9110 section 12.4.2: at most three decimals, and never above 1.
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_ALLOWED_PUNCTUATION = frozenset("-_'&.")
# Typographic apostrophes, which phone keyboards insert, count as "'".
_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'"})

# ISO 3166-1 alpha-2 codes assigned to countries and territories, from the
# Debian iso-codes database (iso_3166-1.json, 249 codes), plus "XK": Kosovo
# has no ISO code, and XK is the user-assigned code in common use for it.
# Anything else, including Cloudflare's "XX" (unknown) and "T1" (Tor), is
# treated as no country.
COUNTRY_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ
    BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR
    CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
    PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI
    SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR
    TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    XK
    """.split()
)

# Crawlers, link-preview fetchers, headless browsers and health-check probes.
# "bot" is not matched after "cu" because Cubot is a phone brand whose models
# put it in the UA.
_CRAWLER = re.compile(
    r"(?<!cu)bot|crawl|spider|slurp|archiver|facebookexternalhit|"
    r"facebookcatalog|headlesschrome|phantomjs|lighthouse|pagespeed|"
    r"whatsapp|preview|embedly|bytespider|mediapartners-google|"
    r"google-inspectiontool|feedfetcher|yandex|chatgpt-user|perplexity-user|"
    r"ptst/|health-?check|kube-probe",
    re.IGNORECASE | re.ASCII,
)
# HTTP libraries and command-line clients, which real visitors don't use.
_HTTP_CLIENT = re.compile(
    r"curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp|httpie|"
    r"go-http-client|^java/|java-http-client|libwww-perl|node-fetch|axios/|"
    r"undici|scrapy|guzzlehttp|postmanruntime|okhttp",
    re.IGNORECASE | re.ASCII,
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook", re.IGNORECASE)
_MOBILE = re.compile(
    r"mobi|iphone|ipod|opera mini|blackberry|windows phone", re.IGNORECASE
)


def is_token(name: str) -> bool:
    """Tell whether ``name`` is an RFC 9110 token, as header and cookie names are."""
    return _TOKEN.fullmatch(name) is not None


def collect_headers(
    headers: RawHeaders, names: Iterable[bytes]
) -> dict[bytes, list[bytes]]:
    """Return the values of the header ``names``, in request order."""
    lookup = frozenset(names)
    found: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        if name in lookup:
            values = found.setdefault(name, [])
            if len(values) < MAX_HEADER_COPIES:
                values.append(value)
    return found


def join_capped(values: Iterable[bytes], separator: bytes, limit: int | None) -> bytes:
    """Join ``values`` with ``separator``, copying at most ``limit + 1`` bytes.

    The extra byte lets :func:`cut_at_separator` tell that the cap was hit.
    """
    parts: list[bytes] = []
    size = 0
    for value in values:
        if parts:
            parts.append(separator)
            size += len(separator)
        if limit is not None and size + len(value) > limit:
            parts.append(value[: max(0, limit + 1 - size)])
            break
        parts.append(value)
        size += len(value)
    joined = b"".join(parts)
    return joined if limit is None else joined[: limit + 1]


def joined_header(
    headers: RawHeaders, name: bytes, separator: bytes, limit: int | None
) -> bytes | None:
    """Return every value of header ``name`` joined, or None if it is absent."""
    values = [value for key, value in headers if key == name]
    if not values:
        return None
    return join_capped(values, separator, limit)


def cut_at_separator(data: bytes, limit: int, separator: bytes) -> bytes:
    """Cap ``data`` at ``limit`` bytes, dropping the item that the cap cuts."""
    if len(data) <= limit:
        return data
    end = data.rfind(separator, 0, limit + 1)
    return data[:end] if end >= 0 else b""


def parse_cookies(raw: bytes | None) -> Mapping[str, str]:
    """Parse a Cookie header into a mapping of first values by name.

    The header is decoded as UTF-8 with replacement, because browsers send
    non-ASCII cookie values as UTF-8 bytes.
    """
    if not raw:
        return {}
    capped = cut_at_separator(raw, COOKIE_HEADER_LIMIT, b";")
    return parse_cookie(capped.decode("utf-8", "replace"))


def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    """Parse a raw query string into decoded pairs, blank values included."""
    if not query_string:
        return []
    capped = cut_at_separator(query_string, QUERY_LIMIT, b"&")
    text = capped.decode("utf-8", "replace")
    return parse_qsl(text, keep_blank_values=True, errors="replace")


def query_values(query_string: bytes, names: Iterable[str]) -> list[str]:
    """Return the values of the query parameters ``names``, in query order."""
    lookup = frozenset(names)
    if not lookup:
        return []
    return [value for name, value in parse_query(query_string) if name in lookup]


def split_cookie_list(value: str | None, plus_is_space: bool) -> list[str]:
    """Split a comma- or pipe-separated, URL-encoded cookie value into items."""
    if not value:
        return []
    truncated = len(value) > COOKIE_VALUE_LIMIT
    raw = value[:COOKIE_VALUE_LIMIT]
    decode = unquote_plus if plus_is_space else unquote
    items = _TERM_SEPARATORS.split(decode(raw, errors="replace"))
    # The cap may cut the last item, and a cut item is a different item.
    return items[:-1] if truncated else items


def clean_term(raw: str, max_length: int) -> str:
    """Normalize one interest term, or return "" if nothing usable is left.

    The term is NFKC-normalized and lower-cased. Whitespace runs and
    punctuation other than ``-_'&.`` become one space, control and format
    characters are dropped, and the result is cut to ``max_length``
    characters. A term needs at least one letter or digit.
    """
    text = unicodedata.normalize("NFKC", raw[: max_length * 4])
    text = text.translate(_APOSTROPHES).lower()

    out: list[str] = []
    has_word_char = False
    space_pending = False
    for char in text:
        if char.isspace():
            space_pending = bool(out)
            continue
        category = unicodedata.category(char)
        is_word_char = category[0] == "L" or category == "Nd"
        if category[0] == "C" or (category[0] == "M" and not out):
            continue
        if not is_word_char and category[0] != "M":
            if char not in _ALLOWED_PUNCTUATION:
                space_pending = bool(out)
                continue

        if len(out) + (2 if space_pending else 1) > max_length:
            break
        if space_pending:
            out.append(" ")
            space_pending = False
        out.append(char)
        has_word_char = has_word_char or is_word_char
    return "".join(out) if has_word_char else ""


def extract_interests(
    query_terms: Iterable[str], cookie_value: str | None, limit: int, max_length: int
) -> tuple[str, ...]:
    """Collect distinct interest terms, query terms first, at most ``limit``."""
    if limit <= 0:
        return ()
    found: dict[str, None] = {}
    raw_terms = [t for value in query_terms for t in value.split(",")]
    raw_terms += split_cookie_list(cookie_value, plus_is_space=True)
    for raw in raw_terms:
        term = clean_term(raw, max_length)
        if term:
            found.setdefault(term)
            if len(found) >= limit:
                break
    return tuple(found)


def extract_viewed(cookie_value: str | None, limit: int) -> tuple[str, ...]:
    """Return valid, distinct item ids from the viewed cookie, most recent first.

    The cookie lists ids most recent first. An id that does not match
    ``[A-Za-z0-9_.:-]{1,64}`` is dropped, never shortened.
    """
    if limit <= 0:
        return ()
    found: dict[str, None] = {}
    for raw in split_cookie_list(cookie_value, plus_is_space=False):
        item = raw.strip()
        if _ITEM_ID.fullmatch(item):
            found.setdefault(item)
            if len(found) >= limit:
                break
    return tuple(found)


def _parse_q(parameters: str) -> float | None:
    """Return the q-value in ``parameters``, 1.0 without one, None if invalid."""
    q = 1.0
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip(" \t").lower() != "q":
            continue
        value = value.strip(" \t")
        if not _QVALUE.fullmatch(value):
            return None
        q = float(value)
    return q


def format_language_tag(tag: str) -> str:
    """Apply BCP 47 casing: ``en-us`` -> ``en-US``, ``zh-hant-tw`` -> ``zh-Hant-TW``.

    The language is lower case, a four-letter script title case and a
    two-letter region upper case. Subtags after a singleton such as ``x``
    or ``u`` are extensions and stay lower case.
    """
    subtags = tag.lower().split("-")
    out = [subtags[0]]
    in_extension = False
    for subtag in subtags[1:]:
        if len(subtag) == 1:
            in_extension = True
        elif not in_extension and subtag.isalpha():
            if len(subtag) == 4:
                subtag = subtag.title()
            elif len(subtag) == 2:
                subtag = subtag.upper()
        out.append(subtag)
    return "-".join(out)


def extract_languages(
    header: bytes | None, limit: int, max_length: int
) -> tuple[str, ...]:
    """Parse Accept-Language into tags ordered by q-value, highest first.

    Items with q=0, the wildcard ``*``, invalid tags and invalid q-values
    are dropped. Equal q-values keep the order of the header. ``_`` is read
    as ``-`` because some HTTP clients send ``en_US``.
    """
    if not header or limit <= 0:
        return ()
    text = cut_at_separator(header, ACCEPT_LANGUAGE_LIMIT, b",").decode("latin-1")

    ranked: list[tuple[float, str]] = []
    for item in text.split(","):
        tag, _, parameters = item.partition(";")
        tag = tag.strip(" \t").replace("_", "-")
        if len(tag) > max_length or not _LANGUAGE_TAG.fullmatch(tag):
            continue
        q = _parse_q(parameters)
        if q:
            ranked.append((q, format_language_tag(tag)))
    ranked.sort(key=lambda pair: -pair[0])

    found: dict[str, None] = {}
    for _, tag in ranked:
        found.setdefault(tag)
        if len(found) >= limit:
            break
    return tuple(found)


def extract_country(
    headers: Mapping[bytes, list[bytes]], names: Iterable[bytes]
) -> str | None:
    """Return the country from the first trusted header with a valid code.

    A header sent more than once is ignored: one copy may come from the
    client, and there is no telling which one the edge set.
    """
    for name in names:
        values = headers.get(name, [])
        if len(values) != 1:
            continue
        code = values[0][:SHORT_HEADER_LIMIT].strip(b" \t").decode("latin-1")
        code = code.upper()
        if code in COUNTRY_CODES:
            return code
    return None


def classify_device(user_agent: str | None, mobile_hint: bytes | None) -> str:
    """Return "mobile", "tablet", "desktop" or "unknown".

    The ``Sec-CH-UA-Mobile`` client hint wins over the user agent: ``?1``
    means mobile, and ``?0`` rules mobile out. Without a user agent and a
    hint, the device is unknown.
    """
    hint = mobile_hint[:SHORT_HEADER_LIMIT].strip(b" \t") if mobile_hint else b""
    if hint == b"?1":
        return "mobile"
    if not user_agent:
        return "desktop" if hint == b"?0" else "unknown"

    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "desktop" if hint == b"?0" else "mobile"
    if "android" in user_agent.lower():
        # Android phones put "Mobile" in the UA, and tablets leave it out.
        return "tablet"
    return "desktop"


def is_bot(user_agent: str | None, http_clients_are_bots: bool) -> bool:
    """Tell whether the user agent is a crawler, preview fetcher or script."""
    if not user_agent:
        return http_clients_are_bots
    if _CRAWLER.search(user_agent):
        return True
    return http_clients_are_bots and _HTTP_CLIENT.search(user_agent) is not None


def limit_params(
    params: Mapping[str, str | tuple[str, ...]], max_length: int
) -> dict[str, str | tuple[str, ...]]:
    """Copy route params, cutting each value to ``max_length`` characters.

    Tuples keep at most ``MAX_PARAM_ITEMS`` items.
    """
    limited: dict[str, str | tuple[str, ...]] = {}
    for name, value in params.items():
        if isinstance(value, str):
            limited[name] = value[:max_length]
        else:
            items = islice(value, MAX_PARAM_ITEMS)
            limited[name] = tuple(str(item)[:max_length] for item in items)
    return limited
