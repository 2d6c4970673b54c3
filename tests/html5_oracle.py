"""html5lib as an oracle: the placeholder comments that a real HTML5 parser emits.

NOTE: html5lib 1.1 ends a comment at the first ">" when a NUL follows its
"<!--" or "<!---" (``<!--\x00>`` is one comment to the WHATWG tokenizer,
which reads on to a "-->"). The generators that consult it produce no NUL.
"""

from __future__ import annotations

import re
from xml.dom import Node

import html5lib

MARKER = re.compile(r"[\t\n\f\r ]*personalize:([a-z0-9_-]+)[\t\n\f\r ]*\Z", re.I)


def html5lib_slots(html: bytes) -> list[str]:
    """Return the slots of the comments that are placeholders, in order.

    The bytes are decoded as Latin-1, one character per byte, so markup
    reads the same in any ASCII-compatible encoding.
    """
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("dom"))
    document = parser.parse(html.decode("latin-1"), scripting=True)
    slots: list[str] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if node.nodeType == Node.COMMENT_NODE:
            match = MARKER.match(node.data)
            if match:
                slots.append(match.group(1).lower())
        stack.extend(reversed(node.childNodes))
    return slots
