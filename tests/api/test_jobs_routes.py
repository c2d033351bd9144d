"""Uploads and index jobs over HTTP: indexed in-process by the real indexer with the loaded
model, then found by search; server-side sources only under the allowed roots."""

from __future__ import annotations

import pytest
from api_helpers import Served, png_bytes
from PIL import Image


def _upload(served: Served, collection: str, scenes, **params) -> dict:
    files = [("files", (f"s{s.seed}.png", png_bytes(s.rgb), "image/png")) for s in scenes]
    response = served.client.post(
        f"/v1/collections/{collection}/items", files=files, params={"wait": True, **params}
    )
    assert response.status_code == 202, response.text
    return response.json()


def test_uploaded_images_are_indexed_and_found(served: Served) -> None:
    scenes = served.scenes[:5]
    job = _upload(served, "uploads", scenes)
    assert job["status"] == "succeeded", job
    assert (job["total"], job["done"], job["failed"]) == (5, 5, 0)
    client = served.client
    listed = client.get("/v1/collections/uploads/items")
    assert listed.status_code == 200, listed.text
    items = listed.json()
    assert items["total"] == 5 and all(i["status"] == "indexed" for i in items["items"])
    by_name = {i["payload"]["path"]: i["id"] for i in items["items"]}
    query = {"image": ("q.png", png_bytes(scenes[2].rgb), "image/png")}
    hits = client.post("/v1/collections/uploads/search/upload", files=query).json()["hits"]
    assert hits[0]["id"] == by_name[f"s{scenes[2].seed}.png"]
    thumb = client.get(f"/v1/collections/uploads/items/{hits[0]['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    image = client.get(f"/v1/collections/uploads/items/{hits[0]['id']}/image")
    assert image.status_code == 200 and image.content == png_bytes(scenes[2].rgb)
    again = _upload(served, "uploads", scenes[:2])  # same bytes: skipped, not duplicated
    assert (again["done"], again["skipped"]) == (0, 2)
    assert (again["already_indexed"], again["skips"]) == (2, [])  # counted, no row each
    assert client.get("/v1/collections/uploads").json()["items"] == 5


def test_a_bad_file_fails_alone(served: Served) -> None:
    files = [
        ("files", ("ok.png", png_bytes(served.scenes[6].rgb), "image/png")),
        ("files", ("notes.txt", b"not an image", "text/plain")),
    ]
    job = served.client.post("/v1/collections/mixed/items", files=files, params={"wait": True})
    body = job.json()
    assert body["done"] == 1 and body["failed"] == 1
    assert "notes.txt" in body["failures"][0]["source"]
    assert body["status"] == "partial", body  # one rule: failures beside indexed items
    assert served.client.get(f"/v1/jobs/{body['id']}").json()["status"] == "partial"


def test_a_job_whose_every_file_failed_is_failed(served: Served) -> None:
    files = [("files", (f"n{i}.txt", b"not an image %d" % i, "text/plain")) for i in range(2)]
    job = served.client.post("/v1/collections/allbad/items", files=files, params={"wait": True})
    body = served.client.get(f"/v1/jobs/{job.json()['id']}").json()
    assert (body["status"], body["done"], body["failed"]) == ("failed", 0, 2), body


def test_jobs_status_list_and_cancel(served: Served) -> None:
    job = _upload(served, "jobs", served.scenes[8:10])
    client = served.client
    got = client.get(f"/v1/jobs/{job['id']}").json()
    assert got == job
    listed = client.get("/v1/jobs", params={"collection": "jobs"}).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    finished = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert finished.status_code == 409 and "already succeeded" in finished.json()["detail"]
    assert client.get("/v1/jobs/999999").status_code == 404


def test_server_side_sources_only_under_the_allowed_roots(served: Served, tmp_path) -> None:
    root = served.settings.data_dir / "allowed" / "photos"
    root.mkdir(parents=True)
    for scene in served.scenes[10:13]:
        Image.fromarray(scene.rgb).save(root / f"{scene.seed}.png")
    client = served.client
    made = client.post(
        "/v1/jobs", json={"collection": "folder", "source": str(root)}, params={"wait": True}
    )
    assert made.status_code == 202, made.text
    assert made.json()["done"] == 3 and made.json()["status"] == "succeeded"
    outside = client.post("/v1/jobs", json={"collection": "folder", "source": str(tmp_path)})
    assert outside.status_code == 403 and "outside the allowed roots" in outside.json()["detail"]
    assert outside.json()["field"] == "body.source"
    missing = client.post("/v1/jobs", json={"collection": "folder", "source": str(root / "no")})
    assert missing.status_code == 404 and missing.json()["field"] == "body.source", missing.text
    url = client.post("/v1/jobs", json={"collection": "folder", "source": "http://x/a.png"})
    assert url.status_code == 422 and url.json()["field"] == "body.source"


@pytest.mark.parametrize(
    ("source", "status"), [("", 422), ("/definitely/not/here", 403), ("/tmp/a\x00b", 422)]
)
def test_bad_sources_are_4xx(served: Served, source: str, status: int) -> None:
    response = served.client.post("/v1/jobs", json={"collection": "folder", "source": source})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def _write_failed_jobs(served: Served, collection: str, failures: list[int]) -> list[int]:
    """Jobs written straight to the database, ended as failed with that many failed items each."""
    from anyseek.db.models import JobFailure, JobStatus
    from anyseek.indexer.jobs import create_job
    from anyseek.indexer.sources import SourceRef

    ids = []
    with served.database.session() as session:
        for n in failures:
            refs = [SourceRef(f"/gone/{i}.png", f"{i}.png") for i in range(max(n, 1))]
            job = create_job(session, collection, "/gone", refs, chunk_size=8)
            job.status, job.failed, job.error = JobStatus.FAILED, n, "test"
            session.add_all(
                JobFailure(job_id=job.id, source_uri=r.uri, reason=f"bad {i}")
                for i, r in enumerate(refs[:n])
            )
            ids.append(job.id)
    return ids


def _statements(served: Served, path: str, **params) -> tuple[int, dict]:
    """SQL statements the database ran to answer one GET, and the answer."""
    from sqlalchemy import event

    count = 0

    def counted(*_args) -> None:
        nonlocal count
        count += 1

    engine = served.database.engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        response = served.client.get(path, params=params)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert response.status_code == 200, response.text
    return count, response.json()


def test_listing_jobs_takes_as_many_queries_for_twenty_jobs_as_for_one(served: Served) -> None:
    ids = _write_failed_jobs(served, "many", [25, 1] + [0] * 18)
    one, _ = _statements(served, "/v1/jobs", collection="many", limit=1)
    twenty, listed = _statements(served, "/v1/jobs", collection="many", limit=20)
    assert one == twenty, (one, twenty)
    jobs = {job["id"]: job for job in listed["jobs"]}
    assert sorted(jobs) == sorted(ids)
    assert len(jobs[ids[0]]["failures"]) == 20  # a listing shows the first 20 reasons
    assert jobs[ids[0]]["failures"][0] == {"source": "/gone/0.png", "reason": "bad 0"}
    assert [f["reason"] for f in jobs[ids[1]]["failures"]] == ["bad 0"]
    assert all(job["collection"] == "many" for job in jobs.values())
    whole = served.client.get(f"/v1/jobs/{ids[0]}").json()
    assert len(whole["failures"]) == 25  # its own page: every reason


def test_an_exif_value_left_out_is_the_items_note_on_its_job(served: Served) -> None:
    from exif_photos import exif_jpeg

    bad = exif_jpeg(taken="2024:13:45 10:00:00", make="Nikon", colour=(10, 120, 200))
    good = exif_jpeg(taken="2024:06:15 14:30:00", make="Canon", colour=(120, 10, 200))
    files = [("files", ("bad.jpg", bad, "image/jpeg")), ("files", ("good.jpg", good, "image/jpeg"))]
    job = served.client.post("/v1/collections/noted/items", files=files, params={"wait": True})
    assert job.status_code == 202, job.text
    got = served.client.get(f"/v1/jobs/{job.json()['id']}").json()
    assert (got["done"], got["failed"]) == (2, 0)  # indexed all the same, with a note
    assert [n["source"].rsplit("/", 1)[-1] for n in got["notes"]] == ["bad.jpg"]
    assert (
        "EXIF taken left empty: date '2024:13:45 10:00:00' is not a date"
        in (got["notes"][0]["reason"])
    )
