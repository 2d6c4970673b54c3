"""Choose the encoding for fragments inserted into an HTML response.

The rewriter never decodes a page. It only needs the page's encoding to
encode the fragments it inserts, and it needs to know that the page's bytes
below 0x80 can be read as ASCII, because it finds the markup by its ASCII
bytes. :func:`choose_charset` follows the order of the HTML standard's
encoding sniffing algorithm (WHATWG HTML, "Determining the character
encoding"):

1. a byte order mark at the start of the body,
2. the ``charset`` parameter of ``Content-Type``,
3. the ``<meta>`` prescan of the first 1024 bytes,
4. otherwise no declaration: fragments are encoded as ASCII, with a
   character reference for every other character, which reads the same in
   every ASCII-compatible encoding.

Labels are mapped to encodings with the label table of the WHATWG Encoding
Standard, so ``latin1``, ``iso-8859-1`` and ``us-ascii`` mean windows-1252,
``x-sjis`` means Shift_JIS (windows-31j) and ``gb2312`` means GBK.

Accepted encodings are those whose bytes below 0x80 are ASCII wherever the
markup can be. Single-byte encodings and UTF-8 always qualify. Shift_JIS,
Big5, GBK, gb18030, EUC-KR (windows-949) and EUC-JP qualify too. A trail
byte of theirs may be an ASCII letter or digit, but never one of the bytes
that delimit markup (``<``, ``>``, ``!``, ``-``, ``/``, ``=``, quotes,
spaces). A lead byte of theirs is never below 0x80. Rejected, so the body passes
through untouched: UTF-16 and UTF-32 (by label or byte order mark), UTF-7,
the ISO-2022 family, HZ and the other encodings the standard maps to
"replacement", and any label the table does not know, such as
``charset=1250``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.http import parse_options_header

__all__ = ["CharsetDecision", "choose_charset", "encode_fragment"]

_PRESCAN_SIZE = 1024


@dataclass(frozen=True)
class CharsetDecision:
    """The encoding chosen for one response's fragments.

    ``codec`` is the Python codec to encode fragments with, or ``None``
    when the body must pass through untouched. ``label`` is the charset
    label as the response declared it (for logs). ``reason`` is a short
    explanation for the log.
    """

    codec: str | None
    label: str | None
    reason: str


def _labels(codec: str | None, names: str) -> dict[str, str | None]:
    return dict.fromkeys(names.split(), codec)


# The Encoding Standard's labels of UTF-16BE and UTF-16LE.
_UTF16_LABELS = frozenset(
    "unicodefffe utf-16be csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff "
    "utf-16 utf-16le".split()
)


# Codecs that the rewriter cannot handle safely map to None.
_LABELS: dict[str, str | None] = {
    **_labels(
        "utf-8",
        "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    ),
    **_labels("cp866", "866 cp866 csibm866 ibm866"),
    **_labels(
        "iso8859-2",
        "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 "
        "iso_8859-2:1987 l2 latin2",
    ),
    **_labels(
        "iso8859-3",
        "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 "
        "iso_8859-3:1988 l3 latin3",
    ),
    **_labels(
        "iso8859-4",
        "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 "
        "iso_8859-4:1988 l4 latin4",
    ),
    **_labels(
        "iso8859-5",
        "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 "
        "iso_8859-5 iso_8859-5:1988",
    ),
    **_labels(
        "iso8859-6",
        "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 "
        "iso-8859-6 iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 "
        "iso_8859-6 iso_8859-6:1987",
    ),
    **_labels(
        "iso8859-7",
        "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 "
        "iso8859-7 iso88597 iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    ),
    **_labels(
        "iso8859-8",
        "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 "
        "iso8859-8 iso88598 iso_8859-8 iso_8859-8:1988 visual "
        "csiso88598i iso-8859-8-i logical",
    ),
    **_labels(
        "iso8859-10",
        "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    ),
    **_labels("iso8859-13", "iso-8859-13 iso8859-13 iso885913"),
    **_labels("iso8859-14", "iso-8859-14 iso8859-14 iso885914"),
    **_labels(
        "iso8859-15",
        "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    ),
    **_labels("iso8859-16", "iso-8859-16"),
    **_labels("koi8-r", "cskoi8r koi koi8 koi8-r koi8_r"),
    **_labels("koi8-u", "koi8-ru koi8-u"),
    **_labels("mac-roman", "csmacintosh mac macintosh x-mac-roman"),
    **_labels(
        "cp874",
        "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    ),
    **_labels("cp1250", "cp1250 windows-1250 x-cp1250"),
    **_labels("cp1251", "cp1251 windows-1251 x-cp1251"),
    **_labels(
        "cp1252",
        "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 "
        "iso-ir-100 iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 "
        "us-ascii windows-1252 x-cp1252",
    ),
    **_labels(
        "cp1253",
        "cp1253 windows-1253 x-cp1253",
    ),
    **_labels(
        "cp1254",
        "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 "
        "iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254",
    ),
    **_labels("cp1255", "cp1255 windows-1255 x-cp1255"),
    **_labels("cp1256", "cp1256 windows-1256 x-cp1256"),
    **_labels("cp1257", "cp1257 windows-1257 x-cp1257"),
    **_labels("cp1258", "cp1258 windows-1258 x-cp1258"),
    **_labels("mac-cyrillic", "x-mac-cyrillic x-mac-ukrainian"),
    **_labels(
        "gbk",
        "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk "
        "iso-ir-58 x-gbk",
    ),
    **_labels("gb18030", "gb18030"),
    **_labels("big5", "big5 big5-hkscs cn-big5 csbig5 x-x-big5"),
    **_labels("euc_jp", "cseucpkdfmtjapanese euc-jp x-euc-jp"),
    **_labels(
        "cp932",
        "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    ),
    **_labels(
        "cp949",
        "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 "
        "ks_c_5601-1989 ksc5601 ksc_5601 windows-949",
    ),
    # Bytes 0x80-0xFF map to private-use characters and ASCII stays ASCII,
    # so fragments go out as ASCII with character references.
    **_labels("ascii", "x-user-defined"),
    # Not ASCII-compatible, or with shift states that change what the
    # bytes below 0x80 mean.
    **_labels(
        None,
        "csiso2022jp iso-2022-jp csiso2022kr hz-gb-2312 iso-2022-cn "
        "iso-2022-cn-ext iso-2022-kr replacement",
    ),
    **dict.fromkeys(_UTF16_LABELS, None),
}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xfe\xff", None, "UTF-16BE"),
    (b"\xff\xfe", None, "UTF-16LE"),
)


def choose_charset(content_type: str | None, head: bytes) -> CharsetDecision:
    """Decide how to encode fragments for a response.

    ``content_type`` is the ``Content-Type`` header value, if any. ``head``
    is the start of the body, and the ``<meta>`` prescan reads its first
    1024 bytes.
    """
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return CharsetDecision(codec, name, f"{name} byte order mark")

    if content_type:
        _, options = parse_options_header(content_type)
        label = options.get("charset")
        if label is not None:
            return _decide(label, "the Content-Type header")

    label = prescan_meta(head[:_PRESCAN_SIZE])
    if label is not None:
        # A <meta> that the prescan can read is in an ASCII-compatible
        # document, so the standard reads a UTF-16 label there as UTF-8.
        if label.strip().lower() in _UTF16_LABELS:
            return CharsetDecision("utf-8", label, "UTF-16 label in a <meta> tag")
        return _decide(label, "a <meta> tag")

    return CharsetDecision(
        "ascii", None, "no charset declared; fragments use character references"
    )


def wide_charset(content_type: str | None, head: bytes) -> str | None:
    """Return the name of a UTF-16 or UTF-32 body's charset, or ``None``.

    Placeholders are found as ASCII bytes, which such a body does not
    contain, so the scan cannot tell whether it has any.
    """
    for bom, codec, name in _BOMS:
        if codec is None and head.startswith(bom):
            return name
    if content_type:
        _, options = parse_options_header(content_type)
        label = options.get("charset", "").strip("\t\n\f\r ").lower()
        if label in _UTF16_LABELS or label.startswith("utf-32"):
            return label
    return None


def _decide(label: str, source: str) -> CharsetDecision:
    key = label.strip("\t\n\f\r ").lower()
    if key not in _LABELS:
        return CharsetDecision(None, label, f"unknown charset label in {source}")
    codec = _LABELS[key]
    if codec is None:
        return CharsetDecision(
            None,
            label,
            f"charset from {source} is not ASCII-compatible; passed through",
        )
    return CharsetDecision(codec, label, f"charset from {source}")


def encode_fragment(text: str, codec: str) -> bytes:
    """Encode ``text`` in ``codec``, as character references where needed.

    A character the encoding lacks becomes a decimal reference, so ``→``
    in windows-1252 becomes ``&#8594;``.
    """
    return text.encode(codec, errors="xmlcharrefreplace")


# --- The <meta> prescan ----------------------------------------------------
#
# This follows "prescan a byte stream to determine its encoding" (WHATWG
# HTML): comments, tags and other markup are skipped with the same rules, and
# a <meta> declares an encoding through "charset", or through
# "http-equiv=content-type" with a "content" that names a charset. A label
# the Encoding Standard does not know is skipped and the prescan goes on.

_SPACES = b"\t\n\f\r "
_META_START = re.compile(rb"<meta[\t\n\f\r /]", re.IGNORECASE)
_TAG_START = re.compile(rb"</?[A-Za-z]")
_CHARSET_IN_CONTENT = re.compile(rb"charset", re.IGNORECASE)


def prescan_meta(head: bytes) -> str | None:
    """Return the charset label declared by a ``<meta>`` in ``head``, if any."""
    pos = 0
    size = len(head)
    while pos < size:
        lt = head.find(b"<", pos)
        if lt < 0:
            return None
        if head.startswith(b"<!--", lt):
            end = head.find(b"-->", lt + 2)
            if end < 0:
                return None
            pos = end + 3
        elif _META_START.match(head, lt):
            label, pos = _read_meta(head, lt + 5)
            if label is not None:
                return label
        elif _TAG_START.match(head, lt):
            pos = _skip_tag(head, lt + 1)
        elif head.startswith((b"<!", b"</", b"<?"), lt):
            end = head.find(b">", lt)
            if end < 0:
                return None
            pos = end + 1
        else:
            pos = lt + 1
    return None


def _skip_tag(head: bytes, pos: int) -> int:
    size = len(head)
    while pos < size and head[pos] not in _SPACES and head[pos] != 0x3E:
        pos += 1
    while True:
        attribute, pos = _get_attribute(head, pos)
        if attribute is None:
            return pos


def _read_meta(head: bytes, pos: int) -> tuple[str | None, int]:
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None = None
    while True:
        attribute, pos = _get_attribute(head, pos)
        if attribute is None:
            break
        name, value = attribute
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv" and value == b"content-type":
            got_pragma = True
        elif name == b"content" and charset is None:
            found = _charset_from_content(value)
            if found is not None:
                charset = found
                need_pragma = True
        elif name == b"charset":
            charset = value.decode("latin-1")
            need_pragma = False

    if need_pragma is None or (need_pragma and not got_pragma):
        return None, pos
    if charset is None or charset.strip("\t\n\f\r ").lower() not in _LABELS:
        return None, pos
    return charset, pos


def _get_attribute(head: bytes, pos: int) -> tuple[tuple[bytes, bytes] | None, int]:
    """Read one attribute as the prescan's "get an attribute" does.

    Return ``((name, value), position)``, or ``(None, position)`` at the end
    of the tag. Names and values are lower-cased, as the prescan does.
    """
    size = len(head)
    while pos < size and (head[pos] in _SPACES or head[pos] == 0x2F):
        pos += 1
    if pos >= size or head[pos] == 0x3E:
        return None, pos + 1

    name = bytearray()
    while pos < size:
        byte = head[pos]
        if byte == 0x3D and name:
            break
        if byte in _SPACES or byte in b"/>":
            break
        name.append(byte)
        pos += 1
    while pos < size and head[pos] in _SPACES:
        pos += 1
    if pos >= size or head[pos] != 0x3D:
        return (bytes(name).lower(), b""), pos
    pos += 1
    while pos < size and head[pos] in _SPACES:
        pos += 1
    if pos >= size:
        return None, pos

    quote = head[pos]
    if quote in b"\"'":
        end = head.find(bytes([quote]), pos + 1)
        if end < 0:
            return None, size
        return (bytes(name).lower(), head[pos + 1 : end].lower()), end + 1
    end = pos
    while end < size and head[end] not in _SPACES and head[end] != 0x3E:
        end += 1
    return (bytes(name).lower(), head[pos:end].lower()), end


def _charset_from_content(content: bytes) -> str | None:
    """Extract the charset from a ``content`` value, as the standard does."""
    pos = 0
    while True:
        match = _CHARSET_IN_CONTENT.search(content, pos)
        if match is None:
            return None
        pos = match.end()
        while pos < len(content) and content[pos] in _SPACES:
            pos += 1
        if pos < len(content) and content[pos] == 0x3D:
            break
    pos += 1
    while pos < len(content) and content[pos] in _SPACES:
        pos += 1
    if pos >= len(content):
        return None
    quote = content[pos]
    if quote in b"\"'":
        end = content.find(bytes([quote]), pos + 1)
        if end < 0:
            return None
        return content[pos + 1 : end].decode("latin-1")
    end = pos
    while end < len(content) and content[end] not in _SPACES and content[end] != 0x3B:
        end += 1
    return content[pos:end].decode("latin-1") or None
