"""A photo's own facts from its EXIF: read as cameras write them, bad ones left empty with the
reason (never failing the image), indexed as fields that filter (date, GPS box), list by date
taken on SQLite and PostgreSQL, and show in export; the user's own fields win."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from exif_photos import PARIS, exif_jpeg, write_library
from PIL import Image, ImageDraw

from anyseek.db.migrate import open_database
from anyseek.indexer import run_index
from anyseek.indexer.exif import NO_FACTS, read_photo_facts
from anyseek.indexer.records import SourceForm


def test_facts_as_a_camera_writes_them() -> None:
    facts = read_photo_facts(
        exif_jpeg(
            taken="2024:06:15 14:30:00", offset="+02:00", make="Canon\x00", model=" EOS R6 ",
            lens="RF24-105mm", gps=PARIS, orientation=6,
        )
    )  # fmt: skip
    assert facts.problems == ()
    assert facts.fields == {
        "taken": "2024-06-15T12:30:00Z",  # 14:30 at +02:00, in UTC
        "taken_offset": "+02:00",
        "camera_make": "Canon",
        "camera_model": "EOS R6",
        "lens": "RF24-105mm",
        "gps_lat": 48.8582222,
        "gps_lon": 2.2945,
        "orientation": 6,
    }
    south = read_photo_facts(exif_jpeg(gps=("S", (33.0, 30.0, 0.0), "W", (70.0, 15.0, 0.0))))
    assert (south.fields["gps_lat"], south.fields["gps_lon"]) == (-33.5, -70.25)
    no_offset = read_photo_facts(exif_jpeg(taken="2023:01:02 09:00:00", offset="local"))
    assert no_offset.fields == {"taken": "2023-01-02T09:00:00Z"}  # as the camera's clock said


@pytest.mark.parametrize(
    ("given", "empty", "said"),
    [
        ({"taken": "2024:13:45 10:00:00"}, "taken", "is not a date"),
        ({"taken": "1700:01:01 00:00:00"}, "taken", "before the first photograph"),
        ({"taken": "2999:01:01 00:00:00"}, "taken", "in the future"),
        ({"taken": "yesterday"}, "taken", "is not YYYY:MM:DD"),
        ({"orientation": 9}, "orientation", "not an orientation 1-8"),
        ({"gps": ("N", (200.0, 0.0, 0.0), "E", (2.0, 0.0, 0.0))}, "gps", "outside -90..90"),
        ({"gps": ("Q", (10.0, 0.0, 0.0), "E", (2.0, 0.0, 0.0))}, "gps", "none of N, S"),
    ],
)
def test_bad_exif_leaves_its_field_empty_and_says_why(given, empty, said) -> None:
    facts = read_photo_facts(exif_jpeg(make="Nikon", **given))
    assert facts.fields.get("camera_make") == "Nikon"  # the good facts stay
    assert not any(name.startswith(empty) for name in facts.fields)
    assert said in facts.problems[0], facts.problems  # (a lone coordinate is dropped too)


def test_no_exif_and_corrupt_exif(tmp_path: Path) -> None:
    photos = write_library(tmp_path)
    assert read_photo_facts(photos["plain.png"]) == NO_FACTS
    corrupt = read_photo_facts(photos["corrupt.jpg"])
    assert corrupt.fields == {} and "unreadable" in corrupt.problems[0]
    assert "unreadable" in read_photo_facts(b"\xff\xd8 not an image").problems[0]


@pytest.fixture
def library(paired_settings, search_model, tmp_path: Path, caplog):
    """The photo library indexed (the PNG with a sidecar giving its own ``taken``)."""
    folder = tmp_path / "photos"
    write_library(folder)
    (folder / "paris.jpg.json").write_text(json.dumps({"lens": "my own words"}))
    with caplog.at_level(logging.INFO, logger="anyseek.indexer.exif"):
        report = run_index(paired_settings, "photos", folder, model=search_model)
    return paired_settings, report, caplog.messages


def test_indexing_keeps_every_photo_with_its_facts(library) -> None:
    from anyseek.indexer.exif import list_items

    settings, report, logged = library
    assert (report.done, report.failed) == (5, 0)  # bad and corrupt EXIF fail no image
    assert any("bad.jpg: EXIF taken left empty" in m for m in logged), logged
    assert any("corrupt.jpg: the EXIF block is unreadable" in m for m in logged), logged
    assert all(m.startswith(f"job {report.job_id}: ") for m in logged)
    notes = {Path(uri).name: note for uri, note in report.notes}  # on the job, not only the log
    assert sorted(notes) == ["bad.jpg", "corrupt.jpg"]
    assert "EXIF taken left empty" in notes["bad.jpg"] and "EXIF gps" in notes["bad.jpg"]
    assert notes["corrupt.jpg"].startswith("the EXIF block is unreadable")
    database = open_database(settings)
    try:
        with database.session() as session:
            newest = list_items(session, "photos", "-taken", 0, 10)
            oldest = list_items(session, "photos", "taken", 0, 10)
            by_id = list_items(session, "photos", "id", 0, 10)
    finally:
        database.dispose()
    names = [Path(r["path"]).name for r in newest]
    assert names[:2] == ["paris.jpg", "sydney.jpg"]  # newest first; no date: after, by id
    assert [Path(r["path"]).name for r in oldest][:2] == ["sydney.jpg", "paris.jpg"]
    assert sorted(names[2:], key=names.index) == [
        Path(r["path"]).name for r in by_id if Path(r["path"]).name in names[2:]
    ]
    paris = newest[0]["metadata"]
    assert paris["lens"] == "my own words"  # the user's field wins over the EXIF one
    assert paris["camera_model"] == "EOS R6" and paris["taken"] == "2024-06-15T12:30:00Z"


def _metadata_by_path(settings, collection: str) -> dict[str, dict]:
    """Each item's metadata by its path's last part (a file's name; a record's ``FILE:LINE``)."""
    from anyseek.indexer.exif import list_items

    database = open_database(settings)
    try:
        with database.session() as session:
            rows = list_items(session, collection, "id", 0, 50)
    finally:
        database.dispose()
    return {Path(r["path"]).name: r["metadata"] for r in rows}


def _drawn_with_exif(photo: bytes) -> bytes:
    """A line drawing saved as a JPEG carrying the EXIF block of ``photo``."""
    drawing = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(drawing).line([(8, 8), (56, 56), (8, 56)], fill="black", width=3)
    out = io.BytesIO()
    drawing.save(out, "JPEG", exif=Image.open(io.BytesIO(photo)).getexif(), quality=95)
    return out.getvalue()


def test_a_records_photo_gets_the_facts_a_plain_photo_gets(
    ready_settings, search_model, tmp_path: Path, caplog
) -> None:
    """A manifest record's ``rgb`` part is read for EXIF as the same photo indexed alone is (the
    record's own columns win, damaged EXIF is a note naming the record); a part of another
    modality holding EXIF (a sketch saved as a camera JPEG) gives none."""
    photos = write_library(tmp_path / "photos")
    run_index(ready_settings, "plain", tmp_path / "photos", model=search_model)
    alone = _metadata_by_path(ready_settings, "plain")
    assert alone["paris.jpg"]["taken"] == "2024-06-15T12:30:00Z"
    (tmp_path / "photos" / "sketch.jpg").write_bytes(_drawn_with_exif(photos["sydney.jpg"]))
    records = [
        {"key": "paris", "rgb": "paris.jpg", "caption": "a red square"},
        {"key": "sydney", "rgb": "sydney.jpg", "lens": "my own words"},
        {"key": "corrupt", "rgb": "corrupt.jpg"},
        {"key": "drawn", "sketch": "sketch.jpg"},
    ]
    manifest = tmp_path / "photos" / "records.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    with caplog.at_level(logging.INFO, logger="anyseek.indexer.exif"):
        report = run_index(
            ready_settings, "records", manifest, model=search_model, form=SourceForm(manifest=True)
        )
    assert (report.done, report.failed) == (4, 0), report.failures
    by_line = _metadata_by_path(ready_settings, "records")  # a record's path: FILE:LINE
    found = {r["key"]: by_line[f"{manifest.name}:{i}"] for i, r in enumerate(records, 1)}
    assert found["paris"] == alone["paris.jpg"]
    assert found["sydney"] == {**alone["sydney.jpg"], "lens": "my own words"}
    assert found["corrupt"] == alone["corrupt.jpg"]
    assert found["drawn"] == {}
    said = f"job {report.job_id}: {manifest}:3: the EXIF block is unreadable"  # the record
    assert any(m.startswith(said) for m in caplog.messages), caplog.messages
