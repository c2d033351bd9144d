"""The multipart search form, derived from the query-modality declarations.

``POST /v1/collections/{name}/search/upload`` takes one form field per declared query modality
(a file for file kinds, a text field for captions and JSON kinds) and ``params``, the JSON of
``SearchParams``. The route reads the form once (:func:`read_search_form`) and the OpenAPI
document declares its fields (:func:`search_form_body`), both from
:data:`anyseek.model.service.QUERY_KINDS` rather than written out by hand. Declaring the fields as
the route's parameters instead had FastAPI look each one up and validate it on every request, which
cost the event loop more CPU than parsing the form itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from anyseek.api.errors import ApiError
from anyseek.api.query_bodies import MB, check_size, max_bytes
from anyseek.model.service import QUERY_KINDS, QueryKind

FORM = "multipart/form-data"
PARAMS = "params"  # the form's field for the JSON of SearchParams
PARAMS_HELP = "JSON of SearchParams (k, weights, filter...)"
MAX_PARTS = 1000  # files, and fields, in one form: the form parser's limit, as declared
MAX_FIELD_BYTES = MB  # a text field's size: the form parser's limit


@dataclass(frozen=True)
class SearchForm:
    """A search form as read: the ``params`` text (None: not given) and each given query
    modality's value (file bytes, text, or parsed JSON), by field name."""

    params: str | None
    values: dict[str, object]


def _field_schema(kind: QueryKind) -> dict[str, Any]:
    """One query modality's form field in the OpenAPI document: a file, or a text field."""
    field: dict[str, Any] = {"title": kind.name.replace("_", " ").title(), "type": "string"}
    if kind.value == "file":
        field["description"] = f"{kind.help} ({', '.join(kind.formats)})"
        field["contentMediaType"] = "application/octet-stream"
    else:
        field["description"] = kind.help + (" (JSON)" if kind.value == "structured" else "")
        if kind.example:
            field["examples"] = [kind.example]
    return field


def search_form_body() -> dict[str, Any]:
    """The route's ``openapi_extra``: its multipart body, ``params`` and a field per modality."""
    params = {"title": "Params", "type": "string", "description": PARAMS_HELP}
    params["pattern"] = r"^\s*\{"  # a JSON object, parsed as SearchParams
    properties = {PARAMS: params} | {k.name: _field_schema(k) for k in QUERY_KINDS.values()}
    schema = {"title": "SearchForm", "type": "object", "properties": properties}
    return {"requestBody": {"content": {FORM: {"schema": schema}}}}


async def read_search_form(request: Request, max_upload_mb: float) -> SearchForm:
    """The form parsed once: ``params`` and every declared modality given (an empty file field,
    as a browser sends it, is not given); a file where text belongs, or text where a file
    belongs, is a 422 naming the field, and a body that is no form a 400 (the parser's)."""
    form = await request.form(
        max_files=MAX_PARTS, max_fields=MAX_PARTS, max_part_size=MAX_FIELD_BYTES
    )
    try:
        params = form.get(PARAMS)
        if params is not None and not isinstance(params, str):
            raise ApiError(422, f"{PARAMS}: expected JSON text, not a file", PARAMS)
        values: dict[str, object] = {}
        for name, kind in QUERY_KINDS.items():
            given = form.get(name)
            if given is None or given == "":
                continue
            values[name] = await _value(name, kind, given, max_upload_mb)
        return SearchForm(params, values)
    finally:
        await form.close()


async def _value(name: str, kind: QueryKind, given: object, max_upload_mb: float) -> object:
    """One field's query value: a file's bytes, a caption's text, or a JSON field parsed."""
    if kind.value == "file":
        if not isinstance(given, UploadFile):
            raise ApiError(422, f"{name}: expected a file upload, not text", name)
        return await _read(name, given, max_upload_mb)
    if not isinstance(given, str):
        raise ApiError(422, f"{name}: expected text, not a file", name)
    return _json(name, given) if kind.value == "structured" else given


async def _read(name: str, upload: UploadFile, max_upload_mb: float) -> bytes:
    """An uploaded file's bytes, refused with 413 over the cap before all of it is read."""
    if upload.size is not None:
        check_size(name, upload.size, max_upload_mb)
    data = await upload.read(max_bytes(max_upload_mb) + 1)
    check_size(name, len(data), max_upload_mb)
    return data


def _json(name: str, text: str) -> object:
    """A JSON form field's value, or a 422 naming the field."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ApiError(422, f"{name}: not valid JSON ({exc})", name) from None
