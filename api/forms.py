"""The multipart search form, derived from the query-modality declarations.

``POST /v1/collections/{name}/search/upload`` takes one form field per declared query modality:
a file for file kinds, a text field for captions and JSON kinds. The fields are parameters of the
route's signature (so FastAPI reads them and the OpenAPI document lists them with their help),
built here from :data:`anyseek.model.service.QUERY_KINDS` rather than written out by hand.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import File, Form, UploadFile

from anyseek.api.errors import ApiError
from anyseek.api.query_bodies import check_size, max_bytes
from anyseek.model.service import QUERY_KINDS, QueryKind, with_parameter_per_kind


def _field(kind: QueryKind) -> inspect.Parameter:
    """The form field of one query modality: an optional file, or an optional text field."""
    if kind.value == "file":
        default: Any = File(None, description=f"{kind.help} ({', '.join(kind.formats)})")
        annotation: Any = UploadFile | None
    else:
        described = kind.help + (" (JSON)" if kind.value == "structured" else "")
        default = Form(
            None, description=described, examples=[kind.example] if kind.example else None
        )
        annotation = str | None
    return inspect.Parameter(
        kind.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def with_query_fields(route: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``route`` (which takes ``**fields``) one keyword parameter per declared modality."""
    return with_parameter_per_kind(route, _field)


async def form_values(fields: Mapping[str, Any], max_upload_mb: float) -> dict[str, object]:
    """The given form fields as query values: file bytes, text, or parsed JSON."""
    values: dict[str, object] = {}
    for name, given in fields.items():
        kind = QUERY_KINDS[name]  # the route's fields are the declared kinds
        if given is None:
            continue
        if kind.value == "file":
            if isinstance(given, str):  # an empty file field arrives as ""
                continue
            values[name] = await _read(name, given, max_upload_mb)
        elif kind.value == "structured":
            values[name] = _json(name, given)
        else:
            values[name] = given
    return values


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
