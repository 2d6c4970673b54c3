"""Choosing the fragment encoding: header, byte order mark, <meta>, labels."""

from __future__ import annotations

import pytest

from edge_personalize._charset import (
    _LABELS,
    CharsetDecision,
    choose_charset,
    encode_fragment,
    prescan_meta,
    wide_charset,
)
from edge_personalize.rewriting import find_placeholders, rewrite

LEGACY_PAGE = b"<html><body><p>Caf\xe9 \x80</p><!-- personalize:recs --></body></html>"


def codec_for(content_type: str | None, head: bytes = b"<html>") -> str | None:
    return choose_charset(content_type, head).codec


# --- Content-Type --------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "codec"),
    [
        pytest.param("text/html; charset=windows-1252", "cp1252", id="windows-1252"),
        pytest.param("text/html; charset=ISO-8859-1", "cp1252", id="latin1-upper"),
        pytest.param('text/html; charset="utf-8"', "utf-8", id="quoted"),
        pytest.param('Text/HTML ; Charset="UTF-8"', "utf-8", id="mixed-case"),
        pytest.param("text/html;charset=utf8", "utf-8", id="no-space"),
        pytest.param("text/html; charset=us-ascii", "cp1252", id="us-ascii"),
        pytest.param("text/html; charset=x-sjis", "cp932", id="x-sjis"),
        pytest.param("text/html; charset=GB2312", "gbk", id="gb2312"),
        pytest.param("text/html; charset=gb18030", "gb18030", id="gb18030"),
        pytest.param("text/html; charset=Big5", "big5", id="big5"),
        pytest.param("text/html; charset=euc-kr", "cp949", id="euc-kr"),
        pytest.param("text/html; charset=EUC-JP", "euc_jp", id="euc-jp"),
        pytest.param("text/html; charset=koi8-r", "koi8-r", id="koi8-r"),
        pytest.param("text/html; charset=tis-620", "cp874", id="tis-620"),
        pytest.param("text/html; charset=latin5", "cp1254", id="latin5"),
        pytest.param("text/html; charset=x-user-defined", "ascii", id="user-defined"),
    ],
)
def test_charset_from_header(content_type: str, codec: str) -> None:
    assert codec_for(content_type) == codec


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/html; charset=1250", id="invalid-number"),
        pytest.param("text/html; charset=utf-16", id="utf-16"),
        pytest.param("text/html; charset=UTF-16LE", id="utf-16le"),
        pytest.param("text/html; charset=utf-16be", id="utf-16be"),
        pytest.param("text/html; charset=utf-32", id="utf-32"),
        pytest.param("text/html; charset=utf-7", id="utf-7"),
        pytest.param("text/html; charset=iso-2022-jp", id="iso-2022-jp"),
        pytest.param("text/html; charset=ISO-2022-KR", id="iso-2022-kr"),
        pytest.param("text/html; charset=hz-gb-2312", id="hz"),
        pytest.param("text/html; charset=replacement", id="replacement"),
        pytest.param('text/html; charset=""', id="empty-quoted"),
    ],
)
def test_charset_header_passes_through(content_type: str) -> None:
    decision = choose_charset(content_type, b"<html>")
    assert decision.codec is None
    assert decision.reason


def test_charset_invalid_label_reported() -> None:
    decision = choose_charset("text/html; charset=1250", b"")
    assert decision == CharsetDecision(
        None, "1250", "unknown charset label in the Content-Type header"
    )


def test_charset_header_wins_over_meta() -> None:
    head = b'<meta charset="koi8-r">'
    assert codec_for("text/html; charset=utf-8", head) == "utf-8"


def test_charset_no_declaration_is_ascii() -> None:
    decision = choose_charset("text/html", b"<html><body>")
    assert decision.codec == "ascii"
    assert decision.label is None


def test_charset_missing_header_reads_meta() -> None:
    assert codec_for(None, b"<meta charset=windows-1251>") == "cp1251"


# --- Byte order marks -----------------------------------------------------


def test_charset_utf8_bom_wins_over_header() -> None:
    head = b"\xef\xbb\xbf<html>"
    assert codec_for("text/html; charset=windows-1252", head) == "utf-8"


@pytest.mark.parametrize(
    "bom",
    [
        pytest.param(b"\xff\xfe", id="utf-16le"),
        pytest.param(b"\xfe\xff", id="utf-16be"),
    ],
)
def test_charset_utf16_bom_passes_through(bom: bytes) -> None:
    decision = choose_charset("text/html; charset=utf-8", bom + b"<\x00")
    assert decision.codec is None
    assert "byte order mark" in decision.reason


# --- The <meta> prescan ---------------------------------------------------


