"""Typed request and response bodies of the HTTP API (they make the OpenAPI document).

The upper limits of ``k`` and ``offset`` are settings (``ANYSEEK_SEARCH__MAX_K``, ``MAX_WINDOW``),
checked by the searcher for the API and the CLI alike; :func:`publish_limits` writes an app's
values into its OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from anyseek.db.repository import COLLECTION_NAME
from anyseek.model.service import QUERY_KINDS
from anyseek.search.fields import FIELD_NAME
from anyseek.settings import SearchSettings

PAGED_SCHEMAS = ("SearchParams", "SearchRequest")  # the bodies that carry k and offset
NAME_PATTERN = f"^{COLLECTION_NAME.pattern}$"  # what ``check_collection_name`` accepts
NOT_ZERO: dict[str, Any] = {"not": {"const": 0}}  # weights: a zero weight asks nothing


def _not_zero(weight: float) -> float:
    """Refuse a zero weight with the body, as the schema declares (a batch's whole request, not
    its one entry: the document says no such body is valid)."""
    if weight == 0:
        raise ValueError("weight of 0 asks nothing: leave the part out instead")
    return weight


Weight = Annotated[float, AfterValidator(_not_zero)]
BASE64: dict[str, Any] = {  # bytes as text, padded (what api.query decodes)
    "format": "byte",
    "contentEncoding": "base64",
    "pattern": r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
}
BODY = ConfigDict(extra="forbid", strict=True)  # a body's JSON as its schema says: no "1" for 1


def _whole(value: Any) -> Any:
    """A whole float as the integer it is: JSON Schema's integer takes 2.0 (strict int does not)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integer = Annotated[int, BeforeValidator(_whole)]
MAX_JSON_ID = 2**53 - 1  # the largest integer every JSON client reads exactly (ids in bodies)


class Problem(BaseModel):
    """An error (RFC 9457 problem details); ``field`` names the input at fault."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


class CollectionCreate(BaseModel):
    """A new collection; its spaces are the loaded model's."""

    model_config = BODY
    name: str = Field(
        min_length=1,
        max_length=64,
        description="lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        json_schema_extra={"pattern": NAME_PATTERN},  # checked by the catalog, with its message
    )
    near_duplicate_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="mean cosine over the spaces at which a new image is linked as a "
        "near-duplicate; 0 = never; unset = ANYSEEK_INDEXER__NEAR_DUPLICATE_THRESHOLD",
    )


class CollectionOut(BaseModel):
    """A collection with its counts."""

    name: str
    created_at: datetime
    model: str | None
    precision: str | None = Field(
        default=None,
        description="what its current vectors were computed in: float32, bfloat16 "
        "(ANYSEEK_MODEL__PRECISION), mixed when jobs of both added to them; null when indexed "
        "before it was recorded",
    )
    spaces: list[str]
    items: int
    indexed: int
    pending: int
    failed: int
    jobs: int


class CollectionList(BaseModel):
    """Every collection, by name."""

    collections: list[CollectionOut]


class ItemOut(BaseModel):
    """One image of a collection: its record and, once indexed, its payload."""

    id: int
    collection: str
    status: Literal["pending", "indexed", "failed"]
    sha256: str
    source_uri: str
    width: int | None
    height: int | None
    format: str | None
    error: str | None
    created_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict, description="the user's fields")
    payload: dict[str, Any] | None = None


METADATA_VALUE = {
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"},
    ]
}
"""A metadata field's value as an edit gives it: null removes the field."""


class ItemPatch(BaseModel):
    """An edit of an item's metadata: given fields are set, a field given as null is removed."""

    model_config = BODY
    metadata: dict[str, Any] = Field(
        description="fields to set (strings, numbers, booleans, lists of strings, ISO dates); "
        "null removes a field",
        examples=[{"price": 20, "tags": ["red"], "draft": None}],
        json_schema_extra={  # what search.fields stores: its name pattern and value kinds
            "propertyNames": {"pattern": FIELD_NAME.pattern},
            "additionalProperties": METADATA_VALUE,
        },
    )


class FieldOut(BaseModel):
    """One field filters can name, and the kind of its values."""

    name: str
    kind: Literal["string", "number", "boolean", "date", "strings"]
    source: Literal["system", "metadata"]


class FieldList(BaseModel):
    """Every field of a collection: the indexer's and those of its items' metadata."""

    fields: list[FieldOut]


