"""Metadata over HTTP: upload with metadata, PATCH (merge, null removes), the field list, filters
by field name, and the 400 for a field the collection does not have."""

from __future__ import annotations

import json
from pathlib import Path

from api_helpers import COLLECTION, Served, png_bytes
from exif_photos import PARIS, SYDNEY, exif_jpeg

URL = f"/v1/collections/{COLLECTION}"


def _search(served: Served, filter: dict) -> list[int]:
    body = {"parts": [{"modality": "caption", "text": "a red cube"}], "k": 50, "filter": filter}
    response = served.client.post(f"{URL}/search", json=body)
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["hits"]]


def test_patch_upload_fields_and_filters(served: Served) -> None:
    first, second = served.ids[0], served.ids[1]
    patched = served.client.patch(
        f"{URL}/items/{first}", json={"metadata": {"price": 5, "tags": ["red"], "note": "x"}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"] == {"price": 5, "tags": ["red"], "note": "x"}
    assert patched.json()["payload"]["metadata"] == patched.json()["metadata"]
    served.client.patch(f"{URL}/items/{second}", json={"metadata": {"price": 50}})
    assert _search(served, {"ranges": {"price": {"lte": 20}}}) == [first]
    assert _search(served, {"any_of": {"tags": ["red", "blue"]}}) == [first]
    assert sorted(_search(served, {"exists": ["price"]})) == sorted([first, second])

    removed = served.client.patch(f"{URL}/items/{first}", json={"metadata": {"note": None}})
    assert removed.json()["metadata"] == {"price": 5, "tags": ["red"]}
    assert _search(served, {"exists": ["note"]}) == []

    upload = served.client.post(
        f"{URL}/items",
        params={"wait": "true"},
        files=[("files", ("new.png", png_bytes(served.scenes[0].rgb[::-1].copy()), "image/png"))],
        data={"metadata": json.dumps({"price": 7, "taken": "2024-03-05"})},
    )
    assert upload.status_code == 202 and upload.json()["done"] == 1, upload.text
    march = _search(served, {"ranges": {"taken": {"gte": "2024-03-01", "lte": "2024-03-31"}}})
    assert len(march) == 1
    item = served.client.get(f"{URL}/items/{march[0]}").json()
    assert item["metadata"] == {"price": 7, "taken": "2024-03-05T00:00:00Z"}

    fields = {f["name"]: f for f in served.client.get(f"{URL}/fields").json()["fields"]}
    assert fields["price"] == {"name": "price", "kind": "number", "source": "metadata"}
    assert fields["taken"]["kind"] == "date" and fields["path"]["source"] == "system"


def test_unknown_fields_and_bad_metadata_are_clear_errors(served: Served) -> None:
    body = {"parts": [{"modality": "caption", "text": "a cube"}], "filter": {"equals": {"c": 1}}}
    unknown = served.client.post(f"{URL}/search", json=body)
    assert unknown.status_code == 400
    assert "'c'" in unknown.json()["detail"] and "path" in unknown.json()["detail"]
    item = served.ids[2]
    for metadata, fragment in (
        ({"width": 3}, "recorded by the indexer"),
        ({"bad name": 1}, "letters, digits"),
        ({"x": {"nested": 1}}, "values are strings"),
    ):
        response = served.client.patch(f"{URL}/items/{item}", json={"metadata": metadata})
        assert response.status_code == 422 and fragment in response.json()["detail"]
    assert served.client.patch(f"{URL}/items/999999", json={"metadata": {}}).status_code == 404
    bad = served.client.post(
        f"{URL}/items",
        files=[("files", ("a.png", png_bytes(served.scenes[1].rgb), "image/png"))],
        data={"metadata": "[{}, {}]"},
    )
    assert bad.status_code == 422 and "2 objects for 1 files" in bad.json()["detail"]


def test_photo_facts_from_exif_filter_and_sort(served: Served) -> None:
    photos = {
        "paris.jpg": exif_jpeg(taken="2024:06:15 14:30:00", offset="+02:00", model="EOS R6",
                               gps=PARIS),
        "sydney.jpg": exif_jpeg(taken="2023:01:02 09:00:00", gps=SYDNEY, colour=(20, 90, 200)),
        "bad.jpg": exif_jpeg(taken="2024:13:45 10:00:00", colour=(20, 200, 90)),
    }  # fmt: skip
    upload = served.client.post(
        f"{URL}/items",
        params={"wait": "true"},
        files=[("files", (name, data, "image/jpeg")) for name, data in photos.items()],
    )
    assert upload.status_code == 202 and upload.json()["done"] == 3, upload.text
    assert upload.json()["failed"] == 0
    box = {"ranges": {"gps_lat": {"gte": 40, "lte": 55}, "gps_lon": {"gte": -5, "lte": 10}}}
    (paris,) = _search(served, box)
    item = served.client.get(f"{URL}/items/{paris}").json()
    assert item["payload"]["metadata"]["camera_model"] == "EOS R6"
    assert item["metadata"]["taken"] == "2024-06-15T12:30:00Z"
    assert _search(served, {"ranges": {"taken": {"gte": "2024-06-01"}}}) == [paris]

    def listed(sort: str) -> list[str]:
        response = served.client.get(f"{URL}/items", params={"sort": sort, "limit": 200})
        assert response.status_code == 200, response.text
        names = [Path(i["source_uri"]).name for i in response.json()["items"]]
        return [n for n in names if n in photos]

    assert listed("-taken") == ["paris.jpg", "sydney.jpg", "bad.jpg"]  # no date: last
    assert listed("taken") == ["sydney.jpg", "paris.jpg", "bad.jpg"]
    assert served.client.get(f"{URL}/items", params={"sort": "size"}).status_code == 422
