"""Route tests over the real built-in model, FAISS and SQLite: collections, search, items,
health and metrics behave as documented."""

from __future__ import annotations

import base64

import pytest
from api_helpers import COLLECTION, KEY, Served, png_bytes


def _caption(served: Served, text: str, **params) -> dict:
    body = {"parts": [{"modality": "caption", "text": text}], **params}
    response = served.client.post(f"/v1/collections/{COLLECTION}/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_ready_and_metrics(served: Served) -> None:
    assert served.client.get("/healthz").json() == {"status": "ok"}
    ready = served.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert set(ready.json()["checks"]) == {"model", "database", "store"}
    _caption(served, "a red cube")
    text = served.client.get("/metrics").text
    assert (
        'anyseek_request_seconds_count{method="POST",route="/v1/collections/{name}/search"' in text
    )
    assert 'anyseek_search_stage_seconds_count{stage="model"}' in text
    assert f'anyseek_items{{status="indexed"}} {float(len(served.ids))}' in text


def test_the_web_page_is_served_at_root(served: Served) -> None:
    response = served.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>anyseek</title>" in response.text
    assert served.client.get("/js/app.js").status_code == 200


def test_collections_create_list_get_delete(served: Served) -> None:
    client = served.client
    created = client.post("/v1/collections", json={"name": "fresh"})
    assert created.status_code == 201, created.text
    assert created.json()["items"] == 0
    assert created.json()["spaces"] == sorted(created.json()["spaces"]) and created.json()["spaces"]
    names = [c["name"] for c in client.get("/v1/collections").json()["collections"]]
    assert names == ["fresh", COLLECTION]
    got = client.get(f"/v1/collections/{COLLECTION}").json()
    assert got["items"] == got["indexed"] == len(served.ids)
    again = client.post("/v1/collections", json={"name": "fresh"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    # an empty collection can be searched: no hits, not an error
    assert _caption_in(client, "fresh")["hits"] == []
    assert client.delete("/v1/collections/fresh").status_code == 200
    assert client.get("/v1/collections/fresh").status_code == 404


def _caption_in(client, name: str) -> dict:
    body = {"parts": [{"modality": "caption", "text": "a red cube"}]}
    response = client.post(f"/v1/collections/{name}/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_same_query_twice_gives_identical_results(served: Served) -> None:
    first = _caption(served, "a blue sphere next to a green cube", k=8)
    second = _caption(served, "a blue sphere next to a green cube", k=8)
    assert first.pop("timings_ms").keys() == second.pop("timings_ms").keys()  # times differ
    assert first == second
    assert len(first["hits"]) == 8
    assert [h["score"] for h in first["hits"]] == sorted(
        (h["score"] for h in first["hits"]), reverse=True
    )


def test_image_upload_finds_that_scene_first(served: Served) -> None:
    scene, item_id = served.scenes[3], served.ids[3]
    files = {"image": ("q.png", png_bytes(scene.rgb), "image/png")}
    response = served.client.post(f"/v1/collections/{COLLECTION}/search/upload", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["hits"][0]["id"] == item_id


def test_an_edge_map_finds_its_scene_over_json_and_multipart(served: Served) -> None:
    """Edges are declared once (model/queries.py) and the built-in model takes them."""
    scene, item_id = served.scenes[5], served.ids[5]
    data = png_bytes(scene.edges)
    body = {"parts": [{"modality": "edges", "data": base64.b64encode(data).decode()}], "k": 5}
    by_json = served.client.post(f"/v1/collections/{COLLECTION}/search", json=body)
    files = {"edges": ("e.png", data, "image/png")}
    by_form = served.client.post(
        f"/v1/collections/{COLLECTION}/search/upload", files=files, data={"params": '{"k": 5}'}
    )
    assert by_json.status_code == by_form.status_code == 200, (by_json.text, by_form.text)
    assert by_json.json()["hits"] == by_form.json()["hits"]
    assert item_id in [hit["id"] for hit in by_json.json()["hits"]]


def test_the_model_route_lists_the_declared_query_modalities_it_takes(served: Served) -> None:
    info = served.client.get("/v1/model").json()
    edges = next(q for q in info["query_modalities"] if q["name"] == "edges")
    assert edges == {
        "name": "edges",
        "value": "file",
        "editor": "sketch",
        "label": "Edges",
        "help": "an edge map (e.g. Canny), either polarity",
        "formats": ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff", "avif", "heic"],
        "example": None,
    }
    names = [q["name"] for q in info["query_modalities"]]
    assert names == ["caption", "sketch", "semseg", "depth", "edges", "normal", "image"]


def test_multipart_sketch_and_caption_with_params_and_explain(served: Served) -> None:
    scene = served.scenes[5]
    files = {"sketch": ("s.png", png_bytes(255 - scene.sketch), "image/png")}
    data = {
        "caption": scene.captions[0],
        "params": '{"k": 5, "weights": {"sketch": 0.5}, "explain": true}',
    }
    response = served.client.post(
        f"/v1/collections/{COLLECTION}/search/upload", files=files, data=data
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["hits"]) == 5
    assert body["explanation"]["inputs"]["sketch"]["weight"] == 0.5
    assert {"transform", "model", "store", "fuse"} <= set(body["explanation"]["timings_ms"])


def test_json_base64_matches_multipart(served: Served) -> None:
    scene = served.scenes[7]
    raw = png_bytes(scene.rgb)
    as_json = served.client.post(
        f"/v1/collections/{COLLECTION}/search",
        json={"parts": [{"modality": "image", "data": base64.b64encode(raw).decode()}], "k": 5},
    ).json()
    as_form = served.client.post(
        f"/v1/collections/{COLLECTION}/search/upload",
        files={"image": ("q.png", raw, "image/png")},
        data={"params": '{"k": 5}'},
    ).json()
    assert as_json["hits"] == as_form["hits"]


def test_cursor_paging_and_filters(served: Served) -> None:
    first = _caption(served, "a red cube", k=5)
    second = _caption(served, "a red cube", k=5, cursor=first["next_cursor"])
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}
    wanted = served.ids[:4]
    lowest = 1_700_000_000
    filtered = _caption(
        served, "a red cube", k=10, filter={"ranges": {"mtime": {"gte": lowest, "lte": lowest + 3}}}
    )
    assert sorted(h["id"] for h in filtered["hits"]) == sorted(wanted)


def test_more_like_an_item(served: Served) -> None:
    body = {"like": [{"id": served.ids[2]}], "k": 3}
    response = served.client.post(f"/v1/collections/{COLLECTION}/search", json=body)
    assert response.status_code == 200, response.text
    assert served.ids[2] not in [h["id"] for h in response.json()["hits"]]


def test_items_list_get_image_thumbnail(served: Served) -> None:
    client = served.client
    page = client.get(f"/v1/collections/{COLLECTION}/items", params={"limit": 10}).json()
    assert page["total"] == len(served.ids)
    assert [i["id"] for i in page["items"]] == served.ids[:10]
    assert page["next_offset"] == 10
    last = client.get(
        f"/v1/collections/{COLLECTION}/items", params={"offset": 20, "limit": 10}
    ).json()
    assert last["next_offset"] is None and len(last["items"]) == len(served.ids) - 20
    item = client.get(f"/v1/collections/{COLLECTION}/items/{served.ids[0]}").json()
    assert item["status"] == "indexed" and item["payload"]["ext"] == "png"
    image = client.get(f"/v1/collections/{COLLECTION}/items/{served.ids[0]}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == png_bytes(served.scenes[0].rgb)
    thumb = client.get(f"/v1/collections/{COLLECTION}/items/{served.ids[0]}/thumbnail")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"


def test_deleting_an_item_removes_it_from_search(served: Served) -> None:
    client, victim = served.client, served.ids[-1]
    scene = served.scenes[-1]
    files = {"image": ("q.png", png_bytes(scene.rgb), "image/png")}
    url = f"/v1/collections/{COLLECTION}/search/upload"
    assert client.post(url, files=files).json()["hits"][0]["id"] == victim
    assert client.delete(f"/v1/collections/{COLLECTION}/items/{victim}").status_code == 204
    assert victim not in [h["id"] for h in client.post(url, files=files).json()["hits"]]
    assert client.get(f"/v1/collections/{COLLECTION}/items/{victim}").status_code == 404
    assert client.get(f"/v1/collections/{COLLECTION}/items/{victim}/thumbnail").status_code == 404
    served.ids.pop()
    served.scenes.pop()


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_openapi_is_served(served: Served, path: str) -> None:
    assert served.client.get(path).status_code == 200


def test_openapi_documents_bodies_and_errors(served: Served) -> None:
    spec = served.client.get("/openapi.json").json()
    search = spec["paths"]["/v1/collections/{name}/search"]["post"]
    assert "SearchRequest" in str(search["requestBody"])
    assert "SearchResponse" in str(search["responses"]["200"])
    assert "application/problem+json" in search["responses"]["422"]["content"]
    upload = spec["paths"]["/v1/collections/{name}/search/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "securitySchemes" not in spec["components"]  # no key configured: nothing to send
    assert "security" not in search and "401" not in search["responses"]


def test_openapi_declares_keys_as_enforced(served_with_keys: Served) -> None:
    spec = served_with_keys.client.get("/openapi.json").json()
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]
    search = spec["paths"]["/v1/collections/{name}/search"]["post"]
    assert search["security"] == [{"APIKeyHeader": []}, {}]  # a read: a key optional
    create = spec["paths"]["/v1/collections"]["post"]
    assert create["security"] == [{"APIKeyHeader": []}] and "401" in create["responses"]
    model = served_with_keys.client.get("/v1/model", headers={"X-API-Key": KEY}).json()
    assert model["access"] == "keys"  # the page shows it; open-local: test_fuzz_openapi


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/jobs", "GET, POST"),
        ("OPTIONS", "/v1/collections/x/items/1", "DELETE, GET, PATCH"),
        ("POST", "/index.html", "GET, HEAD"),
    ],
)
def test_a_405_lists_the_methods_of_the_path(
    served: Served, method: str, path: str, allow: str
) -> None:
    response = served.client.request(method, path)
    assert response.status_code == 405 and response.headers["allow"] == allow


def test_readyz_is_503_naming_a_database_without_schema(served: Served, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from anyseek.api.app import create_app
    from anyseek.db.session import database_from_url

    searcher = served.client.app.state.anyseek.searcher
    empty = database_from_url(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(served.settings, searcher=searcher, database=empty)
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["model"]["ready"] and checks["store"]["ready"]
        assert (
            not checks["database"]["ready"] and "anyseek db upgrade" in checks["database"]["detail"]
        )
        assert client.get("/metrics").status_code == 200  # scraping survives the database
    empty.dispose()


def test_each_request_uses_one_database_session(served: Served) -> None:
    from api_helpers import add_scenes
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from anyseek.api import catalog

    searcher = served.client.app.state.anyseek.searcher
    with served.database.session() as session:
        catalog.create_collection(session, served.store, searcher.model, "once")
    item, _ = add_scenes(
        served.settings, served.database, served.store, searcher.model, "once", served.scenes[:2]
    )
    sessions: list[Session] = []

    def began(session: Session, _transaction, connection) -> None:
        if connection.engine is served.database.engine and session not in sessions:
            sessions.append(session)

    requests = [
        ("get", "/v1/collections/once", 200),
        ("get", "/v1/collections/once/items", 200),
        ("get", f"/v1/collections/once/items/{item}", 200),
        ("get", f"/v1/collections/once/items/{item}/thumbnail", 200),
        ("delete", f"/v1/collections/once/items/{item}", 204),
        ("get", "/v1/jobs", 200),
        ("delete", "/v1/collections/once", 200),
    ]
    event.listen(Session, "after_begin", began)
    try:
        for method, path, status in requests:
            sessions.clear()
            response = served.client.request(method, path)
            assert response.status_code == status, (path, response.text)
            assert len(sessions) == 1, (method, path, len(sessions))
    finally:
        event.remove(Session, "after_begin", began)
    assert served.client.get("/v1/collections/once").status_code == 404  # the deletes committed