class ItemList(BaseModel):
    """One page of items, oldest first; ``next_offset`` when more remain."""

    items: list[ItemOut]
    total: int
    offset: int
    next_offset: int | None


#: a declared value kind -> the JSON field of a part that carries it
CARRIERS = {"text": "text", "file": "data", "structured": "value"}


def _carried_by() -> list[dict[str, Any]]:
    """JSON Schema of "each modality in its one field": per field, the modalities it carries,
    that field given and the others null or absent (``anyseek.api.query_bodies.parts_from_json``
    checks it)."""
    return [
        {
            "properties": {
                "modality": {"enum": [k.name for k in QUERY_KINDS.values() if k.value == kind]},
                **{other: {"type": "null"} for other in CARRIERS.values() if other != field},
                field: {"not": {"type": "null"}},
            },
            "required": [field],
        }
        for kind, field in CARRIERS.items()
    ]


class QueryPartIn(BaseModel):
    """One query modality: ``text`` for a caption, base64 ``data`` for a file modality, ``value``
    for a structured one (official 4M-21 models: ``color_palette``, ``det``, ``metadata``)."""

    model_config = ConfigDict(**BODY, json_schema_extra={"oneOf": _carried_by()})
    modality: str = Field(
        min_length=1,
        max_length=32,
        examples=["caption", "sketch"],
        json_schema_extra={"enum": list(QUERY_KINDS)},  # checked by api.query, naming them all
    )
    text: str | None = Field(
        default=None,
        description="the caption",
        json_schema_extra={"pattern": r"\S"},  # a word at least (checked by the model's reader)
    )
    data: str | None = Field(
        default=None,
        description="base64 file bytes (PNG, .npy, JPEG...)",
        json_schema_extra=BASE64,  # decoded by api.query, naming the part at fault
    )
    value: list[Any] | dict[str, Any] | None = Field(
        default=None,
        description="a structured query: colours [[r, g, b], ...], boxes [[class, [x0, y0, x1, "
        "y1]], ...] or metadata {key: value}; see docs/official.md",
    )
    weight: Weight = Field(
        default=1.0,
        description="negative: 'not like this'; never 0",
        json_schema_extra=NOT_ZERO,
    )


class LikeIn(BaseModel):
    """An indexed item to search like ("more like this"), with a weight."""

    model_config = BODY
    id: Integer = Field(ge=0, le=MAX_JSON_ID)
    weight: Weight = Field(default=1.0, json_schema_extra=NOT_ZERO)


class RangeIn(BaseModel):
    """Bounds on a field: numbers, or ISO dates for a date field (a date without a time is its
    whole day: ``lte 2024-03-31`` keeps the 31st, ``lt 2024-03-31`` ends before it)."""

    model_config = ConfigDict(  # one bound per side, in the schema as in the validator below
        **BODY,
        json_schema_extra={
            "allOf": [{"not": {"required": list(side)}} for side in (("gte", "gt"), ("lte", "lt"))]
        },
    )
    gte: float | str | None = Field(default=None, description="at least (kept)")
    gt: float | str | None = Field(default=None, description="more than (left out)")
    lte: float | str | None = Field(default=None, description="at most (kept)")
    lt: float | str | None = Field(default=None, description="less than (left out)")

    @model_validator(mode="after")
    def _one_bound_per_side(self) -> RangeIn:
        """gte or gt, lte or lt: two bounds on one side are a contradiction or a typo."""
        for kept, left_out in (("gte", "gt"), ("lte", "lt")):
            if getattr(self, kept) is not None and getattr(self, left_out) is not None:
                raise ValueError(f"give {kept} or {left_out}, not both")
        return self


FieldName = Annotated[str, Field(min_length=1)]
"""A field a filter names: never empty (which fields exist is the collection's: ``.../fields``)."""


class FilterIn(BaseModel):
    """Conditions on fields by name, all of which must hold: the indexer's (folder, ext, bytes,
    mtime...) and the collection's metadata fields (``GET .../fields``)."""

    model_config = BODY
    equals: dict[FieldName, str | Integer | bool] = Field(default_factory=dict)
    any_of: dict[FieldName, list[str | Integer | bool]] = Field(default_factory=dict)
    ranges: dict[FieldName, RangeIn] = Field(default_factory=dict)
    exists: list[FieldName] = Field(
        default_factory=list, description="fields that must have a value"
    )


