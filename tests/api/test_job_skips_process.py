"""Nothing is left out silently (issue 39): a folder's entries that are not indexed, a folder
link that loops, links out of the folder, names that are not images, duplicates, are counted and
listed with their reason by ``anyseek index``, on the job in the database, and by a real
``anyseek serve`` in its job response; a sidecar is read with its image, not listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from server_process import HTTP, cli, process_env, served

from anyseek.scenes import generate_scene

pytestmark = pytest.mark.slow
GOOD = ("a.png", "sub/b.png", "sub/c.png")


def _folder(root: Path, outside: Path) -> dict[str, str]:
    """Three images and one of each entry left out; {path under root: words of its reason}."""
    for seed, name in enumerate(GOOD):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(generate_scene(4_400 + seed, 64).rgb).save(root / name)
    (root / "a.json").write_text(json.dumps({"tag": "sidecar"}))
    (root / "sub" / "copy.png").write_bytes((root / "a.png").read_bytes())
    (root / "notes.txt").write_text("not an image")
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)
    outside.mkdir()
    Image.fromarray(generate_scene(4_500, 64).rgb).save(outside / "far.png")
    (root / "far.png").symlink_to(outside / "far.png")
    (root / "elsewhere").symlink_to(outside, target_is_directory=True)
    return {
        "sub/up": "symlink loop",
        "far.png": "outside the indexed folder",
        "elsewhere": "outside the indexed folder",
        "notes.txt": "not an image name",
        "sub/copy.png": "the same image",
    }


def _by_path(root: Path, listed: list[tuple[str, str]]) -> dict[str, str]:
    return {Path(uri).relative_to(root).as_posix(): reason for uri, reason in listed}


def _check(root: Path, skips: dict[str, str], expected: dict[str, str]) -> None:
    assert set(skips) == set(expected), skips
    for path, words in expected.items():
        assert words in skips[path], (path, skips[path])


@pytest.mark.timeout(600)
def test_every_entry_not_indexed_is_counted_and_listed(tmp_path: Path) -> None:
    root = (tmp_path / "data" / "allowed" / "photos").resolve()
    expected = _folder(root, tmp_path / "outside")
    env = process_env(
        tmp_path / "data",
        ANYSEEK_INDEXER__ALLOWED_ROOTS=json.dumps([str(root.parent)]),
        ANYSEEK_INDEXER__FLUSH_INTERVAL_S="0",
    )
    cli(env, "db", "upgrade")

    summary = cli(env, "index", str(root), "--collection", "cli")
    assert f"{len(GOOD)} indexed, 0 failed, {len(expected)} skipped" in summary, summary
    lines = [line.strip() for line in summary.splitlines() if "skipped: " in line]
    shown = [line.removeprefix("skipped: ").split(": ", 1) for line in lines]
    _check(root, _by_path(root, [(uri, reason) for uri, reason in shown]), expected)
    assert "a.json" not in summary  # read as a.png's metadata

    with served(env, tmp_path / "serve.log") as base:
        created = HTTP.post(
            f"{base}/v1/jobs",
            json={"collection": "api", "source": str(root)},
            params={"wait": True},
        )
        assert created.status_code == 202, created.text
        job = HTTP.get(f"{base}/v1/jobs/{created.json()['id']}").json()
    assert (job["status"], job["done"], job["failed"]) == ("succeeded", len(GOOD), 0), job
    assert (job["skipped"], job["total"]) == (len(expected), len(GOOD) + len(expected))
    assert job["processed"] == job["total"]
    _check(root, _by_path(root, [(s["source"], s["reason"]) for s in job["skips"]]), expected)
    assert job["failures"] == []

    stored = cli(env, "jobs", "show", str(job["id"]), "--all")  # read back from the database
    _check(
        root,
        _by_path(
            root,
            [ln.split(": ", 2)[1:] for ln in stored.splitlines() if ln.startswith("skipped: ")],
        ),
        expected,
    )
