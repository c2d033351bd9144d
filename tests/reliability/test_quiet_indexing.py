"""``anyseek index`` over the hostile corpus (bench/reliability.py), as a real process, prints the
job's summary and nothing else: a photo's damaged EXIF is the item's logged note, not a warning on
the console, and a float image holding NaN or infinity is refused with its reason, never indexed
as the garbage a cast to 8 bits makes of it."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest
from server_process import process_env, run_cli

from bench.reliability import hostile_corpus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
BAR = re.compile(r"indexing \w+:[^\r\n]*")  # tqdm's progress bar, redrawn on stderr


def test_indexing_the_hostile_corpus_prints_only_the_summary(tmp_path: Path) -> None:
    kinds = hostile_corpus(tmp_path / "corpus")
    assert {"corrupt EXIF", "EXIF tag past its end", "float TIFF holding NaN"} <= set(kinds)
    env = process_env(tmp_path / "data", ANYSEEK_INDEXER__FILE_TIMEOUT_S="30")
    done = run_cli(env, "index", str(tmp_path / "corpus"), "--collection", "h", timeout=280)
    assert done.returncode == 2, done.stdout + done.stderr  # partial: failures beside the rest
    left = BAR.sub("", done.stderr).strip()
    assert not left, f"printed besides the bar:\n{left}"
    summary = done.stdout.splitlines()
    assert summary[0].startswith("job 1 partial: "), done.stdout
    assert not any("warning" in line.lower() for line in summary), done.stdout
    with sqlite3.connect(tmp_path / "data" / "anyseek.db") as db:  # every reason on the job
        listed = dict(
            db.execute("SELECT source_uri, reason FROM index_job_failures WHERE NOT noted")
        )
    refused = sorted(Path(uri).name for uri, why in listed.items() if "NaN or infinite" in why)
    assert refused == ["NaN.tif", "infinity.tif"], listed
    assert not any("exif_" in uri for uri in listed), "damaged EXIF is decoded all the same"


def test_damaged_exif_is_the_items_logged_note(ready_settings, search_model, tmp_path, caplog):
    from anyseek.indexer import run_index
    from bench.reliability import _with_exif, generate

    folder = tmp_path / "photos"
    folder.mkdir()
    garbage = b"MM\x00*" + b"\xff" * 20
    for n in range(2):  # twice the same warning: each item gets its note, not only the first
        (folder / f"bad{n}.jpg").write_bytes(_with_exif(generate(40 + n), garbage))
    with caplog.at_level(logging.INFO, logger="anyseek.indexer.notes"):
        found = run_index(ready_settings, "notes", folder, model=search_model)
    assert (found.done, found.failed) == (2, 0)
    notes = sorted(r.getMessage() for r in caplog.records if r.name == "anyseek.indexer.notes")
    assert len(notes) == 2 and all("Corrupt EXIF data" in note for note in notes), notes
    assert [Path(note.split(": ")[0]).name for note in notes] == ["bad0.jpg", "bad1.jpg"]
    on_job = {Path(uri).name: note for uri, note in found.notes}  # and on the job, shown to all
    assert sorted(on_job) == ["bad0.jpg", "bad1.jpg"], found.notes
    assert all("Corrupt EXIF data" in note for note in on_job.values()), on_job
