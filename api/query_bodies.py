"""Request bodies -> ``SearchQuery``: base64 and uploaded files become bytes, never paths.

A ``str`` value of a file modality would be read as a path on the server's disk (that is what the
CLI wants), so every file part reaches the searcher as the uploaded or decoded bytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from anyseek.api.errors import ApiError
from anyseek.api.schemas import CARRIERS, SearchParams, SearchRequest
from anyseek.model.service import QUERY_KINDS, query_kind
from anyseek.search.fields import Bound, FilterSpec, Strict, resolve_filter
from anyseek.search.query import LikeItem, QueryPart, SearchQuery

CARRIER_WORDS = {"text": "text", "data": "a file, base64-encoded in data", "value": "a JSON value"}
MB = 1024 * 1024


def max_bytes(max_upload_mb: float) -> int:
    """The upload cap in bytes."""
    return int(max_upload_mb * MB)


def check_size(field: str, size: int, max_upload_mb: float) -> None:
    """Refuse an upload over the cap with 413, naming the field."""
    if size > max_bytes(max_upload_mb):
        raise ApiError(
            413,
            f"{field}: {size / MB:.1f} MB is over the {max_upload_mb:g} MB limit "
            "(ANYSEEK_API__MAX_UPLOAD_MB)",
            field,
        )


def parts_from_json(request: SearchRequest, max_upload_mb: float) -> list[QueryPart]:
    """JSON parts, each in the field its declaration names: ``text``, base64 ``data``, ``value``."""
    parts = []
    for i, part in enumerate(request.parts):
        where = f"parts[{i}]"
        kind = query_kind(part.modality)
        if kind is None:
            raise ApiError(
                422,
                f"{where}.modality: unknown query modality {part.modality!r}; declared: "
                f"{', '.join(QUERY_KINDS)}",
                f"{where}.modality",
            )
        field = CARRIERS[kind.value]
        given = [name for name in CARRIERS.values() if getattr(part, name) is not None]
        if given != [field]:
            raise ApiError(
                422,
                f"{where}.{field}: {kind.name} is given as {CARRIER_WORDS[field]}"
                + (f", not {', '.join(g for g in given if g != field)}" if given else ""),
                f"{where}.{field}",
            )
        value = getattr(part, field)
        if field == "data":
            value = _base64(value, f"{where}.data", max_upload_mb)
        parts.append(QueryPart(kind.name, value, part.weight))
    return parts


def _base64(data: str, where: str, max_upload_mb: float) -> bytes:
    """A base64 file payload as bytes, refusing one over the upload cap or not base64."""
    check_size(where, len(data) * 3 // 4, max_upload_mb)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{where}: not valid base64", where) from None


def parts_from_form(values: Mapping[str, object], weights: Mapping[str, float]) -> list[QueryPart]:
    """Multipart parts: one form field per given modality (see ``anyseek.api.forms``)."""
    stray = sorted(set(weights) - set(values))
    if stray:
        raise ApiError(
            422,
            f"params.weights: weight for {', '.join(stray)}, which the request does not include",
            "weights",
        )
    return [QueryPart(name, value, weights.get(name, 1.0)) for name, value in values.items()]


def filter_spec(params: SearchParams) -> FilterSpec:
    """The body's filter by field names (empty when it has none)."""
    f = params.filter
    if f is None:
        return FilterSpec()
    return FilterSpec(
        equals=dict(f.equals),
        any_of={k: list(v) for k, v in f.any_of.items()},
        ranges={k: (_bound(r.gte, r.gt), _bound(r.lte, r.lt)) for k, r in f.ranges.items()},
        exists=list(f.exists),
    )


def _bound(kept: float | str | None, left_out: float | str | None) -> Bound:
    """One side of a range: ``gte``/``lte`` as given, ``gt``/``lt`` as a strict bound."""
    return Strict(left_out) if left_out is not None else kept


#: the search parameters the searcher's query takes as they are, under the same names
PASSED_ON = (
    "spaces",
    "k",
    "offset",
    "cursor",
    "min_score",
    "min_relevance",
    "fusion",
    "combine",
    "explain",
)


def build_query(
    collection: str,
    parts: list[QueryPart],
    params: SearchParams,
    registry: Mapping[str, Any] | None = None,
) -> SearchQuery:
    """The searcher's query from the parts and the parameters; filter fields are resolved
    against the collection's field ``registry`` (an unknown one is a 400 listing the fields)."""
    spec = filter_spec(params)
    search_filter = resolve_filter(spec, registry or {}) if spec else None
    return SearchQuery(
        collection=collection,
        parts=tuple(parts),
        like=tuple(LikeItem(item.id, item.weight) for item in params.like),
        filter=search_filter,
        **{name: getattr(params, name) for name in PASSED_ON},
    )
