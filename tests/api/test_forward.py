"""A reader app (``create_app(writer_url=...)``) answers reads and searches itself and sends
each write route's request to the writer; with the writer away, a write gets the API's 503."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import COLLECTION, free_port, prepare
from fastapi.testclient import TestClient

from anyseek.api.app import _write_routes, create_app
from anyseek.api.forward import FORWARDED_HEADER, WriteForwarder
from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample
from anyseek.search.searcher import Searcher


@pytest.fixture(scope="module")
def reader(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[TestClient]:
    """A reader whose writer does not answer (nothing listens on its port)."""
    data_dir = tmp_path_factory.mktemp("reader")
    settings, database, store, _ = prepare(data_dir, search_model, scenes[:4])
    searcher = Searcher(search_model, store, settings.search, settings.api.max_query_pixels)
    writer = f"http://127.0.0.1:{free_port()}"
    app = create_app(settings, searcher=searcher, database=database, writer_url=writer)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    store.close()
    database.dispose()


def test_reads_and_searches_are_answered_by_the_reader(reader: TestClient) -> None:
    listed = reader.get("/v1/collections")
    assert listed.status_code == 200 and FORWARDED_HEADER not in listed.headers
    found = reader.post(
        f"/v1/collections/{COLLECTION}/search",
        json={"parts": [{"modality": "caption", "text": "a red cube"}], "k": 3},
    )
    assert found.status_code == 200, found.text
    assert len(found.json()["hits"]) == 3


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/collections"),
        ("DELETE", f"/v1/collections/{COLLECTION}"),
        ("PATCH", f"/v1/collections/{COLLECTION}/items/1"),
        ("POST", "/v1/jobs"),
    ],
)
def test_a_write_with_the_writer_away_is_a_503_problem(
    reader: TestClient, method: str, path: str
) -> None:
    answer = reader.request(method, path, json={"name": "other"})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"].isdigit()
    assert "writer process" in answer.json()["detail"]


def test_writes_are_the_routes_that_declare_write_access() -> None:
    forwarder = WriteForwarder(app=None, writer_url="http://w", write_routes=_write_routes())  # type: ignore[arg-type]

    def writes(method: str, path: str) -> bool:
        return forwarder._writes({"type": "http", "method": method, "path": path})

    assert writes("POST", "/v1/collections")
    assert writes("POST", "/v1/collections/photos/reindex")
    assert writes("DELETE", "/v1/collections/photos/items/7")
    assert not writes("POST", "/v1/collections/photos/search")
    assert not writes("POST", "/v1/collections/photos/search/upload")
    assert not writes("GET", "/v1/collections/photos/items/7")
    assert not writes("PUT", "/v1/collections")  # no such route: the reader answers its 405
    assert writes("POST", "/v1/collections")  # asked again: the remembered answer