class SearchParams(BaseModel):
    """Everything a search takes besides the query parts' content."""

    model_config = BODY
    weights: dict[str, float] = Field(
        default_factory=dict, description="per modality of the multipart form (default 1)"
    )
    like: list[LikeIn] = Field(default_factory=list, max_length=100)
    spaces: dict[str, float] | None = Field(
        default=None,
        description="space -> weight (positive); leave it out to use every space",
        json_schema_extra={  # checked by the searcher, with its messages
            "minProperties": 1,
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
        },
    )
    k: Integer = Field(
        default=10, ge=1, description="results per page, at most ANYSEEK_SEARCH__MAX_K"
    )
    offset: Integer = Field(
        default=0,
        ge=0,
        description="results to skip; offset + k at most ANYSEEK_SEARCH__MAX_WINDOW",
    )
    cursor: str | None = Field(
        default=None,
        max_length=4096,
        description="next_cursor of the previous page of the same query: pages after it, in the "
        "collection as the first page saw it (another query's cursor is a 400)",
    )
    min_score: float | None = Field(
        default=None, description="drop hits whose fused score (raw cosines) is below this"
    )
    min_relevance: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="drop hits whose relevance (0..1, the same meaning for every query kind) is "
        "below this; refused (422) when the model has no relevance calibration (see "
        "relevance_note)",
    )
    filter: FilterIn | None = None
    fusion: Literal["information", "rrf"] | None = None
    combine: Literal["guidance", "fusion"] | None = None
    explain: bool = False


class SearchRequest(SearchParams):
    """A JSON search: query parts (captions as text, files as base64) plus the parameters."""

    model_config = ConfigDict(  # a query needs a part or a liked item (``SearchQuery`` says so)
        json_schema_extra={
            "anyOf": [
                {"required": [field], "properties": {field: {"minItems": 1}}}
                for field in ("parts", "like")
            ]
        }
    )

    parts: list[QueryPartIn] = Field(default_factory=list, max_length=16)


MAX_BATCH_QUERIES = 64


class BatchSearchRequest(BaseModel):
    """Several JSON searches of one collection, answered through one model batch."""

    model_config = BODY
    queries: list[SearchRequest] = Field(min_length=1, max_length=MAX_BATCH_QUERIES)


class SpaceOut(BaseModel):
    """One embedding space of the model: its short name and vector dimension."""

    name: str
    dim: int


class PaletteClassOut(BaseModel):
    """One segmentation class the model reads, with its palette colour."""

    id: int
    name: str
    color: list[int] = Field(min_length=3, max_length=3)


class QueryModalityOut(BaseModel):
    """One query modality the model takes, as declared: how it is given and edited."""

    name: str = Field(examples=["sketch"])
    value: Literal["file", "text", "structured"] = Field(
        description="how a search gives it: a file (multipart field or base64 `data`), `text`, "
        "or a JSON `value`"
    )
    editor: str = Field(description="the web page's part editor for it", examples=["sketch"])
    label: str
    help: str
    formats: list[str] = Field(description="accepted file types (file modalities)")
    example: str | None = None


class ModelInfo(BaseModel):
    """The loaded model: identity, spaces, query modalities and segmentation palette."""

    name: str
    version: str
    precision: str = Field(
        description="what this server computes gallery vectors in: float32 or bfloat16 "
        "(ANYSEEK_MODEL__PRECISION; auto resolved on this CPU)",
        examples=["float32"],
    )
    spaces: list[SpaceOut]
    query_modalities: list[QueryModalityOut]
    palette: list[PaletteClassOut] | None
    item_modalities: list[str] = Field(
        default_factory=list,
        description="what an indexed item may hold (`rgb`, `depth`, `caption`...): uploads' "
        "`modality` and the columns of a manifest",
        examples=[["caption", "sketch", "depth", "rgb"]],
    )
    previews: list[str] = Field(
        default_factory=list,
        description="pictures of each indexed item the model makes (thumbnail ?kind=...): depth "
        "and semseg for MultiMAE, none for the built-in model",
    )
    relevance_note: str | None = Field(
        default=None,
        description="set when the model has no relevance calibration: its hits' relevance is "
        "null and min_relevance is refused (the web page then hides both)",
    )
    access: Literal["keys", "open-local", "open-network"] = Field(
        description="who may use the server: keys (writes need an API key, reads too with "
        "ANYSEEK_API__AUTH_READS), open-local (no key, bound to loopback), open-network (no "
        "key, bound beyond loopback by ANYSEEK_API__ALLOW_OPEN)"
    )


