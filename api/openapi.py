"""The served OpenAPI document, finished: every error each route can answer, with its one content
type, and links from the responses that name a resource to the routes that take its id.

FastAPI documents the errors a route lists by hand, plus a 422 of its own shape
(``HTTPValidationError``, ``application/json``) that this API never sends. :func:`declare_problems`
derives the statuses every route can answer from what it takes (parameters: 422; a body: 400,
413; an API key: 401) and gives each error one content, ``application/problem+json`` with the
``Problem`` schema, as ``anyseek.api.errors`` sends it. :func:`add_links` writes the :data:`LINKS`
table into the responses, so a client (or a stateful fuzzer) can follow a created job or a listed
item to the routes that take its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anyseek.api.errors import PROBLEM_JSON, RETRY_AFTER
from anyseek.api.routes.common import WHY
from anyseek.api.schemas import publish_limits
from anyseek.model.service import QUERY_KINDS
from anyseek.settings import ApiSettings, Settings

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
RETRY_AFTER_HEADER = {
    "description": "seconds to wait before asking again (ANYSEEK_API__RETRY_AFTER_S)",
    "schema": {"type": "integer", "minimum": 1},
}
FASTAPI_422 = ("HTTPValidationError", "ValidationError")  # FastAPI's own 422 shape, never sent
FORM = "multipart/form-data"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def finish(
    document: dict[str, Any],
    settings: Settings,
    writes: set[tuple[str, str]],
    modalities: list[str],
) -> dict[str, Any]:
    """The app's document with its settings' limits, the query modalities of the loaded model,
    every error declared, security as the server enforces it (``writes``: the (path, method)
    of the routes that write), form fields as a form sends them, and the links."""
    publish_limits(document, settings.search)
    narrow_modalities(document, modalities)
    declare_problems(document)
    declare_security(document, settings.api, writes)
    drop_form_nulls(document)
    add_links(document)
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (path, method, operation) of a document."""
    return [
        (path, method, operation)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    ]


def implied_errors(operation: dict[str, Any]) -> set[int]:
    """The error statuses a route answers by what it takes, whatever its own code does."""
    statuses = set()
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)  # a parameter or body that fails validation
    if "requestBody" in operation:
        statuses |= {400, 413}  # a body that cannot be parsed, or over the size limit
    if operation.get("security"):
        statuses.add(401)  # a missing or wrong API key
    return statuses


def _is_problem(response: dict[str, Any]) -> bool:
    """Whether a documented response is one of the API's problem+json errors (or FastAPI's
    default 422, which is sent as one)."""
    content = response.get("content", {})
    return PROBLEM_JSON in content or any(n in str(content) for n in FASTAPI_422)


def declare_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Declare every error status each operation can answer, each as problem+json only, and
    the ``Retry-After`` of a 503 (in place); FastAPI's unused validation-error schemas are
    dropped."""
    for _, _, operation in operations(document):
        responses = operation.setdefault("responses", {})
        for status in implied_errors(operation):
            responses.setdefault(str(status), {"description": WHY[status]})
        for status, response in responses.items():
            if int(status) >= 400 and (_is_problem(response) or "content" not in response):
                if "Validation Error" in response.get("description", ""):
                    response["description"] = WHY[int(status)]
                response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
            if status == "503":  # api.errors.RetryAfter gives every 503 the header
                response.setdefault("headers", {})[RETRY_AFTER] = RETRY_AFTER_HEADER
    schemas = document.get("components", {}).get("schemas", {})
    for name in FASTAPI_422:
        schemas.pop(name, None)
    return document


def narrow_modalities(document: dict[str, Any], taken: list[str]) -> dict[str, Any]:
    """The query modalities the loaded model takes, of all those declared (in place): in a JSON
    part's ``modality`` (and the field each is given in) and as the search form's fields."""
    schemas = document.get("components", {}).get("schemas", {})
    part = schemas.get("QueryPartIn", {})
    if "modality" in part.get("properties", {}):
        part["properties"]["modality"]["enum"] = list(taken)
    for carrier in part.get("oneOf", []):
        given = carrier["properties"]["modality"]
        given["enum"] = [name for name in given["enum"] if name in taken]
    part["oneOf"] = [c for c in part.get("oneOf", []) if c["properties"]["modality"]["enum"]]
    parts = schemas.get("SearchRequest", {}).get("properties", {}).get("parts")
    if parts is not None:  # each modality once (``SearchQuery`` says so)
        parts["allOf"] = [
            {
                "contains": {"properties": {"modality": {"const": name}}, "required": ["modality"]},
                "minContains": 0,
                "maxContains": 1,
            }
            for name in taken
        ]
    for _, _, operation in operations(document):
        form = operation.get("requestBody", {}).get("content", {}).get(FORM, {})
        fields = _form_schema(schemas, form.get("schema", {})).get("properties", {})
        if "params" in fields:  # the search form: a field per query modality, and params
            for name in [n for n in fields if n in QUERY_KINDS and n not in taken]:
                del fields[name]
    return document


def declare_security(
    document: dict[str, Any], api: ApiSettings, writes: set[tuple[str, str]]
) -> dict[str, Any]:
    """Security as ``anyseek.api.deps`` enforces it (in place): with no keys configured none at all
    (and no 401); with keys a write needs one, and a read too with ``auth_reads``, else a
    read's key is optional (a wrong one is still a 401)."""
    keyed = bool(api.api_keys)
    if not keyed:
        document.get("components", {}).pop("securitySchemes", None)
    for path, method, operation in operations(document):
        if "security" not in operation:
            continue
        if not keyed:
            del operation["security"]
            operation["responses"].pop("401", None)
        elif (path, method) not in writes and not api.auth_reads:
            operation["security"] = [*operation["security"], {}]
    return document


