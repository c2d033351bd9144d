"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis): no
request, valid or not, gets a 5xx, and answers conform to the documented schemas and statuses.

CI runs a few examples per operation; ``ANYSEEK_FUZZ_EXAMPLES=N`` runs N per operation and,
with ``ANYSEEK_FUZZ_REPORT=path.json``, writes the counts (``bench/results/api_fuzz.md``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_helpers import COLLECTION, KEY
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable
from live_server import HTTP, serve_scenes
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.engine import events

from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("ANYSEEK_FUZZ_EXAMPLES", "6"))
REPORT = os.environ.get("ANYSEEK_FUZZ_REPORT")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SEEN: Counter = Counter()


@pytest.fixture(scope="module")
def live_url(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[str]:
    """The API as a ``python -m anyseek.cli serve`` process over 12 indexed scenes."""
    for live in serve_scenes(tmp_path_factory.mktemp("fuzz"), search_model, scenes[:12]):
        yield live.url
    if REPORT:
        Path(REPORT).write_text(json.dumps(dict(SEEN), indent=2, sort_keys=True))


def _fuzz(operation, live_url: str, mode: GenerationMode) -> None:
    """Run ``EXAMPLES`` generated cases (valid or invalid by ``mode``) against one operation;
    half of them aim at the real collection and items so search and items are exercised."""

    @given(case=operation.as_strategy(mode), real=st.booleans())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each step is an HTTP call
        suppress_health_check=list(HealthCheck),
    )
    def run(case, real: bool) -> None:
        if real and case.path_parameters and case.method != "DELETE":  # keep the collection
            if "name" in case.path_parameters:
                case.path_parameters["name"] = COLLECTION
            if isinstance(case.path_parameters.get("item_id"), int):
                case.path_parameters["item_id"] = 1 + case.path_parameters["item_id"] % 12
        response = case.call(base_url=live_url, timeout=60)
        SEEN["cases"] += 1
        SEEN[f"{mode.value} cases"] += 1
        SEEN[f"status {response.status_code}"] += 1
        SEEN[f"{case.method} {case.path}"] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def test_no_request_gets_a_server_error(live_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    failures = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in GenerationMode:
            try:
                _fuzz(operation, live_url, mode)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE
            except (Exception, FailureGroup) as exc:  # every operation's failure, reported together
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert operations >= 15
    assert SEEN["cases"] >= operations
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


EDIT_ROUTE = "PATCH /v1/collections/{name}/items/{item_id}"
THUMBNAIL_ROUTE = "GET /v1/collections/{name}/items/{item_id}/thumbnail"
DELETE_ROUTE = "DELETE /v1/collections/{name}/items/{item_id}"
ITEM_ROUTES = (
    "GET /v1/collections/{name}/items/{item_id}",
    "GET /v1/collections/{name}/items/{item_id}/image",
    THUMBNAIL_ROUTE,
    EDIT_ROUTE,
    DELETE_ROUTE,
)
JOB_ROUTE = "GET /v1/jobs/{job_id}"
SUITES = 10
STATEFUL_SEED = 20261127  # suite i runs with seed STATEFUL_SEED + i: the same scenarios every run
NO_ITEM = 10**9
"""The id a linked delete gets once one has answered: the first deletion is the route's proof,
and more would empty the 12 scenes every other link leads into (the links name the first item
listed or found, so each linked delete takes the next one)."""
REAL_SEARCH = {"parts": [{"modality": "caption", "text": "a red cube"}], "k": 3}
REAL_EDIT = {"metadata": {"price": 20, "tags": ["red"]}}
"""An edit the server accepts: given to a link's first metadata edit until one has answered, as a
generated body almost never is a valid edit of the fields the collection has."""


def test_links_lead_from_listed_items_and_jobs_to_their_routes(live_url: str) -> None:
    """The stateful phase: schemathesis follows the document's links, so the routes that take
    an item or job id are called with ids the server just gave out, and answer them. Seeded
    suites, so a run reaches what the last one did; a linked thumbnail asks for the JPEG (the
    kind every indexed picture has) until one answered, and one linked delete is answered, so
    the other links keep finding items."""
    only_declared = {"phases": {"stateful": {"inference": {"algorithms": []}}}}
    schema = schemathesis.openapi.from_url(
        f"{live_url}/openapi.json", config=SchemathesisConfig.from_dict(only_declared)
    )
    reached: Counter = Counter()

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def step(self, input: Any) -> Any:
            """A scenario's first call aims at the indexed collection (links then carry it);
            its first search is a real one."""
            case = input.case
            first = input.transition is None and case.method != "DELETE"
            if first and "name" in (case.path_parameters or {}):
                case.path_parameters["name"] = COLLECTION
            if first and case.path == "/v1/collections/{name}/search" and case.body != REAL_SEARCH:
                case.body = REAL_SEARCH  # hits to follow (a generated query rarely finds any)
            route = f"{case.method} {case.path}"
            linked = input.transition is not None
            if linked and route == EDIT_ROUTE and not reached[route]:
                case.body = REAL_EDIT  # the linked id is answered once; generated bodies after
            if linked and route == THUMBNAIL_ROUTE and not reached[route]:
                case.query = {**(case.query or {}), "kind": "image"}  # every picture has one;
                # depth and semseg are written by a model that reconstructs (not this one)
            if linked and route == DELETE_ROUTE and reached[route]:
                case.path_parameters["item_id"] = NO_ITEM
            return super().step(input)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live_url, "timeout": 60}

        def after_call(self, response: Any, case: Any) -> None:
            SEEN["stateful cases"] += 1
            if response.status_code < 300:
                reached[f"{case.method} {case.path}"] += 1

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    scenarios = settings(
        max_examples=max(EXAMPLES * 5, 30),
        stateful_step_count=6,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    for suite in range(SUITES):  # as schemathesis' own runner: a suite the server's state made
        with contextlib.suppress(Flaky):  # hypothesis call flaky (a bundle empty on replay) ends,
            seed(STATEFUL_SEED + suite)(Scenario).run(settings=scenarios)  # and the next goes on
        if all(reached[route] for route in (*ITEM_ROUTES, JOB_ROUTE)):
            break
    missed = [route for route in ITEM_ROUTES if not reached[route]]
    assert not missed, f"never answered with a real id: {missed}; reached: {dict(reached)}"
    assert reached[JOB_ROUTE], dict(reached)


# The document against the server, as `st run --checks all` holds them: every schemathesis check
# (server errors, schema-forbidden requests accepted, schema-allowed ones refused, a 405's
# `Allow`, security declared but not enforced or enforced but not declared...), over its phases
# (examples, coverage, fuzzing, stateful), with a fixed seed and a small budget; with no API key
# configured and with one.
AGREEMENT_SEED = 20261126
AGREEMENT_EXAMPLES = int(os.environ.get("ANYSEEK_FUZZ_AGREEMENT_EXAMPLES", "5"))
BEYOND_SCHEMA = (  # what the server checks that a JSON Schema cannot state: (field, detail) regexes
    ("body.model", ""),  # a model source: what it holds (a folder, a checkpoint) or cannot be read
    ("body.cursor", "invalid cursor"),  # a next_cursor no page gave out
    (r"body\.[a-z_]+", "(not|Invalid)( valid)? JSON"),  # JSON text in a form field
    ("body.metadata_file", "metadata_file:"),  # a metadata file's rows (FILE:LINE: why)
    (".*", r"not a readable (image|numpy file|\.npy array)"),  # a query file's bytes
    (".*", "knows none of the caption's words"),  # the model's vocabulary
    (r"body(\.parts)?", "every weight is negative"),  # parts' and liked items' weights together
    (r"body(\.parts)?", "the query is empty"),  # a form whose fields are all empty
    (r"body\.filter\..*", "unknown filter field"),  # the collection's fields
    ("body.modality", "does not take"),  # a modality the loaded model does not read (issue 51)
    (".*", "values in this collection"),  # a metadata field keeps the kind it was first given
    ("body.offset", "MAX_WINDOW"),  # offset + k past the settings' window: two fields together
    # what a manifest or a JSON-lines file of captions holds (issue 51): rows, columns, UTF-8
    (r"body\.(source|files|manifest)", "no items in|no column names a modality|not UTF-8"),
)
BATCH = "POST /v1/collections/{name}/search/batch"  # a bad query fails its entry, not the batch


def _refusal(recorder: Any, case_id: str) -> tuple[str | None, str]:
    """The field and detail of the problem a case's response carried."""
    response = recorder.find_response(case_id=case_id)
    try:
        body = json.loads(response.content) if response is not None else {}
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return body.get("field"), str(body.get("detail", ""))


def _shown(recorder: Any, case_id: str) -> str:
    """A failing case as a reader needs it: the request sent and the answer's status and text."""
    case = recorder.cases[case_id].value
    response = recorder.find_response(case_id=case_id)
    text = response.content[:300].decode(errors="replace") if response is not None else ""
    answer = f"{response.status_code} {text}" if response is not None else "none"
    return f"{case.as_curl_command()[:600]}\n  -> {answer}"


def _entries_refused(recorder: Any, case_id: str) -> bool:
    """Whether a batch was answered with an error in some entry (docs/api.md: a query the
    schema refuses fails its own entry)."""
    response = recorder.find_response(case_id=case_id)
    results = json.loads(response.content).get("results", []) if response is not None else []
    return response.status_code == 200 and any(entry["status"] >= 400 for entry in results)


def _beyond_schema(failure: Any, recorder: Any, case_id: str) -> bool:
    """Whether a failure is a schema-valid request refused for what no schema can state, or a
    batch's bad query refused in its entry."""
    if failure.code == "ST201" and failure.operation == BATCH:
        return _entries_refused(recorder, case_id)
    if failure.code == "ST302":  # "created, then 404": a 404 naming a field of the body is
        return _refusal(recorder, case_id)[0] is not None  # about that, not the resource
    if failure.code != "ST202":
        return False
    field, detail = _refusal(recorder, case_id)
    return any(re.fullmatch(f, field or "") and re.search(d, detail) for f, d in BEYOND_SCHEMA)


REAL_ID_ROUTES = (  # reached with a real collection and item id, not only with made-up ones
    "GET /v1/collections/{name}/items/{item_id}/image",
    "GET /v1/collections/{name}/items/{item_id}/thumbnail",
)
REAL_IDS = {  # most item reads name the indexed collection and one of its items
    "dictionaries": {
        "collection": {"values": [COLLECTION]},
        "item": {"values": list(range(1, 13))},
    },
    "operations": [
        {
            "include-method": "GET",
            "include-path-regex": "^/v1/collections/\\{name\\}/items",  # listing too: links
            "parameters": {
                "path.name": {"dictionary": "collection", "probability": 0.75},
                "path.item_id": {"dictionary": "item", "probability": 0.75},
            },
        }
    ],
}


def agreement_failures(
    url: str, headers: dict[str, str] | None = None, reached: Counter | None = None
) -> tuple[list[str], int]:
    """Run schemathesis' engine (what `st run` runs) with every check against ``url``: the
    failures (code, operation, message) it found, and the number of cases it sent; ``reached``
    counts the answers under 300 by route."""
    config = SchemathesisConfig.from_dict(
        {
            **REAL_IDS,
            "seed": AGREEMENT_SEED,
            "cache": {"enabled": False},  # no replay of another run's findings: this run alone
            "base-url": url,
            "headers": headers or {},
            "workers": 1,
            "request-timeout": 60,
            "generation": {  # the same cases every run, none replayed from a database
                "max-examples": AGREEMENT_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    )
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    found: list[str] = []
    cases = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            found.append(f"error in {event.label}: {event.info.message}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        cases += len(event.recorder.cases)
        for case_id, node in event.recorder.cases.items():
            response = event.recorder.find_response(case_id=case_id)
            if reached is not None and response is not None and response.status_code < 300:
                reached[f"{node.value.method} {node.value.path}"] += 1
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                failure = check.failure_info.failure if check.failure_info else None
                if failure is not None and not _beyond_schema(failure, event.recorder, case_id):
                    shown = _shown(event.recorder, case_id)
                    found.append(f"{failure.code} {failure.operation}: {failure.message}\n{shown}")
    return sorted(set(found)), cases


def test_the_document_says_what_the_open_server_does(live_url: str) -> None:
    """No API key configured: no security declared, and every check holds."""
    document = HTTP.get(f"{live_url}/openapi.json").json()
    assert "securitySchemes" not in document["components"]
    assert HTTP.get(f"{live_url}/v1/model").json()["access"] == "open-local"
    reached: Counter = Counter()
    failures, cases = agreement_failures(live_url, reached=reached)
    assert cases >= 200
    assert not failures, "\n\n".join(failures)
    missed = [route for route in REAL_ID_ROUTES if not reached[route]]
    assert not missed, f"never answered with a real id: {missed}; reached: {dict(reached)}"


@pytest.fixture(scope="module")
def keyed_url(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[str]:
    """The API with one key (writes need it, reads take it), over 4 indexed scenes."""
    folder = tmp_path_factory.mktemp("fuzz-keyed")
    for live in serve_scenes(folder, search_model, scenes[:4], API__API_KEYS=json.dumps([KEY])):
        yield live.url


def test_the_document_says_what_the_keyed_server_does(keyed_url: str) -> None:
    """With a key: writes declare it required, reads optional, and every check holds (the
    key given, then left out and forged by the auth checks)."""
    document = HTTP.get(f"{keyed_url}/openapi.json").json()
    security = {
        (method, path): operation.get("security")
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert security[("delete", "/v1/collections/{name}")] == [{"APIKeyHeader": []}]
    assert security[("get", "/v1/collections/{name}")] == [{"APIKeyHeader": []}, {}]
    failures, cases = agreement_failures(keyed_url, {"X-API-Key": KEY})
    assert cases >= 200
    assert not failures, "\n\n".join(failures)
