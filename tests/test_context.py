"""Tests for context extraction: every field, hostile input and bounds."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_personalize._context_extract import (
    ACCEPT_LANGUAGE_LIMIT,
    COUNTRY_CODES,
    MAX_PARAM_ITEMS,
    join_capped,
)
from edge_personalize.context import (
    Context,
    ContextOptions,
    RequestView,
    build_context,
)
from edge_personalize.exceptions import ConfigurationError

DEFAULTS = ContextOptions()

CHROME_WINDOWS = (
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
SAFARI_MAC = (
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    b"(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
IPHONE = (
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    b"(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    b"Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 "
    b"(KHTML, like Gecko) Version/12.1 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    b"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    b"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_TABLET = b"Mozilla/5.0 (Android 13; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0"
FIREFOX_PHONE = b"Mozilla/5.0 (Android 13; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
CUBOT_PHONE = (
    b"Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/90.0.4430.91 Mobile Safari/537.36"
)
GOOGLEBOT_PHONE = (
    b"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/124.0.6367.155 Mobile Safari/537.36 "
    b"(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)


def request(
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    path: str = "/p/mug",
) -> RequestView:
    return RequestView("GET", path, query, headers or [])


def context(
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    options: ContextOptions = DEFAULTS,
    params: dict[str, Any] | None = None,
) -> Context:
    return build_context(request(headers, query), params or {}, options)


def cookie(value: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", value)]


# Interests


@pytest.mark.parametrize(
    ("query", "cookies", "expected"),
    [
        pytest.param(b"interest=shoes", b"", ("shoes",), id="query"),
        pytest.param(b"userInterest=Bags", b"", ("bags",), id="second-param"),
        pytest.param(
            b"interest=shoes&interest=bags", b"", ("shoes", "bags"), id="repeated"
        ),
        pytest.param(
            b"interest=shoes,bags%2Chats",
            b"",
            ("shoes", "bags", "hats"),
            id="comma-separated",
        ),
        pytest.param(b"interest=running+shoes", b"", ("running shoes",), id="plus"),
        pytest.param(
            b"",
            b"ep_interests=shoes|bags%2Chats",
            ("shoes", "bags", "hats"),
            id="cookie",
        ),
        pytest.param(
            b"",
            b"ep_interests=running%20shoes",
            ("running shoes",),
            id="cookie-encoded",
        ),
        pytest.param(
            b"", b"ep_interests=running+shoes", ("running shoes",), id="cookie-plus"
        ),
        pytest.param(
            b"interest=b", b"ep_interests=a|b", ("b", "a"), id="query-first-dedup"
        ),
        pytest.param(b"interest=Shoes,SHOES,shoes", b"", ("shoes",), id="case-dedup"),
        pytest.param(b"interest=%20%20a%20%20%20b%20", b"", ("a b",), id="whitespace"),
        pytest.param(b"interest=a%09b%0Ac", b"", ("a b c",), id="tab-newline"),
        pytest.param(b"interest=sh%00o%07es", b"", ("shoes",), id="control-chars"),
        pytest.param(
            b"interest=%E2%80%AEevil%E2%80%8B", b"", ("evil",), id="bidi-override"
        ),
        pytest.param(
            b"interest=t-shirts,rock%27n%27roll,a%26b,v1.2,snake_case",
            b"",
            ("t-shirts", "rock'n'roll", "a&b", "v1.2", "snake_case"),
            id="allowed-punctuation",
        ),
        pytest.param(
            b"interest=men%E2%80%99s", b"", ("men's",), id="typographic-apostrophe"
        ),
        pytest.param(
            b"interest=rock/pop,c%2B%2B,%3Cscript%3E",
            b"",
            ("rock pop", "c", "script"),
            id="other-punctuation-space",
        ),
        pytest.param(b"interest=---,%26%26,%20", b"", (), id="no-word-char"),
        pytest.param(
            b"interest=%EF%BC%B3%EF%BC%A8%EF%BC%AF%EF%BC%A5",
            b"",
            ("shoe",),
            id="fullwidth-nfkc",
        ),
        pytest.param(
            b"interest=Caf%C3%A9,%E6%97%A5%E6%9C%AC,%E0%A4%B9%E0%A4%BF%E0%A4%82",
            b"",
            ("café", "日本", "हिं"),
            id="unicode-letters-and-marks",
        ),
        pytest.param(
            b"interest=%F0%9F%91%9F%20shoes", b"", ("shoes",), id="emoji-dropped"
        ),
        pytest.param(b"interest=%FF%FEshoes", b"", ("shoes",), id="invalid-utf8"),
        pytest.param(b"interest=", b"", (), id="empty"),
        pytest.param(b"other=shoes", b"", (), id="other-param"),
        pytest.param(b"", b"other=shoes", (), id="other-cookie"),
    ],
)
def test_interests(query: bytes, cookies: bytes, expected: tuple[str, ...]) -> None:
    headers = cookie(cookies) if cookies else []

    assert context(headers, query).interests == expected


def test_interests_limit() -> None:
    query = b"&".join(b"interest=t%d" % i for i in range(10_000))
    found = context(query=query).interests

    assert found == tuple(f"t{i}" for i in range(DEFAULTS.max_interests))


def test_interests_length_cut() -> None:
    found = context(query=b"interest=" + b"a" * 500).interests

    assert found == ("a" * DEFAULTS.max_value_length,)


def test_interests_huge_query_bounded() -> None:
    query = b"x=" + b"y" * 1_000_000 + b"&interest=late"

    assert context(query=query).interests == ()


def test_interests_query_cut_drops_partial() -> None:
    # The 8 KiB cap falls inside a pair; that pair must not come out cut.
    query = b"&".join(b"interest=w%04d" % i for i in range(2000))
    options = ContextOptions(max_interests=10_000)
    found = context(query=query, options=options).interests

    assert 0 < len(found) < 2000
    assert all(re.fullmatch(r"w\d{4}", t) for t in found)


def test_interests_cookie_cut_drops_partial() -> None:
    value = b"|".join(b"a%04d" % i for i in range(2000))
    options = ContextOptions(max_interests=10_000)
    found = context(cookie(b"ep_interests=" + value), options=options).interests

    assert 0 < len(found) < 2000
    assert all(re.fullmatch(r"a\d{4}", t) for t in found)


def test_interests_sources_off() -> None:
    options = ContextOptions(interest_params=(), interests_cookie=None)
    found = context(cookie(b"ep_interests=a"), b"interest=b", options).interests

    assert found == ()


def test_interests_max_zero() -> None:
    options = ContextOptions(max_interests=0)

    assert context(query=b"interest=a", options=options).interests == ()


# Viewed items


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(b"sku-3,sku-2,sku-1", ("sku-3", "sku-2", "sku-1"), id="order"),
        pytest.param(b"a|b", ("a", "b"), id="pipes"),
        pytest.param(b"a,b,a", ("a", "b"), id="dedup"),
        pytest.param(b"cat%3A42,x.y_z", ("cat:42", "x.y_z"), id="encoded"),
        pytest.param(b"ok,%3Cscript%3E,a%2Fb,caf%C3%A9,,", ("ok",), id="invalid"),
        pytest.param(b"a" * 64 + b",b", ("a" * 64, "b"), id="id-64"),
        pytest.param(b"a" * 65 + b",b", ("b",), id="id-65-dropped"),
        pytest.param(b"%20a%20,b", ("a", "b"), id="spaces-stripped"),
        pytest.param(b"", (), id="empty"),
    ],
)
def test_viewed(value: bytes, expected: tuple[str, ...]) -> None:
    assert context(cookie(b"ep_viewed=" + value)).viewed == expected


def test_viewed_limit() -> None:
    value = b",".join(b"id%d" % i for i in range(1000))
    found = context(cookie(b"ep_viewed=" + value)).viewed

    assert found == tuple(f"id{i}" for i in range(DEFAULTS.max_viewed))


def test_viewed_cookie_off() -> None:
    options = ContextOptions(viewed_cookie=None)

    assert context(cookie(b"ep_viewed=a"), options=options).viewed == ()


def test_viewed_custom_cookie() -> None:
    options = ContextOptions(viewed_cookie="recent")

    assert context(cookie(b"recent=a; ep_viewed=b"), options=options).viewed == ("a",)


# Languages


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(b"fr", ("fr",), id="single"),
        pytest.param(b"en-us;q=0.8, fr, de;q=0.9", ("fr", "de", "en-US"), id="q-order"),
        pytest.param(b"de;q=0.5, fr;q=0.5, it", ("it", "de", "fr"), id="stable"),
        pytest.param(b"fr, de;q=0, it;q=0.000", ("fr",), id="q-zero"),
        pytest.param(b"*, fr;q=0.5", ("fr",), id="wildcard"),
        pytest.param(
            b"fr;q=abc, de;q=1.5, it;q=0.1234, es;q=-1, nl;q=0.5",
            ("nl",),
            id="bad-q",
        ),
        pytest.param(b"fr;Q=0.5, de", ("de", "fr"), id="q-uppercase"),
        pytest.param(b"fr ; q = 0.5", ("fr",), id="spaces-around"),
        pytest.param(
            b"zh-hant-tw, sr-latn-rs, es-419, de-de-1996",
            ("zh-Hant-TW", "sr-Latn-RS", "es-419", "de-DE-1996"),
            id="bcp47-case",
        ),
        pytest.param(b"EN-GB", ("en-GB",), id="upper-input"),
        pytest.param(
            b"en-x-priv, de-u-co-phonebk",
            ("en-x-priv", "de-u-co-phonebk"),
            id="extensions-lower",
        ),
        pytest.param(b"en_US", ("en-US",), id="underscore"),
        pytest.param(b"en-US, en-us, EN-us", ("en-US",), id="dedup"),
        pytest.param(
            b"x, i-klingon, 123, en--us, e\xe9, toolongsubtag-a, en-abcdefghi, fr",
            ("fr",),
            id="invalid-tags",
        ),
        pytest.param(b"fr\t,\tde", ("fr", "de"), id="tabs"),
        pytest.param(b"", (), id="empty"),
        pytest.param(b",,,", (), id="only-commas"),
    ],
)
def test_languages(header: bytes, expected: tuple[str, ...]) -> None:
    assert context([(b"accept-language", header)]).languages == expected


def test_languages_limit() -> None:
    header = b", ".join(b"l%c" % c for c in range(ord("a"), ord("z") + 1))
    found = context([(b"accept-language", header)]).languages

    assert found == ("la", "lb", "lc", "ld", "le", "lf")


def test_languages_repeated_header() -> None:
    headers = [(b"accept-language", b"fr;q=0.5"), (b"accept-language", b"de")]

    assert context(headers).languages == ("de", "fr")


def test_languages_huge_header_bounded() -> None:
    header = b"en;q=0.1, " + b"zz-" * 100_000 + b", fr"
    found = context([(b"accept-language", header)]).languages

    assert found == ("en",)


def test_languages_cap_drops_partial() -> None:
    # The tag that the cap cuts through ("abcdef") must not come out as "ab".
    filler = b"de;q=0.1, " + b" " * (ACCEPT_LANGUAGE_LIMIT - 14)
    found = context([(b"accept-language", filler + b", abcdef")]).languages

    assert found == ("de",)


# Country


def geo(name: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    return [(name, value)]


@pytest.mark.parametrize(
    ("trusted", "headers", "expected"),
    [
        pytest.param((), geo(b"cf-ipcountry", b"DE"), None, id="untrusted-forged"),
        pytest.param(("cloudflare",), geo(b"cf-ipcountry", b"DE"), "DE", id="cf"),
        pytest.param(
            ("vercel",), geo(b"x-vercel-ip-country", b"US"), "US", id="vercel"
        ),
        pytest.param(
            ("cloudfront",),
            geo(b"cloudfront-viewer-country", b"JP"),
            "JP",
            id="cloudfront",
        ),
        pytest.param(
            ("Cloudflare",), geo(b"cf-ipcountry", b"FR"), "FR", id="preset-case"
        ),
        pytest.param(
            ("X-Geo-Country",), geo(b"x-geo-country", b"it"), "IT", id="raw-header"
        ),
        pytest.param(
            ("vercel",), geo(b"cf-ipcountry", b"DE"), None, id="other-preset-header"
        ),
        pytest.param(("cloudflare",), geo(b"cf-ipcountry", b"XX"), None, id="xx"),
        pytest.param(("cloudflare",), geo(b"cf-ipcountry", b"T1"), None, id="tor"),
        pytest.param(
            ("cloudflare",), geo(b"cf-ipcountry", b"ZZ"), None, id="user-assigned"
        ),
        pytest.param(("cloudflare",), geo(b"cf-ipcountry", b"XK"), "XK", id="kosovo"),
        pytest.param(("cloudflare",), geo(b"cf-ipcountry", b"USA"), None, id="alpha-3"),
        pytest.param(
            ("cloudflare",), geo(b"cf-ipcountry", b"D\xc9"), None, id="non-ascii"
        ),
        pytest.param(("cloudflare",), geo(b"cf-ipcountry", b""), None, id="empty"),
        pytest.param(("cloudflare",), geo(b"cf-ipcountry", b" de "), "DE", id="padded"),
        pytest.param(
            ("cloudflare",),
            geo(b"cf-ipcountry", b"DE" + b" " * 100 + b"X"),
            "DE",
            id="long-value-capped",
        ),
        pytest.param(
            ("cloudflare",),
            [(b"cf-ipcountry", b"DE"), (b"cf-ipcountry", b"FR")],
            None,
            id="duplicated",
        ),
        pytest.param(
            ("cloudflare", "vercel"),
            [(b"cf-ipcountry", b"XX"), (b"x-vercel-ip-country", b"NL")],
            "NL",
            id="next-trusted",
        ),
    ],
)
def test_country(
    trusted: tuple[str, ...], headers: list[tuple[bytes, bytes]], expected: str | None
) -> None:
    options = ContextOptions(trusted_headers=trusted)

    assert context(headers, options=options).country == expected


ISO_CODES = Path("/usr/share/iso-codes/json/iso_3166-1.json")


@pytest.mark.skipif(not ISO_CODES.exists(), reason="Debian iso-codes not installed")
def test_country_codes_match_iso() -> None:
    records = json.loads(ISO_CODES.read_text(encoding="utf-8"))["3166-1"]
    assigned = {record["alpha_2"] for record in records}

    assert COUNTRY_CODES == assigned | {"XK"}


# Device


@pytest.mark.parametrize(
    ("user_agent", "hint", "expected"),
    [
        pytest.param(CHROME_WINDOWS, None, "desktop", id="chrome-windows"),
        pytest.param(SAFARI_MAC, None, "desktop", id="safari-mac"),
        pytest.param(IPHONE, None, "mobile", id="iphone"),
        pytest.param(IPAD, None, "tablet", id="ipad"),
        pytest.param(ANDROID_PHONE, None, "mobile", id="android-phone"),
        pytest.param(ANDROID_TABLET, None, "tablet", id="android-tablet"),
        pytest.param(FIREFOX_TABLET, None, "tablet", id="firefox-tablet"),
        pytest.param(FIREFOX_PHONE, None, "mobile", id="firefox-phone"),
        pytest.param(GOOGLEBOT_PHONE, None, "mobile", id="googlebot-phone"),
        pytest.param(CHROME_WINDOWS, b"?1", "mobile", id="hint-mobile-wins"),
        pytest.param(ANDROID_PHONE, b"?0", "desktop", id="hint-not-mobile"),
        pytest.param(ANDROID_TABLET, b"?0", "tablet", id="hint-tablet"),
        pytest.param(None, b"?0", "desktop", id="hint-only"),
        pytest.param(None, b"?1", "mobile", id="hint-only-mobile"),
        pytest.param(None, b"?2", "unknown", id="hint-invalid"),
        pytest.param(None, None, "unknown", id="nothing"),
        pytest.param(b"", None, "unknown", id="empty-ua"),
    ],
)
def test_device(user_agent: bytes | None, hint: bytes | None, expected: str) -> None:
    headers = []
    if user_agent is not None:
        headers.append((b"user-agent", user_agent))
    if hint is not None:
        headers.append((b"sec-ch-ua-mobile", hint))

    assert context(headers).device == expected


# Bots


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        pytest.param(CHROME_WINDOWS, False, id="chrome"),
        pytest.param(IPHONE, False, id="iphone"),
        pytest.param(CUBOT_PHONE, False, id="cubot-phone"),
        pytest.param(GOOGLEBOT_PHONE, True, id="googlebot"),
        pytest.param(
            b"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            True,
            id="bingbot",
        ),
        pytest.param(
            b"Mozilla/5.0 (compatible; Yahoo! Slurp; "
            b"http://help.yahoo.com/help/us/ysearch/slurp)",
            True,
            id="slurp",
        ),
        pytest.param(
            b"Mozilla/5.0 (compatible; Baiduspider/2.0; "
            b"+http://www.baidu.com/search/spider.html)",
            True,
            id="spider",
        ),
        pytest.param(
            b"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            True,
            id="slackbot",
        ),
        pytest.param(
            b"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            True,
            id="discordbot",
        ),
        pytest.param(b"WhatsApp/2.23.20.0", True, id="whatsapp"),
        pytest.param(b"Twitterbot/1.0", True, id="twitterbot"),
        pytest.param(
            b"LinkedInBot/1.0 (compatible; Mozilla/5.0; "
            b"Apache-HttpClient +http://www.linkedin.com)",
            True,
            id="linkedinbot",
        ),
        pytest.param(
            b"facebookexternalhit/1.1 "
            b"(+http://www.facebook.com/externalhit_uatext.php)",
            True,
            id="facebook",
        ),
        pytest.param(
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
            b"(KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
            True,
            id="headless-chrome",
        ),
        pytest.param(b"SomeCrawler/3.1", True, id="crawler"),
        pytest.param(b"ELB-HealthChecker/2.0", True, id="health-check"),
        pytest.param(b"kube-probe/1.29", True, id="kube-probe"),
        pytest.param(b"curl/8.5.0", True, id="curl"),
        pytest.param(b"Wget/1.21.4", True, id="wget"),
        pytest.param(b"python-requests/2.31.0", True, id="requests"),
        pytest.param(b"python-httpx/0.27.0", True, id="httpx"),
        pytest.param(b"Python-urllib/3.11", True, id="urllib"),
        pytest.param(b"Go-http-client/1.1", True, id="go"),
        pytest.param(b"", True, id="empty-ua"),
        pytest.param(None, True, id="missing-ua"),
    ],
)
def test_bot(user_agent: bytes | None, expected: bool) -> None:
    headers = [] if user_agent is None else [(b"user-agent", user_agent)]

    assert context(headers).bot is expected


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        pytest.param(b"curl/8.5.0", False, id="curl"),
        pytest.param(b"python-httpx/0.27.0", False, id="httpx"),
        pytest.param(None, False, id="missing-ua"),
        pytest.param(GOOGLEBOT_PHONE, True, id="googlebot-still"),
    ],
)
def test_bot_http_clients_allowed(user_agent: bytes | None, expected: bool) -> None:
    options = ContextOptions(http_clients_are_bots=False)
    headers = [] if user_agent is None else [(b"user-agent", user_agent)]

    assert context(headers, options=options).bot is expected


def test_bot_token_past_cap_ignored() -> None:
    user_agent = CHROME_WINDOWS + b" " * 2000 + b"Googlebot"

    assert context([(b"user-agent", user_agent)]).bot is False


# Global Privacy Control


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(b"1", True, id="one"),
        pytest.param(b" 1 ", True, id="padded"),
        pytest.param(b"0", False, id="zero"),
        pytest.param(b"true", False, id="word"),
        pytest.param(b"1, 1", False, id="list"),
        pytest.param(None, False, id="absent"),
    ],
)
def test_gpc(value: bytes | None, expected: bool) -> None:
    headers = [] if value is None else [(b"sec-gpc", value)]

    assert context(headers).gpc is expected


# Path and params


def test_path_kept() -> None:
    assert build_context(request(path="/p/mug"), {}, DEFAULTS).path == "/p/mug"


def test_params_cut() -> None:
    params = {"slug": "s" * 500, "rest": tuple("r" * 100 for _ in range(100))}
    found = context(params=params).params

    assert found["slug"] == "s" * DEFAULTS.max_value_length
    assert len(found["rest"]) == MAX_PARAM_ITEMS
    assert all(len(item) == DEFAULTS.max_value_length for item in found["rest"])


def test_params_read_only() -> None:
    found = context(params={"slug": "mug"}).params

    with pytest.raises(TypeError):
        found["slug"] = "x"  # type: ignore[index]


def test_context_wraps_dict_params() -> None:
    params = {"a": "1"}
    built = Context(params=params)
    params["a"] = "2"

    assert built.params == {"a": "1"}


def test_context_not_hashable() -> None:
    with pytest.raises(TypeError):
        hash(Context())


def test_context_keeps_no_raw_values() -> None:
    headers = [
        (b"user-agent", CHROME_WINDOWS + b" MARKER-UA"),
        (b"cookie", b"session=MARKER-COOKIE; ep_interests=shoes"),
        (b"x-forwarded-for", b"203.0.113.9"),
        (b"x-real-ip", b"203.0.113.9"),
    ]
    text = repr(context(headers))

    assert "MARKER" not in text
    assert "203.0.113.9" not in text
    assert "Chrome" not in text


# Options


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        pytest.param({"interest_params": "interest"}, "'interest'", id="params-str"),
        pytest.param({"interest_params": ("",)}, "''", id="params-empty-name"),
        pytest.param({"interest_params": (3,)}, "3", id="params-int"),
        pytest.param({"interest_params": ("a\nb",)}, "'a\\nb'", id="params-control"),
        pytest.param({"interests_cookie": "a b"}, "'a b'", id="cookie-space"),
        pytest.param({"interests_cookie": ""}, "''", id="cookie-empty"),
        pytest.param({"viewed_cookie": 1}, "1", id="viewed-int"),
        pytest.param({"trusted_headers": "cloudflare"}, "'cloudflare'", id="bare-str"),
        pytest.param({"trusted_headers": ("cf ip",)}, "'cf ip'", id="bad-header"),
        pytest.param({"max_interests": -1}, "-1", id="negative"),
        pytest.param({"max_viewed": 2.5}, "2.5", id="float"),
        pytest.param({"max_languages": True}, "True", id="bool"),
        pytest.param({"max_value_length": 0}, "0", id="zero-length"),
        pytest.param({"http_clients_are_bots": "yes"}, "'yes'", id="bots-str"),
    ],
)
def test_options_invalid(kwargs: dict[str, Any], shown: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ContextOptions(**kwargs)

    assert shown in str(caught.value)


def test_options_lists_become_tuples() -> None:
    options = ContextOptions(
        interest_params=["q"],  # type: ignore[arg-type]
        trusted_headers=["vercel"],  # type: ignore[arg-type]
    )

    assert options.interest_params == ("q",)
    assert options.trusted_headers == ("vercel",)


def test_options_country_headers() -> None:
    options = ContextOptions(
        trusted_headers=("cloudflare", "X-Geo", "CloudFront", "cf-ipcountry")
    )

    assert options.country_headers == (
        b"cf-ipcountry",
        b"x-geo",
        b"cloudfront-viewer-country",
    )


def test_options_hashable_and_equal() -> None:
    assert hash(ContextOptions()) == hash(ContextOptions())
    assert ContextOptions() == ContextOptions()


# Helpers


@pytest.mark.parametrize(
    ("values", "limit", "expected"),
    [
        pytest.param([b"abc", b"def"], 4, b"abc, ", id="cut-in-separator"),
        pytest.param([b"abcd", b"ef"], 4, b"abcd,", id="cut-after-value"),
        pytest.param([b"abcdefgh"], 4, b"abcde", id="cut-in-value"),
        pytest.param([b"ab"], 4, b"ab", id="under-limit"),
        pytest.param([b"ab", b"cd"], None, b"ab, cd", id="no-limit"),
    ],
)
def test_join_capped(values: list[bytes], limit: int | None, expected: bytes) -> None:
    assert join_capped(values, b", ", limit) == expected


# Properties

HEADER_NAMES = st.sampled_from(
    [
        b"user-agent",
        b"accept-language",
        b"cookie",
        b"sec-gpc",
        b"sec-ch-ua-mobile",
        b"cf-ipcountry",
        b"x-vercel-ip-country",
        b"host",
    ]
)
COOKIE_TEXT = st.lists(
    st.tuples(
        st.sampled_from(["ep_interests", "ep_viewed", "x"]),
        st.text(max_size=200),
    ),
    max_size=4,
).map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs).encode("utf-8"))
HEADER_VALUES = st.one_of(st.binary(max_size=6000), COOKIE_TEXT)
HEADERS = st.lists(
    st.tuples(st.one_of(HEADER_NAMES, st.binary(max_size=20)), HEADER_VALUES),
    max_size=12,
)
QUERIES = st.one_of(
    st.binary(max_size=10_000),
    st.lists(
        st.tuples(st.sampled_from([b"interest", b"userInterest"]), st.binary()),
        max_size=20,
    ).map(lambda pairs: b"&".join(k + b"=" + v for k, v in pairs)),
)
OPTIONS = st.builds(
    ContextOptions,
    trusted_headers=st.sampled_from([(), ("cloudflare", "vercel")]),
    max_interests=st.integers(0, 12),
    max_viewed=st.integers(0, 30),
    max_languages=st.integers(0, 8),
    max_value_length=st.integers(1, 80),
)
PARAMS = st.dictionaries(
    st.text(max_size=10),
    st.one_of(st.text(max_size=300), st.lists(st.text(max_size=100)).map(tuple)),
    max_size=5,
)
ITEM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def check_term(term: str, max_length: int) -> None:
    assert 0 < len(term) <= max_length
    assert term == term.strip()
    assert "  " not in term
    assert any(c.isalnum() for c in term)
    for char in term:
        category = unicodedata.category(char)
        assert category[0] in "LM" or category == "Nd" or char in " -_'&."


@settings(max_examples=300, deadline=None)
@given(headers=HEADERS, query=QUERIES, options=OPTIONS, params=PARAMS)
def test_build_context_bounded(
    headers: list[tuple[bytes, bytes]],
    query: bytes,
    options: ContextOptions,
    params: dict[str, Any],
) -> None:
    built = build_context(request(headers, query), params, options)

    assert len(built.interests) <= options.max_interests
    assert len(set(built.interests)) == len(built.interests)
    for term in built.interests:
        check_term(term, options.max_value_length)
    assert len(built.viewed) <= options.max_viewed
    assert all(ITEM_ID.fullmatch(item) for item in built.viewed)
    assert len(built.languages) <= options.max_languages
    assert all(TAG.fullmatch(tag) for tag in built.languages)
    assert all(len(tag) <= options.max_value_length for tag in built.languages)
    assert built.country is None or built.country in COUNTRY_CODES
    assert built.device in ("mobile", "tablet", "desktop", "unknown")
    assert isinstance(built.bot, bool)
    assert isinstance(built.gpc, bool)
    for value in built.params.values():
        if isinstance(value, str):
            assert len(value) <= options.max_value_length
        else:
            assert len(value) <= MAX_PARAM_ITEMS
            assert all(len(item) <= options.max_value_length for item in value)


@settings(max_examples=200, deadline=None)
@given(terms=st.lists(st.text(max_size=80), max_size=30))
def test_interest_terms_clean(terms: list[str]) -> None:
    from urllib.parse import quote

    query = "&".join("interest=" + quote(term) for term in terms).encode()
    built = context(query=query)

    assert len(built.interests) <= DEFAULTS.max_interests
    for term in built.interests:
        check_term(term, DEFAULTS.max_value_length)
