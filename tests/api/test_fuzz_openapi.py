"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis): no
request, valid or not, gets a 5xx, and answers conform to the documented schemas and statuses.

CI runs a few examples per operation; ``ANYSEEK_FUZZ_EXAMPLES=N`` runs N per operation and,
with ``ANYSEEK_FUZZ_REPORT=path.json``, writes the counts (``bench/results/api_fuzz.md``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_helpers import COLLECTION
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable
from live_server import serve_scenes
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from model.data import SceneSample
from model.families.interface import SearchModel

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
    """The API as a ``python -m cli serve`` process over 12 indexed scenes."""
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


ITEM_ROUTES = (
    "GET /v1/collections/{name}/items/{item_id}",
    "GET /v1/collections/{name}/items/{item_id}/image",
    "GET /v1/collections/{name}/items/{item_id}/thumbnail",
    "PATCH /v1/collections/{name}/items/{item_id}",
)
JOB_ROUTE = "GET /v1/jobs/{job_id}"
EDIT_ROUTE = "PATCH /v1/collections/{name}/items/{item_id}"
SUITES = 10
REAL_SEARCH = {"parts": [{"modality": "caption", "text": "a red cube"}], "k": 3}
REAL_EDIT = {"metadata": {"price": 20, "tags": ["red"]}}
"""An edit the server accepts: given to a link's first metadata edit until one has answered, as a
generated body almost never is a valid edit of the fields the collection has."""


def test_links_lead_from_listed_items_and_jobs_to_their_routes(live_url: str) -> None:
    """The stateful phase: schemathesis follows the document's links, so the routes that take
    an item or job id are called with ids the server just gave out, and answer them."""
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
            if input.transition is not None and route == EDIT_ROUTE and not reached[route]:
                case.body = REAL_EDIT  # the linked id is answered once; generated bodies after
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
    for _ in range(SUITES):  # as schemathesis' own runner: a suite the server's state made
        with contextlib.suppress(Flaky):  # hypothesis call flaky (a bundle empty on replay)
            Scenario.run(settings=scenarios)  # ends, and the next one goes on
        if all(reached[route] for route in (*ITEM_ROUTES, JOB_ROUTE)):
            break
    missed = [route for route in ITEM_ROUTES if not reached[route]]
    assert not missed, f"never answered with a real id: {missed}; reached: {dict(reached)}"
    assert reached[JOB_ROUTE], dict(reached)
