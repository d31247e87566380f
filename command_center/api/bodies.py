"""Reading request bodies at the trust boundary: within the route's size limit and a time limit, and every
malformed body (bad JSON, JSON nested too deep, numbers out of range, multipart without a boundary or with a
broken part, a body shorter than its Content-Length) answered as the API's JSON error, never a 500 or a hang."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from command_center.api.errors import ApiError, bad_request

BODY_TIMEOUT_S = 30.0  # a client that has not sent its whole body by then is cut off with 408
BODY_TIMEOUT = web.AppKey("body_timeout_s", float)  # the app's own (http.body_timeout_s), set by build_app
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _limit(request: web.Request) -> float:
    return request.app.get(BODY_TIMEOUT, BODY_TIMEOUT_S)


def _timed_out(request: web.Request) -> ApiError:
    return ApiError(408, "request_timeout", f"the body did not arrive within {_limit(request):g} s")


async def read_bytes(request: web.Request) -> bytes:
    try:
        async with asyncio.timeout(_limit(request)):
            return await request.read()
    except TimeoutError as err:
        raise _timed_out(request) from err


def decode_json(raw: bytes) -> Any:
    """Any JSON value; 400 naming what is wrong, without Python's internals."""
    try:
        return msgspec.json.decode(raw)
    except RecursionError as err:
        raise bad_request("the JSON body is nested too deeply") from err
    except msgspec.ValidationError as err:  # numbers beyond what a 64-bit integer or a double holds
        raise bad_request(f"the JSON body holds a value out of range ({err})") from err
    except msgspec.DecodeError as err:
        raise bad_request(f"the body is not valid JSON ({err})") from err


async def read_json(request: web.Request) -> Any:
    return decode_json(await read_bytes(request))


async def read_json_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The form (URL-encoded or multipart); 400 when it is malformed, 413 over the route's limit, 408 when slow."""
    if request.content_type not in FORMS:
        raise ApiError(415, "unsupported_media_type", f"expected a form ({' or '.join(FORMS)}), "
                                                      f"not {request.content_type or 'no content type'}")
    try:
        async with asyncio.timeout(_limit(request)):
            return await request.post()
    except TimeoutError as err:
        raise _timed_out(request) from err
    except web.HTTPException:
        raise
    except (ValueError, AssertionError, LookupError, UnicodeError, HttpProcessingError) as err:
        # aiohttp's multipart reader: no boundary, a part without its headers, a truncated body ...
        raise bad_request("the form is malformed (check the multipart boundary and each part's headers)") from err
