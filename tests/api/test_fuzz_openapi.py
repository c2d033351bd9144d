"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis): no
request, valid or not, gets a 5xx, and answers conform to the documented schemas and statuses.

CI runs a few examples per operation; ``ANYSEEK_FUZZ_EXAMPLES=N`` runs N per operation and,
with ``ANYSEEK_FUZZ_REPORT=path.json``, writes the counts (``bench/results/api_fuzz.md``).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from api_helpers import COLLECTION, prepare
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from model.data import SceneSample
from model.families.interface import SearchModel
from search.searcher import Searcher

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_url(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[str]:
    """The API under uvicorn on a loopback port, in a thread of this process."""
    from api.app import create_app

    data_dir = tmp_path_factory.mktemp("fuzz")
    config, database, store, _ = prepare(data_dir, search_model, scenes[:12])
    searcher = Searcher(search_model, store, config.search, config.api.max_query_pixels)
    app = create_app(config, searcher=searcher, database=database)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    store.close()
    database.dispose()
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
            except Exception as exc:  # collect every operation's failure, then report them all
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert operations >= 15
    assert SEEN["cases"] >= operations
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
