"""Every error as ``application/problem+json`` (RFC 9457) naming the field, never a traceback.

User errors (``AnyseekError`` subclasses) map to 4xx/503 by type; request validation errors to 422
with the failing field; anything else to a bare 500 whose detail says nothing about the code.
Every 503 (the model loading, a database or broker away) carries ``Retry-After``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anyseek.db.versions import VersionStateError
from anyseek.errors import (
    AlreadyExistsError,
    AnyseekError,
    ModelMismatchError,
    NotFoundError,
    ServiceUnavailableError,
    SettingsError,
    plain,
)
from anyseek.indexer.errors import OutsideRootsError
from anyseek.indexer.jobs import JobStateError
from anyseek.search.fields import FilterFieldError
from anyseek.search.query import CursorError
from anyseek.search.stores import SpaceMismatchError

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = "Retry-After"
log = logging.getLogger("anyseek.api")


class ApiError(AnyseekError):
    """An error raised by the API layer itself with its HTTP status and the field at fault."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal server error",
    503: "Service unavailable",
}


def status_of(exc: AnyseekError) -> int:
    """The HTTP status of a user error, by its type (see docs/search.md)."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, (CursorError, FilterFieldError)):
        return 400
    if isinstance(exc, OutsideRootsError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(
        exc,
        AlreadyExistsError
        | JobStateError
        | ModelMismatchError
        | SpaceMismatchError
        | VersionStateError,
    ):
        return 409
    if isinstance(exc, ServiceUnavailableError):
        return 503
    if isinstance(exc, SettingsError):
        return 500
    return 422  # bad input: SearchInputError, InvalidInputError, CombinationError, bad names...


def problem(status: int, detail: str, field: str | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": plain(detail),
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    headers = {"WWW-Authenticate": "ApiKey"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: where a request gives an input: every ``field`` starts with one (docs/api.md, Errors)
LOCATIONS = ("body", "path", "query", "header")
#: pydantic's name for the member of a union a value was tried as (``equals.price.int``)
_UNION_MEMBER = re.compile(r"^(str|int|float|bool|none|[\w-]+\[.*\])$")
#: 409s about the collection the path names, raised without naming it
COLLECTION_STATES = (ModelMismatchError, SpaceMismatchError, VersionStateError)


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """A location as a dotted field name (``body.parts[0].weight``), without pydantic's names
    of union members."""
    out = ""
    for part in loc:
        if isinstance(part, str) and out and _UNION_MEMBER.match(part):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def located(request: Request, exc: AnyseekError) -> str | None:
    """The field an error is about, where the request gave it: ``path.name`` for a path
    parameter, ``query.limit`` for a query one, else in the body (``body.model``,
    ``body.parts[0].data``, a form's ``body.sketch``); a field already placed as it is."""
    field = getattr(exc, "field", None)
    if field is None and isinstance(exc, COLLECTION_STATES):
        field = "name"
    if field is None:
        return None
    head = re.split(r"[.\[]", field, maxsplit=1)[0]
    if head in LOCATIONS:
        return field
    if head in request.path_params:
        return f"path.{field}"
    if head in request.query_params:
        return f"query.{field}"
    return f"body.{field}"


async def _anyseek_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AnyseekError)
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, ServiceUnavailableError):
        log.error("server misconfigured: %s", exc)
    return problem(status, str(exc), located(request, exc))


def _validation_field(error: dict[str, Any]) -> str:
    """A validation error's field; a body that is not JSON at all is the ``body``."""
    return "body" if error["type"] == "json_invalid" else field_name(error["loc"])


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _validation_field(e), "message": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return problem(422, detail, first["field"], errors=errors)


BODY_TOO_LARGE = "the request body is over the size limit (ANYSEEK_API__MAX_UPLOAD_MB)"


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = BODY_TOO_LARGE if exc.status_code == 413 else str(exc.detail)
    field = "body" if exc.status_code in (400, 413) else None  # unparseable or over the cap
    response = problem(exc.status_code, detail, field)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return problem(500, "internal error: the server failed to answer; see its log")


class RetryAfter:
    """ASGI middleware giving every 503 answer a ``Retry-After`` header (when the route set
    none): whatever made it, a client learns that it may ask again, and when."""

    def __init__(self, app: ASGIApp, seconds: int) -> None:
        self.app = app
        self.header = (RETRY_AFTER.lower().encode(), str(int(seconds)).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == self.header[0] for name, _ in headers):
                    message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)


def install(app: FastAPI, retry_after_s: int) -> None:
    """Register the handlers on an app, and the ``Retry-After`` of its 503 answers."""
    app.add_exception_handler(AnyseekError, _anyseek_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(RetryAfter, seconds=retry_after_s)
