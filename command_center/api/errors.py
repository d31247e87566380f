"""The API's error shape (DESIGN.md): {"error": {"code", "message"}} with a 4xx or 5xx status."""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    """Raised by a handler to answer with the error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def rebuilding(what: str, detail: str, retry_after_s: int = 5) -> ApiError:
    """503 with Retry-After: the state that would answer is being derived again from the log, so a thing not
    found may well exist (never a 404 for it meanwhile)."""
    return ApiError(503, "rebuilding", f"{what} cannot be read yet: {detail}; try again shortly",
                    {"Retry-After": str(retry_after_s)})


def unprocessable(message: str) -> ApiError:
    return ApiError(422, "unprocessable", message)


STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    503: "unavailable",
}
