"""``anyseek collections create`` and ``delete`` as real processes do what the API's routes do:
the store's collection with the model's spaces made at create; vectors, alias and thumbnails gone
at delete, not only the database's rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from server_process import cli, process_env

from anyseek.settings import load_settings
from model.data import generate_scene
from search.stores import open_store

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_collections_create_and_delete_change_the_store_and_thumbnails(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(2):
        Image.fromarray(generate_scene(4_700 + seed, 64).rgb).save(photos / f"{seed}.png")
    data = tmp_path / "data"
    env = process_env(data, ANYSEEK_INDEXER__FLUSH_INTERVAL_S="0")
    settings = load_settings(data_dir=data, store={"path": str(data / "faiss")})

    assert "created collection 'empty'" in cli(env, "collections", "create", "empty")
    cli(env, "index", str(photos), "--collection", "full")
    store = open_store(settings)
    try:
        assert {"empty", "full"} <= set(store.collections())
        assert store.count("full") == 2
        assert [s.name for s in store.spaces("empty")] == [s.name for s in store.spaces("full")]
        store.set_alias("full@current", "full")  # as a switch of versions leaves it
    finally:
        store.close()
    assert len(list((data / "thumbnails" / "full").iterdir())) == 2

    said = cli(env, "collections", "delete", "full", "--yes")
    assert "deleted collection 'full' (2 items, 1 jobs)" in said, said
    store = open_store(settings)
    try:
        assert store.collections() == ["empty"]
        assert store.alias_target("full@current") is None
    finally:
        store.close()
    assert not (data / "thumbnails" / "full").exists()
    assert "full" not in cli(env, "collections", "list")