def _form_schema(schemas: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A form body's schema: the component it refers to (FastAPI's form parameters), or itself
    (declared in the route's ``openapi_extra``, as the search form is)."""
    ref = schema.get("$ref", "")
    return schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else schema


def drop_form_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """A multipart form's optional fields as a form gives them: present or absent (in place).
    FastAPI declares each as "the value or null", but a form has no null: a field sent as
    null arrives as the text "null", which a file field refuses."""
    schemas = document.get("components", {}).get("schemas", {})
    for _, _, operation in operations(document):
        form = operation.get("requestBody", {}).get("content", {}).get(FORM)
        if form is None:
            continue
        body = _form_schema(schemas, form["schema"])
        for field in body.get("properties", {}).values():
            options = field.get("anyOf", [])
            if {"type": "null"} in options:
                rest = [o for o in options if o != {"type": "null"}]
                del field["anyOf"]
                field.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
    return document


@dataclass(frozen=True)
class Link:
    """A link from one operation's response to an operation taking a value of it."""

    source: tuple[str, str, str]  # (method, path, status) of the response that carries the value
    name: str  # the link's name in that response
    target: str  # the operationId it leads to
    parameters: dict[str, str]  # target parameter -> runtime expression


JOB = "$response.body#/id"
SAME_NAME = "$request.path.name"
JOB_RESPONSES = (
    ("post", "/v1/jobs", "202"),
    ("post", "/v1/collections/{name}/items", "202"),
    ("post", "/v1/collections/{name}/reindex", "202"),
)
ITEM_ROUTES = {  # operationId of each route that takes an item id
    "GetItem": "get_item_v1_collections__name__items__item_id__get",
    "GetImage": "get_image_v1_collections__name__items__item_id__image_get",
    "GetThumbnail": "get_thumbnail_v1_collections__name__items__item_id__thumbnail_get",
    "PatchItem": "patch_item_v1_collections__name__items__item_id__patch",
    "DeleteItem": "delete_item_v1_collections__name__items__item_id__delete",
}
ITEM_SOURCES = (  # responses that carry item ids, and where the first one is
    (("get", "/v1/collections/{name}/items", "200"), "$response.body#/items/0/id"),
    (("post", "/v1/collections/{name}/search", "200"), "$response.body#/hits/0/id"),
)
LINKS: tuple[Link, ...] = (
    *(
        Link(source, name, target, {"job_id": JOB})
        for source in JOB_RESPONSES
        for name, target in (
            ("GetJob", "get_job_v1_jobs__job_id__get"),
            ("CancelJob", "cancel_v1_jobs__job_id__cancel_post"),
        )
    ),
    *(
        Link(source, name, target, {"name": SAME_NAME, "item_id": where})
        for source, where in ITEM_SOURCES
        for name, target in ITEM_ROUTES.items()
    ),
)


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """Write :data:`LINKS` into the responses they start from (in place); a link whose source
    or target the document lacks is an error of this table."""
    known = {operation.get("operationId") for _, _, operation in operations(document)}
    for link in LINKS:
        method, path, status = link.source
        if link.target not in known:
            raise KeyError(f"OpenAPI link {link.name}: no operation {link.target}")
        response = document["paths"][path][method]["responses"][status]
        response.setdefault("links", {})[link.name] = {
            "operationId": link.target,
            "parameters": dict(link.parameters),
        }
    return document
