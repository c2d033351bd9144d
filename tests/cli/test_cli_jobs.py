"""``anyseek index`` and ``anyseek jobs show`` as real processes, on one folder indexed twice: a
job lists each failure and skip once, a re-run counts the images already there without a row
each, metadata rows naming no image are counted and pointed at, the bar moves by chunk, and a job
ends succeeded, partial or failed by one rule, in its state and its exit code."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from server_process import cli, process_env

from anyseek.scenes import generate_scene

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two images, a copy of one (a skip) and a file that is not an image (a failure), indexed
    with a metadata file whose rows 3 and 5 name no image, then indexed again; what each command
    printed, with the metadata file's path and the data directory."""
    tmp = tmp_path_factory.mktemp("jobs")
    root = tmp / "photos"
    root.mkdir()
    for seed, name in enumerate(("a.png", "b.png")):
        Image.fromarray(generate_scene(4_600 + seed, 64).rgb).save(root / name)
    (root / "copy.png").write_bytes((root / "a.png").read_bytes())
    (root / "broken.png").write_bytes(b"not a png at all")
    sheet = tmp / "meta.csv"
    rows = ["a.png,1", "A.png,2", "b.png,3", "photos/b.png,4"]  # a wrong case, a wrong folder
    sheet.write_text("path,price\n" + "\n".join(rows) + "\n")
    env = process_env(tmp / "data", ANYSEEK_INDEXER__FLUSH_INTERVAL_S="0")
    return {
        "first": cli(
            env, "index", str(root), "--collection", "c", "--metadata", str(sheet), code=2
        ),
        "again": cli(env, "index", str(root), "--collection", "c", code=2),
        "show 1": cli(env, "jobs", "show", "1", "--all"),
        "show 2": cli(env, "jobs", "show", "2", "--all"),
        "sheet": str(sheet),
        "data": str(tmp / "data"),
    }


def test_jobs_show_all_lists_each_failure_and_skip_once(runs: dict[str, str]) -> None:
    assert "2 indexed, 1 failed, 1 skipped" in runs["first"], runs["first"]
    shown = runs["show 1"].splitlines()
    failed = [line for line in shown if "broken.png" in line]
    skipped = [line for line in shown if "copy.png" in line]
    assert len(failed) == 1 and failed[0].startswith("failed: "), shown
    assert len(skipped) == 1 and skipped[0].startswith("skipped: "), shown
    assert not any("--all" in line for line in shown), shown


def test_a_rerun_counts_images_already_indexed_without_a_row_each(runs: dict[str, str]) -> None:
    again = runs["again"]
    assert "0 indexed, 1 failed, 3 skipped of 4" in again, again
    assert "3 of the skipped were already in the collection" in again, again
    with sqlite3.connect(Path(runs["data"]) / "anyseek.db") as db:
        rows = db.execute(
            "SELECT skipped, count(*) FROM index_job_failures WHERE job_id = 2 GROUP BY skipped"
        ).fetchall()
    assert rows == [(0, 1)]  # the broken file, which a person must mend; no row per image there
    assert "3 of the skipped were already in the collection" in runs["show 2"], runs["show 2"]
    assert "skipped: " not in runs["show 2"], runs["show 2"]


def test_a_job_with_failures_beside_indexed_items_ends_partial(runs: dict[str, str]) -> None:
    assert runs["first"].startswith("job 1 partial: 2 indexed, 1 failed"), runs["first"]
    assert runs["again"].startswith("job 2 partial: 0 indexed, 1 failed"), "the rest is there"
    assert "job 1 partial" in runs["show 1"], runs["show 1"]


def test_a_job_whose_every_item_failed_ends_failed_with_exit_code_1(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    for seed, name in enumerate(("a.png", "b.png")):
        Image.fromarray(generate_scene(4_700 + seed, 64).rgb).save(root / name)
    env = process_env(tmp_path / "data", ANYSEEK_INDEXER__FLUSH_INTERVAL_S="0")
    photos_as_depth = cli(env, "index", str(root), "-c", "d", "--modality", "depth", code=1)
    assert photos_as_depth.startswith("job 1 failed: 0 indexed, 2 failed"), photos_as_depth
    assert cli(env, "jobs", "show", "1").startswith("job 1 failed: 0 indexed"), "the job keeps it"
    assert cli(env, "index", str(root), "-c", "p").startswith("job 2 succeeded: 2 indexed")


def test_metadata_rows_naming_no_image_are_counted_and_pointed_at(runs: dict[str, str]) -> None:
    sheet = runs["sheet"]
    expected = f"2 metadata rows named no image of the source: {sheet}:3 (A.png), {sheet}:5"
    assert expected in runs["first"], runs["first"]
    assert expected in runs["show 1"], "the job keeps them"


def test_the_progress_bar_moves_chunk_by_chunk_before_the_store_is_written(
    tmp_path: Path,
) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    for seed in range(8):
        Image.fromarray(generate_scene(4_800 + seed, 64).rgb).save(root / f"{seed}.png")
    env = process_env(
        tmp_path / "data",
        ANYSEEK_INDEXER__CHUNK_SIZE="2",
        ANYSEEK_INDEXER__FLUSH_INTERVAL_S="3600",  # applied once, at the end (as in a short job)
        TQDM_MININTERVAL="0",  # every update drawn
    )
    done = subprocess.run(
        [sys.executable, "-m", "anyseek.cli", "index", str(root), "--collection", "c"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    shown = [int(n) for n in re.findall(r"\b(\d+)/8\b", done.stderr)]
    assert shown[-1] == 8, done.stderr
    assert {2, 4, 6} <= set(shown), done.stderr  # not 0/8 until the job ends
    assert "item/s" in done.stderr and "img/s" not in done.stderr  # captions are items too