@pytest.mark.parametrize(
    ("head", "label"),
    [
        pytest.param(b'<meta charset="shift_jis">', "shift_jis", id="charset"),
        pytest.param(b"<META CHARSET=UTF-8>", "utf-8", id="upper-case"),
        pytest.param(
            b'<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">',
            "euc-jp",
            id="http-equiv",
        ),
        pytest.param(
            b"<meta content='text/html;charset = \"gbk\"' http-equiv=content-type>",
            "gbk",
            id="content-first-quoted",
        ),
        pytest.param(b'<meta content="charset=koi8-r">', None, id="no-http-equiv"),
        pytest.param(b"<!-- <meta charset=koi8-r> -->", None, id="in-comment"),
        pytest.param(b"<!--><meta charset=koi8-r>", "koi8-r", id="after-empty-comment"),
        pytest.param(b'<div title="<meta charset=koi8-r>">', None, id="in-attribute"),
        pytest.param(
            b'<meta charset="bogus"><meta charset="latin2">',
            "latin2",
            id="unknown-skipped",
        ),
        pytest.param(
            b'<meta charset="latin2" charset="koi8-r">', "latin2", id="duplicate"
        ),
        pytest.param(b"<meta/charset=latin3>", "latin3", id="slash"),
        pytest.param(b"<p>" + b"x" * 1100 + b"<meta charset=latin2>", None, id="late"),
        pytest.param(b"<meta charset='unterminated", None, id="unterminated"),
        pytest.param(b"<metal charset=latin2>", None, id="other-tag"),
    ],
)
def test_prescan_meta(head: bytes, label: str | None) -> None:
    assert prescan_meta(head[:1024]) == label


def test_charset_meta_utf16_means_utf8() -> None:
    decision = choose_charset("text/html", b'<meta charset="utf-16">')
    assert decision.codec == "utf-8"


def test_charset_meta_unsafe_passes_through() -> None:
    head = b'<meta http-equiv=content-type content="text/html; charset=iso-2022-jp">'
    assert codec_for("text/html", head) is None


def test_charset_meta_only_first_1024_bytes() -> None:
    head = b" " * 1020 + b"<meta charset=koi8-r>"
    assert codec_for("text/html", head) == "ascii"


# --- Encoding fragments ---------------------------------------------------


def test_encode_fragment_references_for_missing_characters() -> None:
    assert encode_fragment("a → 漢 é", "cp1252") == b"a &#8594; &#28450; \xe9"


def test_encode_fragment_ascii() -> None:
    assert encode_fragment("café", "ascii") == b"caf&#233;"


def test_encode_fragment_utf8() -> None:
    assert encode_fragment("→", "utf-8") == "→".encode()


def test_encode_fragment_shift_jis() -> None:
    assert encode_fragment("漢 €", "cp932") == b"\x8a\xbf &#8364;"


def test_legacy_page_end_to_end() -> None:
    decision = choose_charset("text/html; charset=windows-1252", LEGACY_PAGE)
    assert decision.codec == "cp1252"
    fragment = encode_fragment("<aside>→ 漢</aside>", decision.codec)
    out = rewrite(LEGACY_PAGE, {"recs": fragment})
    assert out == (
        b"<html><body><p>Caf\xe9 \x80</p><aside>&#8594; &#28450;</aside></body></html>"
    )


def test_shift_jis_page_placeholder_found() -> None:
    # In Shift_JIS "ソ" and "表" both end with byte 0x5C, which hides no
    # markup.
    page = "<p>ソ表</p><!-- personalize:recs -->".encode("cp932")
    assert len(find_placeholders(page, ["recs"])) == 1


# --- Why the accepted encodings are safe ------------------------------------

DELIMITERS = frozenset(b"<>!-/=\"' \t\n\f\r?")
ACCEPTED = sorted({codec for codec in _LABELS.values() if codec is not None})


@pytest.mark.parametrize("codec", ACCEPTED)
def test_accepted_encoding_keeps_delimiters_ascii(codec: str) -> None:
    # Every character outside ASCII encodes to bytes that never include a
    # byte the rewriter reads as markup, so those bytes always mean ASCII.
    for code in range(0x80, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        try:
            encoded = chr(code).encode(codec)
        except UnicodeEncodeError:
            continue
        assert DELIMITERS.isdisjoint(encoded), (codec, hex(code), encoded)


@pytest.mark.parametrize(
    ("content_type", "head", "expected"),
    [
        pytest.param("text/html", b"\xff\xfe<\x00", "UTF-16LE", id="bom-le"),
        pytest.param("text/html", b"\xfe\xff\x00<", "UTF-16BE", id="bom-be"),
        pytest.param(None, b"\xff\xfe\x00\x00<\x00\x00\x00", "UTF-16LE", id="bom-32"),
        pytest.param("text/html; charset=UTF-16", b"<", "utf-16", id="label-16"),
        pytest.param("text/html; charset=ucs-2", b"<", "ucs-2", id="label-ucs-2"),
        pytest.param("text/html; charset=utf-32le", b"<", "utf-32le", id="label-32"),
        pytest.param("text/html; charset=utf-8", b"<", None, id="utf-8"),
        pytest.param("text/html", b'<meta charset="utf-16">', None, id="meta-16"),
        pytest.param(None, b"\xef\xbb\xbf<", None, id="bom-utf-8"),
    ],
)
def test_wide_charset(
    content_type: str | None, head: bytes, expected: str | None
) -> None:
    assert wide_charset(content_type, head) == expected
