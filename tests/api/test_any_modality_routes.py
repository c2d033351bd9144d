"""Items of any modality over HTTP (issue 51): uploads of depth maps and of JSON lines of
captions, a manifest of records, and POST /v1/jobs with a modality; hits name key and
modalities, the model says what an item may hold, and bad input is a 422 naming the field."""

from __future__ import annotations

import json

from api_helpers import Served, png_bytes

from anyseek.scenes.modalities import MODALITIES

ENCODE = {m.name: m.encode for m in MODALITIES}


def _depth_png(scene) -> bytes:
    return png_bytes(ENCODE["depth"](scene))


def _post(served: Served, collection: str, files, data=None) -> dict:
    response = served.client.post(
        f"/v1/collections/{collection}/items", files=files, data=data or {}, params={"wait": True}
    )
    assert response.status_code == 202, response.text
    return response.json()


def test_uploaded_depth_maps_are_found_by_caption(served: Served) -> None:
    scenes = served.scenes[0:5]
    files = [("files", (f"d{s.seed}.png", _depth_png(s), "image/png")) for s in scenes]
    job = _post(served, "depth-up", files, {"modality": "depth"})
    assert (job["status"], job["done"]) == ("succeeded", 5), job
    found = served.client.post(
        "/v1/collections/depth-up/search",
        json={"parts": [{"modality": "caption", "text": scenes[3].captions[0]}]},
    )
    assert found.status_code == 200, found.text
    top = found.json()["hits"][0]["payload"]
    assert (top["key"], top["modalities"]) == (f"d{scenes[3].seed}.png", ["depth"])
    thumb = served.client.get(
        f"/v1/collections/depth-up/items/{found.json()['hits'][0]['id']}/thumbnail"
    )
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


def test_uploaded_captions_are_text_hits_for_a_photo(served: Served) -> None:
    scenes = served.scenes[5:10]
    lines = "\n".join(json.dumps({"text": s.captions[0], "key": f"c{s.seed}"}) for s in scenes)
    files = [("files", ("captions.jsonl", (lines + '\n{"text": ""}\n').encode(), "text/plain"))]
    job = _post(served, "caps-up", files, {"modality": "caption"})
    assert (job["done"], job["failed"]) == (5, 1), job
    assert "caption is empty" in job["failures"][0]["reason"]
    query = {"image": ("q.png", png_bytes(scenes[1].rgb), "image/png")}
    hits = served.client.post("/v1/collections/caps-up/search/upload", files=query).json()["hits"]
    assert hits[0]["payload"]["caption"] == scenes[1].captions[0]
    assert hits[0]["payload"]["modalities"] == ["caption"]


def test_a_manifest_upload_indexes_records_of_several_modalities(served: Served) -> None:
    scenes = served.scenes[10:14]
    files, rows = [], []
    for s in scenes:
        files.append(("files", (f"p{s.seed}.png", png_bytes(s.rgb), "image/png")))
        files.append(("files", (f"z{s.seed}.png", _depth_png(s), "image/png")))
        rows.append({"key": f"rec{s.seed}", "rgb": f"p{s.seed}.png", "depth": f"z{s.seed}.png"})
    manifest = "\n".join(json.dumps(r) for r in rows).encode()
    files.append(("manifest", ("records.jsonl", manifest, "application/jsonl")))
    job = _post(served, "rgbd-up", files)
    assert (job["done"], job["failed"]) == (4, 0), job
    sketch = {"sketch": ("s.png", png_bytes(ENCODE["sketch"](scenes[2])), "image/png")}
    hits = served.client.post("/v1/collections/rgbd-up/search/upload", files=sketch).json()["hits"]
    assert hits[0]["payload"]["key"] == f"rec{scenes[2].seed}"
    assert hits[0]["payload"]["modalities"] == ["depth", "rgb"]


def test_a_job_of_depth_maps_on_the_server_and_what_is_refused(served: Served) -> None:
    root = served.settings.data_dir / "allowed" / "depths"
    root.mkdir(parents=True)
    for s in served.scenes[14:17]:
        (root / f"{s.seed}.png").write_bytes(_depth_png(s))
    client = served.client
    made = client.post(
        "/v1/jobs",
        json={"collection": "depth-job", "source": str(root), "modality": "depth"},
        params={"wait": True},
    )
    assert made.status_code == 202, made.text
    assert made.json()["done"] == 3
    bad = client.post(
        "/v1/jobs", json={"collection": "depth-job", "source": str(root), "modality": "smell"}
    )
    assert bad.status_code == 422 and bad.json()["field"].endswith("modality")
    files = [("files", ("p.png", png_bytes(served.scenes[17].rgb), "image/png"))]
    refused = client.post(
        "/v1/collections/pal/items", files=files, data={"modality": "color_palette"}
    )
    assert refused.status_code == 422, refused.text
    assert "does not take color_palette" in refused.json()["detail"]
    assert refused.json()["field"] == "body.modality"
    info = client.get("/v1/model").json()
    assert set(info["item_modalities"]) >= {"rgb", "depth", "semseg", "sketch", "caption"}
    assert "color_palette" not in info["item_modalities"]


def test_what_is_said_of_an_uploaded_manifest_names_it_not_the_servers_disk(served: Served) -> None:
    data_dir = str(served.settings.data_dir)
    empty = [
        ("files", ("p.png", png_bytes(served.scenes[18].rgb), "image/png")),
        ("manifest", ("records.csv", b"key,rgb\n", "text/csv")),
    ]
    refused = served.client.post("/v1/collections/none-up/items", files=empty)
    assert refused.status_code in (400, 422), refused.text
    detail = refused.json()["detail"]
    assert "no items in records.csv" in detail, detail
    assert data_dir not in detail and "uploads" not in detail, detail
    rows = b"key,rgb\na,p.png\nb,\n"  # row 3 names no file: a failure of its own
    files = [
        ("files", ("p.png", png_bytes(served.scenes[18].rgb), "image/png")),
        ("manifest", ("records.csv", rows, "text/csv")),
    ]
    job = _post(served, "half-up", files)
    assert [f["source"] for f in job["failures"]] == ["records.csv:3"], job
    assert data_dir not in json.dumps(job), job
