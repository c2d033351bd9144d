"""A photo's own facts from its EXIF: read as cameras write them, bad ones left empty with the
reason (never failing the image), indexed as fields that filter (date, GPS box), list by date
taken on SQLite and PostgreSQL, and show in export; the user's own fields win."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from exif_photos import PARIS, exif_jpeg, write_library

from anyseek.db.migrate import open_database
from indexer import run_index
from indexer.exif import NO_FACTS, read_photo_facts


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
    from indexer.exif import list_items

    settings, report, logged = library
    assert (report.done, report.failed) == (5, 0)  # bad and corrupt EXIF fail no image
    assert any("bad.jpg: EXIF taken left empty" in m for m in logged), logged
    assert any("corrupt.jpg: the EXIF block is unreadable" in m for m in logged), logged
    assert all(m.startswith(f"job {report.job_id}: ") for m in logged)
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
