"""A dependency down is a 503 with ``Retry-After`` (ANYSEEK_API__RETRY_AFTER_S), on every route
that needs it, and the OpenAPI document declares the header; never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import COLLECTION, Served
from fastapi.testclient import TestClient
from server_process import free_port

from anyseek.db.session import database_from_url

RETRY_AFTER_S = 7
CAPTION = {"parts": [{"modality": "caption", "text": "a red cube"}], "k": 3}


@pytest.fixture(scope="module")
def without_database(served: Served) -> Iterator[TestClient]:
    """The served gallery's model and store behind an app whose PostgreSQL does not answer."""
    from anyseek.api.app import create_app

    api = served.settings.api.model_copy(update={"retry_after_s": RETRY_AFTER_S})
    settings = served.settings.model_copy(update={"api": api})
    nowhere = database_from_url(f"postgresql+psycopg://anyseek@127.0.0.1:{free_port()}/anyseek")
    searcher = served.client.app.state.anyseek.searcher
    app = create_app(settings, searcher=searcher, database=nowhere)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    nowhere.dispose()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", f"/v1/collections/{COLLECTION}/search", CAPTION),
        ("get", f"/v1/collections/{COLLECTION}/items/1", None),
        ("get", f"/v1/collections/{COLLECTION}/items", None),
        ("get", "/v1/collections", None),
        ("get", "/v1/jobs", None),
        ("get", "/readyz", None),
    ],
)
def test_a_database_down_is_503_with_retry_after(
    without_database: TestClient, method: str, path: str, body: dict | None
) -> None:
    response = without_database.request(method, path, json=body)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    if path != "/readyz":
        assert response.headers["content-type"] == "application/problem+json"
        assert "cannot connect to the database" in response.json()["detail"]


def test_a_batch_answers_each_query_503(without_database: TestClient) -> None:
    """A batch is answered query by query (200): each entry is the 503 a search would be."""
    batch = {"queries": [CAPTION, CAPTION]}
    response = without_database.post(f"/v1/collections/{COLLECTION}/search/batch", json=batch)
    assert response.status_code == 200
    assert [entry["status"] for entry in response.json()["results"]] == [503, 503]
    assert [entry["retry_after"] for entry in response.json()["results"]] == [RETRY_AFTER_S] * 2
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)


def test_answers_other_than_503_carry_no_retry_after(served: Served) -> None:
    assert "retry-after" not in served.client.get("/v1/collections").headers
    assert "retry-after" not in served.client.get("/v1/collections/nope").headers


def test_the_document_declares_retry_after_on_every_503(served: Served) -> None:
    document = served.client.get("/openapi.json").json()
    declared = [
        operation["responses"]["503"]
        for item in document["paths"].values()
        for operation in item.values()
        if "503" in operation.get("responses", {})
    ]
    assert len(declared) >= 10
    for response in declared:
        assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"