class SpaceScoreOut(BaseModel):
    """An item's score and rank (1 = best among the candidates) in one space."""

    score: float
    rank: int


class HitOut(BaseModel):
    """One item found: ``relevance`` is the calibrated probability (0..1) that it is what the
    query describes, comparable across query kinds (null when the model has no relevance
    calibration); ``score`` is the raw fused cosine."""

    id: int
    score: float
    relevance: float | None = Field(
        ge=0,
        le=1,
        description="null when the model has no relevance calibration (the answer's "
        "relevance_note says so)",
    )
    payload: dict[str, Any]
    spaces: dict[str, SpaceScoreOut]


class SpaceExplanationOut(BaseModel):
    """How one space took part in the fusion."""

    information: float
    weight: float
    candidates: int


class ExplanationOut(BaseModel):
    """Why the results are what they are (``explain=true``)."""

    spaces: dict[str, SpaceExplanationOut]
    fusion: str
    combine: str
    inputs: dict[str, dict[str, Any]]
    union: int
    timings_ms: dict[str, float]
    imagined: str | None = None  # a caption the model generates for the query, when it can
    reconstructions: dict[str, str] | None = Field(
        None,
        description="what the model sees in the query's image (MultiMAE): base64 PNGs keyed "
        "depth (near = bright) and semseg (COCO palette)",
    )


class SearchResponse(BaseModel):
    """One page of results, best first."""

    collection: str
    offset: int
    hits: list[HitOut]
    next_cursor: str | None
    model: dict[str, str]
    explanation: ExplanationOut | None = None
    timings_ms: dict[str, float] = Field(
        default_factory=dict,
        description="milliseconds per stage (transform, priors, model, items, store, fuse, total) "
        "of this search, explain or not",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description='what the model could not read of the query, e.g. `unknown word "teal"` '
        "for a caption word outside its vocabulary (the search ran without it)",
    )
    relevance_note: str | None = Field(
        default=None,
        description="set when no hit carries a relevance: the model has no relevance calibration "
        "(why, min_relevance is refused, and how to fit one: `anyseek calibrate` writes "
        "relevance.json), or the hits are not photos, the calibration's domain",
    )


class BatchEntryOut(BaseModel):
    """One query of a batch: its page of results (``status`` 200) or its error."""

    status: int = Field(description="the HTTP status this query alone would have had")
    result: SearchResponse | None = None
    error: Problem | None = None
    retry_after: int | None = Field(
        default=None,
        description="with a 503: seconds to wait before asking again (the Retry-After this query "
        "alone would have had; the batch's answer then carries the header too)",
    )


class BatchSearchResponse(BaseModel):
    """One entry per query of the batch, in the order asked."""

    results: list[BatchEntryOut]


class GroupMemberOut(BaseModel):
    """One image of a near-duplicate group."""

    id: int
    source_uri: str
    similarity: float | None = Field(
        None, description="mean cosine over the spaces to the image it matched; none for the first"
    )


class DuplicateGroupOut(BaseModel):
    """The first item indexed and its near-duplicates, most similar first."""

    original: GroupMemberOut
    duplicates: list[GroupMemberOut]


class DuplicateGroupList(BaseModel):
    """Every near-duplicate group of a collection."""

    groups: list[DuplicateGroupOut]


class Health(BaseModel):
    """Liveness: the process answers."""

    status: Literal["ok"]


class Check(BaseModel):
    """One dependency's readiness."""

    ready: bool
    detail: str = ""


class Readiness(BaseModel):
    """Whether the service can answer: model, database, store (and broker when configured)."""

    ready: bool
    checks: dict[str, Check]


def publish_limits(document: dict[str, Any], search: SearchSettings) -> dict[str, Any]:
    """Write the settings' ``k`` and ``offset`` maxima into an OpenAPI document (in place)."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in PAGED_SCHEMAS:
        fields = schemas.get(name, {}).get("properties")
        if fields is None:
            continue
        fields["k"]["maximum"] = min(search.max_k, search.max_window)
        fields["offset"]["maximum"] = search.max_window - 1  # the smallest page is one result
    return document
