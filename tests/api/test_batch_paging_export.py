"""Batch search and stable paging over HTTP, with the real model, FAISS and SQLite: a batch
answers like its queries one by one, per-query errors stay in their entry; a cursor belongs to
its query (else 400) and to the collection as the first page saw it (uploads between pages)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from api_helpers import COLLECTION, Served, png_bytes

from anyseek.scenes import generate_scene

SEARCH = f"/v1/collections/{COLLECTION}/search"


def _caption(text: str, **params) -> dict:
    return {"parts": [{"modality": "caption", "text": text}], **params}


def _sketch(served: Served, i: int, **params) -> dict:
    data = base64.b64encode(png_bytes(served.scenes[i].sketch)).decode()
    return {"parts": [{"modality": "sketch", "data": data}], **params}


def test_a_batch_answers_like_its_queries_one_by_one(served: Served) -> None:
    queries = [
        _caption("a red cube", k=5),
        _sketch(served, 3, k=4),
        _caption("a blue sphere next to a green cube", k=6, fusion="rrf"),
        {"like": [{"id": served.ids[2]}], "k": 3},
    ]
    batch = served.client.post(f"{SEARCH}/batch", json={"queries": queries})
    assert batch.status_code == 200, batch.text
    entries = batch.json()["results"]
    assert [e["status"] for e in entries] == [200] * len(queries)
    for query, entry in zip(queries, entries, strict=True):
        alone = served.client.post(SEARCH, json=query).json()
        got = entry["result"]
        assert [h["id"] for h in got["hits"]] == [h["id"] for h in alone["hits"]]
        assert [h["score"] for h in got["hits"]] == pytest.approx(
            [h["score"] for h in alone["hits"]], abs=1e-5
        )


def test_a_bad_query_fails_only_its_entry(served: Served) -> None:
    good = _caption("a red cube", k=2)
    first = served.client.post(SEARCH, json=good).json()
    queries = [
        {"parts": [{"modality": "smell", "text": "x"}]},
        good,
        {**_caption("a red cube"), "spaces": {"smell": 1.0}},
        _caption("a blue sphere", cursor=first["next_cursor"]),
        {"parts": [{"modality": "sketch", "data": "not base64!"}]},
    ]
    entries = served.client.post(f"{SEARCH}/batch", json={"queries": queries}).json()["results"]
    assert [e["status"] for e in entries] == [422, 200, 404, 400, 422]
    assert entries[0]["error"]["field"] == "body.queries[0].parts[0].modality"
    assert entries[1]["result"]["hits"] == first["hits"]
    assert "smell" in entries[2]["error"]["detail"]
    assert entries[3]["error"]["field"] == "body.queries[3].cursor"
    assert "another query" in entries[3]["error"]["detail"]
    assert entries[4]["error"]["field"] == "body.queries[4].parts[0].data"


def test_batch_limits(served: Served) -> None:
    many = served.client.post(f"{SEARCH}/batch", json={"queries": [_caption("a")] * 65})
    assert many.status_code == 422 and "queries" in many.json()["detail"]
    empty = served.client.post(f"{SEARCH}/batch", json={"queries": []})
    assert empty.status_code == 422


def test_another_querys_cursor_is_400(served: Served) -> None:
    first = served.client.post(SEARCH, json=_caption("a red cube", k=3)).json()
    other = served.client.post(SEARCH, json=_caption("a green torus", cursor=first["next_cursor"]))
    assert other.status_code == 400, other.text
    assert other.json()["field"] == "body.cursor" and "another query" in other.json()["detail"]
    garbled = served.client.post(SEARCH, json=_caption("a red cube", cursor="garbage"))
    assert garbled.status_code == 400 and "invalid cursor" in garbled.json()["detail"]


def test_an_upload_between_pages_changes_no_page(served: Served) -> None:
    """The first page fixes the snapshot: an image uploaded after it (an exact match of the
    query) is not on the next pages, and no item repeats; a new first page finds it."""
    scene = generate_scene(4242, 64)
    query = {"parts": [{"modality": "caption", "text": scene.captions[0]}], "k": 5}
    whole = served.client.post(SEARCH, json={**query, "k": len(served.ids)}).json()
    first = served.client.post(SEARCH, json=query).json()
    files = [("files", ("new.png", png_bytes(scene.rgb), "image/png"))]
    job = served.client.post(
        f"/v1/collections/{COLLECTION}/items", files=files, params={"wait": True}
    )
    assert job.status_code in (200, 201, 202), job.text
    assert job.json()["done"] == 1
    seen, cursor = [h["id"] for h in first["hits"]], first["next_cursor"]
    while cursor:
        page = served.client.post(SEARCH, json={**query, "cursor": cursor}).json()
        seen += [h["id"] for h in page["hits"]]
        cursor = page["next_cursor"]
    assert seen == [h["id"] for h in whole["hits"]]
    again = served.client.post(SEARCH, json=query).json()
    assert {h["id"] for h in again["hits"]} - set(served.ids)  # the new image, on a new walk


def test_export_streams_one_json_line_per_item(served: Served) -> None:
    response = served.client.get(f"/v1/collections/{COLLECTION}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in response.text.splitlines()]
    ids = [r["id"] for r in records]
    assert ids == sorted(ids) and set(served.ids) <= set(ids)  # (plus what other tests uploaded)
    [stored] = served.store.retrieve(COLLECTION, [records[0]["id"]], with_vectors=True)
    for space, vector in records[0]["vectors"].items():
        assert np.array_equal(np.asarray(vector, dtype=np.float32), stored.vectors[space])
    model = served.client.get("/v1/model").json()
    assert {r["model"] for r in records} == {f"{model['name']}@{model['version']}"}
    missing = served.client.get("/v1/collections/nope/export")
    assert missing.status_code == 404 and "'nope'" in missing.json()["detail"]
