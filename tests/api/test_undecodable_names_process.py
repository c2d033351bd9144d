"""A file name that is not UTF-8 (Latin-1 from an old camera card) is an item like any other
(issue 39): indexed by ``anyseek index``, kept by ``anyseek reindex``, and served by a real
``anyseek serve``, whose image route reads the file by its own bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from server_process import HTTP, cli, process_env, served

from anyseek.scenes import generate_scene

pytestmark = pytest.mark.slow
LATIN1 = b"caf\xe9.png"  # "café.png" as Latin-1: not UTF-8


@pytest.mark.timeout(600)
def test_an_undecodable_name_is_served_and_survives_reindex(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    Image.fromarray(generate_scene(7_100, 64).rgb).save(root / "plain.png")
    odd = os.fsencode(root) + b"/" + LATIN1
    Image.fromarray(generate_scene(7_101, 64).rgb).save(os.fsdecode(odd), format="PNG")
    env = process_env(tmp_path / "data", ANYSEEK_INDEXER__FLUSH_INTERVAL_S="0")
    cli(env, "db", "upgrade")

    indexed = cli(env, "index", str(root), "--collection", "photos")
    assert "2 indexed, 0 failed, 0 skipped" in indexed, indexed
    reindexed = cli(env, "reindex", "photos", "--model", "builtin")
    job = reindexed.split("(job ", 1)[1].split(")", 1)[0]
    shown = cli(env, "jobs", "show", job)
    assert "succeeded: 2 indexed, 0 failed" in shown, reindexed + shown

    with served(env, tmp_path / "serve.log") as base:
        versions = HTTP.get(f"{base}/v1/collections/photos/versions").json()["versions"]
        assert [v["current"] for v in versions] == [False, True]  # the re-index's version
        items = HTTP.get(f"{base}/v1/collections/photos/items").json()["items"]
        by_name = {item["payload"]["path"]: item["id"] for item in items}
        assert set(by_name) == {"plain.png", "caf\\xe9.png"}  # shown escaped
        for name, item_id in by_name.items():
            image = HTTP.get(f"{base}/v1/collections/photos/items/{item_id}/image")
            assert image.status_code == 200, (name, image.text)
            on_disk = odd if name != "plain.png" else os.fsencode(root / "plain.png")
            assert image.content == Path(os.fsdecode(on_disk)).read_bytes()
            found = HTTP.post(
                f"{base}/v1/collections/photos/search/upload",
                files={"image": ("q.png", image.content, "image/png")},
            ).json()["hits"]
            assert found[0]["id"] == item_id, (name, found)  # in the re-indexed version
