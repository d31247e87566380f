"""Public XML is well-formed whatever staff typed: a property test over arbitrary text, controls and lone
surrogates included, through the serialiser that CAP, Atom and Open311 XML use."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from command_center.xmldoc import serialize, xml_text

ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)


def _normalised(text: str) -> str:
    return xml_text(text).replace("\r\n", "\n").replace("\r", "\n")  # what an XML reader hands back


@given(ANY_TEXT, ANY_TEXT, ANY_TEXT)
def test_any_text_makes_a_document_that_parses_and_keeps_every_allowed_character(text: str, tail: str,
                                                                                  attribute: str) -> None:
    root = ET.Element("alert")
    note = ET.SubElement(root, "note", {"by": attribute})
    note.text, note.tail = text, tail
    parsed = ET.fromstring(serialize(root))
    assert (parsed[0].text or "") == _normalised(text)
    assert (parsed[0].tail or "") == _normalised(tail)
    assert parsed[0].get("by") == xml_text(attribute)


def test_the_characters_xml_forbids_are_dropped_and_the_rest_kept() -> None:
    assert xml_text("Banjir\x00 di\x0b Mlati\x1f\ufffe \ud800ok\t\n") == "Banjir di Mlati ok\t\n"
    assert xml_text("Jalan rusak 🚧 — ditangani") == "Jalan rusak 🚧 — ditangani"
