"""Request bodies -> ``SearchQuery``: base64 and uploaded files become bytes, never paths.

A ``str`` value of a file modality would be read as a path on the server's disk (that is what the
CLI wants), so every file part reaches the searcher as the uploaded or decoded bytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from api.errors import ApiError
from api.schemas import SearchParams, SearchRequest
from search.query import LikeItem, QueryPart, SearchQuery
from search.stores import Filter, Range

TEXT_MODALITIES = frozenset({"caption"})
STRUCTURED_MODALITIES = frozenset({"color_palette", "det", "metadata"})  # JSON values
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
    """JSON parts: captions as text, file modalities decoded from base64."""
    parts = []
    for i, part in enumerate(request.parts):
        where = f"parts[{i}]"
        if part.modality in STRUCTURED_MODALITIES:
            if part.value is None or part.text is not None or part.data is not None:
                raise ApiError(
                    422,
                    f"{where}.value: {part.modality} is given as a JSON value",
                    f"{where}.value",
                )
            parts.append(QueryPart(part.modality, part.value, part.weight))
            continue
        if part.value is not None:
            raise ApiError(
                422,
                f"{where}.value: only {', '.join(sorted(STRUCTURED_MODALITIES))} take a value",
                f"{where}.value",
            )
        if part.modality in TEXT_MODALITIES:
            if part.text is None or part.data is not None:
                raise ApiError(422, f"{where}.text: a {part.modality} is given as text", where)
            parts.append(QueryPart(part.modality, part.text, part.weight))
            continue
        if part.data is None or part.text is not None:
            raise ApiError(
                422,
                f"{where}.data: modality {part.modality!r} takes a file, base64-encoded in data",
                f"{where}.data",
            )
        check_size(f"{where}.data", len(part.data) * 3 // 4, max_upload_mb)
        try:
            raw = base64.b64decode(part.data, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, f"{where}.data: not valid base64", f"{where}.data") from None
        parts.append(QueryPart(part.modality, raw, part.weight))
    return parts


def parts_from_form(
    files: Mapping[str, bytes], caption: str | None, weights: Mapping[str, float]
) -> list[QueryPart]:
    """Multipart parts: one uploaded file per modality and the caption field."""
    values: dict[str, object] = dict(files)
    if caption is not None:
        values["caption"] = caption
    stray = sorted(set(weights) - set(values))
    if stray:
        raise ApiError(
            422,
            f"params.weights: weight for {', '.join(stray)}, which the request does not include",
            "params.weights",
        )
    return [QueryPart(name, value, weights.get(name, 1.0)) for name, value in values.items()]


def build_query(collection: str, parts: list[QueryPart], params: SearchParams) -> SearchQuery:
    """The searcher's query from the parts and the parameters."""
    search_filter = None
    if params.filter is not None:
        f = params.filter
        if f.equals or f.any_of or f.ranges:
            search_filter = Filter(
                equals=dict(f.equals),
                any_of={k: list(v) for k, v in f.any_of.items()},
                ranges={k: Range(gte=r.gte, lte=r.lte) for k, r in f.ranges.items()},
            )
    return SearchQuery(
        collection=collection,
        parts=tuple(parts),
        like=tuple(LikeItem(item.id, item.weight) for item in params.like),
        spaces=params.spaces,
        k=params.k,
        offset=params.offset,
        cursor=params.cursor,
        min_score=params.min_score,
        filter=search_filter,
        fusion=params.fusion,
        combine=params.combine,
        explain=params.explain,
    )
