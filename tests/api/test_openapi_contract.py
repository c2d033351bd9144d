"""The OpenAPI document against a served process: every status and content type a route answers is
declared, the validation's constraints are in the schemas, and a path the OS refuses is a 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from api_helpers import COLLECTION
from hypothesis import HealthCheck, Phase, given, settings
from live_server import HTTP, Live, serve_scenes
from schemathesis import GenerationMode

from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample

pytestmark = pytest.mark.slow
PROBLEM_JSON = "application/problem+json"
TOO_LONG_NAME = "n" * 65


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[Live]:
    yield from serve_scenes(tmp_path_factory.mktemp("contract"), search_model, scenes[:4])


@pytest.fixture(scope="module")
def document(live: Live) -> dict:
    return HTTP.get(f"{live.url}/openapi.json").json()


def _declared(document: dict, method: str, path: str, status: int) -> dict:
    """The documented response of an operation for a status (fails naming what is missing)."""
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path}: {status} not declared"
    return responses[str(status)]


def _assert_problem(response, status: int, field: str, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body.get("field") == field and all(w in body["detail"] for w in words), body


def test_a_too_long_name_answers_a_declared_status_and_content_type(
    live: Live, document: dict
) -> None:
    checked = 0
    for path, operations in document["paths"].items():
        if "{name}" not in path:
            continue
        for method in operations:
            if method == "delete":
                continue
            url = live.url + path.replace("{name}", TOO_LONG_NAME).replace("{item_id}", "1")
            response = HTTP.request(method, url)
            declared = _declared(document, method, path, response.status_code)
            content_type = response.headers["content-type"].split(";")[0]
            assert content_type in declared.get("content", {}), (method, path, content_type)
            checked += 1
    assert checked >= 15


def test_errors_are_declared_as_problem_json_only(document: dict) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and path != "/readyz":
                    assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)
            if operation.get("parameters") or "requestBody" in operation:
                _declared(document, method, path, 422)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_user_paths_the_os_refuses_are_422_naming_the_field(live: Live) -> None:
    reindex = f"{live.url}/v1/collections/{COLLECTION}/reindex"
    for source, reason in (
        ("m" * 1000, "File name too long"),
        ("~nosuchuser/model", "home directory"),
    ):
        body = json.dumps({"model": source})  # ASCII: a lone surrogate as its JSON escape
        response = HTTP.post(reindex, content=body, headers={"content-type": "application/json"})
        _assert_problem(response, 422, "body.model", reason)
    job = {"collection": COLLECTION, "source": str(live.allowed / ("s" * 300))}
    _assert_problem(
        HTTP.post(f"{live.url}/v1/jobs", json=job), 422, "body.source", "File name too long"
    )


def test_the_schemas_declare_what_validation_enforces(document: dict) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["CollectionCreate"]["properties"]["name"]["pattern"].startswith("^[a-z0-9]")
    assert schemas["JobCreate"]["properties"]["collection"]["pattern"]
    part = schemas["QueryPartIn"]["properties"]
    assert {"caption", "sketch"} <= set(part["modality"]["enum"])
    assert part["weight"]["not"] == {"const": 0}
    assert schemas["LikeIn"]["properties"]["id"]["maximum"] == 2**53 - 1
    assert {tuple(a["required"]) for a in schemas["SearchRequest"]["anyOf"]} == {
        ("parts",),
        ("like",),
    }
    upload = schemas["Body_upload_items_v1_collections__name__items_post"]["properties"]
    assert upload["files"]["minItems"] == 1 and upload["metadata"]["pattern"]


def test_generated_valid_searches_pass_the_request_validation(live: Live) -> None:
    """Positive cases are built from the schemas: when they declare what the validation checks,
    the validation refuses none of them (a 422 of the validation lists its ``errors``). What is
    left to refuse is what no schema can say: a query the model cannot read (unknown words, bytes
    that are no image, every weight negative), an item or space the collection lacks. (How many
    of those the generator makes moves with the hypothesis and schemathesis releases: counting
    them failed on a new install.)"""
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operation = schema["/v1/collections/{name}/search"]["POST"]
    statuses: list[int] = []
    refused_by_validation: list[str] = []

    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        case.path_parameters["name"] = COLLECTION
        response = case.call(base_url=live.url, timeout=60)
        statuses.append(response.status_code)
        if response.status_code == 422 and "errors" in response.json():
            refused_by_validation.append(response.text)

    run()
    assert statuses and 500 not in statuses, statuses
    assert refused_by_validation == []
