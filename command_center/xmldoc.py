"""XML documents that are always well-formed: every public XML output (CAP, Atom, Open311) is serialised here.

ElementTree escapes markup but writes the characters XML 1.0 forbids (most C0 controls, lone surrogates,
U+FFFE/U+FFFF) as they are, and a reader then refuses the whole document. Staff text (comments, status notes)
may hold any of them, pasted from anywhere; they are dropped from every text, tail and attribute value.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

# Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]  (XML 1.0, section 2.2)
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry."""
    return _FORBIDDEN.sub("", text)


def clean(element: ET.Element) -> ET.Element:
    """Remove forbidden characters from `element`'s tree, in place."""
    for node in element.iter():
        if node.text:
            node.text = xml_text(node.text)
        if node.tail:
            node.tail = xml_text(node.tail)
        for name, value in node.attrib.items():
            node.attrib[name] = xml_text(value)
    return element


def serialize(element: ET.Element) -> bytes:
    """The UTF-8 document of `element`, with its declaration, well-formed whatever its texts held."""
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(clean(element), encoding="unicode").encode()
