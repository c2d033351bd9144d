"""``anyseek collections create`` and ``delete`` do what the API's routes do: the store's
collection with the model's spaces made at create; vectors, alias and thumbnails gone at delete,
not only the database's rows. (Through a running server: test_cli_writes_with_server.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from anyseek.cli import main
from anyseek.db import migrate
from anyseek.db.session import database_for
from anyseek.indexer import run_index
from anyseek.scenes import generate_scene
from anyseek.search.stores import open_store
from anyseek.settings import load_settings


def test_collections_create_and_delete_change_the_store_and_thumbnails(
    tmp_path: Path, search_model, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(2):
        Image.fromarray(generate_scene(4_700 + seed, 64).rgb).save(photos / f"{seed}.png")
    data = tmp_path / "data"
    for key in [k for k in os.environ if k.startswith("ANYSEEK_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(data))
    monkeypatch.setenv("ANYSEEK_STORE__PATH", str(data / "faiss"))
    settings = load_settings()
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    database.dispose()

    assert main(["collections", "create", "empty"]) == 0
    run_index(settings, "full", photos, model=search_model)
    with open_store(settings) as store:
        assert {"empty", "full"} <= set(store.collections())
        assert store.count("full") == 2
        assert [s.name for s in store.spaces("empty")] == [s.name for s in store.spaces("full")]
        store.set_alias("full@current", "full")  # as a switch of versions leaves it
    assert len(list((data / "thumbnails" / "full").iterdir())) == 2
    capsys.readouterr()

    assert main(["collections", "delete", "full", "--yes"]) == 0
    assert "deleted collection 'full' (2 items, 1 jobs)" in capsys.readouterr().out
    with open_store(settings) as store:
        assert store.collections() == ["empty"]
        assert store.alias_target("full@current") is None
    assert not (data / "thumbnails" / "full").exists()
