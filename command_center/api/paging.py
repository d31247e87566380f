"""Cursor paging over an immutable order (a sorted set's score, then its member), newest first.

A page is everything strictly after the cursor in that order, so records that arrive or change while a
client pages are never listed twice in one walk; the next page's address is in a `Link: <...>; rel="next"`
header (RFC 8288) and, for JSON lists that are objects, in their `next` field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from command_center.api.errors import bad_request
from command_center.api.routes import Schema, query_param


@dataclass(frozen=True, order=True)
class Cursor:
    """A place in (score, member) order; a page newest first lists what sorts strictly below it."""

    score: float
    member: str

    def encode(self) -> str:
        return f"{self.score:.6f}~{self.member}"

    @classmethod
    def parse(cls, raw: str) -> Cursor:
        """Any cursor of the declared form is a place in the order (its pattern says all there is to it)."""
        if not CURSOR.fullmatch(raw):
            raise bad_request("cursor: not a cursor (use the Link rel=next of a page)")
        score, _, member = raw.partition("~")
        return cls(float(score), member)


CURSOR = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,6})?~[A-Za-z0-9._:-]{1,100}")


def cursor_param() -> Schema:
    return query_param("cursor", "from the previous page's Link rel=\"next\": the next page, stable while "
                                 "records arrive (page numbers are not)",
                       {"type": "string", "pattern": f"^{CURSOR.pattern}$", "example": "1764576000.000000~0190"})


def requested_cursor(request: web.Request) -> Cursor | None:
    raw = request.query.get("cursor", "")
    return Cursor.parse(raw) if raw else None


def next_link(request: web.Request, cursor: Cursor | None) -> str | None:
    """The URL of the page after this one (the same query, `cursor` in place of `page`), or None at the end."""
    if cursor is None:
        return None
    query = {k: v for k, v in request.query.items() if k not in ("cursor", "page")}
    return str(request.rel_url.with_query({**query, "cursor": cursor.encode()}))


def with_next(response: web.Response, link: str | None) -> web.Response:
    if link is not None:
        response.headers["Link"] = f'<{link}>; rel="next"'
    return response
