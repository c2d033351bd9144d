"""A photo library's own facts from the shell: ``anyseek index`` reads EXIF (bad EXIF fails no
photo and is reported), ``--where`` filters on the date taken and a GPS box, ``anyseek
collections items --sort`` lists by date taken, ``anyseek export`` carries the facts."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from exif_photos import write_library

from anyseek.cli import main


def test_photo_facts_from_the_shell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for key in list(os.environ):
        if key.startswith("ANYSEEK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")
    write_library(tmp_path / "photos")
    assert main(["db", "upgrade"]) == 0
    with caplog.at_level(logging.INFO, logger="anyseek.indexer.exif"):
        assert main(["index", str(tmp_path / "photos"), "-c", "photos"]) == 0
    summary = capsys.readouterr().out
    assert "5 indexed, 0 failed" in summary  # bad EXIF fails no photo
    assert any("bad.jpg: EXIF taken left empty" in m for m in caplog.messages)  # the job's log
    bad = str(tmp_path / "photos" / "bad.jpg")
    said = [  # and where the person indexing sees it: each value left out, with why
        f"noted: {bad}: EXIF taken left empty: date '2024:13:45 10:00:00' is not a date",
        "EXIF gps_lat left empty: 200.0 degrees is outside -90..90",
        "EXIF orientation left empty: 9 is not an orientation 1-8",
        f"noted: {tmp_path / 'photos' / 'corrupt.jpg'}: the EXIF block is unreadable",
    ]
    assert all(line in summary for line in said), summary
    assert main(["jobs", "show", "1", "--all"]) == 0
    shown = capsys.readouterr().out
    assert all(line in shown for line in said), shown
    assert sum(line.startswith("noted: ") for line in shown.splitlines()) == 2  # no other photo

    def found(*where: str) -> list[str]:
        args = [a for w in where for a in ("--where", w)]
        code = main(["search", "-c", "photos", "--caption", "a photo", "--local", "--json", *args])
        out = capsys.readouterr()
        assert code == 0, out.err
        return sorted(Path(h["payload"]["path"]).name for h in json.loads(out.out)["hits"])

    assert found("taken>=2024-06-01") == ["paris.jpg"]
    assert found("taken<=2024-01-01") == ["sydney.jpg"]
    assert found("gps_lat>=-40", "gps_lat<=-30", "gps_lon>=140", "gps_lon<=160") == ["sydney.jpg"]
    assert found("camera_make=Nikon") == ["bad.jpg"]  # its good facts are kept

    assert main(["collections", "items", "photos", "--sort", "-taken", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in rows][:2] == ["paris.jpg", "sydney.jpg"]
    assert rows[0]["metadata"]["taken_offset"] == "+02:00"
    assert main(["collections", "items", "photos", "--sort", "taken"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "sydney.jpg" in table[1] and "2023-01-02T09:00:00Z" in table[1], table
    assert main(["collections", "items", "photos", "--sort", "size"]) != 0
    assert "--sort" in capsys.readouterr().err

    out = tmp_path / "photos.jsonl"
    assert main(["export", "photos", "--out", str(out)]) == 0
    records = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["paris.jpg"]["metadata"]["camera_model"] == "EOS R6"
    assert records["plain.png"]["metadata"] == {}  # no EXIF: no facts; its file time is mtime
    assert records["plain.png"]["payload"]["mtime"] > 0
