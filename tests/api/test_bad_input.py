"""Every bad input of issue 15 gets a 4xx problem+json naming the field: never a 500, never a
traceback; and every write needs a valid API key when keys are configured."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from api_helpers import COLLECTION, KEY, Served, png_bytes, serve

SEARCH = f"/v1/collections/{COLLECTION}/search"
UPLOAD = f"{SEARCH}/upload"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _assert_problem(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert "Traceback" not in response.text
    for word in words:
        assert word in body["detail"], body
    return body


JSON_CASES = [
    ({"parts": []}, "the query is empty"),
    ({"parts": [{"modality": "smell", "data": _b64(b"roses")}]}, "unknown query modality 'smell'"),
    ({"parts": [{"modality": "image", "data": _b64(b"not an image")}]}, "image: "),
    ({"parts": [{"modality": "image", "data": "***"}]}, "parts[0].data: not valid base64"),
    ({"parts": [{"modality": "sketch", "text": "/etc/passwd"}]}, "parts[0].data"),
    ({"parts": [{"modality": "caption", "text": ""}]}, "caption: the caption is empty"),
    ({"parts": [{"modality": "caption", "text": "a" * 10_000_000}]}, "10,000,000 characters"),
    (
        {"parts": [{"modality": "depth", "data": _b64(_npy(np.zeros((8, 8, 3), np.float32)))}]},
        "depth: ",
    ),
    (
        {"parts": [{"modality": "depth", "data": _b64(png_bytes(np.zeros((32, 32), np.uint16)))}]},
        "no valid pixel",
    ),
    (
        {
            "parts": [
                {"modality": "semseg", "data": _b64(png_bytes(np.full((32, 32), 9, np.uint8)))}
            ]
        },
        "outside this model's palette",
    ),
    ({"parts": [{"modality": "caption", "text": "a cube"}], "k": 0}, "body.k"),
    ({"parts": [{"modality": "caption", "text": "a cube"}], "k": 10**9}, "k must be at most 1000"),
    ({"parts": [{"modality": "caption", "text": "a cube"}], "k": 5000}, "k must be at most"),
    ({"parts": [{"modality": "caption", "text": "a cube", "weight": 0}]}, "weight of"),
    (
        {"parts": [{"modality": "caption", "text": "a"}], "filter": {"ranges": {"bytes": {}}}},
        "a range needs gte",
    ),
    ({"parts": [{"modality": "caption", "text": "a cube"}], "nonsense": 1}, "body.nonsense"),
]


@pytest.mark.parametrize(("body", "words"), JSON_CASES, ids=lambda x: str(x)[:40])
def test_bad_json_searches_are_422(served: Served, body: dict, words: str) -> None:
    _assert_problem(served.client.post(SEARCH, json=body), 422, words)


def test_unknown_collection_space_and_item_are_404(served: Served) -> None:
    caption = {"parts": [{"modality": "caption", "text": "a cube"}]}
    client = served.client
    _assert_problem(client.post("/v1/collections/nope/search", json=caption), 404, "'nope'")
    _assert_problem(client.post(SEARCH, json={**caption, "spaces": {"smell": 1}}), 404, "'smell'")
    _assert_problem(client.post(SEARCH, json={"like": [{"id": 999_999}]}), 404, "999999")
    _assert_problem(client.get(f"/v1/collections/{COLLECTION}/items/999999"), 404, "999999")
    _assert_problem(client.get("/v1/collections/nope/items"), 404, "'nope'")
    _assert_problem(client.delete("/v1/collections/nope"), 404, "'nope'")


def test_bad_multipart_searches(served: Served) -> None:
    client = served.client
    _assert_problem(client.post(UPLOAD, data={"params": "{}"}), 422, "the query is empty")
    text = {"image": ("notes.txt", b"hello, not an image", "text/plain")}
    _assert_problem(client.post(UPLOAD, files=text), 422, "image: ")
    _assert_problem(
        client.post(UPLOAD, data={"caption": "a cube", "params": "{not json"}), 422, "params"
    )
    _assert_problem(
        client.post(UPLOAD, data={"caption": "a cube", "params": '{"k": -1}'}), 422, "params.k"
    )
    _assert_problem(
        client.post(UPLOAD, data={"caption": "a cube", "params": '{"weights": {"sketch": 2}}'}),
        422,
        "params.weights",
    )


def test_bad_collection_names(served: Served) -> None:
    _assert_problem(served.client.post("/v1/collections", json={"name": "Bad Name"}), 422, "name")
    _assert_problem(served.client.post("/v1/collections", json={}), 422, "body.name")


def test_oversized_uploads_are_413(served_with_keys: Served) -> None:
    client = served_with_keys.client
    big = b"\x89PNG" + b"0" * (1024 * 1024 + 10)  # over the 1 MB cap of this app
    body = _assert_problem(client.post(UPLOAD, files={"sketch": ("s.png", big)}), 413, "sketch")
    assert body["field"] == "body.sketch"
    as_json = {"parts": [{"modality": "image", "data": _b64(big)}]}
    body = _assert_problem(client.post(SEARCH, json=as_json), 413, "parts[0].data")
    assert body["field"] == "body.parts[0].data"


def test_images_over_the_pixel_cap_are_422(served_with_keys: Served) -> None:
    big = png_bytes(np.zeros((200, 200, 3), np.uint8))  # 40,000 pixels; this app takes 10,000
    files = {"image": ("big.png", big, "image/png")}
    _assert_problem(served_with_keys.client.post(UPLOAD, files=files), 422, "image: ", "MP")


def _writes(client) -> list[tuple[str, str]]:
    """Every write operation of the OpenAPI document (searches are reads, whatever their verb)."""
    spec = client.get("/openapi.json").json()
    out = []
    for path, operations in spec["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch", "delete") and "/search" not in path:
                concrete = path.replace("{name}", COLLECTION).replace("{item_id}", "1")
                concrete = concrete.replace("{job_id}", "1")
                out.append((method, concrete))
    return out


def test_every_write_needs_a_valid_key(served_with_keys: Served) -> None:
    client = served_with_keys.client
    writes = _writes(client)
    assert ("post", "/v1/collections") in writes and ("delete", "/v1/collections/scenes") in writes
    for method, path in writes:
        for headers in ({}, {"X-API-Key": "wrong"}):
            response = client.request(method, path, headers=headers, json={"name": "x"})
            _assert_problem(response, 401, "API key")
            assert response.headers["www-authenticate"] == "ApiKey"
    created = client.post("/v1/collections", json={"name": "keyed"}, headers={"X-API-Key": KEY})
    assert created.status_code == 201


def test_reads_are_open_but_a_wrong_key_is_refused(served_with_keys: Served) -> None:
    client = served_with_keys.client
    assert client.get("/v1/collections").status_code == 200
    caption = {"parts": [{"modality": "caption", "text": "a cube"}]}
    assert client.post(SEARCH, json=caption).status_code == 200
    _assert_problem(client.get("/v1/collections", headers={"X-API-Key": "wrong"}), 401, "API key")


def test_auth_reads_makes_reads_need_the_key_too(tmp_path, search_model, scenes: list) -> None:
    served = serve(tmp_path, search_model, scenes[:2], api_keys=[KEY], auth_reads=True)
    app = next(served)
    try:
        caption = {"parts": [{"modality": "caption", "text": "a cube"}]}
        _assert_problem(app.client.get("/v1/collections"), 401, "API key")
        _assert_problem(app.client.post(SEARCH, json=caption), 401, "API key")
        ok = app.client.post(SEARCH, json=caption, headers={"X-API-Key": KEY})
        assert ok.status_code == 200
        assert app.client.get("/healthz").status_code == 200  # probes stay open
    finally:
        next(served, None)


def _fields_of_every_4xx(served: Served, keyed: Served, tmp_path) -> list[tuple]:
    """(what, answer, status, field) for each kind of 4xx the API answers (docs/api.md)."""
    client, base = served.client, f"/v1/collections/{COLLECTION}"
    caption = [{"modality": "caption", "text": "a red cube"}]
    job = client.post(
        f"{base}/items",
        files={"files": ("one.png", png_bytes(served.scenes[0].rgb), "image/png")},
        params={"wait": True},
    ).json()
    outside, missing = str(tmp_path), str(served.settings.indexer.allowed_roots[0] / "nope")
    det = [{"modality": "det", "value": [["dog", [0, 0, 1, 1]]]}]
    return [
        (
            "bad multipart",
            client.post(
                UPLOAD,
                content=b"--x\r\nContent-Disposition: form-data\r\n\r\na\r\n--x--\r\n",
                headers={"content-type": "multipart/form-data; boundary=x"},
            ),
            400,
            "body",
        ),
        (
            "forged cursor",
            client.post(SEARCH, json={"parts": caption, "cursor": "x"}),
            400,
            "body.cursor",
        ),
        (
            "unknown filter field",
            client.post(SEARCH, json={"parts": caption, "filter": {"equals": {"nope": "x"}}}),
            400,
            "body.filter.nope",
        ),
        (
            "no key",
            keyed.client.post("/v1/collections", json={"name": "k"}),
            401,
            "header.X-API-Key",
        ),
        (
            "wrong key",
            keyed.client.get("/v1/collections", headers={"X-API-Key": "no"}),
            401,
            "header.X-API-Key",
        ),
        (
            "source outside the roots",
            client.post("/v1/jobs", json={"collection": COLLECTION, "source": outside}),
            403,
            "body.source",
        ),
        ("unknown collection", client.get("/v1/collections/nope"), 404, "path.name"),
        ("unknown item", client.get(f"{base}/items/999999"), 404, "path.item_id"),
        ("unknown job", client.get("/v1/jobs/999999"), 404, "path.job_id"),
        (
            "no reconstruction",
            client.get(f"{base}/items/{served.ids[0]}/thumbnail", params={"kind": "depth"}),
            404,
            "query.kind",
        ),
        (
            "unknown space",
            client.post(SEARCH, json={"parts": caption, "spaces": {"nope": 1}}),
            404,
            "body.spaces",
        ),
        (
            "unknown liked item",
            client.post(SEARCH, json={"like": [{"id": 999999}]}),
            404,
            "body.like",
        ),
        (
            "job for an invalid collection name",
            client.post("/v1/jobs", json={"collection": "Bad!", "source": missing}),
            422,
            "body.collection",
        ),
        (
            "missing source",
            client.post("/v1/jobs", json={"collection": COLLECTION, "source": missing}),
            404,
            "body.source",
        ),
        ("name taken", client.post("/v1/collections", json={"name": COLLECTION}), 409, "body.name"),
        ("nothing to roll back to", client.post(f"{base}/rollback"), 409, "path.name"),
        ("job already finished", client.post(f"/v1/jobs/{job['id']}/cancel"), 409, "path.job_id"),
        (
            "upload over the cap",
            keyed.client.post(
                UPLOAD.replace(COLLECTION, COLLECTION),
                files={"sketch": ("s.png", b"0" * (1024 * 1024 + 10))},
                headers={"X-API-Key": KEY},
            ),
            413,
            "body.sketch",
        ),
        (
            "not JSON",
            client.post(SEARCH, content=b"{", headers={"content-type": "application/json"}),
            422,
            "body",
        ),
        (
            "k of the wrong type",
            client.post(SEARCH, json={"parts": caption, "k": "x"}),
            422,
            "body.k",
        ),
        ("bad path parameter", client.get("/v1/jobs/0"), 422, "path.job_id"),
        ("bad query parameter", client.get("/v1/jobs", params={"limit": 0}), 422, "query.limit"),
        (
            "invalid collection name",
            client.post("/v1/collections/Bad!/search", json={"parts": caption}),
            422,
            "path.name",
        ),
        (
            "a modality the model does not take",
            client.post(SEARCH, json={"parts": det}),
            422,
            "body.parts[0]",
        ),
        (
            "an unreadable image",
            client.post(
                SEARCH, json={"parts": [{"modality": "image", "data": _b64(b"not an image")}]}
            ),
            422,
            "body.parts[0]",
        ),
        (
            "a caption with no known word",
            client.post(SEARCH, json={"parts": [{"modality": "caption", "text": "zzz qqq"}]}),
            422,
            "body.parts[0]",
        ),
        (
            "a float in an equality filter",
            client.post(SEARCH, json={"parts": caption, "filter": {"equals": {"width": 1.5}}}),
            422,
            "body.filter.equals.width",
        ),
        ("empty query", client.post(SEARCH, json={"parts": [], "like": []}), 422, "body.parts"),
        (
            "bad base64",
            client.post(SEARCH, json={"parts": [{"modality": "sketch", "data": "***"}]}),
            422,
            "body.parts[0].data",
        ),
        (
            "form parameter",
            client.post(UPLOAD, data={"caption": "a cube", "params": '{"k": -1}'}),
            422,
            "body.params.k",
        ),
        (
            "form part the model cannot read",
            client.post(UPLOAD, files={"image": ("x.png", b"not an image", "image/png")}),
            422,
            "body.image",
        ),
        (
            "upload metadata",
            client.post(
                f"{base}/items",
                files={"files": ("a.png", png_bytes(served.scenes[1].rgb), "image/png")},
                data={"metadata": "[nope"},
            ),
            422,
            "body.metadata",
        ),
        (
            "not a model",
            client.post(f"{base}/reindex", json={"model": "/no/such/model"}),
            422,
            "body.model",
        ),
        (
            "a URL source",
            client.post("/v1/jobs", json={"collection": COLLECTION, "source": "http://x/a.png"}),
            422,
            "body.source",
        ),
    ]


def test_every_4xx_names_its_field_where_the_request_gave_it(
    served: Served, served_with_keys: Served, tmp_path
) -> None:
    """docs/api.md's one scheme: ``path.``, ``query.``, ``header.`` or ``body.`` and the path in
    it, for every kind of 4xx; a batch's query under ``body.queries[i]``; none for a 405."""
    wrong = []
    for what, answer, status, field in _fields_of_every_4xx(served, served_with_keys, tmp_path):
        body = answer.json()
        if (answer.status_code, body.get("field")) != (status, field):
            wrong.append((what, answer.status_code, body.get("field"), body.get("detail")))
    assert not wrong, "\n".join(map(str, wrong))
    batch = served.client.post(
        f"{SEARCH}/batch",
        json={"queries": [{"parts": [{"modality": "sketch", "data": "***"}]}]},
    ).json()["results"][0]
    assert batch["error"]["field"] == "body.queries[0].parts[0].data"
    method = served.client.put(SEARCH)
    assert method.status_code == 405 and "field" not in method.json()


def test_a_batch_with_a_zero_weight_is_refused_whole(served: Served) -> None:
    """The document declares no weight is 0, so a batch holding one is an invalid body: 422 for
    the request, as for one search, not 200 with a refused entry (issue 71, item 9)."""
    good = {"parts": [{"modality": "caption", "text": "a cube"}]}
    zero = {"parts": [{"modality": "caption", "text": "a cube", "weight": 0}]}
    body = _assert_problem(
        served.client.post(f"{SEARCH}/batch", json={"queries": [good, zero]}), 422, "weight of 0"
    )
    assert body["field"] == "body.queries[1].parts[0].weight", body
