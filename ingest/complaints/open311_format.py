"""Open311 GeoReport v2 answers in the format the path asks for: `.json` or `.xml`.

The XML follows the spec's "Spark" mapping of the JSON: a list becomes a root element holding one element
per item (`<service_requests><request>...`), a nested list of objects becomes a plural element of singular
ones (`<attributes><attribute>...`), None an empty element, booleans `true`/`false`. ElementTree escapes
text, so a description with `<script>` in it stays text. Errors are a list of {code, description}.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from aiohttp import web

from command_center.xmldoc import serialize

XML_TYPE = "text/xml"
JSON_TYPE = "application/json"


def wants_xml(request: web.Request) -> bool:
    return request.path.endswith(".xml")


def _singular(plural: str) -> str:
    return plural[:-1] if plural.endswith("s") else f"{plural}_item"


def _fill(parent: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(parent, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(parent, _singular(parent.tag)), item)
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    elif value is not None:
        parent.text = str(value)


def to_xml(root: str, item: str | None, payload: Any) -> bytes:
    """`payload` (a list of objects under `root`/`item`, or one object as `root`) as GeoReport XML."""
    element = ET.Element(root)
    if isinstance(payload, list):
        for entry in payload:
            _fill(ET.SubElement(element, item or _singular(root)), entry)
    else:
        _fill(element, payload)
    return serialize(element)


def respond(request: web.Request, payload: Any, *, root: str, item: str | None = None,
            status: int = 200) -> web.Response:
    if wants_xml(request):
        return web.Response(body=to_xml(root, item, payload), status=status, content_type=XML_TYPE, charset="utf-8")
    return web.Response(text=json.dumps(payload, ensure_ascii=False), status=status, content_type=JSON_TYPE,
                        charset="utf-8")


def open311_errors(request: web.Request, status: int, descriptions: list[str]) -> web.Response:
    """The spec's error list; the HTTP status is 400, 403 or 404 (413 for a body over the limit)."""
    return respond(request, [{"code": status, "description": d} for d in descriptions], root="errors",
                   item="error", status=status)
