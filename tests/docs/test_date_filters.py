"""docs/api.md's date filters, run as written: every row of its table through `anyseek search
--where` and through `POST .../search`'s `filter` (the page's filter rows send the same), and the
date range of its JSON example: a date without a time is the whole day it names."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from exif_photos import exif_jpeg
from fastapi.testclient import TestClient

from anyseek.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROW = re.compile(r"^\| `(?P<where>[^`]+)` \| `(?P<filter>\{.*\})` \| (?P<keeps>yes|no) \|$")
PHOTOS = {  # file -> EXIF DateTimeOriginal (no offset: stored as the camera's clock, as UTC)
    "noon.jpg": "2021:07:04 12:30:00",  # the table's photo
    "eve.jpg": "2021:07:03 23:59:59",
    "next.jpg": "2021:07:05 00:00:00",
    "march31.jpg": "2024:03:31 12:30:00",  # the JSON example's last day
    "april1.jpg": "2024:04:01 00:00:00",
}


def table_rows() -> list[tuple[str, dict, bool]]:
    """(--where, filter, keeps the noon photo) of every row of the doc's date table."""
    found = [ROW.match(line) for line in DOC.read_text().splitlines()]
    return [(m["where"], json.loads(m["filter"]), m["keeps"] == "yes") for m in found if m]


def test_the_doc_has_its_table() -> None:
    rows = table_rows()
    assert len(rows) >= 10 and {keeps for *_, keeps in rows} == {True, False}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The photos indexed into the collection ``photos`` of a new data directory."""
    root = tmp_path_factory.mktemp("dates")
    folder = root / "photos"
    folder.mkdir()
    for i, (name, taken) in enumerate(PHOTOS.items()):
        (folder / name).write_bytes(exif_jpeg(taken=taken, colour=(40 * i, 90, 200 - 30 * i)))
    with pytest.MonkeyPatch.context() as patch:
        _environment(patch, root / "data")
        assert main(["db", "upgrade"]) == 0
        assert main(["index", str(folder), "-c", "photos"]) == 0
    return root / "data"


def _environment(patch: pytest.MonkeyPatch, data: Path) -> None:
    """Only this test's ANYSEEK_* variables."""
    for key in [k for k in os.environ if k.startswith("ANYSEEK_")]:
        if key != "ANYSEEK_REQUIRE_SERVICES":
            patch.delenv(key)
    patch.setenv("ANYSEEK_DATA_DIR", str(data))
    patch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")


@pytest.fixture
def shell(library: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """`anyseek search --local --where ...` -> the names of the photos it finds."""
    _environment(monkeypatch, library)

    def found(where: str) -> set[str]:
        capsys.readouterr()
        args = ["search", "-c", "photos", "--caption", "a photo", "--local", "--json"]
        code = main([*args, "--where", where])
        out = capsys.readouterr()
        assert code == 0, out.err
        return {Path(h["payload"]["path"]).name for h in json.loads(out.out)["hits"]}

    return found


@pytest.fixture
def api(library: Path, monkeypatch: pytest.MonkeyPatch):
    """`POST /v1/collections/photos/search` with a filter -> the names of the photos found."""
    from anyseek.api.app import create_app
    from anyseek.settings import load_settings

    _environment(monkeypatch, library)
    with TestClient(create_app(load_settings())) as client:

        def found(condition: dict) -> set[str]:
            body = {"parts": [{"modality": "caption", "text": "a photo"}], "filter": condition}
            answer = client.post("/v1/collections/photos/search", json=body)
            assert answer.status_code == 200, answer.text
            return {Path(h["payload"]["path"]).name for h in answer.json()["hits"]}

        yield found


@pytest.mark.parametrize(("where", "condition", "keeps"), table_rows())
def test_each_documented_date_filter_keeps_what_the_doc_says(
    shell, api, where: str, condition: dict, keeps: bool
) -> None:
    for found in (shell(where), api(condition)):
        assert ("noon.jpg" in found) is keeps, (where, found)


def test_the_documented_request_keeps_the_last_day_of_its_range(api) -> None:
    example = re.search(r'"taken": (\{"gte": "[^"]+", "lte": "[^"]+"\})', DOC.read_text())
    assert example is not None, "docs/api.md's filter example lost its date range"
    bounds = json.loads(example[1])
    assert bounds["lte"] == "2024-03-31"  # a date without a time: the whole of the 31st
    assert api({"ranges": {"taken": bounds}}) == {"march31.jpg"}
