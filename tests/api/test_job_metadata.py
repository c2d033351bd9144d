"""A metadata file with an index job over the API (issue #39 item 5), seen by a client of a real
``anyseek serve``: ``POST /v1/jobs`` takes the path of a CSV/JSON-lines file inside the allowed
roots, the upload route a ``metadata_file`` part; both read it as ``anyseek index --metadata``
does, so a bad row is refused with the CLI's own ``FILE:LINE: why`` before any job is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import png_bytes
from live_server import HTTP, Live, serve_scenes

from anyseek.indexer.errors import SourceError
from anyseek.indexer.metadata import read_metadata_file
from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample, generate_scene

SHEET = 'path,price,sold,tags\nphoto1.png,12.5,true,"[""red"",""big""]"\nsub/photo2.png,40,false,\n'
BAD_ROWS = '{"path": "photo1.png", "price": 1}\n{"path": "sub/photo2.png", "box": {"x": 1}}\n'


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, search_model: SearchModel, scenes: list[SceneSample]
) -> Iterator[Live]:
    yield from serve_scenes(tmp_path_factory.mktemp("job-metadata"), search_model, scenes[:2])


def _photos(folder: Path) -> Path:
    """Two new scenes as photo1.png and sub/photo2.png."""
    (folder / "sub").mkdir(parents=True)
    (folder / "photo1.png").write_bytes(png_bytes(generate_scene(7001, 64).rgb))
    (folder / "sub" / "photo2.png").write_bytes(png_bytes(generate_scene(7002, 64).rgb))
    return folder


def _metadata_by_name(live: Live) -> dict[str, dict]:
    """Each item's metadata by its file name."""
    items = HTTP.get(f"{live.url}/v1/collections/scenes/items", params={"limit": 100}).json()
    return {Path(i["source_uri"]).name: i["metadata"] for i in items["items"]}


def _jobs(live: Live) -> int:
    """How many jobs the server has."""
    return len(HTTP.get(f"{live.url}/v1/jobs", params={"limit": 1000}).json()["jobs"])


def _cli_error(path: Path) -> str:
    """What ``anyseek index --metadata PATH`` says of the file."""
    with pytest.raises(SourceError) as refused:
        read_metadata_file(path)
    return str(refused.value)


def test_a_job_takes_a_metadata_file_inside_the_allowed_roots(live: Live, tmp_path: Path) -> None:
    photos = _photos(live.allowed / "photos")
    sheet = live.allowed / "meta.csv"
    sheet.write_text(SHEET + "photo3.png,1,true,\n")  # names no image: reported on the job
    body = {"collection": "scenes", "source": str(photos), "metadata": str(sheet)}
    done = HTTP.post(f"{live.url}/v1/jobs", params={"wait": "true"}, json=body)
    assert done.status_code == 202, done.text
    assert (done.json()["status"], done.json()["done"]) == ("succeeded", 2), done.json()
    assert done.json()["metadata_unmatched"] == 1
    assert done.json()["unmatched_rows"] == [f"{sheet}:4 (photo3.png)"]
    found = _metadata_by_name(live)
    assert found["photo1.png"] == {"price": 12.5, "sold": True, "tags": ["red", "big"]}
    assert found["photo2.png"] == {"price": 40, "sold": False}


def test_a_bad_row_or_a_file_outside_the_roots_is_refused_before_any_job(
    live: Live, tmp_path: Path
) -> None:
    photos = str(live.allowed / "photos")
    bad = live.allowed / "bad.jsonl"
    bad.write_text(BAD_ROWS)
    outside = tmp_path / "meta.csv"
    outside.write_text(SHEET)
    before = _jobs(live)
    for path, status, says in (
        (bad, 422, _cli_error(bad)),
        (outside, 403, "outside the allowed roots"),
    ):
        body = {"collection": "scenes", "source": photos, "metadata": str(path)}
        refused = HTTP.post(f"{live.url}/v1/jobs", json=body)
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["field"] == "body.metadata" and says in refused.json()["detail"]
    assert "bad.jsonl:2: " in _cli_error(bad)
    assert _jobs(live) == before


def test_an_upload_takes_a_metadata_file_part(live: Live, tmp_path: Path) -> None:
    files = [
        ("files", (f"up{i}.png", png_bytes(generate_scene(7100 + i, 64).rgb), "image/png"))
        for i in (1, 2)
    ]
    sheet = "path,price\nup1.png,3\nup2.png,4.5\n"
    url = f"{live.url}/v1/collections/scenes/items"
    done = HTTP.post(
        url,
        params={"wait": "true"},
        files=[*files, ("metadata_file", ("meta.csv", sheet.encode(), "text/csv"))],
        data={"metadata": '{"sold": true}'},
    )
    assert done.status_code == 202, done.text
    assert done.json()["done"] == 2, done.json()
    found = _metadata_by_name(live)
    assert found["up1.png"] == {"price": 3, "sold": True}
    assert found["up2.png"] == {"price": 4.5, "sold": True}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(BAD_ROWS)
    before = _jobs(live)
    refused = HTTP.post(
        url, files=[*files, ("metadata_file", ("bad.jsonl", bad.read_bytes(), "text/plain"))]
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["field"] == "body.metadata_file"
    assert problem["detail"] == _cli_error(bad).replace(str(bad), "bad.jsonl")
    assert _jobs(live) == before
